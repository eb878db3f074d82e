// Shared test harness. Every test that touches the store runs once per backend: SQLite always,
// PostgreSQL when reachable — and in CI it must be reachable (an unreachable PostgreSQL fails the
// run instead of skipping half of it).
import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStore, migrateToLatest, DDL_LOCK, type Store } from '../src/store/db.ts';
import { startServer, type Server } from '../src/server.ts';
import { adminToken } from '../src/accounts/accounts.ts';

export const PG_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
export type Backend = 'sqlite' | 'postgres';

let pgReachable: Promise<boolean> | undefined;
export function postgresReachable(): Promise<boolean> {
  pgReachable ??= (async () => {
    const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
    try { await c.connect(); await c.end(); return true; } catch { return false; }
  })();
  return pgReachable;
}

/** A fresh, migrated, empty store of the given backend, and how to throw it away. */
export async function freshStore(backend: Backend): Promise<{ store: Store; dispose(): Promise<void> }> {
  if (backend === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'lb-test-'));
    const store = await openStore({ dataDir: dir });
    await migrateToLatest(store);
    return { store, async dispose() { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
  }
  const schema = `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const store = await openStore({ databaseUrl: PG_URL, pgSchema: schema });
  const dispose = async (): Promise<void> => {
    await store.close();
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    // Under the migrations' lock: another test file's migrator must not read the catalogue mid-drop.
    await c.query('select pg_advisory_lock($1)', [DDL_LOCK]);
    try { await c.query(`drop schema if exists "${schema}" cascade`); } finally { await c.end(); }
  };
  // A failed migration must not leave its half-built schema behind in the shared database.
  try { await migrateToLatest(store); } catch (e) { await dispose(); throw e; }
  return { store, dispose };
}

/** Registers `body` once per backend inside a describe block named after it. */
export function eachBackend(name: string, body: (ctx: () => BackendContext) => void): void {
  for (const backend of ['sqlite', 'postgres'] as const) {
    describe(`${name} [${backend}]`, { skip: false }, () => {
      let c: BackendContext | undefined;
      before(async () => {
        if (backend === 'postgres' && !(await postgresReachable())) {
          if (process.env['CI']) throw new Error(`PostgreSQL is not reachable at ${PG_URL}; CI must test both backends`);
          c = undefined;
          return;
        }
        const { store, dispose } = await freshStore(backend);
        c = { backend, store, dispose };
      });
      after(async () => { await c?.dispose(); });
      body(() => {
        if (!c) throw new Error(`PostgreSQL is not reachable at ${PG_URL} (set TEST_DATABASE_URL); these tests did not run`);
        return c;
      });
    });
  }
}
export type BackendContext = { backend: Backend; store: Store; dispose(): Promise<void> };

/** A running server on a backend plus a small HTTP client. */
export class Api {
  readonly server: Server;
  readonly adminToken: string;
  private constructor(server: Server, token: string) { this.server = server; this.adminToken = token; }
  /** `o`: further startServer options (e.g. `webhooks`), the store aside. */
  static async start(store: Store, o: Omit<NonNullable<Parameters<typeof startServer>[0]>, 'store'> = {}): Promise<Api> {
    const server = await startServer({ ...o, store });
    return new Api(server, await adminToken(store));
  }
  get url(): string { return this.server.url; }
  async call(method: string, path: string, body?: unknown, token: string | null = this.adminToken, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
    const res = await fetch(this.url + path, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try { parsed = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, body: parsed, headers: res.headers };
  }
  /** An org with one location in `timezone` and one panel there; returns their ids and the device token. */
  async fixture(timezone = 'Europe/Moscow', extra: { openingHours?: unknown } = {}): Promise<Fixture> {
    const org = await this.ok('POST', '/api/v1/orgs', { name: `Org ${Math.random().toString(36).slice(2, 7)}` }, 201);
    const loc = await this.ok('POST', `/api/v1/orgs/${org.id}/locations`, { name: 'Main street', timezone, ...extra }, 201);
    const dev = await this.ok('POST', `/api/v1/orgs/${org.id}/devices`, { kind: 'panel', name: 'Counter panel', locationId: loc.id }, 201);
    return { orgId: org.id, locationId: loc.id, deviceId: dev.id, deviceToken: dev.token };
  }
  /** Calls and asserts the status, returning the body. */
  async ok(method: string, path: string, body: unknown, status = 200, token: string | null = this.adminToken): Promise<any> {
    const r = await this.call(method, path, body, token);
    if (r.status !== status) throw new Error(`${method} ${path} → ${r.status} (expected ${status}): ${JSON.stringify(r.body)}`);
    return r.body;
  }
  votes(token: string, events: unknown[]): Promise<{ status: number; body: any }> {
    return this.call('POST', '/api/v1/ingest/votes', { events }, token);
  }
  async scores(orgId: string, query: Record<string, string>, token = this.adminToken): Promise<any[]> {
    const r = await this.ok('GET', `/api/v1/orgs/${orgId}/scores?${new URLSearchParams(query)}`, undefined, 200, token);
    return r.rows;
  }
  /** Signs in through POST /api/v1/auth/session; returns the Cookie header value to send back. */
  async session(email: string, password: string): Promise<string> {
    const r = await this.call('POST', '/api/v1/auth/session', { email, password }, null, { 'x-loyalty-csrf': '1' });
    if (r.status !== 200) throw new Error(`sign-in of ${email} → ${r.status}: ${JSON.stringify(r.body)}`);
    return cookieFrom(r.headers);
  }
  /** Calls as a browser signed in by `cookie` would: same origin, with the CSRF header. */
  asBrowser(method: string, path: string, cookie: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
    return this.call(method, path, body, null, { cookie, origin: this.url, 'sec-fetch-site': 'same-origin', 'x-loyalty-csrf': '1', ...headers });
  }
  /** A user of `org` with a password, and their API token. */
  async orgUser(org: string, role: 'org-admin' | 'manager' | 'viewer', locationIds?: string[]): Promise<{ id: string; email: string; password: string; token: string }> {
    const email = `${role}-${Math.random().toString(36).slice(2, 10)}@example.test`;
    const password = `pw ${Math.random().toString(36).slice(2)}`;
    const u = await this.ok('POST', `/api/v1/orgs/${org}/users`, { email, name: role, role, password, ...(locationIds ? { locationIds } : {}) }, 201);
    const token = (await this.ok('POST', '/api/v1/auth/token', { email, password }, 200, null)).token;
    return { id: u.id, email, password, token };
  }
  async close(): Promise<void> { await this.server.close(); }
}

/** The `name=value` of the session cookie a response sets ('' when it sets none). */
export function cookieFrom(h: Headers): string {
  const c = h.getSetCookie().find((x) => x.startsWith('lb_session='));
  return c ? c.split(';')[0]! : '';
}
export type Fixture = { orgId: string; locationId: string; deviceId: string; deviceToken: string };

/** Deterministic pseudo-random numbers (mulberry32) for test data, so a failure can be replayed. */
export function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let seq = 0;
/** A name no other test (in this or a parallel process) uses: emails, org names. */
export const unique = (what: string): string => `${what}-${process.pid}-${++seq}-${Math.random().toString(36).slice(2, 7)}`;

/** An error answer in the protocol's shape: this status, a code and a message, and the field (and code) named when given. */
export function assertError(r: { status: number; body: any }, status: number, field?: string, code?: string, context = ''): void {
  const c = context ? `${context}: ` : '';
  assert.equal(r.status, status, `${c}expected ${status}, got ${r.status}: ${JSON.stringify(r.body)}`);
  assert.equal(typeof r.body?.error?.code, 'string', `${c}error object: ${JSON.stringify(r.body)}`);
  assert.equal(typeof r.body.error.message, 'string');
  if (code) assert.equal(r.body.error.code, code, `${c}${JSON.stringify(r.body)}`);
  if (field !== undefined) assert.equal(r.body.error.field, field, `${c}field named: ${JSON.stringify(r.body)}`);
}
