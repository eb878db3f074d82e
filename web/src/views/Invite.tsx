// /invite/{secret}: who invites you to what; choose a name and a password, and you are signed in.
// /setup/{secret} (the first administrator, printed by `loyalty start`) is the same form plus email.
import { useI18n } from '../i18n/index.ts';
import { acceptLink, api, ApiError } from '../api.ts';
import { useData } from '../data.ts';
import { navigate } from '../router.ts';
import { SignedOutPage, useFormSubmit } from './SignIn.tsx';
import { errText } from './Access.tsx';

type InviteInfo = { orgName: string | null; email: string | null; role: string; invitedBy: string | null; expiresAt: string | null };

export function Invite({ secret, kind = 'invite' }: { secret: string; kind?: 'invite' | 'setup' }) {
  const { t } = useI18n();
  const base = kind === 'invite' ? `/api/v1/invites/${encodeURIComponent(secret)}` : `/api/v1/setup/${encodeURIComponent(secret)}`;
  const info = useData(() => api<InviteInfo | { ok: boolean }>(base), [secret]);
  const { busy, error, submit } = useFormSubmit(async (f) => {
    await acceptLink(kind, secret, {
      name: String(f.get('name') ?? ''), password: String(f.get('password') ?? ''), ...(kind === 'setup' ? { email: String(f.get('email') ?? '') } : {}),
    });
    navigate('/', { replace: true });
  }, errText);
  const gone = info.error instanceof ApiError && (info.error.status === 404 || info.error.status === 409);
  const inv = info.data && 'role' in info.data ? info.data : null;
  return (
    <SignedOutPage>
      <h1>{kind === 'invite' ? t.accounts.inviteTitle : t.accounts.setupTitle}</h1>
      {gone ? <p class="error" role="alert">{kind === 'invite' ? t.accounts.inviteGone : t.accounts.setupGone}: {(info.error as ApiError).message}</p> : null}
      {!gone && info.error ? <p class="error" role="alert">{String((info.error as Error).message)}</p> : null}
      {info.data ? (
        <>
          <p class="muted">{inv ? t.accounts.inviteIntro(inv.invitedBy ?? '—', inv.orgName ?? '—', t.accounts.roles[inv.role] ?? inv.role) : t.accounts.setupIntro}</p>
          {error ? <p class="error" role="alert">{error}</p> : null}
          <form onSubmit={submit} class="stack">
            {inv ? <label>{t.accounts.email}<input value={inv.email ?? ''} readOnly autoComplete="username" /></label>
              : <label>{t.accounts.email}<input name="email" type="email" autoComplete="username" required /></label>}
            <label>{t.accounts.name}<input name="name" autoComplete="name" required maxLength={200} /></label>
            <label>{t.accounts.password}<input name="password" type="password" autoComplete="new-password" minLength={8} required aria-describedby="pw-hint" /></label>
            <p class="hint muted" id="pw-hint">{t.accounts.passwordHint}</p>
            <button type="submit" disabled={busy}>{busy ? t.accounts.busy : t.accounts.accept}</button>
          </form>
        </>
      ) : null}
    </SignedOutPage>
  );
}
