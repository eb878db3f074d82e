// Alert rules of the organisation (create, edit, enable / disable), its webhooks (the signing
// secret shown once, on creation) and the deliveries that failed for good, with a retry button.
// Writing needs an org admin; others see the lists and the server answers 403 to changes.
import { useState } from 'preact/hooks';
import { useI18n } from '../i18n/index.ts';
import { useOrg } from '../org.tsx';
import { useData } from '../data.ts';
import { api } from '../api.ts';
import { Card, ErrorNote } from '../components.tsx';
import { Link } from '../router.ts';
import { ActionError } from './Alerts.tsx';

type Kind = 'score_below' | 'spike' | 'device_offline' | 'battery_low';
const KINDS: Kind[] = ['score_below', 'spike', 'device_offline', 'battery_low'];
type Rule = {
  id: string; name: string; kind: Kind; enabled: boolean; critical: boolean; locationIds: string[] | null;
  params: { threshold?: number; windowDays?: number; batteryPercent?: number; falseAlarmsPerWeek?: number };
  channels: { emails: Array<{ to: string; lang: string }>; webhookIds: string[] }; quietHours: { start: string; end: string } | null;
};
type Webhook = { id: string; name: string; url: string; enabled: boolean };
type Delivery = { id: string; alertId: string; channel: string; target: string; attempts: number; lastError: string | null; createdAt: string };

/** The API body of a rule (PUT replaces the whole definition). */
const bodyOf = (r: Omit<Rule, 'id'>): Record<string, unknown> => ({
  name: r.name, kind: r.kind, enabled: r.enabled, critical: r.critical, locationIds: r.locationIds, params: r.params, channels: r.channels, quietHours: r.quietHours,
});

export function AlertRules() {
  const s = useOrg();
  const { t } = useI18n();
  const org = `/api/v1/orgs/${encodeURIComponent(s.org.id)}`;
  const [version, setVersion] = useState(0);
  const bump = (): void => setVersion((v) => v + 1);
  const rules = useData(() => api<{ rows: Rule[] }>(`${org}/alert-rules`).then((r) => r.rows), [org, version]);
  const hooks = useData(() => api<{ rows: Webhook[] }>(`${org}/alert-webhooks`).then((r) => r.rows), [org, version]);
  const dead = useData(() => api<{ rows: Delivery[] }>(`${org}/alert-deliveries?state=dead`).then((r) => r.rows), [org, version]);
  const [editing, setEditing] = useState<Rule | 'new' | null>(null);
  const [error, setError] = useState<unknown>(null);
  const run = async (f: () => Promise<unknown>): Promise<void> => {
    setError(null);
    try { await f(); bump(); } catch (e) { setError(e); }
  };
  return (
    <>
      <div class="toolbar">
        <h1>{t.alerts.rules.title}</h1>
        <Link href={`/orgs/${s.org.id}/alerts`}>{t.alerts.rules.back}</Link>
      </div>
      <ActionError error={error} />
      <ErrorNote error={rules.error} />
      <Card id="alert-rules" title={t.alerts.rules.title} actions={editing ? null : <button type="button" onClick={() => setEditing('new')}>{t.alerts.rules.add}</button>}>
        {editing ? <RuleForm rule={editing === 'new' ? null : editing} hooks={hooks.data ?? []} done={() => { setEditing(null); bump(); }} /> : null}
        {!rules.data ? <p class="empty muted">{t.app.loading}</p> : !rules.data.length ? <p class="empty">{t.alerts.rules.none}</p> : (
          <ul>
            {rules.data.map((r) => (
              <li key={r.id}>
                <strong>{r.name}</strong> — {t.alerts.kinds[r.kind]}{r.enabled ? '' : ` (${t.alerts.rules.disabled})`}
                {r.locationIds ? ` · ${r.locationIds.map((id) => s.locById.get(id)?.name ?? id).join(', ')}` : ''}
                {r.quietHours ? ` · ${r.quietHours.start}–${r.quietHours.end}` : ''}{' '}
                <button type="button" onClick={() => setEditing(r)}>{t.alerts.rules.edit}</button>{' '}
                <button type="button" onClick={() => void run(() => api(`${org}/alert-rules/${r.id}`, { method: 'PUT', json: bodyOf({ ...r, enabled: !r.enabled }) }))}>
                  {r.enabled ? t.alerts.rules.disable : t.alerts.rules.enable}
                </button>
              </li>
            ))}
          </ul>
        )}
      </Card>
      <Hooks hooks={hooks.data} org={org} changed={bump} />
      <Card id="alert-dead" title={t.alerts.dead.title}>
        {!dead.data ? <ErrorNote error={dead.error} /> : !dead.data.length ? <p class="empty">{t.alerts.dead.none}</p> : (
          <ul>
            {dead.data.map((d) => (
              <li key={d.id}>
                {d.channel} → {d.target} · {t.alerts.dead.attempts(d.attempts)} · <span class="muted">{d.lastError}</span>{' '}
                <button type="button" onClick={() => void run(() => api(`${org}/alert-deliveries/${d.id}/redrive`, { method: 'POST' }))}>{t.alerts.dead.redrive}</button>
              </li>
            ))}
          </ul>
        )}
      </Card>
    </>
  );
}

function Hooks({ hooks, org, changed }: { hooks: Webhook[] | undefined; org: string; changed: () => void }) {
  const { t } = useI18n();
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const add = async (e: Event): Promise<void> => {
    e.preventDefault();
    setError(null);
    try {
      const r = await api<{ secret: string }>(`${org}/alert-webhooks`, { method: 'POST', json: { name, url } });
      setSecret(r.secret);
      setName('');
      setUrl('');
      changed();
    } catch (err) { setError(err); }
  };
  return (
    <Card id="alert-hooks" title={t.alerts.hooks.title}>
      <div style="padding: 0 12px 12px">
        {secret ? <p role="status">{t.alerts.hooks.secret} <code>{secret}</code></p> : null}
        <p class="hint muted">{t.alerts.hooks.secretNote}</p>
        {!hooks ? null : !hooks.length ? <p class="empty">{t.alerts.hooks.none}</p> : <ul>{hooks.map((h) => <li key={h.id}>{h.name} — <code>{h.url}</code></li>)}</ul>}
        <form class="stack rule-form" onSubmit={(e) => void add(e)}>
          <label>{t.alerts.rules.name}<input required maxLength={200} value={name} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} /></label>
          <label>{t.alerts.hooks.url}<input required type="url" value={url} onInput={(e) => setUrl((e.currentTarget as HTMLInputElement).value)} /></label>
          <div><button type="submit">{t.alerts.hooks.add}</button></div>
        </form>
        <ActionError error={error} />
      </div>
    </Card>
  );
}

function RuleForm({ rule, hooks, done }: { rule: Rule | null; hooks: Webhook[]; done: () => void }) {
  const s = useOrg();
  const { t, n } = useI18n();
  const [name, setName] = useState(rule?.name ?? '');
  const [kind, setKind] = useState<Kind>(rule?.kind ?? 'spike');
  const [critical, setCritical] = useState(rule?.critical ?? false);
  const [threshold, setThreshold] = useState(String(rule?.params.threshold ?? 3));
  const [windowDays, setWindowDays] = useState(String(rule?.params.windowDays ?? 7));
  const [budget, setBudget] = useState(String(rule?.params.falseAlarmsPerWeek ?? 0.25));
  const [battery, setBattery] = useState(rule?.params.batteryPercent === undefined ? '' : String(rule.params.batteryPercent));
  const [locs, setLocs] = useState<string[] | null>(rule?.locationIds ?? null);
  const [emails, setEmails] = useState((rule?.channels.emails ?? []).map((e) => `${e.to} ${e.lang}`).join('\n'));
  const [hookIds, setHookIds] = useState<string[]>(rule?.channels.webhookIds ?? []);
  const [quietStart, setQuietStart] = useState(rule?.quietHours?.start ?? '');
  const [quietEnd, setQuietEnd] = useState(rule?.quietHours?.end ?? '');
  const [error, setError] = useState<unknown>(null);
  const save = async (e: Event): Promise<void> => {
    e.preventDefault();
    setError(null);
    const params = kind === 'score_below' ? { threshold: Number(threshold), windowDays: Number(windowDays) }
      : kind === 'spike' ? { falseAlarmsPerWeek: Number(budget) }
      : kind === 'battery_low' && battery ? { batteryPercent: Number(battery) } : {};
    const body = bodyOf({
      name, kind, enabled: rule?.enabled ?? true, critical, locationIds: locs, params,
      channels: {
        emails: emails.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => { const [to, lang] = l.split(/\s+/); return { to: to!, lang: lang === 'ru' ? 'ru' : 'en' }; }),
        webhookIds: hookIds,
      },
      quietHours: quietStart && quietEnd ? { start: quietStart, end: quietEnd } : null,
    });
    const org = `/api/v1/orgs/${encodeURIComponent(s.org.id)}/alert-rules`;
    try {
      await api(rule ? `${org}/${rule.id}` : org, { method: rule ? 'PUT' : 'POST', json: body });
      done();
    } catch (err) { setError(err); }
  };
  const toggle = (list: string[], id: string): string[] => (list.includes(id) ? list.filter((x) => x !== id) : [...list, id]);
  const input = (set: (v: string) => void) => (e: Event) => set((e.currentTarget as HTMLInputElement).value);
  return (
    <form class="stack rule-form" style="padding: 0 12px" onSubmit={(e) => void save(e)}>
      <label>{t.alerts.rules.name}<input required maxLength={200} value={name} onInput={input(setName)} /></label>
      <label>{t.alerts.rules.kind}
        <select value={kind} onChange={(e) => setKind((e.currentTarget as HTMLSelectElement).value as Kind)}>
          {KINDS.map((k) => <option value={k}>{t.alerts.kinds[k]}</option>)}
        </select>
      </label>
      {kind === 'spike' ? <>
        <p class="hint muted">{t.alerts.rules.spikeNote}</p>
        <label>{t.alerts.rules.budget}
          <select value={budget} onChange={(e) => setBudget((e.currentTarget as HTMLSelectElement).value)}>
            {[...new Set([0.25, 0.5, 1, 2, 4, 7, Number(budget)])].sort((a, b) => a - b).map((v) => <option value={String(v)}>{t.alerts.rules.budgetOption(n(v))}</option>)}
          </select>
        </label>
      </> : null}
      {kind === 'score_below' ? <>
        <label>{t.alerts.rules.threshold}<input type="number" min={2} max={5} required value={threshold} onInput={input(setThreshold)} /></label>
        <label>{t.alerts.rules.windowDays}<input type="number" min={1} max={90} required value={windowDays} onInput={input(setWindowDays)} /></label>
      </> : null}
      {kind === 'battery_low' ? <label>{t.alerts.rules.batteryPercent}<input type="number" min={1} max={100} value={battery} onInput={input(setBattery)} /></label> : null}
      <fieldset>
        <legend>{t.alerts.rules.locations}</legend>
        <div class="checks">
          <label class="check"><input type="checkbox" checked={locs === null} onChange={() => setLocs(locs === null ? [] : null)} /><span>{t.alerts.rules.allLocations}</span></label>
          {locs !== null ? s.locations.map((l) => <label key={l.id} class="check"><input type="checkbox" checked={locs.includes(l.id)} onChange={() => setLocs(toggle(locs, l.id))} /><span>{l.name}</span></label>) : null}
        </div>
      </fieldset>
      <label>{t.alerts.rules.emails}<textarea rows={3} value={emails} onInput={(e) => setEmails((e.currentTarget as HTMLTextAreaElement).value)} /></label>
      {hooks.length ? (
        <fieldset>
          <legend>{t.alerts.rules.webhooks}</legend>
          <div class="checks">
            {hooks.map((h) => <label key={h.id} class="check"><input type="checkbox" checked={hookIds.includes(h.id)} onChange={() => setHookIds(toggle(hookIds, h.id))} /><span>{h.name}</span></label>)}
          </div>
        </fieldset>
      ) : null}
      <label>{t.alerts.rules.quietStart}<input type="time" value={quietStart} onInput={input(setQuietStart)} /></label>
      <label>{t.alerts.rules.quietEnd}<input type="time" value={quietEnd} onInput={input(setQuietEnd)} /></label>
      <p class="hint muted">{t.alerts.rules.quietNote}</p>
      <label class="check"><input type="checkbox" checked={critical} onChange={() => setCritical(!critical)} /><span>{t.alerts.rules.critical}</span></label>
      <div class="link-row">
        <button type="submit">{t.alerts.rules.save}</button>
        <button type="button" onClick={done}>{t.alerts.rules.cancel}</button>
      </div>
      <ActionError error={error} />
    </form>
  );
}
