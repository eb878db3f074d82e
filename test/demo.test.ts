// The demo organisation (`loyalty start --demo`): what a person trying the product relies on.
// Expectations are computed here from the stored rows and the platform's Intl, not by the demo code.
import { before, after, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { eachBackend, Api } from './harness.ts';
import { seedDemo, startDemoTraffic } from '../src/demo/seed.ts';

// A Friday afternoon; Berlin left summer time on 2026-10-25, inside the 90 seeded days.
const NOW = Date.parse('2026-11-20T15:00:00Z');
const DAY = 86_400_000;
const utcDate = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

const EXPECTED_LOCATIONS = [
  { name: 'Berlin Mitte', timezone: 'Europe/Berlin' },
  { name: 'Novosibirsk, Krasny 30', timezone: 'Asia/Novosibirsk' },
  { name: 'Tverskaya 12', timezone: 'Europe/Moscow' },
  { name: 'Yekaterinburg, Lenina 5', timezone: 'Asia/Yekaterinburg' },
];
const WEAK_EMPLOYEE = 'Pavel Smirnov';
const BAD_LOCATION = 'Novosibirsk, Krasny 30';

type Share = { name: string; satisfied: number; total: number; share: number };
const shareRows = (rows: Array<{ name: string; satisfied: unknown; total: unknown }>): Share[] =>
  rows.map((r) => ({ name: r.name, satisfied: Number(r.satisfied), total: Number(r.total), share: Number(r.satisfied) / Number(r.total) }));

eachBackend('demo organisation', (ctx) => {
  let api: Api;
  let seeded: { orgId: string; orgName: string; votes: number };
  let seedMs = 0;

  before(async () => {
    const t = Date.now();
    seeded = await seedDemo(ctx().store, { log: () => {}, now: NOW });
    seedMs = Date.now() - t;
    api = await Api.start(ctx().store);
  });
  after(async () => { await api?.close(); });

  it('seeds a realistic volume quickly', () => {
    assert.equal(seeded.orgName, 'Coffee Point (demo)');
    assert.ok(seeded.votes >= 40_000 && seeded.votes <= 80_000, `votes: ${seeded.votes}`);
    assert.ok(seedMs < 60_000, `seeding took ${seedMs} ms`);
  });

  it('has the four locations, each in its own time zone', async () => {
    const orgs = await api.ok('GET', '/api/v1/orgs', undefined);
    assert.deepEqual(orgs.rows.map((o: { name: string }) => o.name), ['Coffee Point (demo)']);
    const locs = await api.ok('GET', `/api/v1/orgs/${seeded.orgId}/locations`, undefined);
    const got = locs.rows.map((l: { name: string; timezone: string }) => ({ name: l.name, timezone: l.timezone }))
      .sort((a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name));
    assert.deepEqual(got, EXPECTED_LOCATIONS);
  });

  it('lets the owner sign in with the documented password and see only the demo organisation', async () => {
    const { token } = await api.ok('POST', '/api/v1/auth/token', { email: 'owner@demo.local', password: 'demo-password' }, 200, null);
    const orgs = await api.ok('GET', '/api/v1/orgs', undefined, 200, token);
    assert.deepEqual(orgs.rows.map((o: { id: string }) => o.id), [seeded.orgId]);
    const rows = await api.scores(seeded.orgId, { from: utcDate(NOW - 29 * DAY), to: utcDate(NOW), by: 'location' }, token);
    assert.equal(rows.length, 4);
  });

  it('counts every seeded vote exactly once in the scores', async () => {
    const { store } = ctx();
    const stored = await sql<{ n: unknown }>`select count(*) as n from votes`.execute(store.db);
    assert.equal(Number(stored.rows[0]!.n), seeded.votes);
    // A range wider than the seeded one on both sides, in every zone.
    const rows = await api.scores(seeded.orgId, { from: utcDate(NOW - 95 * DAY), to: utcDate(NOW + DAY), by: 'location' });
    assert.equal(rows.length, 4);
    const sum = rows.reduce((a: number, r: { total: number }) => a + r.total, 0);
    assert.equal(sum, seeded.votes);
    assert.equal(rows.reduce((a: number, r: { flagged: number }) => a + r.flagged, 0), 0);
    const span = await sql<{ lo: unknown; hi: unknown }>`select min(ts) as lo, max(ts) as hi from votes`.execute(store.db);
    assert.ok(Number(span.rows[0]!.hi) <= NOW, 'no vote after now');
    assert.ok(Number(span.rows[0]!.lo) >= NOW - 91 * DAY, 'no vote older than 90 local days');
    assert.ok(Number(span.rows[0]!.lo) <= NOW - 88 * DAY, 'the history reaches back about 90 days');
  });

  it('has door counters whose visitors give a plausible response rate at every location', async () => {
    const rows = await api.scores(seeded.orgId, { from: utcDate(NOW - 29 * DAY), to: utcDate(NOW), by: 'location' });
    for (const r of rows) {
      assert.ok(r.visitors > r.total * 5, `${r.label}: ${r.visitors} visitors for ${r.total} votes`);
      // The demo's visitors are drawn around votes / 0.11; over a month the rate lands near it.
      assert.ok(r.responseRate > 0.09 && r.responseRate < 0.13, `${r.label}: response rate ${r.responseRate}`);
      assert.equal(r.responseRate, Math.round((r.total / r.visitors) * 10000) / 10000);
    }
  });

  it('has one clearly weaker employee', async () => {
    const res = await sql<{ name: string; satisfied: unknown; total: unknown }>`
      select e.name as name, sum(case when v.button = 'satisfied' then 1 else 0 end) as satisfied, count(*) as total
      from votes v join employees e on e.id = v.employee_id group by e.name`.execute(ctx().store.db);
    const emps = shareRows(res.rows);
    assert.ok(emps.length >= 8, `employees with votes: ${emps.length}`);
    const weak = emps.find((e) => e.name === WEAK_EMPLOYEE);
    assert.ok(weak, `${WEAK_EMPLOYEE} has votes`);
    assert.ok(weak.share > 0.55 && weak.share < 0.75, `${WEAK_EMPLOYEE}: ${weak.share}`);
    for (const e of emps) if (e !== weak) assert.ok(weak.share < e.share - 0.03, `${WEAK_EMPLOYEE} ${weak.share} vs ${e.name} ${e.share}`);
    // The API tells the same story.
    const rows = await api.scores(seeded.orgId, { from: utcDate(NOW - 95 * DAY), to: utcDate(NOW + DAY), by: 'employee' });
    const worst = rows.filter((r: { key: string }) => r.key !== 'none').sort((a: { share: number }, b: { share: number }) => a.share - b.share)[0];
    assert.equal(worst.label, WEAK_EMPLOYEE);
  });

  it('has one clearly bad location, worst at its evening peak', async () => {
    const { store } = ctx();
    const res = await sql<{ name: string; satisfied: unknown; total: unknown }>`
      select l.name as name, sum(case when v.button = 'satisfied' then 1 else 0 end) as satisfied, count(*) as total
      from votes v join locations l on l.id = v.location_id group by l.name`.execute(store.db);
    const locs = shareRows(res.rows);
    assert.equal(locs.length, 4);
    const bad = locs.find((l) => l.name === BAD_LOCATION)!;
    assert.ok(bad.share > 0.62 && bad.share < 0.8, `${BAD_LOCATION}: ${bad.share}`);
    for (const l of locs) if (l !== bad) assert.ok(l.share > bad.share + 0.08 && l.share > 0.82, `${l.name}: ${l.share} vs ${bad.share}`);
    const byPart = await sql<{ name: string; satisfied: unknown; total: unknown }>`
      select case when v.local_hour between 17 and 20 then 'evening' else 'rest' end as name,
             sum(case when v.button = 'satisfied' then 1 else 0 end) as satisfied, count(*) as total
      from votes v join locations l on l.id = v.location_id where l.name = ${BAD_LOCATION} group by 1`.execute(store.db);
    const parts = shareRows(byPart.rows);
    const evening = parts.find((p) => p.name === 'evening')!;
    const rest = parts.find((p) => p.name === 'rest')!;
    assert.ok(evening.share < rest.share - 0.1, `evening ${evening.share} vs rest ${rest.share}`);
  });

  it('has busier weekends and lunch and evening peaks', async () => {
    const res = await sql<{ local_day: string; local_hour: unknown; n: unknown }>`
      select local_day, local_hour, count(*) as n from votes group by local_day, local_hour`.execute(ctx().store.db);
    const perHour = new Map<number, number>();
    const perWeekday = new Map<number, number>();
    const daysOfWeekday = new Map<number, Set<string>>();
    for (const r of res.rows) {
      const h = Number(r.local_hour);
      const wd = new Date(`${r.local_day}T00:00:00Z`).getUTCDay();
      perHour.set(h, (perHour.get(h) ?? 0) + Number(r.n));
      perWeekday.set(wd, (perWeekday.get(wd) ?? 0) + Number(r.n));
      daysOfWeekday.set(wd, (daysOfWeekday.get(wd) ?? new Set()).add(r.local_day));
    }
    const at = (h: number): number => perHour.get(h) ?? 0;
    assert.ok(at(13) > 1.5 * at(10) && at(13) > 1.5 * at(15), 'lunch peak');
    assert.ok(at(18) > 1.5 * at(15), 'evening peak');
    const avg = (wd: number): number => (perWeekday.get(wd) ?? 0) / (daysOfWeekday.get(wd)?.size ?? 1);
    for (const weekday of [1, 2, 3, 4]) assert.ok(avg(6) > avg(weekday) * 1.2, `saturday ${avg(6)} vs weekday ${weekday} ${avg(weekday)}`);
  });

  it('stores every vote inside its location\'s opening hours, in the local time of its zone', async () => {
    const { store } = ctx();
    const res = await sql<{ ts: unknown; local_day: string; local_hour: unknown; timezone: string; opening_hours: string | null; name: string }>`
      select v.ts, v.local_day, v.local_hour, l.timezone, l.opening_hours, l.name
      from votes v join locations l on l.id = v.location_id`.execute(store.db);
    assert.equal(res.rows.length, seeded.votes);
    const fmt = new Map<string, Intl.DateTimeFormat>();
    const weekdays = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
    const minutes = (s: string): number => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));
    let checked = 0;
    for (const r of res.rows) {
      // The stored local day and hour are those of the location's zone at the vote's instant.
      let f = fmt.get(r.timezone);
      if (!f) fmt.set(r.timezone, f = new Intl.DateTimeFormat('en-CA', { timeZone: r.timezone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23' }));
      const p = Object.fromEntries(f.formatToParts(new Date(Number(r.ts))).map((x) => [x.type, x.value]));
      assert.equal(`${p['year']}-${p['month']}-${p['day']}`, r.local_day, `${r.name} ${Number(r.ts)}`);
      assert.equal(Number(p['hour']), Number(r.local_hour), `${r.name} ${Number(r.ts)}`);
      // And that hour is one the location is open, on that local weekday.
      assert.ok(r.opening_hours, `${r.name} has opening hours`);
      const hours = JSON.parse(r.opening_hours) as Record<string, Array<[string, string]>>;
      const wd = weekdays[new Date(`${r.local_day}T00:00:00Z`).getUTCDay()]!;
      const h = Number(r.local_hour) * 60;
      const open = (hours[wd] ?? []).some(([a, b]) => minutes(a) <= h && h + 60 <= (minutes(b) || 1440));
      assert.ok(open, `${r.name}: vote at ${r.local_day} (${wd}) ${r.local_hour}:xx is outside ${JSON.stringify(hours[wd] ?? 'closed')}`);
      checked++;
    }
    assert.equal(checked, seeded.votes);
    // Berlin's history spans the end of summer time: both offsets occur.
    const berlin = res.rows.filter((r) => r.timezone === 'Europe/Berlin').map((r) => Number(r.ts));
    const berlinOffset = new Intl.DateTimeFormat('en', { timeZone: 'Europe/Berlin', timeZoneName: 'shortOffset' });
    const offsets = new Set(berlin.map((ts) => berlinOffset.formatToParts(new Date(ts)).find((x) => x.type === 'timeZoneName')!.value));
    assert.deepEqual([...offsets].sort(), ['GMT+1', 'GMT+2']);
  });

  it('keeps moving: live demo presses reach the scores', async () => {
    const { store } = ctx();
    const count = async (): Promise<number> => Number((await sql<{ n: unknown }>`select count(*) as n from votes where event_id like 'live-%'`.execute(store.db)).rows[0]!.n);
    assert.equal(await count(), 0);
    const stop = startDemoTraffic(api.server.ctx, { log: () => {} });
    try {
      const deadline = Date.now() + 15_000;
      while ((await count()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    } finally {
      stop();
    }
    assert.ok((await count()) >= 1, 'a live press was stored within 15 s');
    const today = await api.scores(seeded.orgId, { from: utcDate(Date.now() - DAY), to: utcDate(Date.now() + DAY), by: 'total' });
    // Counted, or held back as off-hours when every demo café happens to be closed right now.
    assert.ok(today.length === 1 && today[0].total + today[0].flagged >= 1, 'the live press is in the scores');
  });
});
