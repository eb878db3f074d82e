// One tenant never sees or writes another's data; a device writes only as itself (PRODUCT.md,
// "Quality bars"). Two organisations A and B, each with votes; every route is called with A's
// credentials on B's ids, and B is checked to be exactly as it was. Expected figures are the
// votes this test sent.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Api, eachBackend, unique } from './harness.ts';

const TZ = 'Europe/Moscow';
const HOUR = 3_600_000;
const DAY_FROM = '2026-03-01';
const DAY_TO = '2026-03-31';
const RANGE = `from=${DAY_FROM}&to=${DAY_TO}`;


type Org = {
  id: string; name: string; locs: string[]; tp: string; emp: string; devs: Array<{ id: string; token: string; loc: string }>;
  /** [satisfied, dissatisfied] sent per location */
  sent: Map<string, [number, number]>;
};

eachBackend('tenancy', (ctx) => {
  let api: Api;
  let A: Org;
  let B: Org;
  const tokens: Record<'aAdmin' | 'aViewer' | 'aManager' | 'bAdmin', string> = { aAdmin: '', aViewer: '', aManager: '', bAdmin: '' };

  async function makeOrg(label: string, presses: Array<[number, 'satisfied' | 'dissatisfied']>): Promise<Org> {
    const name = unique(`Org ${label}`);
    const id = (await api.ok('POST', '/api/v1/orgs', { name }, 201)).id;
    const locs: string[] = [];
    for (const n of ['one', 'two']) locs.push((await api.ok('POST', `/api/v1/orgs/${id}/locations`, { name: `${label} ${n}`, timezone: TZ }, 201)).id);
    const tp = (await api.ok('POST', `/api/v1/orgs/${id}/touchpoints`, { name: `${label} desk`, locationId: locs[0] }, 201)).id;
    const emp = (await api.ok('POST', `/api/v1/orgs/${id}/employees`, { name: `${label} cashier` }, 201)).id;
    const devs: Org['devs'] = [];
    const d0 = await api.ok('POST', `/api/v1/orgs/${id}/devices`, { kind: 'panel', locationId: locs[0], touchpointId: tp, employeeId: emp }, 201);
    const d1 = await api.ok('POST', `/api/v1/orgs/${id}/devices`, { kind: 'fob', locationId: locs[1] }, 201);
    devs.push({ id: d0.id, token: d0.token, loc: locs[0]! }, { id: d1.id, token: d1.token, loc: locs[1]! });
    const sent = new Map<string, [number, number]>();
    const t0 = Date.parse('2026-03-10T06:00:00Z');
    for (const [i, [devIndex, button]] of presses.entries()) {
      const dev = devs[devIndex]!;
      const r = await api.votes(dev.token, [{ id: `${label}-${i}`, ts: t0 + i * HOUR, button }]);
      assert.deepEqual(r.body, { accepted: 1, duplicates: 0 });
      const c = sent.get(dev.loc) ?? [0, 0];
      c[button === 'satisfied' ? 0 : 1]++;
      sent.set(dev.loc, c);
    }
    return { id, name, locs, tp, emp, devs, sent };
  }

  async function userToken(org: string, role: 'org-admin' | 'viewer' | 'manager', locationIds?: string[]): Promise<string> {
    const email = `${unique(role)}@example.test`;
    await api.ok('POST', `/api/v1/orgs/${org}/users`, { email, name: role, role, password: 'tenancy password', ...(locationIds ? { locationIds } : {}) }, 201);
    return (await api.ok('POST', '/api/v1/auth/token', { email, password: 'tenancy password' }, 200, null)).token;
  }

  /** Everything of B an outsider could learn or change, as B's own admin sees it. */
  async function snapshotB(): Promise<unknown> {
    const get = async (p: string): Promise<unknown> => (await api.ok('GET', `/api/v1/orgs/${B.id}${p}`, undefined, 200, tokens.bAdmin));
    return {
      org: await get(''), locations: await get('/locations'), touchpoints: await get('/touchpoints'), employees: await get('/employees'), devices: await get('/devices'),
      scores: await Promise.all(['location', 'touchpoint', 'employee', 'device', 'day', 'total'].map((by) => get(`/scores?${RANGE}&by=${by}`))),
    };
  }
  let bBefore: unknown;

  before(async () => {
    api = await Api.start(ctx().store);
    A = await makeOrg('A', [[0, 'satisfied'], [0, 'satisfied'], [1, 'dissatisfied'], [0, 'dissatisfied'], [1, 'satisfied'], [0, 'satisfied']]);
    B = await makeOrg('B', [[0, 'dissatisfied'], [1, 'satisfied'], [1, 'satisfied'], [0, 'satisfied'], [1, 'dissatisfied']]);
    tokens.aAdmin = await userToken(A.id, 'org-admin');
    tokens.aViewer = await userToken(A.id, 'viewer');
    tokens.aManager = await userToken(A.id, 'manager', [A.locs[0]!]);
    tokens.bAdmin = await userToken(B.id, 'org-admin');
    bBefore = await snapshotB();
  });
  after(async () => { await api?.close(); });

  /** No id or name of B appears anywhere in an answer meant for A. */
  function assertNothingOfB(body: unknown, what: string): void {
    const text = JSON.stringify(body);
    for (const secret of [B.id, B.name, ...B.locs, B.tp, B.emp, ...B.devs.map((d) => d.id), 'B one', 'B two', 'B desk', 'B cashier']) {
      assert.ok(!text.includes(secret), `${what} reveals ${secret}: ${text}`);
    }
  }

  it("every route of B called with A's user tokens is 403 or 404 and reveals nothing of B", async () => {
    const P = `/api/v1/orgs/${B.id}`;
    const calls: Array<[string, string, unknown?]> = [
      ['GET', P],
      ['PUT', `${P}/scoring`, { minSample: 1, thresholds: [0, 0, 0, 0] }],
      ['GET', `${P}/locations`],
      ['POST', `${P}/locations`, { name: 'Planted by A', timezone: TZ }],
      ['GET', `${P}/touchpoints`],
      ['POST', `${P}/touchpoints`, { name: 'Planted by A', locationId: B.locs[0] }],
      ['GET', `${P}/employees`],
      ['POST', `${P}/employees`, { name: 'Planted by A' }],
      ['POST', `${P}/users`, { email: `${unique('spy')}@example.test`, name: 'Spy', role: 'org-admin', password: 'spy password 1' }],
      ['GET', `${P}/devices`],
      ['POST', `${P}/devices`, { kind: 'panel', locationId: B.locs[0] }],
      ['POST', `${P}/devices/${B.devs[0]!.id}/assignment`, { locationId: B.locs[1] }],
      ['POST', `${P}/devices/${B.devs[0]!.id}/assignment`, { locationId: A.locs[0] }],
      ...['location', 'touchpoint', 'employee', 'device', 'day', 'hour', 'weekday', 'total'].map((by): [string, string] => ['GET', `${P}/scores?${RANGE}&by=${by}`]),
      ['GET', `${P}/scores?${RANGE}&by=location&locationId=${B.locs[0]}`],
    ];
    for (const who of ['aAdmin', 'aViewer', 'aManager'] as const) {
      for (const [method, path, body] of calls) {
        const r = await api.call(method, path, body, tokens[who]);
        assert.ok(r.status === 403 || r.status === 404, `${who} ${method} ${path} → ${r.status} ${JSON.stringify(r.body)}`);
        assertNothingOfB(r.body, `${who} ${method} ${path}`);
      }
    }
    assert.deepEqual(await snapshotB(), bBefore, 'B is exactly as it was');
  });

  it("A's users list only A among the organisations", async () => {
    for (const who of ['aAdmin', 'aViewer', 'aManager'] as const) {
      const rows = (await api.ok('GET', '/api/v1/orgs', undefined, 200, tokens[who])).rows;
      assert.deepEqual(rows.map((o: any) => o.id), [A.id], who);
    }
  });

  it("B's ids used inside A's own routes are refused, and B's things stay B's", async () => {
    const P = `/api/v1/orgs/${A.id}`;
    const aLocsBefore = (await api.ok('GET', `${P}/locations`, undefined, 200, tokens.aAdmin)).rows.length;
    const aDevicesBefore = (await api.ok('GET', `${P}/devices`, undefined, 200, tokens.aAdmin)).rows;
    const writes: Array<[string, string, unknown]> = [
      ['POST', `${P}/touchpoints`, { name: 'Hijack', locationId: B.locs[0] }],
      ['POST', `${P}/devices`, { kind: 'panel', locationId: B.locs[0] }],
      ['POST', `${P}/devices`, { kind: 'panel', locationId: A.locs[0], touchpointId: B.tp }],
      ['POST', `${P}/devices`, { kind: 'panel', locationId: A.locs[0], employeeId: B.emp }],
      ['POST', `${P}/devices/${B.devs[0]!.id}/assignment`, { locationId: A.locs[0] }],
      ['POST', `${P}/devices/${B.devs[1]!.id}/assignment`, { locationId: A.locs[1] }],
      ['POST', `${P}/devices/${A.devs[0]!.id}/assignment`, { locationId: B.locs[0] }],
      ['POST', `${P}/devices/${A.devs[0]!.id}/assignment`, { locationId: A.locs[0], touchpointId: B.tp }],
      ['POST', `${P}/devices/${A.devs[0]!.id}/assignment`, { locationId: A.locs[0], employeeId: B.emp }],
      ['POST', `${P}/users`, { email: `${unique('m')}@example.test`, name: 'M', role: 'manager', locationIds: [B.locs[0]] }],
    ];
    for (const [method, path, body] of writes) {
      const r = await api.call(method, path, body, tokens.aAdmin);
      assert.ok([400, 403, 404].includes(r.status), `${method} ${path} ${JSON.stringify(body)} → ${r.status} ${JSON.stringify(r.body)}`);
      assertNothingOfB({ ...r.body, error: { ...r.body.error, message: '', field: '' } }, `${method} ${path}`);
    }
    // Filters naming B's things give no figures of B.
    for (const filter of [`locationId=${B.locs[0]}`, `locationId=${B.locs[1]}`, `touchpointId=${B.tp}`, `employeeId=${B.emp}`]) {
      for (const by of ['location', 'device', 'total']) {
        const r = await api.call('GET', `${P}/scores?${RANGE}&by=${by}&${filter}`, undefined, tokens.aAdmin);
        assert.ok([200, 400, 403, 404].includes(r.status), `${filter} by ${by}: ${r.status}`);
        if (r.status === 200) assert.deepEqual(r.body.rows, [], `${filter} by ${by}`);
        assertNothingOfB(r.status === 200 ? r.body : {}, `${filter} by ${by}`);
      }
    }
    assert.equal((await api.ok('GET', `${P}/locations`, undefined, 200, tokens.aAdmin)).rows.length, aLocsBefore);
    assert.deepEqual((await api.ok('GET', `${P}/devices`, undefined, 200, tokens.aAdmin)).rows, aDevicesBefore);
    assert.deepEqual(await snapshotB(), bBefore, 'B is exactly as it was');
    // B's devices still vote into B.
    const r = await api.votes(B.devs[0]!.token, [{ id: 'after-hijack', ts: Date.now(), button: 'satisfied' }]);
    assert.deepEqual(r.body, { accepted: 1, duplicates: 0 });
    const today = new Intl.DateTimeFormat('sv-SE', { timeZone: TZ }).format(new Date());
    const rows = (await api.ok('GET', `/api/v1/orgs/${B.id}/scores?from=${today}&to=${today}&by=location`, undefined, 200, tokens.bAdmin)).rows;
    assert.deepEqual(rows.map((x: any) => [x.key, x.satisfied]), [[B.locs[0], 1]]);
    assert.deepEqual((await api.ok('GET', `${P}/scores?from=${today}&to=${today}&by=location`, undefined, 200, tokens.aAdmin)).rows, []);
    bBefore = await snapshotB();
  });

  it('a device of A writes into A only, whatever its body says, and cannot read or change B', async () => {
    const dev = A.devs[0]!;
    const ts = Date.parse('2026-03-20T09:00:00Z');
    // Fields naming B inside the event are either refused or ignored: the vote belongs to the device's own placement.
    const r = await api.votes(dev.token, [{ id: 'smuggle-1', ts, button: 'dissatisfied', deviceId: B.devs[0]!.id, locationId: B.locs[0], orgId: B.id }]);
    assert.ok(r.status === 200 || r.status === 400, `${r.status} ${JSON.stringify(r.body)}`);
    const r2 = await api.call('POST', '/api/v1/ingest/votes', { orgId: B.id, deviceId: B.devs[0]!.id, events: [{ id: 'smuggle-2', ts: ts + 60_000, button: 'dissatisfied' }] }, dev.token);
    assert.ok(r2.status === 200 || r2.status === 400, `${r2.status} ${JSON.stringify(r2.body)}`);
    const stored = (r.status === 200 ? 1 : 0) + (r2.status === 200 ? 1 : 0);
    const rows = (await api.ok('GET', `/api/v1/orgs/${A.id}/scores?from=2026-03-20&to=2026-03-20&by=device`, undefined, 200, tokens.aAdmin)).rows;
    assert.deepEqual(rows.map((x: any) => [x.key, x.dissatisfied]), stored ? [[dev.id, stored]] : []);

    // A's device token opens nothing of B (nor of A's administration).
    for (const [method, path, body] of [
      ['GET', `/api/v1/orgs/${B.id}/scores?${RANGE}`], ['GET', `/api/v1/orgs/${B.id}/devices`], ['GET', `/api/v1/orgs/${B.id}`],
      ['POST', `/api/v1/orgs/${B.id}/devices`, { kind: 'panel', locationId: B.locs[0] }],
      ['POST', `/api/v1/orgs/${B.id}/devices/${B.devs[0]!.id}/assignment`, { locationId: B.locs[1] }],
    ] as Array<[string, string, unknown?]>) {
      const x = await api.call(method, path, body, dev.token);
      assert.ok(x.status === 401 || x.status === 403 || x.status === 404, `${method} ${path} → ${x.status}`);
      assertNothingOfB(x.body, `device ${method} ${path}`);
    }
    // Its heartbeat is its own.
    const hb = await api.call('POST', '/api/v1/ingest/heartbeat', { battery: 12, deviceId: B.devs[0]!.id }, dev.token);
    assert.ok(hb.status === 200 || hb.status === 400, `${hb.status} ${JSON.stringify(hb.body)}`);
    assert.deepEqual(await snapshotB(), bBefore, 'B is exactly as it was');
    if (hb.status === 200) {
      const mine = (await api.ok('GET', `/api/v1/orgs/${A.id}/devices`, undefined, 200, tokens.aAdmin)).rows.find((d: any) => d.id === dev.id);
      assert.equal(mine.battery, 12);
    }
  });

  it('a manager sees only the locations granted, in lists and in every slice of the scores', async () => {
    const P = `/api/v1/orgs/${A.id}`;
    const granted = A.locs[0]!;
    const [sat, dis] = A.sent.get(granted)!;
    const locs = (await api.ok('GET', `${P}/locations`, undefined, 200, tokens.aManager)).rows;
    assert.deepEqual(locs.map((l: any) => l.id), [granted]);
    for (const by of ['location', 'touchpoint', 'employee', 'device', 'day', 'hour', 'weekday', 'total']) {
      const rows = (await api.ok('GET', `${P}/scores?from=2026-03-01&to=2026-03-15&by=${by}`, undefined, 200, tokens.aManager)).rows;
      const got = [rows.reduce((s: number, r: any) => s + r.satisfied, 0), rows.reduce((s: number, r: any) => s + r.dissatisfied, 0)];
      assert.deepEqual(got, [sat, dis], `by ${by}`);
    }
    const other = await api.call('GET', `${P}/scores?from=2026-03-01&to=2026-03-15&by=location&locationId=${A.locs[1]}`, undefined, tokens.aManager);
    assert.ok([400, 403, 404].includes(other.status) || (other.status === 200 && other.body.rows.length === 0), `${other.status} ${JSON.stringify(other.body)}`);
    const devices = (await api.ok('GET', `${P}/devices`, undefined, 200, tokens.aManager)).rows;
    assert.ok(devices.every((d: any) => d.locationId === granted), `devices of other locations shown: ${JSON.stringify(devices)}`);
    // The org-admin sees both locations.
    const all = (await api.ok('GET', `${P}/scores?from=2026-03-01&to=2026-03-15&by=location`, undefined, 200, tokens.aAdmin)).rows;
    assert.deepEqual(new Map(all.map((r: any) => [r.key, [r.satisfied, r.dissatisfied]])), A.sent);
  });

  it("a partner administers its own clients only", async () => {
    const partner = await api.ok('POST', '/api/v1/partners', { name: unique('Integrator') }, 201);
    const otherPartner = await api.ok('POST', '/api/v1/partners', { name: unique('Rival') }, 201);
    const email = `${unique('partner')}@example.test`;
    await api.ok('POST', `/api/v1/partners/${partner.id}/users`, { email, name: 'Petr', password: 'partner password' }, 201);
    const pt = (await api.ok('POST', '/api/v1/auth/token', { email, password: 'partner password' }, 200, null)).token;
    const client = await api.ok('POST', '/api/v1/orgs', { name: unique('Client'), partnerId: otherPartner.id }, 201, pt);
    assert.equal(client.partnerId, partner.id, "a partner's new client is its own, whatever partnerId says");
    await api.ok('POST', `/api/v1/orgs/${client.id}/locations`, { name: 'Client shop', timezone: TZ }, 201, pt);
    assert.deepEqual((await api.ok('GET', '/api/v1/orgs', undefined, 200, pt)).rows.map((o: any) => o.id), [client.id]);
    for (const org of [A.id, B.id]) {
      for (const path of [`/api/v1/orgs/${org}`, `/api/v1/orgs/${org}/scores?${RANGE}`, `/api/v1/orgs/${org}/devices`]) {
        const r = await api.call('GET', path, undefined, pt);
        assert.ok(r.status === 403 || r.status === 404, `${path} → ${r.status}`);
      }
      assertNothingOfB((await api.call('GET', `/api/v1/orgs/${org}/locations`, undefined, pt)).body, 'partner');
    }
    // Only the instance administrator makes partners and partner users; org users cannot reach the client.
    assert.equal((await api.call('POST', '/api/v1/partners', { name: 'Self-made' }, pt)).status, 403);
    assert.equal((await api.call('POST', '/api/v1/partners', { name: 'Self-made' }, tokens.aAdmin)).status, 403);
    assert.equal((await api.call('POST', `/api/v1/partners/${partner.id}/users`, { email: `${unique('p2')}@example.test`, name: 'X', password: 'partner password' }, tokens.aAdmin)).status, 403);
    assert.equal((await api.call('GET', `/api/v1/orgs/${client.id}`, undefined, tokens.aAdmin)).status, 403);
    assert.deepEqual(await snapshotB(), bBefore, 'B is exactly as it was');
  });

  it('malformed ids are answered 400, 403 or 404 in the protocol error shape, never 500', async () => {
    // Every kind of problem is collected with a count and its first example, so one run lists them all.
    const problems = new Map<string, { n: number; example: string }>();
    const problem = (kind: string, example: string): void => {
      const p = problems.get(kind) ?? { n: 0, example };
      p.n++;
      problems.set(kind, p);
    };
    const check = (where: string, what: string, r: { status: number; body: any }, allowed: number[], field?: string): void => {
      const said = `${what} → ${r.status} ${JSON.stringify(r.body).slice(0, 160)}`;
      const code = r.body?.error?.code ?? r.body?.code;
      if (!allowed.includes(r.status)) problem(`${where}: status ${r.status} (${code})`, said);
      else if (r.status >= 400 && typeof r.body?.error?.code !== 'string') problem(`${where}: status ${r.status} not in the protocol's error object (${code})`, said);
      else if (field !== undefined && r.body.error.field !== field) problem(`${where}: field should be ${field}`, said);
    };
    const weird = [
      'x'.repeat(65), 'x'.repeat(5000), '%00', 'org%00x', "'%20OR%20'1'%3D'1", '..%2F..%2Fetc%2Fpasswd', '%E2%98%83', '%F0%9F%90%A2', '%FF%FE', '%C0%AF', 'org_0000000000000000', '%20',
    ];
    // 414 (URI too long) is fair for a 5000-character id.
    const allowed = [400, 403, 404, 414];
    const who: Array<[string, string]> = [['instance admin', api.adminToken], ['A admin', tokens.aAdmin]];
    for (const [label, token] of who) {
      for (const id of weird) {
        const paths: Array<[string, string, unknown?]> = [
          ['GET', `/api/v1/orgs/${id}`],
          ['GET', `/api/v1/orgs/${id}/locations`],
          ['GET', `/api/v1/orgs/${id}/devices`],
          ['POST', `/api/v1/orgs/${id}/employees`, { name: 'E' }],
          ['PUT', `/api/v1/orgs/${id}/scoring`, { minSample: 3 }],
          ['GET', `/api/v1/orgs/${id}/scores?${RANGE}&by=location`],
          ['POST', `/api/v1/orgs/${A.id}/devices/${id}/assignment`, { locationId: A.locs[0] }],
          ['POST', `/api/v1/partners/${id}/users`, { email: `${unique('w')}@example.test`, name: 'W' }],
        ];
        for (const [method, path, body] of paths) check('id in the path', `${label} ${method} ${path.slice(0, 90)}`, await api.call(method, path, body, token), allowed);
      }
    }
    // The same in bodies and filters: refused naming the field, or (filters) simply matching nothing.
    const bodyIds = ['x'.repeat(65), 'loc\u0000x', '\u0000', "' OR '1'='1", '☃', 'loc_0000000000000000'];
    for (const id of bodyIds) {
      for (const [path, body, field] of [
        [`/api/v1/orgs/${A.id}/devices`, { kind: 'panel', locationId: id }, 'locationId'],
        [`/api/v1/orgs/${A.id}/devices`, { kind: 'panel', locationId: A.locs[0], touchpointId: id }, 'touchpointId'],
        [`/api/v1/orgs/${A.id}/touchpoints`, { name: 'T', locationId: id }, 'locationId'],
        [`/api/v1/orgs/${A.id}/devices/${A.devs[0]!.id}/assignment`, { locationId: id }, 'locationId'],
        [`/api/v1/orgs/${A.id}/users`, { email: `${unique('w')}@example.test`, name: 'W', role: 'manager', locationIds: [id] }, 'locationIds[0]'],
      ] as Array<[string, unknown, string]>) {
        check('id in the body', `POST ${path} ${JSON.stringify(body)}`, await api.call('POST', path, body, tokens.aAdmin), [400], field);
      }
      for (const f of ['locationId', 'touchpointId', 'employeeId']) {
        const r = await api.call('GET', `/api/v1/orgs/${A.id}/scores?${RANGE}&by=location&${f}=${encodeURIComponent(id)}`, undefined, tokens.aAdmin);
        check('id in a scores filter', `scores ${f}=${JSON.stringify(id)}`, r, [200, 400]);
        if (r.status === 200 && r.body.rows.length) problem('a malformed filter matched rows', `scores ${f}=${JSON.stringify(id)}: ${JSON.stringify(r.body.rows)}`);
      }
    }
    if (problems.size) assert.fail(`malformed ids:\n${[...problems].map(([k, p]) => `- ${k}, ${p.n}×, e.g. ${p.example}`).join('\n')}`);
    // A's things are as they were.
    assert.equal((await api.ok('GET', `/api/v1/orgs/${A.id}/devices`, undefined, 200, tokens.aAdmin)).rows.length, 2);
    assert.equal((await api.ok('GET', `/api/v1/orgs/${A.id}/employees`, undefined, 200, tokens.aAdmin)).rows.length, 1);
  });
});
