// `loyalty start` with no instance administrator who can sign in with a password: one is created
// from LOYALTY_ADMIN_EMAIL + LOYALTY_ADMIN_PASSWORD, else asked for on a terminal, else (a service,
// CI, the demo) a one-time setup link is printed to open in a browser.
import { createInterface } from 'node:readline/promises';
import type { Store } from '../store/db.ts';
import { AppError } from '../domain/errors.ts';
import { createFirstAdmin, createSetupLink, needsFirstAdmin } from './invites.ts';
import { MIN_PASSWORD } from './accounts.ts';

export type FirstAdmin = { kind: 'exists' } | { kind: 'created'; email: string; via: 'env' | 'prompt' } | { kind: 'link'; path: string };

/** Before the server listens: env or prompt. `interactive`: stdin is a terminal and nothing else waits on it. */
export async function firstAdminBeforeStart(store: Store, env: NodeJS.ProcessEnv, interactive: boolean): Promise<FirstAdmin | null> {
  if (!(await needsFirstAdmin(store))) return { kind: 'exists' };
  const email = env['LOYALTY_ADMIN_EMAIL'];
  const password = env['LOYALTY_ADMIN_PASSWORD'];
  if (email && password) {
    await createFirstAdmin(store, email, password);
    return { kind: 'created', email: email.trim().toLowerCase(), via: 'env' };
  }
  if (email || password) throw new Error('set both LOYALTY_ADMIN_EMAIL and LOYALTY_ADMIN_PASSWORD (or neither)');
  if (!interactive) return null;
  console.log('\n  No administrator can sign in yet. Create the first one (Ctrl-C to stop):');
  for (;;) {
    const e = (await ask('  Email: ')).trim();
    const p = await ask(`  Password (at least ${MIN_PASSWORD} characters): `, true);
    const again = await ask('  Password again: ', true);
    if (p !== again) { console.log('  The passwords differ; again.'); continue; }
    try {
      await createFirstAdmin(store, e, p);
      return { kind: 'created', email: e.toLowerCase(), via: 'prompt' };
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      console.log(`  ${err.message}; again.`);
    }
  }
}

/** After the server listens, when nobody was created: a setup link (valid until used; each start makes a new one). */
export async function setupLinkIfNeeded(store: Store): Promise<FirstAdmin> {
  if (!(await needsFirstAdmin(store))) return { kind: 'exists' };
  return { kind: 'link', path: await createSetupLink(store) };
}

/** A line of input; `hidden` echoes nothing (passwords). */
async function ask(question: string, hidden = false): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  if (hidden) {
    // readline echoes typed characters through this method; let only the question through.
    const r = rl as unknown as { _writeToOutput: (s: string) => void };
    r._writeToOutput = (s: string) => { if (s.startsWith(question)) process.stdout.write(question); };
  }
  try {
    return await rl.question(question);
  } finally {
    if (hidden) process.stdout.write('\n');
    rl.close();
  }
}
