// The sign-in page, and what the signed-out pages share with it (the invite and setup pages): the
// frame and a form whose submit is busy while it runs and shows its error.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { useI18n } from '../i18n/index.ts';
import { ApiError, signIn } from '../api.ts';
import { LangSwitch } from '../components.tsx';

/** A signed-out page: the brand, the language switch and one card. */
export function SignedOutPage({ children }: { children: ComponentChildren }) {
  const { t } = useI18n();
  return (
    <main class="signin" id="main">
      <div class="signin-head">
        <span class="logo" aria-hidden="true"><i /><i /></span>
        <span class="brand">{t.app.title}</span>
        <LangSwitch />
      </div>
      <section class="card pad">{children}</section>
    </main>
  );
}

/**
 * Submits a signed-out form: busy while `action` runs, and on failure its error (as `describe` puts
 * it) with the form usable again. On success it stays busy: the app moves on to another page.
 */
export function useFormSubmit(action: (f: FormData) => Promise<void>, describe: (e: unknown) => string, initialError: string | null = null) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(initialError);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(null);
    try {
      await action(f);
    } catch (err) {
      setError(describe(err));
      setBusy(false);
    }
  };
  return { busy, error, submit };
}

export function SignIn({ expired }: { expired: boolean }) {
  const { t } = useI18n();
  const { busy, error, submit } = useFormSubmit((f) => signIn(String(f.get('email') ?? ''), String(f.get('password') ?? '')),
    (err) => (err instanceof ApiError ? err.message : String(err)), expired ? t.signIn.expired : null);
  return (
    <SignedOutPage>
      <h1>{t.signIn.title}</h1>
      <p class="muted">{t.signIn.intro}</p>
      {error ? <p class="error" role="alert">{error}</p> : null}
      <form onSubmit={submit} class="stack">
        <label>{t.signIn.email}<input name="email" type="email" autoComplete="username" required /></label>
        <label>{t.signIn.password}<input name="password" type="password" autoComplete="current-password" required /></label>
        <button type="submit" disabled={busy}>{busy ? t.signIn.busy : t.signIn.submit}</button>
      </form>
      <p class="hint muted">{t.signIn.demo}</p>
    </SignedOutPage>
  );
}
