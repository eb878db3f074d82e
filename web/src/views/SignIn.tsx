import { useState } from 'preact/hooks';
import { useI18n } from '../i18n/index.ts';
import { ApiError, setToken, signIn } from '../api.ts';
import { LangSwitch } from '../components.tsx';

export function SignIn({ expired }: { expired: boolean }) {
  const { t } = useI18n();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(expired ? t.signIn.expired : null);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(null);
    try {
      await signIn(String(f.get('email') ?? ''), String(f.get('password') ?? ''));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
      setBusy(false);
    }
  };
  const useToken = (e: Event): void => {
    e.preventDefault();
    const v = String(new FormData(e.currentTarget as HTMLFormElement).get('token') ?? '').trim();
    if (v) setToken(v);
  };
  return (
    <main class="signin" id="main">
      <div class="signin-head">
        <span class="logo" aria-hidden="true"><i /><i /></span>
        <span class="brand">{t.app.title}</span>
        <LangSwitch />
      </div>
      <section class="card pad">
        <h1>{t.signIn.title}</h1>
        <p class="muted">{t.signIn.intro}</p>
        {error ? <p class="error" role="alert">{error}</p> : null}
        <form onSubmit={submit} class="stack">
          <label>{t.signIn.email}<input name="email" type="email" autoComplete="username" required /></label>
          <label>{t.signIn.password}<input name="password" type="password" autoComplete="current-password" required /></label>
          <button type="submit" disabled={busy}>{busy ? t.signIn.busy : t.signIn.submit}</button>
        </form>
        <p class="hint muted">{t.signIn.demo}</p>
        <details>
          <summary>{t.signIn.tokenTitle}</summary>
          <form onSubmit={useToken} class="stack">
            <label>{t.signIn.token}<input name="token" autoComplete="off" spellcheck={false} placeholder="lbt_…" required /></label>
            <p class="hint muted">{t.signIn.tokenHint}</p>
            <button type="submit">{t.signIn.useToken}</button>
          </form>
        </details>
      </section>
    </main>
  );
}
