// The "Access" page of an organisation: its users (role, granted locations, disabled), invites by
// link, wall display links, and the signed-in user's own API tokens. What an administrator may do
// is decided by the server; this page only hides what would be refused.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { useI18n } from '../i18n/index.ts';
import { api, ApiError, currentUser } from '../api.ts';
import { useOrg } from '../org.tsx';
import { useData, type Loaded } from '../data.ts';
import { Card, ErrorNote } from '../components.tsx';

type OrgUser = { id: string; email: string; name: string; role: string; locationIds: string[] | null; disabled: boolean };
type Invite = { id: string; email: string | null; role: string; locationIds: string[] | null; state: string; expiresAt: string | null };
type WallLinkRow = { id: string; label: string; locationIds: string[] | null; createdAt: string; revokedAt: string | null };
type Token = { id: string; label: string | null; createdAt: string; lastUsedAt: string | null };
const ORG_ROLES = ['org-admin', 'manager', 'viewer'] as const;

/** Whether the signed-in user administers this organisation (the server checks again). */
function useIsAdmin(): boolean {
  const { org } = useOrg();
  const me = currentUser();
  return !!me && (me.role === 'admin' || me.role === 'partner-admin' || (me.role === 'org-admin' && me.orgId === org.id));
}

function useWhen(): (iso: string | null) => string {
  const { locale, t } = useI18n();
  // Account events belong to no location: shown in this device's zone, labelled.
  const f = new Intl.DateTimeFormat(locale, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' });
  return (iso) => (iso ? f.format(new Date(iso)) : t.accounts.never);
}

/** An action's error next to it: the server's message, naming the field (also the invite page's). */
export const errText = (e: unknown): string => (e instanceof ApiError ? `${e.message}${e.field ? ` (${e.field})` : ''}` : String(e));

/** A secret URL shown once, with copy and (optionally) open buttons. */
function OnceLink({ url, openable }: { url: string; openable?: boolean }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  return (
    <div class="stack" role="status">
      <p class="warn">{t.accounts.linkOnce}</p>
      <div class="link-row">
        <input readOnly value={url} aria-label={t.accounts.linkOnce} onFocus={(e) => (e.currentTarget as HTMLInputElement).select()} />
        <button type="button" onClick={() => void navigator.clipboard?.writeText(url).then(() => setCopied(true))}>{copied ? t.accounts.copied : t.accounts.copy}</button>
        {openable ? <a class="button" href={url} target="_blank" rel="noopener">{t.accounts.open}</a> : null}
      </div>
    </div>
  );
}

function LocationPicker({ value, onChange, label }: { value: string[]; onChange(v: string[]): void; label: string }) {
  const { locations } = useOrg();
  return (
    <label>{label}
      <select multiple size={Math.min(5, Math.max(2, locations.length))} onChange={(e) => onChange([...(e.currentTarget as HTMLSelectElement).selectedOptions].map((o) => o.value))}>
        {locations.map((l) => <option value={l.id} selected={value.includes(l.id)}>{l.name}</option>)}
      </select>
    </label>
  );
}

export function Access() {
  const { t } = useI18n();
  const me = currentUser();
  const admin = useIsAdmin();
  return (
    <>
      <div class="toolbar"><h1>{t.accounts.title}</h1>{me ? <span class="muted">{t.accounts.signedInAs(me.name, t.accounts.roles[me.role] ?? me.role)}</span> : null}</div>
      {admin ? <><Users /><Invites /><WallLinks /></> : <p class="muted">{t.accounts.adminOnly}</p>}
      <Tokens />
    </>
  );
}

function Users() {
  const { t } = useI18n();
  const { org, locById } = useOrg();
  const [v, setV] = useState(0);
  const users = useData(() => api<{ rows: OrgUser[] }>(`/api/v1/orgs/${encodeURIComponent(org.id)}/users`).then((r) => r.rows), [org.id, v]);
  return (
    <Card title={t.accounts.users} id="access-users">
      <ErrorNote error={users.error} />
      <ul class="access-list">
        {(users.data ?? []).map((u) => <UserRow key={u.id} u={u} names={(u.locationIds ?? []).map((id) => locById.get(id)?.name ?? id)} onSaved={() => setV((x) => x + 1)} />)}
      </ul>
    </Card>
  );
}

function UserRow({ u, names, onSaved }: { u: OrgUser; names: string[]; onSaved(): void }) {
  const { t } = useI18n();
  const { org } = useOrg();
  const self = currentUser()?.id === u.id;
  const [role, setRole] = useState(u.role);
  const [locs, setLocs] = useState<string[]>(u.locationIds ?? []);
  const [error, setError] = useState<string | null>(null);
  const patch = async (body: unknown): Promise<void> => {
    setError(null);
    try {
      await api(`/api/v1/orgs/${encodeURIComponent(org.id)}/users/${encodeURIComponent(u.id)}`, { method: 'PATCH', json: body });
      onSaved();
    } catch (e) { setError(errText(e)); }
  };
  return (
    <li class={u.disabled ? 'muted' : undefined}>
      <div><strong>{u.name}</strong> · {u.email}{self ? ` (${t.accounts.you})` : ''} · {u.disabled ? t.accounts.disabled : t.accounts.active}</div>
      <div class="access-controls">
        <label>{t.accounts.role}
          <select value={role} disabled={self} onChange={(e) => setRole((e.currentTarget as HTMLSelectElement).value)}>
            {ORG_ROLES.map((r) => <option value={r}>{t.accounts.roles[r]}</option>)}
          </select>
        </label>
        {role === 'manager' ? <LocationPicker value={locs} onChange={setLocs} label={t.accounts.locations} /> : <span class="muted">{names.length ? names.join(', ') : t.accounts.allLocations}</span>}
        {self ? null : (
          <>
            <button type="button" onClick={() => void patch({ role, locationIds: role === 'manager' ? locs : null })}>{t.accounts.save}</button>
            <button type="button" class="link" onClick={() => void patch({ disabled: !u.disabled })}>{u.disabled ? t.accounts.enable : t.accounts.disable}</button>
          </>
        )}
      </div>
      {error ? <p class="error" role="alert">{error}</p> : null}
    </li>
  );
}

/**
 * A list of revocable secrets (invites, wall links, API tokens): its rows, creating one from a form
 * (the secret it answers with is shown once) and revoking one; an action's error stays beside it.
 */
function useSecrets<T, R>(base: string, secret: (r: R) => string) {
  const [v, setV] = useState(0);
  const [made, setMade] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const list = useData(() => api<{ rows: T[] }>(base).then((r) => r.rows), [base, v]);
  const create = (body: (f: FormData) => unknown, after?: () => void) => async (e: Event): Promise<void> => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    setError(null);
    try {
      const r = await api<R>(base, { method: 'POST', json: body(new FormData(form)) });
      setMade(secret(r));
      form.reset();
      after?.();
      setV((x) => x + 1);
    } catch (err) { setError(errText(err)); }
  };
  const revoke = async (id: string): Promise<void> => {
    try { await api(`${base}/${encodeURIComponent(id)}`, { method: 'DELETE' }); setV((x) => x + 1); } catch (err) { setError(errText(err)); }
  };
  return { list, made, error, create, revoke };
}

/** The card of such a list: the hint, the create form (its `fields` and button), the once-shown secret, the rows (`children`). */
function SecretsCard({ title, id, hint, fields, submit, onSubmit, secrets: { list, error, made }, openable, children }: {
  title: string; id: string; hint: string; fields: ComponentChildren; submit: string; onSubmit(e: Event): void;
  secrets: { list: Loaded<unknown[]>; error: string | null; made: string | null }; openable?: boolean; children: ComponentChildren;
}) {
  return (
    <Card title={title} id={id}>
      <div class="access-pad">
        <p class="hint muted">{hint}</p>
        <form class="stack" onSubmit={onSubmit}>
          {fields}
          <button type="submit">{submit}</button>
        </form>
        {error ? <p class="error" role="alert">{error}</p> : null}
        {made ? <OnceLink url={made} openable={openable} /> : null}
      </div>
      <ErrorNote error={list.error} />
      <Rows empty={!list.data?.length}>{children}</Rows>
    </Card>
  );
}

const linkOf = (r: { url: string }): string => location.origin + r.url;

function Invites() {
  const { t } = useI18n();
  const { org } = useOrg();
  const when = useWhen();
  const [role, setRole] = useState<string>('viewer');
  const [locs, setLocs] = useState<string[]>([]);
  const secrets = useSecrets<Invite, { url: string }>(`/api/v1/orgs/${encodeURIComponent(org.id)}/invites`, linkOf);
  const submit = secrets.create((f) => ({ email: String(f.get('email') ?? ''), role, ...(role === 'manager' ? { locationIds: locs } : {}) }));
  return (
    <SecretsCard title={t.accounts.invites} id="access-invites" hint={t.accounts.inviteHint} submit={t.accounts.invite} onSubmit={submit} secrets={secrets} fields={<>
      <label>{t.accounts.email}<input name="email" type="email" required autoComplete="off" /></label>
      <label>{t.accounts.role}
        <select value={role} onChange={(e) => setRole((e.currentTarget as HTMLSelectElement).value)}>
          {ORG_ROLES.map((r) => <option value={r}>{t.accounts.roles[r]}</option>)}
        </select>
      </label>
      {role === 'manager' ? <LocationPicker value={locs} onChange={setLocs} label={t.accounts.locations} /> : null}
    </>}>
      {(secrets.list.data ?? []).map((i) => (
        <li key={i.id}>
          <span>{i.email} · {t.accounts.roles[i.role] ?? i.role} · {t.accounts.inviteStates[i.state] ?? i.state}{i.state === 'pending' ? ` · ${t.accounts.expires} ${when(i.expiresAt)}` : ''}</span>
          {i.state === 'pending' ? <button type="button" class="link" onClick={() => void secrets.revoke(i.id)}>{t.accounts.revoke}</button> : null}
        </li>
      ))}
    </SecretsCard>
  );
}

/** Wall display links: create (the URL is shown once), list, revoke. Also the "Wall display" page. */
export function WallLinks() {
  const { t } = useI18n();
  const { org, locById } = useOrg();
  const when = useWhen();
  const [locs, setLocs] = useState<string[]>([]);
  const secrets = useSecrets<WallLinkRow, { url: string }>(`/api/v1/orgs/${encodeURIComponent(org.id)}/wall-links`, linkOf);
  const submit = secrets.create((f) => ({ label: String(f.get('label') ?? ''), ...(locs.length ? { locationIds: locs } : {}) }), () => setLocs([]));
  return (
    <SecretsCard title={t.accounts.wallLinks} id="access-walls" hint={t.accounts.wallHint} submit={t.accounts.create} onSubmit={submit} secrets={secrets} openable fields={<>
      <label>{t.accounts.label}<input name="label" required maxLength={200} /></label>
      <LocationPicker value={locs} onChange={setLocs} label={t.accounts.locationsOptional} />
    </>}>
      {(secrets.list.data ?? []).map((w) => (
        <li key={w.id} class={w.revokedAt ? 'muted' : undefined}>
          <span><strong>{w.label}</strong> · {w.locationIds ? w.locationIds.map((id) => locById.get(id)?.name ?? id).join(', ') : t.accounts.allLocations} · {w.revokedAt ? `${t.accounts.revoked} ${when(w.revokedAt)}` : `${t.accounts.created} ${when(w.createdAt)}`}</span>
          {w.revokedAt ? null : <button type="button" class="link" onClick={() => void secrets.revoke(w.id)}>{t.accounts.revoke}</button>}
        </li>
      ))}
    </SecretsCard>
  );
}

function Tokens() {
  const { t } = useI18n();
  const when = useWhen();
  const secrets = useSecrets<Token, { token: string }>('/api/v1/auth/tokens', (r) => r.token);
  const submit = secrets.create((f) => ({ label: String(f.get('label') ?? '') }));
  return (
    <SecretsCard title={t.accounts.tokens} id="access-tokens" hint={t.accounts.tokensHint} submit={t.accounts.newToken} onSubmit={submit} secrets={secrets} fields={
      <label>{t.accounts.label}<input name="label" required maxLength={100} /></label>
    }>
      {(secrets.list.data ?? []).map((k) => (
        <li key={k.id}>
          <span><strong>{k.label ?? '—'}</strong> · {t.accounts.created} {when(k.createdAt)} · {t.accounts.lastUsed}: {when(k.lastUsedAt)}</span>
          <button type="button" class="link" onClick={() => void secrets.revoke(k.id)}>{t.accounts.revoke}</button>
        </li>
      ))}
    </SecretsCard>
  );
}

function Rows({ empty, children }: { empty: boolean; children: ComponentChildren }) {
  const { t } = useI18n();
  return empty ? <p class="empty muted">{t.accounts.none}</p> : <ul class="access-list">{children}</ul>;
}
