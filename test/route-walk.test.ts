// THE ROUTE WALK: every route the server registers (collected by an onRoute hook, src/http/app.ts
// ROUTES), every method, is called
//   (a) with no credentials → 401, unless listed in PUBLIC below with the reason it is public;
//   (b) as a user of ANOTHER organisation and partner — by API token and by session cookie — with
//       the path filled with the victim organisation's real ids → 403 or 404, never 2xx, and the
//       answer names nothing of the victim;
//   (c) with a device token → 401/403 on every route that is not a device route.
// Routes added later (on other branches) are walked automatically. A path parameter this file does
// not know fails the test naming the route and the parameter: add it to PARAMS.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Api, eachBackend } from './harness.ts';
import { ROUTES, type RouteEntry } from '../src/http/app.ts';

const TZ = 'Europe/Moscow';

/**
 * Routes anyone may call, each with why. `METHOD url` as registered (HEAD follows GET).
 * Device routes are not here: without a token they answer 401 like user routes.
 */
const PUBLIC: Record<string, string> = {
  'GET /health': 'load balancer health check',
  'GET /': 'the dashboard SPA (it signs in by itself)',
  'GET /*': 'SPA client routes (/orgs/…, /invite/…, /setup/…, /wall/…) and static files',
  'GET /assets/:file': 'the SPA\'s hashed assets',
  'GET /claim': 'the installer\'s claim page (SPA; it signs in by itself)',
  'GET /claim/:code': 'the claim page a label\'s QR code opens (SPA; the API behind it needs a token)',
  'POST /api/v1/auth/token': 'sign-in for scripts (PROTOCOL §1): email + password → token',
  'POST /api/v1/auth/session': 'sign-in for browsers: email + password → session cookie',
  'GET /api/v1/invites/:secret': 'an invite link: the secret is the credential',
  'POST /api/v1/invites/:secret/accept': 'accepting an invite: the secret is the credential',
  'GET /api/v1/setup/:secret': 'the first admin\'s setup link: the secret is the credential',
  'POST /api/v1/setup/:secret': 'creating the first admin through the setup link',
  'GET /api/v1/wall/:secret': 'a wall display link: the secret is the credential, read-only',
  'GET /api/v1/wall/:secret/live': 'a wall display\'s live stream: the secret is the credential',
};
/** OpenAPI documentation and its UI's files (@fastify/swagger-ui registers several). */
const isDocs = (url: string): boolean => url === '/docs' || url.startsWith('/docs/');
const isPublic = (r: RouteEntry): boolean => isDocs(r.url) || `${r.method === 'HEAD' ? 'GET' : r.method} ${r.url}` in PUBLIC;

type Victim = {
  orgId: string; orgName: string; partnerId: string; locs: string[]; tp: string; emp: string; devices: string[]; deviceToken: string;
  batch: string; claimCode: string; shift: string; user: string; userToken: string; tokenId: string; invite: string; wallLink: string; wallSecret: string;
};

/** What each path parameter is filled with: the victim's real ids. Extend when a route brings a new one. */
const PARAMS: Record<string, (v: Victim) => string> = {
  org: (v) => v.orgId,
  partner: (v) => v.partnerId,
  location: (v) => v.locs[0]!,
  touchpoint: (v) => v.tp,
  employee: (v) => v.emp,
  device: (v) => v.devices[0]!,
  batch: (v) => v.batch,
  code: (v) => v.claimCode,
  shift: (v) => v.shift,
  user: (v) => v.user,
  token: (v) => v.tokenId,
  invite: (v) => v.invite,
  link: (v) => v.wallLink,
  secret: (v) => v.wallSecret,
  id: () => 'ep_0000000000000000', // misuse episode: an id of the right shape
  action: () => 'confirm',
  file: () => 'index.js',
  '*': () => 'orgs/x',
};

function fill(r: RouteEntry, v: Victim): string {
  return r.url.replace(/:([A-Za-z0-9_]+)|\*/g, (m, name: string | undefined) => {
    const key = name ?? '*';
    const f = PARAMS[key];
    if (!f) throw new Error(`route ${r.method} ${r.url}: unknown path parameter "${m}" — map it in PARAMS (test/route-walk.test.ts) to a real id of the victim organisation`);
    return encodeURIComponent(f(v));
  });
}

const hasBody = (method: string): boolean => method === 'POST' || method === 'PUT' || method === 'PATCH';

eachBackend('route walk', (ctx) => {
  let api: Api;
  let routes: RouteEntry[];
  let V: Victim;
  let stranger: { token: string; cookie: string; partnerToken: string };
  let strangerLogin: { email: string; password: string };

  before(async () => {
    api = await Api.start(ctx().store);
    routes = ROUTES.get(api.server.app) ?? [];
    const tag = Math.random().toString(36).slice(2, 8);
    const partner = await api.ok('POST', '/api/v1/partners', { name: `Victim partner ${tag}` }, 201);
    const org = await api.ok('POST', '/api/v1/orgs', { name: `Victim ${tag}`, partnerId: partner.id }, 201);
    const P = `/api/v1/orgs/${org.id}`;
    const locs = [
      (await api.ok('POST', `${P}/locations`, { name: `Victim street ${tag}`, timezone: TZ }, 201)).id,
      (await api.ok('POST', `${P}/locations`, { name: `Victim square ${tag}`, timezone: TZ }, 201)).id,
    ];
    const tp = (await api.ok('POST', `${P}/touchpoints`, { name: `Victim desk ${tag}`, locationId: locs[0] }, 201)).id;
    const emp = (await api.ok('POST', `${P}/employees`, { name: `Victim cashier ${tag}` }, 201)).id;
    const d0 = await api.ok('POST', `${P}/devices`, { kind: 'panel', locationId: locs[0], touchpointId: tp }, 201);
    const d1 = await api.ok('POST', `${P}/devices`, { kind: 'panel', locationId: locs[1] }, 201);
    const ts = Date.now() - 3_600_000;
    await api.votes(d0.token, [{ id: 'v-1', ts, button: 'satisfied' }]);
    await api.votes(d1.token, [{ id: 'v-2', ts, button: 'dissatisfied' }]);
    const bulk = await api.ok('POST', `${P}/devices/bulk`, { kind: 'panel', count: 1 }, 201);
    const shift = await api.ok('POST', `${P}/shifts`, { employeeId: emp, touchpointId: tp, start: '2026-03-01T09:00', end: '2026-03-01T17:00' }, 201);
    const user = await api.orgUser(org.id, 'org-admin');
    const tokenId = (await api.ok('GET', '/api/v1/auth/tokens', undefined, 200, user.token)).rows[0].id;
    const invite = await api.ok('POST', `${P}/invites`, { email: `invitee-${tag}@example.test`, role: 'viewer' }, 201, user.token);
    const wall = await api.ok('POST', `${P}/wall-links`, { label: 'Shop window' }, 201, user.token);
    V = {
      orgId: org.id, orgName: org.name, partnerId: partner.id, locs, tp, emp, devices: [d0.id, d1.id], deviceToken: d0.token,
      batch: bulk.batch.id, claimCode: bulk.devices[0].claimCode, shift: shift.id, user: user.id, userToken: user.token, tokenId,
      invite: invite.id, wallLink: wall.id, wallSecret: wall.url.split('/').pop(),
    };

    const sPartner = await api.ok('POST', '/api/v1/partners', { name: `Stranger partner ${tag}` }, 201);
    const sOrg = await api.ok('POST', '/api/v1/orgs', { name: `Stranger ${tag}`, partnerId: sPartner.id }, 201);
    const s = await api.orgUser(sOrg.id, 'org-admin');
    strangerLogin = s;
    const pEmail = `partner-${tag}@example.test`;
    await api.ok('POST', `/api/v1/partners/${sPartner.id}/users`, { email: pEmail, name: 'Stranger partner', password: 'partner password' }, 201);
    stranger = {
      token: s.token, cookie: await api.session(s.email, s.password),
      partnerToken: (await api.ok('POST', '/api/v1/auth/token', { email: pEmail, password: 'partner password' }, 200, null)).token,
    };
  });
  after(async () => { await api?.close(); });

  /** No id or name of the victim appears in an answer meant for someone else. */
  const secretsOfVictim = (): string[] => [V.orgId, V.orgName, V.partnerId, ...V.locs, V.tp, V.emp, ...V.devices, V.batch, V.shift, V.user, V.invite, V.wallLink, 'Victim street', 'Victim desk', 'Victim cashier'];
  const leaks = (body: unknown): string[] => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    return secretsOfVictim().filter((x) => text.includes(x));
  };

  it('collects the routes, and every public route in the allowlist exists', () => {
    assert.ok(routes.length > 50, `only ${routes.length} routes collected`);
    const have = new Set(routes.map((r) => `${r.method} ${r.url}`));
    for (const k of Object.keys(PUBLIC)) assert.ok(have.has(k), `PUBLIC lists ${k}, which is not a route any more`);
    // Every route's parameters are known (fails naming the route and the parameter otherwise).
    for (const r of routes) fill(r, V);
  });

  it('(a) without credentials every route answers 401, except the public ones', async () => {
    const wrong: string[] = [];
    for (const r of routes) {
      if (isPublic(r)) continue;
      const res = await api.call(r.method, fill(r, V), hasBody(r.method) ? {} : undefined, null);
      if (res.status !== 401) wrong.push(`${r.method} ${r.url} → ${res.status} ${JSON.stringify(res.body).slice(0, 120)}`);
      else if (r.method !== 'HEAD' && res.body?.error?.code !== 'unauthorized') wrong.push(`${r.method} ${r.url}: 401 without the protocol's error object`);
    }
    assert.deepEqual(wrong, [], `answered without credentials:\n${wrong.join('\n')}`);
  });

  it("(b) a user of another organisation or partner — by token and by cookie — gets 403/404 on every route with the victim's ids", async () => {
    const wrong: string[] = [];
    const as: Array<[string, (m: string, p: string, b: unknown) => ReturnType<Api['call']>]> = [
      ['org-admin by token', (m, p, b) => api.call(m, p, b, stranger.token)],
      ['org-admin by cookie', (m, p, b) => api.asBrowser(m, p, stranger.cookie, b)],
      ['partner-admin by token', (m, p, b) => api.call(m, p, b, stranger.partnerToken)],
    ];
    for (const r of routes) {
      if (isPublic(r)) continue;
      const path = fill(r, V);
      const scoped = r.url.includes(':');
      for (const [who, call] of as) {
        const res = await call(r.method, path, hasBody(r.method) ? {} : undefined);
        // Signing out ends the stranger's session: sign in again for the routes that follow.
        if (r.method === 'DELETE' && r.url === '/api/v1/auth/session' && who.includes('cookie')) stranger.cookie = await api.session(strangerLogin.email, strangerLogin.password);
        const what = `${who}: ${r.method} ${r.url} → ${res.status} ${JSON.stringify(res.body).slice(0, 120)}`;
        if (scoped && res.status !== 403 && res.status !== 404) wrong.push(what);
        else if (!scoped && res.status >= 500) wrong.push(what);
        const leaked = leaks(res.body);
        if (leaked.length) wrong.push(`${what} reveals ${leaked.join(', ')}`);
      }
    }
    assert.deepEqual(wrong, [], `a stranger got through:\n${wrong.join('\n')}`);
    // …and the victim is as it was: its invite still pending, its wall link and token still working.
    assert.equal((await api.ok('GET', `/api/v1/orgs/${V.orgId}/invites`, undefined, 200, V.userToken)).rows[0].state, 'pending');
    await api.ok('GET', `/api/v1/wall/${V.wallSecret}`, undefined, 200, null);
    await api.ok('GET', '/api/v1/auth/me', undefined, 200, V.userToken);
  });

  it('(c) a device token gets 401/403 on every route that is not for devices', async () => {
    const wrong: string[] = [];
    for (const r of routes) {
      if (isPublic(r) || r.security.includes('device')) continue;
      const res = await api.call(r.method, fill(r, V), hasBody(r.method) ? {} : undefined, V.deviceToken);
      if (res.status !== 401 && res.status !== 403) wrong.push(`${r.method} ${r.url} → ${res.status} ${JSON.stringify(res.body).slice(0, 120)}`);
    }
    assert.deepEqual(wrong, [], `a device token got through:\n${wrong.join('\n')}`);
  });

  it("a manager reads none of a location not granted to them, on any organisation route", async () => {
    const manager = await api.orgUser(V.orgId, 'manager', [V.locs[0]!]);
    const hidden = [V.locs[1]!, V.devices[1]!, 'Victim square'];
    const wrong: string[] = [];
    const today = new Intl.DateTimeFormat('sv-SE', { timeZone: TZ }).format(new Date());
    for (const r of routes) {
      // Every GET of the organisation that takes no other id, asked for the hidden location too.
      if (r.method !== 'GET' || !r.url.startsWith('/api/v1/orgs/:org') || r.url.replace(':org', '').includes(':') || r.url.endsWith('/live')) continue;
      for (const q of ['', `?from=${today}&to=${today}&by=location&locationId=${V.locs[1]}`, `?from=${today}&to=${today}&by=device`]) {
        const res = await fetch(`${api.url}${fill(r, V)}${q}`, { headers: { authorization: `Bearer ${manager.token}` } });
        const text = await res.text();
        const type = res.headers.get('content-type') ?? '';
        if (res.status >= 500) wrong.push(`${r.url}${q} → ${res.status}`);
        if (!/json|text|csv|html/.test(type) && res.status === 200) continue; // binary (xlsx): covered by its own tests
        const seen = hidden.filter((h) => text.includes(h));
        if (seen.length) wrong.push(`${r.url}${q} → ${res.status} reveals ${seen.join(', ')}`);
      }
    }
    assert.deepEqual(wrong, [], `a manager saw a location not granted:\n${wrong.join('\n')}`);
    // The figures the manager gets are exactly the granted location's: one satisfied vote today.
    const rows = (await api.ok('GET', `/api/v1/orgs/${V.orgId}/scores?from=${today}&to=${today}&by=location`, undefined, 200, manager.token)).rows;
    assert.deepEqual(rows.map((x: any) => [x.key, x.satisfied, x.dissatisfied]), [[V.locs[0], 1, 0]]);
  });
});
