// The partner console's API (README "Partner console") on both backends: every figure equals one
// computed here from the presses the test sent (local dates by Intl, scores by the README's
// thresholds), fleet states from what each device did, the order puts trouble first, and a
// partner sees only its own client organisations.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Api, eachBackend, rng, unique } from './harness.ts';

const MIN = 60_000;
const DAY = 86_400_000;

/** The local calendar date of `ts` in `tz`, by Intl (not the server's code). */
const localDate = (tz: string, ts: number): string => new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(ts);
const minusDays = (day: string, n: number): string => new Date(Date.parse(`${day}T00:00:00Z`) - n * DAY).toISOString().slice(0, 10);
/** README: share ≥ 0.9 → 5, ≥ 0.8 → 4, ≥ 0.65 → 3, ≥ 0.5 → 2, else 1; none below 10 votes. */
const expectedScore = (s: number, n: number): number | null => (n < 10 ? null : s / n >= 0.9 ? 5 : s / n >= 0.8 ? 4 : s / n >= 0.65 ? 3 : s / n >= 0.5 ? 2 : 1);

type Sent = { ts: number; tz: string; satisfied: boolean; loc: string };

eachBackend('partner console API', (ctx) => {
  let api: Api;
  before(async () => { api = await Api.start(ctx().store); });
  after(async () => { await api?.close(); });

  const partnerAdmin = async (partnerId: string): Promise<string> => {
    const email = `${unique('partner')}@example.test`;
    await api.ok('POST', `/api/v1/partners/${partnerId}/users`, { email, name: 'P', password: 'long enough password' }, 201);
    return (await api.ok('POST', '/api/v1/auth/token', { email, password: 'long enough password' })).token;
  };

  it('gives each client organisation figures equal to independently computed counts, trouble first, and only the partner\'s own', async () => {
    const now = Date.now();
    const partner = await api.ok('POST', '/api/v1/partners', { name: unique('Partner') }, 201);
    const rival = await api.ok('POST', '/api/v1/partners', { name: unique('Rival') }, 201);
    const token = await partnerAdmin(partner.id);
    const rivalToken = await partnerAdmin(rival.id);

    // Good org: two locations in different zones, many presses, mostly satisfied.
    // Bad org: one location, mostly dissatisfied, one device offline and one on a low battery.
    const good = await api.ok('POST', '/api/v1/orgs', { name: 'Good café', partnerId: partner.id }, 201);
    const bad = await api.ok('POST', '/api/v1/orgs', { name: 'Bad bistro', partnerId: partner.id }, 201);
    const theirs = await api.ok('POST', '/api/v1/orgs', { name: 'Rival org', partnerId: rival.id }, 201);
    for (const o of [good, bad]) await api.ok('PUT', `/api/v1/orgs/${o.id}/misuse/settings`, { enabled: false });

    const sent = new Map<string, Sent[]>([[good.id, []], [bad.id, []], [theirs.id, []]]);
    const random = rng(42);
    const place = async (org: string, name: string, tz: string, satisfiedShare: number, presses: number) => {
      const loc = await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name, timezone: tz }, 201);
      const dev = await api.ok('POST', `/api/v1/orgs/${org}/devices`, { kind: 'panel', locationId: loc.id }, 201);
      const events = [];
      for (let i = 0; i < presses; i++) {
        // Spread over the last 10 days (some outside the 7-day window), none in the future.
        const ts = now - Math.floor(random() * 10 * DAY) - MIN;
        const satisfied = random() < satisfiedShare;
        events.push({ id: `e-${i}`, ts, button: satisfied ? 'satisfied' : 'dissatisfied' });
        sent.get(org)!.push({ ts, tz, satisfied, loc: loc.id });
      }
      // Several presses today in every location, so "today" is never empty by chance.
      for (let i = 0; i < 6; i++) {
        const ts = now - i * MIN - 1000;
        const satisfied = random() < satisfiedShare;
        events.push({ id: `t-${i}`, ts, button: satisfied ? 'satisfied' : 'dissatisfied' });
        sent.get(org)!.push({ ts, tz, satisfied, loc: loc.id });
      }
      const r = await api.votes(dev.token, events);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return { loc, dev };
    };
    const g1 = await place(good.id, 'Harbour', 'Asia/Tokyo', 0.95, 60);
    await place(good.id, 'Square', 'America/New_York', 0.85, 60);
    const b1 = await place(bad.id, 'Corner', 'Europe/Berlin', 0.3, 60);
    await place(theirs.id, 'Elsewhere', 'UTC', 0.5, 12);

    // Bad org's fleet: one device offline (last contact 2 h ago), one reporting 5 % battery.
    const offline = await api.ok('POST', `/api/v1/orgs/${bad.id}/devices`, { kind: 'panel', locationId: b1.loc.id }, 201);
    await ctx().store.db.updateTable('devices').set({ claimed_at: now - 3 * 60 * MIN, last_seen_at: now - 2 * 60 * MIN }).where('id', '=', offline.id).execute();
    const weak = await api.ok('POST', `/api/v1/orgs/${bad.id}/devices`, { kind: 'fob', locationId: b1.loc.id }, 201);
    assert.equal((await api.call('POST', '/api/v1/ingest/heartbeat', { battery: 5 }, weak.token)).status, 200);
    // Good org: a device never heard from, placed just now, and one waiting for its claim code.
    await api.ok('POST', `/api/v1/orgs/${good.id}/devices`, { kind: 'panel', locationId: g1.loc.id }, 201);
    await api.ok('POST', `/api/v1/orgs/${good.id}/devices/bulk`, { kind: 'panel', count: 1 }, 201);

    const res = await api.ok('GET', '/api/v1/partner/overview', undefined, 200, token);
    assert.deepEqual(res.orgs.map((o: any) => o.id), [bad.id, good.id], 'only the partner\'s orgs, the one in trouble first');

    const expectFigures = (list: Sent[], inWindow: (s: Sent) => boolean) => {
      const chosen = list.filter(inWindow);
      const s = chosen.filter((x) => x.satisfied).length;
      const n = chosen.length;
      return { satisfied: s, dissatisfied: n - s, total: n, score: expectedScore(s, n) };
    };
    const today = (x: Sent) => localDate(x.tz, x.ts) === localDate(x.tz, now);
    const week = (x: Sent) => localDate(x.tz, x.ts) >= minusDays(localDate(x.tz, now), 6);
    for (const org of [good, bad]) {
      const got = res.orgs.find((o: any) => o.id === org.id);
      const list = sent.get(org.id)!;
      for (const [name, window] of [['today', today], ['week', week]] as const) {
        const e = expectFigures(list, window);
        const f = got[name];
        assert.deepEqual({ satisfied: f.satisfied, dissatisfied: f.dissatisfied, total: f.total, score: f.score }, e, `${org.name} ${name}`);
        assert.ok(Math.abs(f.share - e.satisfied / e.total) < 1e-4, `${org.name} ${name} share`);
      }
    }
    const g = res.orgs.find((o: any) => o.id === good.id);
    const b = res.orgs.find((o: any) => o.id === bad.id);
    assert.equal(g.locations, 2);
    assert.equal(b.locations, 1);
    assert.deepEqual([b.fleet.online, b.fleet.offline, b.fleet.low_battery, b.fleet.total], [1, 1, 1, 3]);
    assert.deepEqual([g.fleet.online, g.fleet.never_seen, g.fleet.unclaimed, g.fleet.offline, g.fleet.total], [2, 1, 1, 0, 4]);
    assert.deepEqual(b.attention, ['low_score', 'devices_offline', 'low_battery']);
    assert.deepEqual(g.attention, []);
    // Worst location: the lowest 7-day score, computed here per location.
    const perLoc = (org: string, loc: string) => expectFigures(sent.get(org)!.filter((x) => x.loc === loc), week);
    const goodLocs = [...new Set(sent.get(good.id)!.map((x) => x.loc))];
    const worst = goodLocs.map((l) => ({ l, f: perLoc(good.id, l) }))
      .sort((x, y) => x.f.score! - y.f.score! || x.f.satisfied / x.f.total - y.f.satisfied / y.f.total)[0]!;
    assert.equal(g.worstLocation.id, worst.l);
    assert.equal(g.worstLocation.week.total, worst.f.total);
    assert.equal(b.worstLocation.id, b1.loc.id);

    // The rival partner sees only its own; the instance admin sees all three.
    assert.deepEqual((await api.ok('GET', '/api/v1/partner/overview', undefined, 200, rivalToken)).orgs.map((o: any) => o.id), [theirs.id]);
    const all = (await api.ok('GET', '/api/v1/partner/overview', undefined)).orgs.map((o: any) => o.id);
    for (const id of [good.id, bad.id, theirs.id]) assert.ok(all.includes(id));
  });

  it('refuses users of a client organisation and anonymous callers', async () => {
    const org = await api.ok('POST', '/api/v1/orgs', { name: unique('Org') }, 201);
    for (const role of ['org-admin', 'manager', 'viewer']) {
      const email = `${unique(role)}@example.test`;
      await api.ok('POST', `/api/v1/orgs/${org.id}/users`, { email, name: role, role, password: 'long enough password', ...(role === 'manager' ? { locationIds: [] } : {}) }, 201);
      const t = (await api.ok('POST', '/api/v1/auth/token', { email, password: 'long enough password' })).token;
      const r = await api.call('GET', '/api/v1/partner/overview', undefined, t);
      assert.equal(r.status, 403, role);
    }
    assert.equal((await api.call('GET', '/api/v1/partner/overview', undefined, null)).status, 401);
  });
});
