// Scores through the HTTP API against figures the test computes itself from the votes it sent.
// Local days/hours are derived here with Intl's sv-SE formatting (a different path from the
// server's offset arithmetic) so bucketing errors cannot cancel out.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Api, eachBackend, rng } from './harness.ts';

const WEEK = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const fmts = new Map<string, Intl.DateTimeFormat>();
function local(tz: string, ts: number): { day: string; hour: string; weekday: string } {
  if (!fmts.has(tz)) fmts.set(tz, new Intl.DateTimeFormat('sv-SE', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23' }));
  const s = fmts.get(tz)!.format(new Date(ts));
  const [day, hour] = s.split(' ') as [string, string];
  return { day, hour: hour.slice(0, 2), weekday: WEEK[new Date(`${day}T12:00:00Z`).getUTCDay()]! };
}

type Sent = { ts: number; button: 'satisfied' | 'dissatisfied'; device: Dev };
type Dev = { id: string; token: string; location: string; tz: string; touchpoint: string | null; employee: string | null };

eachBackend('scores', (ctx) => {
  let api: Api;
  let org: string;
  const devs: Dev[] = [];
  const sent: Sent[] = [];
  const ids: Record<string, string> = {};

  before(async () => {
    api = await Api.start(ctx().store);
    org = (await api.ok('POST', '/api/v1/orgs', { name: 'Zones Ltd' }, 201)).id;
    const zones = { kolkata: 'Asia/Kolkata', berlin: 'Europe/Berlin', newyork: 'America/New_York' };
    for (const [k, tz] of Object.entries(zones)) ids[k] = (await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name: k, timezone: tz }, 201)).id;
    ids['desk'] = (await api.ok('POST', `/api/v1/orgs/${org}/touchpoints`, { name: 'Desk', locationId: ids['berlin'], channel: 'counter' }, 201)).id;
    ids['tables'] = (await api.ok('POST', `/api/v1/orgs/${org}/touchpoints`, { name: 'Tables', channel: 'table' }, 201)).id;
    ids['anna'] = (await api.ok('POST', `/api/v1/orgs/${org}/employees`, { name: 'Anna' }, 201)).id;
    ids['boris'] = (await api.ok('POST', `/api/v1/orgs/${org}/employees`, { name: 'Boris' }, 201)).id;
    const specs: Array<[string, string | null, string | null, 'panel' | 'fob']> = [
      ['kolkata', null, null, 'panel'], ['berlin', 'desk', 'anna', 'panel'], ['berlin', 'tables', 'boris', 'fob'],
      ['newyork', 'tables', 'anna', 'fob'], ['newyork', null, null, 'panel'],
    ];
    for (const [loc, tp, emp, kind] of specs) {
      const body = { kind, locationId: ids[loc]!, ...(tp ? { touchpointId: ids[tp]! } : {}), ...(emp ? { employeeId: ids[emp]! } : {}) };
      const d = await api.ok('POST', `/api/v1/orgs/${org}/devices`, body, 201);
      devs.push({ id: d.id, token: d.token, location: ids[loc]!, tz: zones[loc as keyof typeof zones], touchpoint: tp ? ids[tp]! : null, employee: emp ? ids[emp]! : null });
    }
    const r = rng(42);
    const start = Date.parse('2026-01-20T00:00:00Z');
    const end = Date.parse('2026-04-16T00:00:00Z'); // spans both DST changes of Berlin and New York
    for (let i = 0; i < 900; i++) {
      const device = devs[Math.floor(r() * devs.length)]!;
      const satisfiedP = device.employee === ids['boris'] ? 0.55 : 0.85;
      sent.push({ ts: start + Math.floor(r() * (end - start)), button: r() < satisfiedP ? 'satisfied' : 'dissatisfied', device });
    }
    // A few presses right at the edges that bucketing gets wrong most easily.
    const kolkata = devs[0]!;
    const berlinDesk = devs[1]!;
    sent.push({ ts: Date.parse('2026-03-10T18:29:59Z'), button: 'satisfied', device: kolkata }); // 23:59:59 local
    sent.push({ ts: Date.parse('2026-03-10T18:30:00Z'), button: 'dissatisfied', device: kolkata }); // 00:00 next day
    sent.push({ ts: Date.parse('2026-03-29T00:59:00Z'), button: 'satisfied', device: berlinDesk }); // 01:59 CET
    sent.push({ ts: Date.parse('2026-03-29T01:00:00Z'), button: 'satisfied', device: berlinDesk }); // 03:00 CEST
    sent.push({ ts: Date.parse('2026-01-31T23:30:00Z'), button: 'dissatisfied', device: berlinDesk }); // 1 Feb 00:30 local: month edge
    for (const d of devs) {
      const mine = sent.map((s, i) => ({ s, i })).filter((x) => x.s.device === d);
      for (let i = 0; i < mine.length; i += 400) {
        const events = mine.slice(i, i + 400).map(({ s, i: n }) => ({ id: `e${n}`, ts: n % 2 ? s.ts : new Date(s.ts).toISOString(), button: s.button }));
        const res = await api.votes(d.token, events);
        assert.equal(res.status, 200);
        assert.equal(res.body.accepted, events.length);
      }
    }
  });
  after(async () => { await api?.close(); });

  function expected(from: string, to: string, by: string, f: { locationId?: string; touchpointId?: string; employeeId?: string }): Map<string, [number, number]> {
    const m = new Map<string, [number, number]>();
    for (const s of sent) {
      const l = local(s.device.tz, s.ts);
      if (l.day < from || l.day > to) continue;
      if (f.locationId && s.device.location !== f.locationId) continue;
      if (f.touchpointId && s.device.touchpoint !== f.touchpointId) continue;
      if (f.employeeId && s.device.employee !== f.employeeId) continue;
      const key = ({
        location: s.device.location, touchpoint: s.device.touchpoint ?? 'none', employee: s.device.employee ?? 'none', device: s.device.id,
        day: l.day, hour: l.hour, weekday: l.weekday, total: 'total',
      } as Record<string, string>)[by]!;
      const c = m.get(key) ?? [0, 0];
      c[s.button === 'satisfied' ? 0 : 1]++;
      m.set(key, c);
    }
    return m;
  }

  const ranges: Array<[string, string]> = [['2026-01-20', '2026-04-15'], ['2026-02-01', '2026-03-31'], ['2026-02-15', '2026-03-10'], ['2026-03-29', '2026-03-29'], ['2026-03-11', '2026-03-11']];
  const bys = ['location', 'touchpoint', 'employee', 'device', 'day', 'hour', 'weekday', 'total'];

  it('every slice over every range equals the counts computed from the votes sent', async () => {
    for (const [from, to] of ranges) {
      for (const by of bys) {
        const rows = await api.scores(org, { from, to, by });
        const exp = expected(from, to, by, {});
        const got = new Map(rows.map((r: any) => [r.key, [r.satisfied, r.dissatisfied]]));
        assert.deepEqual(got, exp, `${by} ${from}..${to}`);
      }
    }
  });

  it('filters combine with every slice', async () => {
    const filters: Array<Record<string, string>> = [{ locationId: ids['berlin']! }, { employeeId: ids['anna']! }, { touchpointId: ids['tables']! }, { employeeId: ids['boris']!, touchpointId: ids['tables']! }, { locationId: ids['newyork']!, employeeId: ids['anna']! }];
    for (const f of filters) {
      for (const by of bys) {
        const rows = await api.scores(org, { from: '2026-01-25', to: '2026-04-02', by, ...f });
        const got = new Map(rows.map((r: any) => [r.key, [r.satisfied, r.dissatisfied]]));
        assert.deepEqual(got, expected('2026-01-25', '2026-04-02', by, f), `${by} ${JSON.stringify(f)}`);
      }
    }
  });

  it('the edge presses land on their local day and hour', async () => {
    const kolkataDays = await api.scores(org, { from: '2026-03-10', to: '2026-03-11', by: 'day', locationId: ids['kolkata']! });
    const hours = await api.scores(org, { from: '2026-03-10', to: '2026-03-11', by: 'hour', locationId: ids['kolkata']! });
    const exp10 = expected('2026-03-10', '2026-03-10', 'total', { locationId: ids['kolkata']! }).get('total') ?? [0, 0];
    assert.deepEqual([kolkataDays.find((r: any) => r.key === '2026-03-10')?.satisfied, kolkataDays.find((r: any) => r.key === '2026-03-10')?.dissatisfied], exp10);
    assert.ok(hours.some((r: any) => r.key === '23' && r.satisfied >= 1), '23:59:59 local is hour 23');
    assert.ok(hours.some((r: any) => r.key === '00' && r.dissatisfied >= 1), '00:00 local is hour 00');
    const dst = await api.scores(org, { from: '2026-03-29', to: '2026-03-29', by: 'hour', locationId: ids['berlin']! });
    assert.equal(dst.find((r: any) => r.key === '02'), undefined, 'no press can fall into the skipped hour 02:00 CET');
    assert.ok(dst.find((r: any) => r.key === '01')?.satisfied >= 1);
    assert.ok(dst.find((r: any) => r.key === '03')?.satisfied >= 1);
  });

  it('share, interval and score follow from the counts', async () => {
    const rows = await api.scores(org, { from: '2026-01-20', to: '2026-04-15', by: 'employee' });
    for (const r of rows) {
      assert.equal(r.total, r.satisfied + r.dissatisfied);
      assert.equal(r.share, Math.round((r.satisfied / r.total) * 1e4) / 1e4);
      assert.ok(r.wilson[0] <= r.share && r.share <= r.wilson[1]);
      const share = r.satisfied / r.total;
      const exp = r.total < 10 ? null : share >= 0.9 ? 5 : share >= 0.8 ? 4 : share >= 0.65 ? 3 : share >= 0.5 ? 2 : 1;
      assert.equal(r.score, exp, r.label);
      assert.equal(r.flagged, 0);
      assert.equal(r.visitors, null, 'no visitor counter reported');
    }
    const boris = rows.find((r: any) => r.key === ids['boris']);
    const anna = rows.find((r: any) => r.key === ids['anna']);
    assert.ok(boris.share < anna.share, 'the weaker employee shows lower');
    assert.equal(boris.label, 'Boris');
  });

  it('an empty range answers no rows, and bad dates name the field', async () => {
    assert.deepEqual(await api.scores(org, { from: '2025-01-01', to: '2025-01-31', by: 'location' }), []);
    for (const [q, field] of [[{ from: '2026-02-30', to: '2026-03-01' }, 'from'], [{ from: '2026-03-01', to: 'tomorrow' }, 'to'], [{ from: '2026-03-02', to: '2026-03-01' }, 'from'], [{ to: '2026-03-01' }, 'from'], [{ from: '2026-03-01', to: '2026-03-02', by: 'month' }, 'by']] as const) {
      const r = await api.call('GET', `/api/v1/orgs/${org}/scores?${new URLSearchParams(q as Record<string, string>)}`);
      assert.equal(r.status, 400, JSON.stringify(q));
      assert.equal(r.body.error.code, 'invalid_field');
      assert.equal(r.body.error.field, field, JSON.stringify(q));
    }
  });
});
