// What the browser tests share (not a *.test.ts file: importing it runs no suite): Debian's Chromium
// driven by playwright-core (no browser download), the skip rule, a demo server, a browser with a
// context and a page, the watcher that turns page and console errors into test failures, and the
// two ways in (the sign-in form, or a session cookie made in the store).
//
// Chromium missing: locally a suite is skipped with a message; in CI (CI set) it fails.
import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { freshStore } from '../harness.ts';
import type { Store } from '../../src/store/db.ts';
import { startServer, type Server } from '../../src/server.ts';
import { seedDemo } from '../../src/demo/seed.ts';
import { createSession, SESSION_COOKIE } from '../../src/accounts/sessions.ts';
import { buildWeb } from '../../web/build.ts';

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];
export const SHOTS = new URL('../../docs/screenshots/', import.meta.url);
const present = existsSync(CHROMIUM);
/** The `skip` option of a browser suite. */
export const skip = !present && !process.env['CI'] ? `Chromium is not installed at ${CHROMIUM} (apt-get install chromium): browser tests skipped; CI runs them` : false;

export type Demo = { store: Store; server: Server; orgId: string; orgName: string; close(): Promise<void> };
/** A fresh SQLite store seeded with `days` of the demo, served with web/dist (built when web/ changed). */
export async function startDemo(days: number): Promise<Demo> {
  await buildWeb({ quiet: true });
  const fresh = await freshStore('sqlite');
  const { orgId, orgName } = await seedDemo(fresh.store, { log: () => {}, days });
  const server = await startServer({ store: fresh.store, fleet: false });
  return { store: fresh.store, server, orgId, orgName, async close() { await server.close(); await fresh.dispose(); } };
}

export type ContextOptions = BrowserContextOptions & { timeout?: number };

/** Chromium with one context (as newContext makes it) and a page. */
export async function launch(options: ContextOptions = {}): Promise<{ browser: Browser; context: BrowserContext; page: Page }> {
  if (!present) throw new Error(`Chromium is not installed at ${CHROMIUM}: CI must run the browser tests (.ci/run installs Debian's chromium)`);
  // Under scripts/test-at.sh the tests run on a shifted clock (libfaketime); Chromium does not start
  // with it preloaded, so it runs on the real clock and each context's page clock is set to ours.
  const env = process.env['FAKETIME'] ? { ...process.env, LD_PRELOAD: '', FAKETIME: '' } : undefined;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, ...(env ? { env } : {}) });
  const context = await newContext(browser, options);
  return { browser, context, page: await context.newPage() };
}

/** A further context (another user, a phone, a wall): desktop size, en-GB, New York time, 5 s timeout unless `options` say otherwise. */
export async function newContext(browser: Browser, options: ContextOptions = {}): Promise<BrowserContext> {
  const { timeout = 5000, ...contextOptions } = options;
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'en-GB', timezoneId: 'America/New_York', ...contextOptions });
  context.setDefaultTimeout(timeout);
  if (process.env['FAKETIME']) await context.clock.setSystemTime(Date.now());
  return context;
}

/** A 401 is how the app learns it is signed out (GET /auth/me, an ended session). */
export const SIGNED_OUT = /status of 401/;
/**
 * Collects the page's errors, and its console errors but the `expected` ones, into `problems` (returned);
 * a test ends by asserting the list is empty. Chromium logs every 4xx load as a console error, so a
 * test that provokes one on purpose names it in `expected`.
 */
export function watch(page: Page, problems: string[] = [], expected = SIGNED_OUT): string[] {
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !expected.test(m.text())) problems.push(`console error: ${m.text()}`); });
  return problems;
}

/** Signs in through the sign-in page; the caller waits for the page it expects to land on. */
export async function signIn(page: Page, url: string, user: { email: string; password: string }): Promise<void> {
  await page.goto(url + '/');
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Signs `email` in without the form (the instance administrator has no password): a session made in the store, carried by the HttpOnly cookie the sign-in page sets. */
export async function addSession(context: BrowserContext, demo: Demo, email: string): Promise<void> {
  const user = await demo.store.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirstOrThrow();
  const session = await createSession(demo.store, user.id);
  await context.addCookies([{ name: SESSION_COOKIE, value: session.id, url: demo.server.url, httpOnly: true, sameSite: 'Lax' }]);
}

/** The context's cookies as a Cookie header: a script's request made as the signed-in browser. */
export async function cookieHeader(context: BrowserContext): Promise<string> {
  return (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
}

/** A script's call of the JSON API with a Bearer token; an answer other than 2xx throws with its body. */
export async function callApi(url: string, token: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(url + path, {
    method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Saves docs/screenshots/<name>.png (the README shows them). */
export async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: new URL(`${name}.png`, SHOTS).pathname, fullPage, animations: 'disabled' });
}
