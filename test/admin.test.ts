// PROTOCOL.md §1 (administration) and §4 (scores) through a real server on both backends: creating
// an organisation and what it is made of, errors that name the field, sign-in and its lockout,
// per-org scoring. Expected scores come from the thresholds the README documents, computed here.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { basename, dirname } from 'node:path';
import { Api, eachBackend, PG_URL, assertError, unique } from './harness.ts';
import type { Store } from '../src/store/db.ts';

const MIN = 60_000;
const TZ = 'Europe/Berlin';



/** The README's documented mapping: share ≥ t[3] → 5, ≥ t[2] → 4, ≥ t[1] → 3, ≥ t[0] → 2, else 1; null below minSample. */
function expectedScore(satisfied: number, total: number, minSample: number, t: number[]): number | null {
  if (total < minSample) return null;
  const share = satisfied / total;
  return share >= t[3]! ? 5 : share >= t[2]! ? 4 : share >= t[1]! ? 3 : share >= t[0]! ? 2 : 1;
}

/**
 * The same store served by a server in a child process, for requests that might never answer:
 * a request that loops forever would freeze an in-process server together with the test itself.
 */
async function serverInChild(store: Store): Promise<{ url: string; token: string; stop(): Promise<void> }> {
  const storeOptions = store.dialect === 'sqlite'
    ? { dataDir: dirname(store.sqlitePath!), sqliteFile: basename(store.sqlitePath!) }
    : { databaseUrl: PG_URL, pgSchema: store.pgSchema ?? undefined };
  const src = (p: string): string => new URL(`../src/${p}`, import.meta.url).href;
  const script = `
    const { openStore } = await import(${JSON.stringify(src('store/db.ts'))});
    const { startServer } = await import(${JSON.stringify(src('server.ts'))});
    const { adminToken } = await import(${JSON.stringify(src('accounts/accounts.ts'))});
    const store = await openStore(JSON.parse(process.env.LB_CHILD_STORE));
    const server = await startServer({ store });
    process.stdout.write(JSON.stringify({ url: server.url, token: await adminToken(store) }) + '\\n');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, LB_CHILD_STORE: JSON.stringify(storeOptions) }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  let out = '';
  const ready = await new Promise<{ url: string; token: string }>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!));
    });
    child.on('exit', (code) => reject(new Error(`server child exited with ${code} before it was ready`)));
  });
  return {
    ...ready,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

eachBackend('admin API', (ctx) => {
  let api: Api;
  before(async () => { api = await Api.start(ctx().store); });
  after(async () => { await api?.close(); });

  const newOrg = async (): Promise<string> => (await api.ok('POST', '/api/v1/orgs', { name: unique('Org') }, 201)).id;
  const rowsOf = async (path: string, token = api.adminToken): Promise<any[]> => (await api.ok('GET', path, undefined, 200, token)).rows;

  it('creates an organisation, its locations, touchpoints, employees, users and devices, and lists them', async () => {
    const name = unique('Café Nord');
    const org = await api.ok('POST', '/api/v1/orgs', { name }, 201);
    assert.equal(typeof org.id, 'string');
    assert.equal(org.name, name);
    assert.ok((await rowsOf('/api/v1/orgs')).some((o) => o.id === org.id && o.name === name));
    const one = await api.ok('GET', `/api/v1/orgs/${org.id}`, undefined);
    assert.equal(one.name, name);
    assert.deepEqual(one.scoring, { minSample: 10, thresholds: [0.5, 0.65, 0.8, 0.9] }, 'the README defaults');

    const hours = { mon: [['09:00', '21:00']], fri: [['09:00', '14:00'], ['15:00', '23:00']], sat: [['22:00', '02:00']], sun: [['00:00', '24:00']] };
    const loc = await api.ok('POST', `/api/v1/orgs/${org.id}/locations`, { name: 'Hafen', timezone: TZ, openingHours: hours }, 201);
    assert.deepEqual({ name: loc.name, timezone: loc.timezone, openingHours: loc.openingHours }, { name: 'Hafen', timezone: TZ, openingHours: hours });
    const loc2 = await api.ok('POST', `/api/v1/orgs/${org.id}/locations`, { name: 'Kathmandu', timezone: 'Asia/Kathmandu' }, 201);
    assert.equal(loc2.openingHours, null, 'absent opening hours: always open');
    const loc3 = await api.ok('POST', `/api/v1/orgs/${org.id}/locations`, { name: 'Buenos Aires', timezone: 'America/Argentina/Buenos_Aires' }, 201);
    assert.deepEqual((await rowsOf(`/api/v1/orgs/${org.id}/locations`)).map((l) => l.id).sort(), [loc.id, loc2.id, loc3.id].sort());

    const desk = await api.ok('POST', `/api/v1/orgs/${org.id}/touchpoints`, { name: 'Desk', locationId: loc.id, channel: 'counter' }, 201);
    assert.deepEqual([desk.name, desk.locationId, desk.channel], ['Desk', loc.id, 'counter']);
    const web = await api.ok('POST', `/api/v1/orgs/${org.id}/touchpoints`, { name: 'Website', channel: 'web' }, 201);
    assert.equal(web.locationId, null);
    assert.deepEqual((await rowsOf(`/api/v1/orgs/${org.id}/touchpoints`)).map((t) => t.id).sort(), [desk.id, web.id].sort());

    const anna = await api.ok('POST', `/api/v1/orgs/${org.id}/employees`, { name: 'Anna' }, 201);
    assert.equal(anna.name, 'Anna');
    assert.deepEqual((await rowsOf(`/api/v1/orgs/${org.id}/employees`)).map((e) => e.id), [anna.id]);

    const email = `${unique('owner')}@example.test`;
    const user = await api.ok('POST', `/api/v1/orgs/${org.id}/users`, { email, name: 'Owner', role: 'org-admin', password: 'correct horse battery' }, 201);
    assert.deepEqual([user.email, user.role], [email, 'org-admin']);
    assert.ok(!JSON.stringify(user).includes('correct horse battery'), 'the password is not echoed');

    const dev = await api.ok('POST', `/api/v1/orgs/${org.id}/devices`, { kind: 'panel', name: 'Desk panel', locationId: loc.id, touchpointId: desk.id, employeeId: anna.id }, 201);
    assert.equal(typeof dev.token, 'string');
    assert.ok(dev.token.length >= 20, 'a device token is a long secret');
    assert.deepEqual([dev.kind, dev.name, dev.locationId, dev.touchpointId, dev.employeeId], ['panel', 'Desk panel', loc.id, desk.id, anna.id]);
    const fob = await api.ok('POST', `/api/v1/orgs/${org.id}/devices`, { kind: 'fob', locationId: loc2.id }, 201);
    assert.notEqual(fob.token, dev.token);
    const listed = await rowsOf(`/api/v1/orgs/${org.id}/devices`);
    assert.deepEqual(listed.map((d) => d.id).sort(), [dev.id, fob.id].sort());
    assert.ok(!JSON.stringify(listed).includes(dev.token) && !JSON.stringify(listed).includes(fob.token), 'the token is shown once, at creation');
    const d = listed.find((x) => x.id === dev.id);
    assert.deepEqual([d.locationId, d.touchpointId, d.employeeId, d.lastSeenAt], [loc.id, desk.id, anna.id, null]);
    // The new device works at once.
    const v = await api.votes(dev.token, [{ id: 'first', ts: Date.now() - MIN, button: 'satisfied' }]);
    assert.deepEqual(v.body, { accepted: 1, duplicates: 0 });
  });

  it('invalid input is refused naming the field, and creates nothing', async () => {
    const org = await newOrg();
    const other = await newOrg();
    const loc = await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name: 'Main', timezone: TZ }, 201);
    const loc2 = await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name: 'Second', timezone: TZ }, 201);
    const otherLoc = await api.ok('POST', `/api/v1/orgs/${other}/locations`, { name: 'Theirs', timezone: TZ }, 201);
    const tp2 = await api.ok('POST', `/api/v1/orgs/${org}/touchpoints`, { name: 'At second', locationId: loc2.id }, 201);
    const P = `/api/v1/orgs/${org}`;
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/api/v1/orgs', {}, 'name'],
      ['POST', '/api/v1/orgs', { name: '' }, 'name'],
      ['POST', '/api/v1/orgs', { name: 42 }, 'name'],
      ['POST', `${P}/locations`, { name: 'No zone' }, 'timezone'],
      ['POST', `${P}/locations`, { timezone: TZ }, 'name'],
      ['POST', `${P}/locations`, { name: 'Mars', timezone: 'Mars/Olympus' }, 'timezone'],
      ['POST', `${P}/locations`, { name: 'Offset', timezone: '+03:00' }, 'timezone'],
      ['POST', `${P}/locations`, { name: 'Offset', timezone: '-0500' }, 'timezone'],
      ['POST', `${P}/locations`, { name: 'Offset', timezone: 'UTC+3' }, 'timezone'],
      ['POST', `${P}/locations`, { name: 'Empty', timezone: '' }, 'timezone'],
      ['POST', `${P}/locations`, { name: 'Lower', timezone: 'moscow' }, 'timezone'],
      ['POST', `${P}/locations`, { name: 'H', timezone: TZ, openingHours: { mon: [['09:00', '25:00']] } }, 'openingHours.mon[0]'],
      ['POST', `${P}/locations`, { name: 'H', timezone: TZ, openingHours: { mon: [['9:00', '21:00']] } }, 'openingHours.mon[0]'],
      ['POST', `${P}/locations`, { name: 'H', timezone: TZ, openingHours: { mon: [['09:00']] } }, 'openingHours.mon[0]'],
      ['POST', `${P}/locations`, { name: 'H', timezone: TZ, openingHours: { tue: [['09:00', '21:00'], ['10:00', '10:00']] } }, 'openingHours.tue[1]'],
      ['POST', `${P}/locations`, { name: 'H', timezone: TZ, openingHours: { mon: [['09:60', '21:00']] } }, 'openingHours.mon[0]'],
      ['POST', `${P}/locations`, { name: 'H', timezone: TZ, openingHours: { monday: [['09:00', '21:00']] } }, 'openingHours.monday'],
      ['POST', `${P}/locations`, { name: 'H', timezone: TZ, openingHours: { mon: '09:00-21:00' } }, 'openingHours.mon'],
      ['POST', `${P}/locations`, { name: 'H', timezone: TZ, openingHours: [['09:00', '21:00']] }, 'openingHours'],
      ['POST', `${P}/touchpoints`, { channel: 'web' }, 'name'],
      ['POST', `${P}/touchpoints`, { name: 'Nowhere', locationId: 'loc_doesnotexist' }, 'locationId'],
      ['POST', `${P}/touchpoints`, { name: 'Theirs', locationId: otherLoc.id }, 'locationId'],
      ['POST', `${P}/employees`, {}, 'name'],
      ['POST', `${P}/devices`, { kind: 'toaster', locationId: loc.id }, 'kind'],
      ['POST', `${P}/devices`, { kind: 'panel' }, 'locationId'],
      ['POST', `${P}/devices`, { kind: 'panel', locationId: 'loc_doesnotexist' }, 'locationId'],
      ['POST', `${P}/devices`, { kind: 'panel', locationId: otherLoc.id }, 'locationId'],
      ['POST', `${P}/devices`, { kind: 'panel', locationId: loc.id, touchpointId: tp2.id }, 'touchpointId'],
      ['POST', `${P}/devices`, { kind: 'panel', locationId: loc.id, employeeId: 'emp_doesnotexist' }, 'employeeId'],
      ['POST', `${P}/users`, { email: 'not-an-email', name: 'X', role: 'viewer' }, 'email'],
      ['POST', `${P}/users`, { email: `${unique('u')}@example.test`, name: 'X', role: 'god' }, 'role'],
      ['POST', `${P}/users`, { email: `${unique('u')}@example.test`, name: 'X', role: 'viewer', password: 'short' }, 'password'],
      ['POST', `${P}/users`, { email: `${unique('u')}@example.test`, name: 'X', role: 'manager' }, 'locationIds'],
      ['POST', `${P}/users`, { email: `${unique('u')}@example.test`, name: 'X', role: 'manager', locationIds: [otherLoc.id] }, 'locationIds[0]'],
      ['PUT', `${P}/scoring`, { thresholds: [0.9, 0.8, 0.65, 0.5] }, 'thresholds'],
      ['PUT', `${P}/scoring`, { thresholds: [0.5, 0.65, 0.8] }, 'thresholds'],
      ['PUT', `${P}/scoring`, { minSample: 0 }, 'minSample'],
      ['PUT', `${P}/scoring`, { minSample: 2.5 }, 'minSample'],
      ['PUT', `${P}/scoring`, { minSample: 'ten' }, 'minSample'],
    ];
    for (const [method, path, body, field] of cases) {
      const r = await api.call(method, path, body);
      assert.notEqual(r.status, 500, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assertError(r, 400, field, 'invalid_field');
    }
    // A threshold outside 0..1 is refused by the field holding it.
    const r = await api.call('PUT', `${P}/scoring`, { thresholds: [0.5, 0.65, 1.5, 0.9] });
    assertError(r, 400, undefined, 'invalid_field');
    assert.match(r.body.error.field, /^thresholds/);

    assert.equal((await rowsOf(`${P}/locations`)).length, 2);
    assert.equal((await rowsOf(`${P}/touchpoints`)).length, 1);
    assert.equal((await rowsOf(`${P}/employees`)).length, 0);
    assert.equal((await rowsOf(`${P}/devices`)).length, 0);
    assert.deepEqual((await api.ok('GET', P, undefined)).scoring, { minSample: 10, thresholds: [0.5, 0.65, 0.8, 0.9] });
    // An email is taken once.
    const email = `${unique('dup')}@example.test`;
    await api.ok('POST', `${P}/users`, { email, name: 'First', role: 'viewer' }, 201);
    assertError(await api.call('POST', `${P}/users`, { email, name: 'Second', role: 'viewer' }), 409);
  });

  it('names in any script are kept as sent; a name the store cannot hold is refused by name, never 500', async () => {
    const org = await newOrg();
    const loc = await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name: 'Main', timezone: TZ }, 201);
    const P = `/api/v1/orgs/${org}`;
    for (const name of ['Кофейня «Север»', 'مقهى', '咖啡店 🐢', 'O’Brien & Sons <b>', "Robert'); DROP TABLE orgs;--"]) {
      assert.equal((await api.ok('POST', '/api/v1/orgs', { name }, 201)).name, name);
      const e = await api.ok('POST', `${P}/employees`, { name }, 201);
      assert.equal((await rowsOf(`${P}/employees`)).find((x) => x.id === e.id)?.name, name);
      const t = await api.ok('POST', `${P}/touchpoints`, { name, channel: name.slice(0, 30) }, 201);
      assert.deepEqual([t.name, t.channel], [name, name.slice(0, 30)]);
    }
    const nul = 'Null\u0000Café';
    const problems: string[] = [];
    for (const [path, body, field] of [
      ['/api/v1/orgs', { name: nul }, 'name'],
      [`${P}/locations`, { name: nul, timezone: TZ }, 'name'],
      [`${P}/employees`, { name: nul }, 'name'],
      [`${P}/touchpoints`, { name: 'Desk', channel: nul }, 'channel'],
      [`${P}/devices`, { kind: 'panel', name: nul, locationId: loc.id }, 'name'],
      [`${P}/users`, { email: `${unique('nul')}@example.test`, name: nul, role: 'viewer' }, 'name'],
    ] as Array<[string, Record<string, unknown>, string]>) {
      const r = await api.call('POST', path, body);
      if (r.status === 201) {
        if (!JSON.stringify(r.body).includes(JSON.stringify(nul).slice(1, -1))) problems.push(`${path}: stored, but not as sent: ${JSON.stringify(r.body)}`);
      } else if (r.status !== 400 || r.body?.error?.field !== field) problems.push(`${path} ${field} → ${r.status} ${JSON.stringify(r.body)}`);
    }
    assert.deepEqual(problems, []);
  });

  it('admin routes want an API token and JSON', async () => {
    const org = await newOrg();
    assertError(await api.call('GET', '/api/v1/orgs', undefined, null), 401);
    assertError(await api.call('GET', '/api/v1/orgs', undefined, 'lbt_not-a-real-token'), 401);
    assertError(await api.call('POST', `/api/v1/orgs/${org}/locations`, { name: 'x', timezone: TZ }, null), 401);
    assertError(await api.call('POST', `/api/v1/orgs/${org}/employees`, { name: 'x' }, 'lbt_not-a-real-token'), 401);
    assertError(await api.call('POST', `/api/v1/orgs/${org}/employees`, JSON.stringify({ name: 'Plain' }), api.adminToken, { 'content-type': 'text/plain' }), 415);
    assertError(await api.call('POST', `/api/v1/orgs/${org}/employees`, JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) })), 413);
    assertError(await api.call('POST', `/api/v1/orgs/${org}/employees`, '{"name": "broken'), 400);
    assert.equal((await rowsOf(`/api/v1/orgs/${org}/employees`)).length, 0);
  });

  it('a user signs in with email and password and gets a token acting as them', async () => {
    const org = await newOrg();
    const email = `${unique('signin')}@example.test`;
    await api.ok('POST', `/api/v1/orgs/${org}/users`, { email, name: 'Olga', role: 'org-admin', password: 'open sesame 42' }, 201);
    const { token } = await api.ok('POST', '/api/v1/auth/token', { email, password: 'open sesame 42' }, 200, null);
    assert.equal(typeof token, 'string');
    assert.deepEqual((await rowsOf('/api/v1/orgs', token)).map((o) => o.id), [org], 'an org-admin sees their organisation only');
    const loc = await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name: 'Made by Olga', timezone: TZ }, 201, token);
    assert.equal(loc.name, 'Made by Olga');
    assertError(await api.call('POST', '/api/v1/orgs', { name: 'Olga’s own' }, token), 403);

    assertError(await api.call('POST', '/api/v1/auth/token', { email, password: 'open sesame 43' }, null), 401);
    assertError(await api.call('POST', '/api/v1/auth/token', { email: `${unique('nobody')}@example.test`, password: 'open sesame 42' }, null), 401);
    const noPassword = `${unique('nopw')}@example.test`;
    await api.ok('POST', `/api/v1/orgs/${org}/users`, { email: noPassword, name: 'No password', role: 'viewer' }, 201);
    assertError(await api.call('POST', '/api/v1/auth/token', { email: noPassword, password: '' }, null), 401);
    assertError(await api.call('POST', '/api/v1/auth/token', { email }, null), 400, 'password');
  });

  // How many wrong guesses the server lets through before it locks the account (found below).
  let allowedGuesses: number | undefined;

  it('repeated wrong passwords lock the account: then even the right one is refused, with Retry-After', async () => {
    const org = await newOrg();
    const email = `${unique('locked')}@example.test`;
    const bystander = `${unique('bystander')}@example.test`;
    await api.ok('POST', `/api/v1/orgs/${org}/users`, { email, name: 'Target', role: 'org-admin', password: 'right password 1' }, 201);
    await api.ok('POST', `/api/v1/orgs/${org}/users`, { email: bystander, name: 'Bystander', role: 'viewer', password: 'right password 2' }, 201);
    let wrong = 0;
    let locked: { status: number; body: any; headers: Headers } | undefined;
    for (let i = 0; i < 20 && !locked; i++) {
      const r = await api.call('POST', '/api/v1/auth/token', { email, password: `guess number ${i}` }, null);
      if (r.status === 429) locked = r;
      else { assertError(r, 401); wrong++; }
    }
    assert.ok(locked, 'twenty wrong guesses in a row did not lock the account');
    assert.ok(wrong >= 3 && wrong <= 10, `locked after ${wrong} wrong guesses: a typo or two must be allowed, a guessing run must not`);
    allowedGuesses = wrong;
    assertError(locked, 429, undefined, 'rate_limited');
    const retry = Number(locked.headers.get('retry-after'));
    assert.ok(Number.isInteger(retry) && retry > 0, `Retry-After: ${locked.headers.get('retry-after')}`);

    const right = await api.call('POST', '/api/v1/auth/token', { email, password: 'right password 1' }, null);
    assertError(right, 429, undefined, 'rate_limited');
    assert.equal(right.body.token, undefined);
    // The same address written differently is the same account.
    assertError(await api.call('POST', '/api/v1/auth/token', { email: email.toUpperCase(), password: 'right password 1' }, null), 429);
    // Someone else is not locked out.
    assert.equal(typeof (await api.ok('POST', '/api/v1/auth/token', { email: bystander, password: 'right password 2' }, 200, null)).token, 'string');
  });

  it('parallel wrong guesses are not all evaluated: the lockout holds, and the right password is refused after', async () => {
    const org = await newOrg();
    const email = `${unique('burst')}@example.test`;
    await api.ok('POST', `/api/v1/orgs/${org}/users`, { email, name: 'Target', role: 'org-admin', password: 'right password 3' }, 201);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => api.call('POST', '/api/v1/auth/token', { email, password: `parallel guess ${i}` }, null)));
    const evaluated = answers.filter((r) => r.status === 401).length;
    const refused = answers.filter((r) => r.status === 429).length;
    assert.equal(evaluated + refused, 20, `every guess is a 401 or a 429: ${answers.map((r) => r.status).join(',')}`);
    const limit = allowedGuesses ?? 10;
    assert.ok(evaluated <= limit, `${evaluated} of 20 parallel guesses were checked against the password; one at a time only ${limit} are`);
    assertError(await api.call('POST', '/api/v1/auth/token', { email, password: 'right password 3' }, null), 429, undefined, 'rate_limited');
  });

  it('absurd score dates answer promptly with 400 naming the field', { timeout: 60_000 }, async () => {
    const org = await newOrg();
    const loc = await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name: 'Main', timezone: TZ }, 201);
    const dev = await api.ok('POST', `/api/v1/orgs/${org}/devices`, { kind: 'panel', locationId: loc.id }, 201);
    await api.votes(dev.token, [{ id: 'a', ts: '2026-03-10T10:00:00Z', button: 'satisfied' }]);
    // Served from a child process: a request that never ends must fail this test, not freeze the run.
    const child = await serverInChild(ctx().store);
    try {
      const ask = async (q: Record<string, string>): Promise<{ status: number; body: any } | 'timeout'> => {
        try {
          const res = await fetch(`${child.url}/api/v1/orgs/${org}/scores?${new URLSearchParams(q)}`, {
            headers: { authorization: `Bearer ${child.token}` }, signal: AbortSignal.timeout(5_000),
          });
          return { status: res.status, body: await res.json() };
        } catch (e) {
          if ((e as Error).name === 'TimeoutError') return 'timeout';
          throw e;
        }
      };
      // Sanity: the child serves the same data.
      const sane = await ask({ from: '2026-03-01', to: '2026-03-31', by: 'location' });
      if (sane === 'timeout') assert.fail('the child server did not answer a plain query');
      assert.equal(sane.status, 200);
      assert.deepEqual(sane.body.rows.map((r: any) => [r.key, r.satisfied]), [[loc.id, 1]]);

      const cases: Array<[Record<string, string>, string[]]> = [
        [{ from: '9999-12-01', to: '9999-12-31', by: 'location' }, ['from', 'to']],
        [{ from: '9999-12-01', to: '9999-12-31' }, ['from', 'to']],
        [{ from: '9999-12-31', to: '9999-12-31', by: 'total' }, ['from', 'to']],
        [{ from: '9999-11-15', to: '9999-12-31', by: 'employee' }, ['from', 'to']],
        [{ from: '9999-12-31', to: '9999-12-31', by: 'hour' }, ['from', 'to']],
        [{ from: '2026-01-01', to: '9999-12-31', by: 'location' }, ['to']],
        [{ from: '0001-01-01', to: '0001-01-31', by: 'location' }, ['from', 'to']],
        [{ from: '0000-01-01', to: '0000-12-31', by: 'total' }, ['from', 'to']],
        [{ from: '2026-01-01', to: '10000-01-01' }, ['to']],
        [{ from: '2026-13-01', to: '2026-13-31' }, ['from']],
        [{ from: '2026-1-1', to: '2026-01-31' }, ['from']],
        [{ from: '2026-01-01', to: '2026-01-01T00:00:00Z' }, ['to']],
      ];
      for (const [q, fields] of cases) {
        const t = Date.now();
        const r = await ask(q);
        if (r === 'timeout') assert.fail(`${JSON.stringify(q)} got no answer within 5 s`);
        assert.ok(Date.now() - t < 5_000);
        assert.notEqual(r.status, 500, `${JSON.stringify(q)}: ${JSON.stringify(r.body)}`);
        assertError(r, 400, undefined, 'invalid_field');
        assert.ok(fields.includes(r.body.error.field), `${JSON.stringify(q)} names ${r.body.error.field}, expected one of ${fields}`);
      }
    } finally {
      await child.stop();
    }
  });

  it('each organisation sets its own minimum sample and thresholds, and its scores follow them', async () => {
    const orgs: Array<{ id: string; loc: string; token: string }> = [];
    for (let i = 0; i < 2; i++) {
      const id = await newOrg();
      const loc = await api.ok('POST', `/api/v1/orgs/${id}/locations`, { name: 'Main', timezone: TZ }, 201);
      const dev = await api.ok('POST', `/api/v1/orgs/${id}/devices`, { kind: 'panel', locationId: loc.id }, 201);
      orgs.push({ id, loc: loc.id, token: dev.token });
    }
    // 12 presses, 9 satisfied: share 0.75, an hour apart on one Berlin day.
    const t0 = Date.parse('2026-04-14T06:00:00Z');
    const buttons = ['satisfied', 'satisfied', 'dissatisfied', 'satisfied', 'satisfied', 'satisfied', 'dissatisfied', 'satisfied', 'satisfied', 'dissatisfied', 'satisfied', 'satisfied'];
    for (const o of orgs) {
      const r = await api.votes(o.token, buttons.map((button, i) => ({ id: `s${i}`, ts: t0 + i * 60 * MIN, button })));
      assert.deepEqual(r.body, { accepted: 12, duplicates: 0 });
    }
    const sat = buttons.filter((b) => b === 'satisfied').length;
    const q = { from: '2026-04-14', to: '2026-04-14', by: 'location' };
    const scoreOf = async (org: string): Promise<number | null> => (await api.scores(org, q))[0].score;
    const [a, b] = orgs as [typeof orgs[0], typeof orgs[0]];

    assert.equal(await scoreOf(a.id), expectedScore(sat, 12, 10, [0.5, 0.65, 0.8, 0.9]));
    assert.equal(await scoreOf(a.id), 3);

    const strict = { minSample: 20, thresholds: [0.5, 0.65, 0.8, 0.9] };
    assert.deepEqual(await api.ok('PUT', `/api/v1/orgs/${a.id}/scoring`, strict), strict);
    assert.equal(await scoreOf(a.id), null, '12 votes are below a minimum sample of 20');

    const lenient = { minSample: 5, thresholds: [0.3, 0.5, 0.7, 0.75] };
    assert.deepEqual(await api.ok('PUT', `/api/v1/orgs/${a.id}/scoring`, lenient), lenient);
    assert.deepEqual((await api.ok('GET', `/api/v1/orgs/${a.id}`, undefined)).scoring, lenient);
    assert.equal(await scoreOf(a.id), expectedScore(sat, 12, 5, lenient.thresholds));
    assert.equal(await scoreOf(a.id), 5, 'a share of 0.75 reaches the lowest share for 5 exactly');

    const harsh = { minSample: 1, thresholds: [0.8, 0.85, 0.9, 0.95] };
    await api.ok('PUT', `/api/v1/orgs/${a.id}/scoring`, harsh);
    assert.equal(await scoreOf(a.id), 1);
    // Hours with fewer votes than the minimum sample have no score; here every hour has one vote.
    const hours = await api.scores(a.id, { from: '2026-04-14', to: '2026-04-14', by: 'hour' });
    assert.equal(hours.length, 12);
    for (const h of hours) assert.equal(h.score, expectedScore(h.satisfied, h.total, 1, harsh.thresholds));

    // The other organisation keeps the defaults.
    assert.deepEqual((await api.ok('GET', `/api/v1/orgs/${b.id}`, undefined)).scoring, { minSample: 10, thresholds: [0.5, 0.65, 0.8, 0.9] });
    assert.equal(await scoreOf(b.id), 3);
  });

  it('who may change what inside an organisation follows the role', async () => {
    const org = await newOrg();
    const loc = await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name: 'Main', timezone: TZ }, 201);
    const tokens: Record<string, string> = {};
    for (const role of ['org-admin', 'manager', 'viewer'] as const) {
      const email = `${unique(role)}@example.test`;
      await api.ok('POST', `/api/v1/orgs/${org}/users`, { email, name: role, role, password: 'a fine password', ...(role === 'manager' ? { locationIds: [loc.id] } : {}) }, 201);
      tokens[role] = (await api.ok('POST', '/api/v1/auth/token', { email, password: 'a fine password' }, 200, null)).token;
    }
    const P = `/api/v1/orgs/${org}`;
    const writes: Array<[string, string, unknown]> = [
      ['POST', `${P}/locations`, { name: 'New', timezone: TZ }],
      ['POST', `${P}/touchpoints`, { name: 'New' }],
      ['POST', `${P}/employees`, { name: 'New' }],
      ['POST', `${P}/devices`, { kind: 'panel', locationId: loc.id }],
      ['POST', `${P}/users`, { email: `${unique('x')}@example.test`, name: 'New', role: 'viewer' }],
      ['PUT', `${P}/scoring`, { minSample: 1 }],
    ];
    for (const role of ['manager', 'viewer']) {
      for (const [method, path, body] of writes) assertError(await api.call(method, path, body, tokens[role]!), 403);
      // Reading is allowed.
      assert.equal((await api.call('GET', `${P}/scores?from=2026-01-01&to=2026-01-31`, undefined, tokens[role]!)).status, 200);
      assert.equal((await api.call('GET', `${P}/locations`, undefined, tokens[role]!)).status, 200);
    }
    assert.equal((await rowsOf(`${P}/locations`)).length, 1);
    assert.equal((await rowsOf(`${P}/devices`)).length, 0);
    assert.equal((await rowsOf(`${P}/employees`)).length, 0);
    for (const [method, path, body] of writes) {
      const r = await api.call(method, path, body, tokens['org-admin']!);
      assert.ok(r.status === 200 || r.status === 201, `org-admin ${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    }
  });
});
