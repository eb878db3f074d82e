// P4: `scores` over a year of votes (10 M by default: 1,000 locations × 365 days). The votes are
// generated straight into the store, not over HTTP: organisation, locations, touchpoints,
// employees and devices through the ordinary service functions, then the votes and their rollup
// rows (summed by the ingest's own addToRollups) by a bulk insert, day by day in time order.
// Then a set of typical scores queries is timed through scores() (served from rollups) and through
// a plain GROUP BY over the raw votes table, and the answers are checked to agree.
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { sql, CompiledQuery, type KyselyPlugin } from 'kysely';
import pg from 'pg';
import { openStore, migrateToLatest, type Store } from '../src/store/db.ts';
import { createEmployee, createLocation, createOrg, createTouchpoint } from '../src/orgs/orgs.ts';
import { createDevice } from '../src/devices/devices.ts';
import { addToRollups, CUBES, type Dim, type Grain, type RollupDelta } from '../src/scores/cubes.ts';
import { scores, type ScoreQuery } from '../src/scores/scores.ts';
import { DEFAULT_SCORING } from '../src/domain/wilson.ts';
import { addDays, weekdayOf, zoneOffset } from '../src/domain/time.ts';
import { fmt, fmtMs, fmtRatio, log, percentile, PG_URL, pgAppName, scratch, storeOptionsOf, waitQuiet, ZONES, type Backend, type Figure, type Scratch } from './lib.ts';
import { mulberry32 } from '../src/demo/random.ts'; // the demo's seeded generator: every run loads the same data

export type P4Options = { votes: number; locations: number; oursIterations: number; baselineIterations: number };

const FIRST_DAY = '2025-01-01';
const DAYS = 365;
const LAST_DAY = addDays(FIRST_DAY, DAYS - 1);

type GenDevice = { id: string; touchpointId: string; employeeId: string | null; share: number; satAdjust: number };
type GenLocation = { index: number; id: string; tz: string; weight: number; pSat: number; devices: GenDevice[] };
export type Generated = { orgId: string; locations: GenLocation[]; votes: number };

/** Opening hours 08–22 in local time, busier at lunch and in the evening. */
const HOUR_WEIGHTS = [0.5, 0.8, 1, 1.2, 1.6, 1.7, 1.2, 1, 1, 1.3, 1.5, 1.3, 0.9, 0.6];
const FIRST_HOUR = 8;
const MINUTE_CDF = (() => {
  const total = HOUR_WEIGHTS.reduce((a, b) => a + b, 0);
  let acc = 0;
  return HOUR_WEIGHTS.map((w) => (acc += w / total));
})();
const WEEKDAY_FACTOR: Record<string, number> = { mon: 0.9, tue: 0.9, wed: 0.95, thu: 1, fri: 1.15, sat: 1.25, sun: 0.85 };
const REASONS = ['queue', 'slow', 'rude', 'dirty'];

/** Runs `f` over `items` with at most `n` at a time. */
async function pool<T, R>(items: T[], n: number, f: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) { const i = next++; out[i] = await f(items[i]!, i); }
  }));
  return out;
}

/** The organisation: each location has a counter panel (rating its employee) and a table fob. */
export async function createEntities(store: Store, locations: number, rng: () => number): Promise<Generated> {
  const org = await createOrg(store, 'Bench bank', null);
  const idx = Array.from({ length: locations }, (_, i) => i);
  const locs = await pool(idx, store.dialect === 'postgres' ? 8 : 1, async (i) => {
    const tz = ZONES[i % ZONES.length]!;
    const loc = await createLocation(store, org.id, { name: `Branch ${String(i).padStart(4, '0')}`, timezone: tz });
    const counter = await createTouchpoint(store, org.id, { name: 'Counter', locationId: loc.id, channel: 'counter' });
    const tables = await createTouchpoint(store, org.id, { name: 'Tables', locationId: loc.id, channel: 'table' });
    const emp = await createEmployee(store, org.id, `Employee ${i}`);
    const panel = await createDevice(store, org.id, { kind: 'panel', name: `Panel ${i}`, locationId: loc.id, touchpointId: counter.id, employeeId: emp.id });
    const fob = await createDevice(store, org.id, { kind: 'fob', name: `Fob ${i}`, locationId: loc.id, touchpointId: tables.id, employeeId: null });
    return { loc, tz, devices: [{ id: panel.id, touchpointId: counter.id, employeeId: emp.id, share: 0.6, satAdjust: 0 }, { id: fob.id, touchpointId: tables.id, employeeId: null, share: 0.4, satAdjust: -0.05 }] };
  });
  // Seeded attributes in location order, after the (possibly concurrent) creation.
  return {
    orgId: org.id, votes: 0,
    locations: locs.map((l, index) => ({
      index, id: l.loc.id, tz: l.tz, devices: l.devices,
      weight: Math.exp((rng() - 0.5) * 2), // busiest ≈ 7× the quietest
      pSat: 0.6 + 0.37 * rng(),
    })),
  };
}

const VOTE_COLS = ['device_id', 'event_id', 'org_id', 'ts', 'device_ts', 'received_at', 'clamped', 'button', 'reason',
  'location_id', 'touchpoint_id', 'employee_id', 'local_day', 'local_hour', 'flags'];
const VOTE_PG_TYPES = ['text', 'text', 'text', 'int8', 'int8', 'int8', 'int4', 'text', 'text', 'text', 'text', 'text', 'text', 'int4', 'text'];
const ROLLUP_COLS = ['org_id', 'cube', 'grain', 'bucket', 'location_id', 'touchpoint_id', 'employee_id', 'device_id', 'satisfied', 'dissatisfied', 'flagged', 'visitors'] as const;
const ROLLUP_PG_TYPES = ['text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'int4', 'int4', 'int4', 'int4'];

/** Where the bulk load writes: plain inserts of vote rows and of (already summed) rollup rows. */
type Sink = { votes(rows: unknown[][]): Promise<void>; rollups(rows: unknown[][]): Promise<void>; commit(): Promise<void>; close(): Promise<void> };

/** SQLite: a second connection to the store's file, no fsync during the load, multi-row statements. */
export function sqliteSink(path: string): Sink {
  const db = new DatabaseSync(path);
  db.exec('pragma busy_timeout = 5000; pragma synchronous = off; pragma cache_size = -1000000;');
  const PER = 100;
  const stmts = (table: string, cols: readonly string[]): [StatementSync, StatementSync] => {
    const tuple = `(${cols.map(() => '?').join(',')})`;
    return [
      db.prepare(`insert into ${table} (${cols.join(',')}) values ${Array.from({ length: PER }, () => tuple).join(',')}`),
      db.prepare(`insert into ${table} (${cols.join(',')}) values ${tuple}`),
    ];
  };
  const insert = ([multi, single]: [StatementSync, StatementSync], rows: unknown[][]): void => {
    let i = 0;
    for (; i + PER <= rows.length; i += PER) multi.run(...(rows.slice(i, i + PER).flat() as SQLInputValue[]));
    for (; i < rows.length; i++) single.run(...(rows[i] as SQLInputValue[]));
  };
  const v = stmts('votes', VOTE_COLS);
  const r = stmts('rollups', ROLLUP_COLS);
  db.exec('begin');
  return {
    async votes(rows) { insert(v, rows); },
    async rollups(rows) { insert(r, rows); },
    async commit() { db.exec('commit; begin'); },
    async close() {
      db.exec('commit');
      db.exec('pragma wal_checkpoint(truncate)');
      db.close();
    },
  };
}

/**
 * PostgreSQL: two connections in the store's schema (votes on one, rollups on the other), each
 * statement sent without waiting for it so the generator and both backends work at once;
 * unnest statements, asynchronous commit.
 */
export async function pgSink(schema: string): Promise<Sink> {
  const [cv, cr] = [0, 1].map(() => new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema} -c synchronous_commit=off`, application_name: pgAppName(schema) })) as [pg.Client, pg.Client];
  await cv.connect();
  await cr.connect();
  const unnest = (table: string, cols: readonly string[], types: string[]): string =>
    `insert into ${table} (${cols.join(',')}) select * from unnest(${cols.map((_, i) => `$${i + 1}::${types[i]}[]`).join(', ')})`;
  const arrays = (rows: unknown[][], width: number): unknown[][] => Array.from({ length: width }, (_, col) => rows.map((row) => row[col]));
  const votesSql = unnest('votes', VOTE_COLS, VOTE_PG_TYPES);
  const rollupsSql = unnest('rollups', ROLLUP_COLS, ROLLUP_PG_TYPES);
  let pendingVotes: Promise<unknown> = cv.query('begin');
  let pendingRollups: Promise<unknown> = cr.query('begin');
  const settle = async (): Promise<void> => { await pendingVotes; await pendingRollups; };
  return {
    async votes(rows) {
      await pendingVotes;
      if (rows.length) pendingVotes = cv.query({ name: 'bulk_votes', text: votesSql, values: arrays(rows, VOTE_COLS.length) });
    },
    async rollups(rows) {
      await pendingRollups;
      if (rows.length) pendingRollups = cr.query({ name: 'bulk_rollups', text: rollupsSql, values: arrays(rows, ROLLUP_COLS.length) });
    },
    async commit() {
      await settle();
      for (const c of [cv, cr]) { await c.query('commit'); await c.query('begin'); }
    },
    async close() {
      await settle();
      for (const c of [cv, cr]) { await c.query('commit'); await c.end(); }
    },
  };
}

// --- Rollup rows, computed the way ingest accumulates them but per location-day from counts.
// Ingest's addToRollups (src/scores/cubes.ts) builds 15 keyed rows per vote; for 10 M votes that
// dominates the load. Here each cube's rows come from per-device, per-hour counts: a cube keeps
// some dimensions (CUBES) and the devices of a location that agree on those share a row. The
// first day is also run through addToRollups and the two must agree exactly.

type Group = { parts: [string, string, string, string]; devs: number[] };
type Plan = { cube: string; total: boolean; groups: Group[][] };

/** For each cube (in key order), how each location's devices fall into its rows. */
function cubePlans(locs: GenLocation[]): Plan[] {
  return [...CUBES].sort((a, b) => (a.name < b.name ? -1 : 1)).map((cube) => {
    const keep = (d: Dim, v: string | null): string => (cube.dims.includes(d) ? v ?? '' : '');
    return {
      cube: cube.name, total: cube.dims.length === 0,
      groups: locs.map((loc) => {
        const byKey = new Map<string, Group>();
        loc.devices.forEach((dev, di) => {
          const parts: Group['parts'] = [keep('location', loc.id), keep('touchpoint', dev.touchpointId), keep('employee', dev.employeeId), keep('device', dev.id)];
          const k = parts.join('\u0000');
          const g = byKey.get(k) ?? (byKey.set(k, { parts, devs: [] }), byKey.get(k)!);
          g.devs.push(di);
        });
        return [...byKey.entries()].sort((x, y) => (x[0] < y[0] ? -1 : 1)).map(([, g]) => g);
      }),
    };
  });
}

/**
 * Rows of one grain from `counts` (per location, device and slot: satisfied, dissatisfied), in key
 * order. `buckets[i]` names slot i (hours of a day, or one slot for a whole day or month).
 */
function cubeRows(orgId: string, plans: Plan[], grain: Grain, buckets: string[], counts: Int32Array, maxDev: number, out: unknown[][]): void {
  const slots = buckets.length;
  const at = (li: number, di: number, slot: number): number => ((li * maxDev + di) * slots + slot) * 2;
  const nLocs = counts.length / (maxDev * slots * 2);
  for (const plan of plans) {
    for (const [slot, bucket] of buckets.entries()) {
      if (plan.total) {
        let sat = 0;
        let dis = 0;
        for (let li = 0; li < nLocs; li++) for (let di = 0; di < maxDev; di++) { sat += counts[at(li, di, slot)]!; dis += counts[at(li, di, slot) + 1]!; }
        if (sat + dis) out.push([orgId, plan.cube, grain, bucket, '', '', '', '', sat, dis, 0, 0]);
        continue;
      }
      for (let li = 0; li < nLocs; li++) {
        for (const g of plan.groups[li]!) {
          let sat = 0;
          let dis = 0;
          for (const di of g.devs) { sat += counts[at(li, di, slot)]!; dis += counts[at(li, di, slot) + 1]!; }
          if (sat + dis) out.push([orgId, plan.cube, grain, bucket, ...g.parts, sat, dis, 0, 0]);
        }
      }
    }
  }
}

/** Fails unless `rows` are exactly the rows addToRollups makes of `votes` for `grains`. */
function checkAgainstIngest(votes: unknown[][], rows: unknown[][], grains: Grain[]): void {
  const acc = new Map<string, RollupDelta>();
  for (const v of votes) {
    const sat = v[7] === 'satisfied';
    addToRollups(acc, {
      orgId: v[2] as string, deviceId: v[0] as string, locationId: v[9] as string, touchpointId: v[10] as string | null, employeeId: v[11] as string | null,
      localDay: v[12] as string, localHour: v[13] as number, satisfied: sat ? 1 : 0, dissatisfied: sat ? 0 : 1, flagged: 0, visitors: 0,
    });
  }
  const want = new Map([...acc.values()].filter((r) => grains.includes(r.grain)).map((r) => [ROLLUP_COLS.slice(0, 8).map((c) => r[c]).join('|'), `${r.satisfied}/${r.dissatisfied}/${r.flagged}/${r.visitors}`]));
  const got = new Map(rows.map((r) => [r.slice(0, 8).join('|'), r.slice(8).join('/')]));
  for (const [k, v] of want) if (got.get(k) !== v) throw new Error(`bulk rollups differ from addToRollups at ${k}: ${got.get(k)} vs ${v}`);
  if (got.size !== want.size) throw new Error(`bulk rollups have ${got.size} rows, addToRollups ${want.size}`);
}

const HOURS = Array.from({ length: 24 }, (_, h) => String(h).padStart(2, '0'));

/**
 * Generates exactly `total` votes over the year, day by day in time order as a live fleet would
 * send them, and bulk-loads them with their rollup rows: a day's hour and day rows once the day
 * is generated, the month rows once the month is, each a plain insert in key order.
 */
export async function generateVotes(g: Generated, total: number, rng: () => number, sink: Sink): Promise<{ rollupRows: number }> {
  // Locations in id order, so each day's rollup rows arrive in key order.
  g.locations.sort((a, b) => (a.id < b.id ? -1 : 1));
  const days = Array.from({ length: DAYS }, (_, i) => addDays(FIRST_DAY, i));
  const dayFactor = days.map((d) => WEEKDAY_FACTOR[weekdayOf(d)]! * (1 + 0.1 * Math.sin((Math.PI * 2 * Number(d.slice(5, 7))) / 12)));
  // Expected votes of each location-day; error diffusion turns them into integers adding up to `total`.
  const L = g.locations.length;
  const noise = Float64Array.from({ length: L * DAYS }, () => 0.8 + 0.4 * rng());
  let z = 0;
  g.locations.forEach((l, li) => { for (let d = 0; d < DAYS; d++) z += l.weight * dayFactor[d]! * noise[li * DAYS + d]!; });
  // Each zone's UTC offset on each day, at local noon: opening hours (08–22) never straddle a DST
  // change, and one Intl look-up per zone-day keeps the generator fast.
  const offsets = new Map<string, Float64Array>();
  for (const tz of new Set(g.locations.map((l) => l.tz))) {
    offsets.set(tz, Float64Array.from(days, (day) => {
      const noon = Date.parse(`${day}T12:00:00Z`);
      return zoneOffset(tz, noon - zoneOffset(tz, noon));
    }));
  }
  const plans = cubePlans(g.locations);
  const maxDev = Math.max(...g.locations.map((l) => l.devices.length));
  const seq = g.locations.map((l) => l.devices.map(() => 0));
  const hourCounts = new Int32Array(L * maxDev * 24 * 2);
  const dayCounts = new Int32Array(L * maxDev * 2);
  const monthCounts = new Int32Array(L * maxDev * 2);
  let rollupRows = 0;
  let acc = 0;
  let emitted = 0;
  const startedAt = performance.now();
  for (let d = 0; d < DAYS; d++) {
    const day = days[d]!;
    const votes: unknown[][] = [];
    hourCounts.fill(0);
    dayCounts.fill(0);
    for (const [li, loc] of g.locations.entries()) {
      acc += (total * loc.weight * dayFactor[d]! * noise[li * DAYS + d]!) / z;
      let n = Math.floor(acc + 1e-6) - emitted;
      if (li === L - 1 && d === DAYS - 1) n = total - emitted; // float residue
      if (n <= 0) continue;
      emitted += n;
      const midnight = Date.parse(`${day}T00:00:00Z`) - offsets.get(loc.tz)![d]!;
      // Seconds since local midnight, sorted, so each device's events are in time order.
      const secs = Array.from({ length: n }, () => {
        const r = rng();
        let h = 0;
        while (MINUTE_CDF[h]! < r) h++;
        return (FIRST_HOUR + h) * 3600 + Math.floor(rng() * 3600);
      }).sort((a, b) => a - b);
      for (const s of secs) {
        const di = rng() < loc.devices[0]!.share ? 0 : 1;
        const dev = loc.devices[di]!;
        const hour = Math.floor(s / 3600);
        const ts = midnight + s * 1000;
        const sat = rng() < loc.pSat + dev.satAdjust - (hour >= 19 ? 0.03 : 0);
        const reason = !sat && rng() < 0.3 ? REASONS[Math.floor(rng() * REASONS.length)]! : null;
        votes.push([dev.id, `ev${String(seq[li]![di]!++).padStart(7, '0')}`, g.orgId, ts, ts, ts + 800, 0, sat ? 'satisfied' : 'dissatisfied', reason,
          loc.id, dev.touchpointId, dev.employeeId, day, hour, null]);
        const k = sat ? 0 : 1;
        hourCounts[((li * maxDev + di) * 24 + hour) * 2 + k]!++;
        dayCounts[(li * maxDev + di) * 2 + k]!++;
        monthCounts[(li * maxDev + di) * 2 + k]!++;
      }
    }
    await sink.votes(votes);
    // Key order: cube, then grain ('d' before 'h'), then bucket, then location and the rest.
    const rows: unknown[][] = [];
    for (const plan of plans) {
      cubeRows(g.orgId, [plan], 'd', [day], dayCounts, maxDev, rows);
      cubeRows(g.orgId, [plan], 'h', HOURS.map((h) => `${day}T${h}`), hourCounts, maxDev, rows);
    }
    if (d === 0) {
      // The same day through ingest's own accumulation: day and hour rows, and the month rows it would add.
      const month: unknown[][] = [];
      cubeRows(g.orgId, plans, 'm', [day.slice(0, 7)], dayCounts, maxDev, month);
      checkAgainstIngest(votes, [...rows, ...month], ['h', 'd', 'm']);
    }
    await sink.rollups(rows);
    rollupRows += rows.length;
    if (d === DAYS - 1 || days[d + 1]!.slice(0, 7) !== day.slice(0, 7)) {
      const month: unknown[][] = [];
      cubeRows(g.orgId, plans, 'm', [day.slice(0, 7)], monthCounts, maxDev, month);
      monthCounts.fill(0);
      await sink.rollups(month);
      rollupRows += month.length;
      await sink.commit();
      log(`  ${day}: ${fmt(emitted)} votes, ${fmt(rollupRows)} rollup rows, ${fmt(emitted / ((performance.now() - startedAt) / 1000))} votes/s`);
    }
  }
  await sink.close();
  g.votes = emitted;
  return { rollupRows };
}

// --- The queries.

type NamedQuery = { name: string; q: ScoreQuery };

export function queriesFor(g: Generated): NamedQuery[] {
  const byIndex = (i: number): GenLocation => g.locations.find((l) => l.index === i % g.locations.length)!;
  const loc = byIndex(17);
  const loc2 = byIndex(123);
  return [
    { name: 'by location, year, whole org', q: { from: FIRST_DAY, to: LAST_DAY, by: 'location' } },
    { name: 'by day, 30 days, one location', q: { from: '2025-11-01', to: '2025-11-30', by: 'day', locationId: loc.id } },
    { name: 'by hour, quarter, whole org', q: { from: '2025-07-01', to: '2025-09-30', by: 'hour' } },
    { name: 'total, year, whole org', q: { from: FIRST_DAY, to: LAST_DAY, by: 'total' } },
    { name: 'by weekday, quarter, one location', q: { from: '2025-04-01', to: '2025-06-30', by: 'weekday', locationId: loc2.id } },
    { name: 'by employee, month, whole org', q: { from: '2025-03-01', to: '2025-03-31', by: 'employee' } },
    { name: 'by touchpoint, 15 Jan–14 Jun, one location', q: { from: '2025-01-15', to: '2025-06-14', by: 'touchpoint', locationId: loc.id } },
    { name: 'by device, 7 days, whole org', q: { from: '2025-12-25', to: '2025-12-31', by: 'device' } },
  ];
}

type Counts = Map<string, { s: number; d: number }>;

/** The same figures by a plain GROUP BY over the raw votes (no rollups). */
export async function rawGroupBy(store: Store, orgId: string, q: ScoreQuery): Promise<Counts> {
  // Written for each `by` the benchmark's queries use (weekday/weekdayhour are folded from local days below).
  const KEY: Record<string, string> = {
    location: 'location_id', touchpoint: "coalesce(touchpoint_id, '')", employee: "coalesce(employee_id, '')", device: 'device_id',
    day: 'local_day', weekday: 'local_day', hour: 'local_hour', weekdayhour: "local_day || '|' || local_hour", total: "'total'",
  };
  const keyCol = KEY[q.by];
  if (!keyCol) throw new Error(`rawGroupBy: no plain GROUP BY written for by=${q.by}`);
  // The effective-time index (org_id, ts) narrows the scan: any local day lies within ±14 h of its UTC day.
  const tsFrom = Date.parse(`${q.from}T00:00:00Z`) - 14 * 3_600_000;
  const tsTo = Date.parse(`${addDays(q.to, 1)}T00:00:00Z`) + 14 * 3_600_000;
  const r = await sql<{ k: string | number; s: number; d: number }>`
    select ${sql.raw(keyCol)} as k,
      sum(case when flags is null and button = 'satisfied' then 1 else 0 end) as s,
      sum(case when flags is null and button = 'dissatisfied' then 1 else 0 end) as d
    from votes
    where org_id = ${orgId} and ts >= ${tsFrom} and ts < ${tsTo} and local_day >= ${q.from} and local_day <= ${q.to}
      ${q.locationId ? sql`and location_id = ${q.locationId}` : sql``}
    group by 1`.execute(store.db);
  const out: Counts = new Map();
  for (const row of r.rows) {
    const raw = String(row.k);
    let k = q.by === 'hour' ? raw.padStart(2, '0') : q.by === 'weekday' ? weekdayOf(raw)
      : q.by === 'weekdayhour' ? `${weekdayOf(raw.slice(0, 10))}-${raw.slice(11).padStart(2, '0')}` : raw;
    if (k === '' && ['touchpoint', 'employee', 'device', 'location'].includes(q.by)) k = 'none';
    const c = out.get(k) ?? (out.set(k, { s: 0, d: 0 }), out.get(k)!);
    c.s += Number(row.s);
    c.d += Number(row.d);
  }
  return out;
}

async function ours(store: Store, orgId: string, q: ScoreQuery): Promise<Counts> {
  const { rows } = await scores(store, orgId, DEFAULT_SCORING, q);
  return new Map(rows.map((r) => [r.key, { s: r.satisfied, d: r.dissatisfied }]));
}

function sameCounts(a: Counts, b: Counts): string | null {
  const keys = new Set([...a.keys(), ...b.keys()]);
  for (const k of keys) {
    const x = a.get(k);
    const y = b.get(k);
    if (x?.s !== y?.s || x?.d !== y?.d) return `key ${k}: rollups ${JSON.stringify(x)} vs raw ${JSON.stringify(y)}`;
  }
  return null;
}

async function timed<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const r = await f();
  return [performance.now() - t, r];
}

/**
 * BENCH_P4_EXPLAIN=1: logs the plan of every statement scores() runs for each query (EXPLAIN
 * ANALYZE with buffers on PostgreSQL, EXPLAIN QUERY PLAN on SQLite), to check which index serves it.
 * The statements are captured by a plugin that compiles each query node scores() builds.
 */
async function explainAll(store: Store, orgId: string, queries: NamedQuery[]): Promise<void> {
  for (const { name, q } of queries) {
    const seen: CompiledQuery[] = [];
    const executor = store.db.getExecutor();
    const capture: KyselyPlugin = {
      transformQuery: (a) => { if (a.node.kind === 'SelectQueryNode') seen.push(executor.compileQuery(a.node, a.queryId)); return a.node; },
      transformResult: async (a) => a.result,
    };
    await scores({ ...store, db: store.db.withPlugin(capture) }, orgId, DEFAULT_SCORING, q);
    for (const c of seen.filter((x) => /from "rollups"/.test(x.sql))) {
      const prefix = store.dialect === 'postgres' ? 'explain (analyze, buffers, costs off) ' : 'explain query plan ';
      const plan = await store.db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(prefix + c.sql, [...c.parameters]));
      log(`EXPLAIN "${name}": ${c.sql}\n    ${plan.rows.map((r) => String(r['QUERY PLAN'] ?? r['detail'])).join('\n    ')}`);
    }
  }
}

export type P4Result = { figures: Figure[]; notes: string[]; detail: string[] };

async function p4On(backend: Backend, o: P4Options, votes: number): Promise<P4Result> {
  const place: Scratch = scratch(backend, 'p4');
  try {
    const rng = mulberry32(20_251_231);
    const opts = storeOptionsOf(place);
    let store = await openStore(opts);
    await migrateToLatest(store);
    const tSetup = performance.now();
    if (backend === 'sqlite') await sql`pragma synchronous = off`.execute(store.db);
    const g = await createEntities(store, o.locations, rng);
    log(`P4 ${backend}: ${o.locations} locations, ${o.locations * 2} devices created in ${fmt((performance.now() - tSetup) / 1000, 1)} s; generating ${fmt(votes)} votes`);
    const tGen = performance.now();
    const sink = backend === 'sqlite' ? sqliteSink(`${place.dataDir}/loyalty.db`) : await pgSink(place.pgSchema!);
    const { rollupRows } = await generateVotes(g, votes, rng, sink);
    const genS = (performance.now() - tGen) / 1000;
    log(`P4 ${backend}: ${fmt(g.votes)} votes and ${fmt(rollupRows)} rollup rows loaded in ${fmt(genS, 1)} s (${fmt(g.votes / genS)} votes/s)`);
    if (backend === 'postgres') {
      const tv = performance.now();
      await sql`vacuum analyze votes`.execute(store.db);
      await sql`vacuum analyze rollups`.execute(store.db);
      log(`P4 postgres: vacuum analyze (what autovacuum does after a bulk load) in ${fmt((performance.now() - tv) / 1000, 1)} s`);
    }
    await store.close();
    // Measured on a freshly opened store with the server's own settings.
    store = await openStore(opts);
    const queries = queriesFor(g);
    if (process.env['BENCH_P4_EXPLAIN']) await explainAll(store, g.orgId, queries);
    for (const { name, q } of queries) {
      const diff = sameCounts(await ours(store, g.orgId, q), await rawGroupBy(store, g.orgId, q));
      if (diff) throw new Error(`P4 ${backend} "${name}": scores() and the raw GROUP BY disagree: ${diff}`);
    }
    // Paired: each raw GROUP BY is followed at once by the same query through scores() several
    // times, so a busy moment of the machine weighs on both sides alike.
    const per = Math.max(1, Math.ceil(o.oursIterations / o.baselineIterations));
    log(`P4 ${backend}: ${queries.length} queries agree between rollups and raw votes; timing ${o.baselineIterations} rounds of (raw GROUP BY × 1, scores() × ${per}) per query`);
    for (let it = 0; it < 3; it++) for (const { q } of queries) await scores(store, g.orgId, DEFAULT_SCORING, q); // warm-up
    await waitQuiet(`P4 ${backend} queries`);
    const oursMs = queries.map(() => [] as number[]);
    const rawMs = queries.map(() => [] as number[]);
    for (let it = 0; it < o.baselineIterations; it++) {
      for (const [i, { name, q }] of queries.entries()) {
        const [ms] = await timed(() => rawGroupBy(store, g.orgId, q));
        rawMs[i]!.push(ms);
        for (let k = 0; k < per; k++) oursMs[i]!.push((await timed(() => scores(store, g.orgId, DEFAULT_SCORING, q)))[0]);
        log(`  "${name}": raw ${fmtMs(ms)}, scores() median ${fmtMs(percentile(oursMs[i]!.slice(-per), 50))}`);
      }
    }
    await store.close();

    const oursP95 = percentile(oursMs.flat(), 95);
    const rawP95 = percentile(rawMs.flat(), 95);
    const detail = queries.map(({ name }, i) => {
      const a = oursMs[i]!;
      const b = rawMs[i]!;
      return `| ${name} | ${fmtMs(percentile(a, 50))} | ${fmtMs(percentile(a, 95))} | ${fmtMs(percentile(b, 50))} | ${fmtRatio(percentile(b, 50) / percentile(a, 50))} |`;
    });
    const worst = Math.min(...queries.map((_, i) => percentile(rawMs[i]!, 50) / percentile(oursMs[i]!, 50)));
    const ratio = rawP95 / oursP95;
    const name = backend === 'sqlite' ? 'SQLite' : 'PostgreSQL';
    const scale = g.votes === 10_000_000 ? '10 M votes' : `${fmt(g.votes)} votes (reduced scale)`;
    return {
      figures: [{
        figure: `P4 scores p95 over ${queries.length} typical queries, ${scale}, ${o.locations} locations, ${name}`,
        ours: `${fmtMs(oursP95)} (rollups)`, baseline: `${fmtMs(rawP95)} (raw GROUP BY)`,
        ratio, goal: 'p95 ≤ 50 ms, ≥ 100×', met: oursP95 <= 50 && ratio >= 100,
      }],
      notes: [
        `P4 ${name}: ${fmt(g.votes)} votes and their ${fmt(rollupRows)} rollup rows bulk-loaded in ${fmt(genS)} s; ` +
        `the raw GROUP BY timed ${o.baselineIterations}× per query, each time followed by ${Math.max(1, Math.ceil(o.oursIterations / o.baselineIterations))} runs of scores() (after 3 warm-ups); slowest per-query speedup (medians) ${fmtRatio(worst)}.`,
      ],
      detail: [
        `P4 ${name}, ${scale}:`, '',
        '| query | scores() p50 | scores() p95 | raw GROUP BY p50 | speedup (p50) |', '|---|---:|---:|---:|---:|',
        ...detail,
      ],
    };
  } finally {
    await place.dispose();
  }
}

export async function p4(o: P4Options, backends: Array<{ backend: Backend; votes: number }>): Promise<P4Result> {
  const out: P4Result = { figures: [], notes: [], detail: [] };
  for (const { backend, votes } of backends) {
    const r = await p4On(backend, o, votes);
    out.figures.push(...r.figures);
    out.notes.push(...r.notes);
    out.detail.push(...r.detail, '');
  }
  return out;
}
