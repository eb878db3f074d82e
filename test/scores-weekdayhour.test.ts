// scores by=weekdayhour (the dashboard's weekday × hour heatmap) against counts this test computes
// itself from the votes it sent: local weekday and hour via Intl's sv-SE formatting in each
// location's zone, a different path from the server's hour rollups. Half-hour (Kolkata) and DST
// (New York leaves summer time on 2026-11-01, inside the range) zones are both covered.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Api, eachBackend, rng } from './harness.ts';

const WEEK = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const LABEL: Record<string, string> = { mon: 'Monday', tue: 'Tuesday', wed: 'Wednesday', thu: 'Thursday', fri: 'Friday', sat: 'Saturday', sun: 'Sunday' };
const fmts = new Map<string, Intl.DateTimeFormat>();
function localKey(tz: string, ts: number): string {
  if (!fmts.has(tz)) fmts.set(tz, new Intl.DateTimeFormat('sv-SE', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23' }));
  const [day, hour] = fmts.get(tz)!.format(new Date(ts)).split(' ') as [string, string];
  return `${WEEK[new Date(`${day}T12:00:00Z`).getUTCDay()]}-${hour.slice(0, 2)}`;
}

type Counts = { satisfied: number; dissatisfied: number };
type Loc = { id: string; tz: string; token: string };

eachBackend('scores by weekday × hour', (ctx) => {
  let api: Api;
  let org: string;
  const locs: Loc[] = [];
  const expected = new Map<string, Map<string, Counts>>(); // location id ('' = all) → key → counts

  const add = (loc: string, key: string, button: 'satisfied' | 'dissatisfied'): void => {
    for (const l of [loc, '']) {
      let m = expected.get(l);
      if (!m) expected.set(l, m = new Map());
      const c = m.get(key) ?? (m.set(key, { satisfied: 0, dissatisfied: 0 }), m.get(key)!);
      c[button]++;
    }
  };

  before(async () => {
    api = await Api.start(ctx().store);
    org = (await api.ok('POST', '/api/v1/orgs', { name: 'Heatmap Ltd' }, 201)).id;
    // Random presses may fall seconds apart; this test is about bucketing, not the misuse filter (src/misuse).
    await api.ok('PUT', `/api/v1/orgs/${org}/misuse/settings`, { enabled: false });
    for (const tz of ['Asia/Kolkata', 'America/New_York', 'Europe/Moscow']) {
      const loc = await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name: tz, timezone: tz }, 201);
      const dev = await api.ok('POST', `/api/v1/orgs/${org}/devices`, { kind: 'panel', locationId: loc.id }, 201);
      locs.push({ id: loc.id, tz, token: dev.token });
    }
    const rand = rng(4242);
    const start = Date.parse('2026-10-20T00:00:00Z');
    const span = Date.parse('2026-11-12T00:00:00Z') - start;
    for (const loc of locs) {
      const events = [];
      for (let i = 0; i < 900; i++) {
        const ts = start + Math.floor(rand() * span);
        const button = rand() < 0.8 ? 'satisfied' as const : 'dissatisfied' as const;
        events.push({ id: `wh-${i}`, ts, button });
        add(loc.id, localKey(loc.tz, ts), button);
      }
      const r = await api.votes(loc.token, events);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.accepted, 900);
    }
  });
  after(async () => { await api?.close(); });

  const check = (rows: any[], want: Map<string, Counts>): void => {
    assert.equal(rows.length, want.size, 'one row per weekday and hour that had votes');
    for (const r of rows) {
      const w = want.get(r.key);
      assert.ok(w, `unexpected key ${r.key}`);
      assert.deepEqual({ satisfied: r.satisfied, dissatisfied: r.dissatisfied }, w, r.key);
      assert.equal(r.total, w.satisfied + w.dissatisfied);
      assert.equal(r.label, `${LABEL[r.key.slice(0, 3)]} ${r.key.slice(4)}:00`);
    }
    // Ordered Monday first, then by hour.
    const order = rows.map((r) => ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].indexOf(r.key.slice(0, 3)) * 24 + Number(r.key.slice(4)));
    assert.deepEqual(order, [...order].sort((a, b) => a - b));
  };

  it('counts each vote in its location\'s local weekday and hour', async () => {
    const rows = await api.scores(org, { from: '2026-10-01', to: '2026-11-30', by: 'weekdayhour' });
    check(rows, expected.get('')!);
    assert.equal(rows.reduce((a: number, r: { total: number }) => a + r.total, 0), 2700);
  });

  it('filters by location, across a DST change and in a half-hour zone', async () => {
    for (const loc of locs) {
      const rows = await api.scores(org, { from: '2026-10-01', to: '2026-11-30', by: 'weekdayhour', locationId: loc.id });
      check(rows, expected.get(loc.id)!);
    }
  });

  it('adds up to the by=weekday rows', async () => {
    const cells = await api.scores(org, { from: '2026-10-25', to: '2026-11-05', by: 'weekdayhour' });
    const days = await api.scores(org, { from: '2026-10-25', to: '2026-11-05', by: 'weekday' });
    const sum = new Map<string, number>();
    for (const c of cells) sum.set(c.key.slice(0, 3), (sum.get(c.key.slice(0, 3)) ?? 0) + c.total);
    assert.deepEqual(new Map(days.map((d: { key: string; total: number }) => [d.key, d.total])), sum);
  });
});
