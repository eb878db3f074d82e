// Stores votes and their rollups in one transaction. The SQL is written per backend because this
// is the hot path: SQLite gets cached multi-row statements, PostgreSQL one statement per table
// with array parameters (unnest). Both go through Kysely's executor as precompiled queries.
import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import type { Store } from '../store/db.ts';
import type { DB } from '../store/schema.ts';
import { addAllToRollups, type Countable, type RollupDelta } from '../scores/cubes.ts';
import { voteKey, type PreparedCamera, type PreparedVisitors, type PreparedVote } from './vote.ts';
import { judge, lockDevices, lockLocations } from '../misuse/evaluate.ts';

const VOTE_COLS = ['device_id', 'event_id', 'org_id', 'ts', 'device_ts', 'received_at', 'clamped', 'button', 'reason',
  'location_id', 'touchpoint_id', 'employee_id', 'local_day', 'local_hour', 'flags'] as const;
const VOTE_PG_TYPES = ['text', 'text', 'text', 'int8', 'int8', 'int8', 'int4', 'text', 'text', 'text', 'text', 'text', 'text', 'int4', 'text'];
const ROLLUP_KEY = ['org_id', 'cube', 'grain', 'bucket', 'location_id', 'touchpoint_id', 'employee_id', 'device_id'] as const;
const ROLLUP_SUMS = ['satisfied', 'dissatisfied', 'flagged', 'visitors'] as const;
const ROLLUP_COLS = [...ROLLUP_KEY, ...ROLLUP_SUMS];
const ROLLUP_PG_TYPES = [...ROLLUP_KEY.map(() => 'text'), ...ROLLUP_SUMS.map(() => 'int4')];

const VISITOR_COLS = ['device_id', 'event_id', 'org_id', 'ts', 'device_ts', 'received_at', 'clamped', 'in_count', 'out_count',
  'location_id', 'touchpoint_id', 'local_day', 'local_hour'] as const;
const VISITOR_PG_TYPES = ['text', 'text', 'text', 'int8', 'int8', 'int8', 'int4', 'int4', 'int4', 'text', 'text', 'text', 'int4'];
const visitorRow = (v: PreparedVisitors): unknown[] => [
  v.deviceId, v.eventId, v.orgId, v.ts, v.deviceTs, v.receivedAt, v.clamped ? 1 : 0, v.in, v.out,
  v.locationId, v.touchpointId, v.localDay, v.localHour,
];
const CAMERA_COLS = ['device_id', 'event_id', 'org_id', 'ts', 'device_ts', 'received_at', 'clamped', 'people', 'clip',
  'location_id', 'touchpoint_id', 'local_day', 'local_hour'] as const;
const CAMERA_PG_TYPES = ['text', 'text', 'text', 'int8', 'int8', 'int8', 'int4', 'int4', 'text', 'text', 'text', 'text', 'int4'];
const cameraRow = (v: PreparedCamera): unknown[] => [
  v.deviceId, v.eventId, v.orgId, v.ts, v.deviceTs, v.receivedAt, v.clamped ? 1 : 0, v.people, v.clip,
  v.locationId, v.touchpointId, v.localDay, v.localHour,
];
const voteRow = (v: PreparedVote): unknown[] => [
  v.deviceId, v.eventId, v.orgId, v.ts, v.deviceTs, v.receivedAt, v.clamped ? 1 : 0, v.button, v.reason,
  v.locationId, v.touchpointId, v.employeeId, v.localDay, v.localHour, v.flags.length ? JSON.stringify(v.flags) : null,
];
const rollupRow = (r: RollupDelta): unknown[] => ROLLUP_COLS.map((c) => r[c]);

const ROLLUP_CONFLICT = `on conflict (${ROLLUP_KEY.join(', ')}) do update set ${ROLLUP_SUMS.map((c) => `${c} = rollups.${c} + excluded.${c}`).join(', ')}`;

// --- SQLite: multi-row VALUES in a few fixed chunk sizes, so a handful of statements are prepared once.
const CHUNKS = [256, 64, 16, 4, 1];
function* chunked<T>(rows: T[]): Generator<T[]> {
  let i = 0;
  while (i < rows.length) {
    const size = CHUNKS.find((c) => c <= rows.length - i)!;
    yield rows.slice(i, i + size);
    i += size;
  }
}
const sqliteText = new Map<string, string>();
function sqliteSql(kind: 'votes' | 'visitor_events' | 'camera_events' | 'rollups', n: number): string {
  const key = `${kind}${n}`;
  let text = sqliteText.get(key);
  if (!text) {
    const cols = kind === 'votes' ? VOTE_COLS : kind === 'visitor_events' ? VISITOR_COLS : kind === 'camera_events' ? CAMERA_COLS : ROLLUP_COLS;
    const tuple = `(${cols.map(() => '?').join(',')})`;
    const values = Array.from({ length: n }, () => tuple).join(',');
    text = kind === 'rollups'
      ? `insert into rollups (${cols.join(',')}) values ${values} ${ROLLUP_CONFLICT}`
      : `insert into ${kind} (${cols.join(',')}) values ${values} on conflict do nothing returning device_id, event_id`;
    sqliteText.set(key, text);
  }
  return text;
}

// --- PostgreSQL: unnest over one array per column.
const pgArrays = (cols: readonly string[], types: string[]): string => cols.map((_, i) => `$${i + 1}::${types[i]}[]`).join(', ');
const PG_VOTES = `insert into votes (${VOTE_COLS.join(',')}) select * from unnest(${pgArrays(VOTE_COLS, VOTE_PG_TYPES)}) on conflict do nothing returning device_id, event_id`;
const PG_VISITORS = `insert into visitor_events (${VISITOR_COLS.join(',')}) select * from unnest(${pgArrays(VISITOR_COLS, VISITOR_PG_TYPES)}) on conflict do nothing returning device_id, event_id`;
const PG_CAMERA = `insert into camera_events (${CAMERA_COLS.join(',')}) select * from unnest(${pgArrays(CAMERA_COLS, CAMERA_PG_TYPES)}) on conflict do nothing returning device_id, event_id`;
const PG_ROLLUPS = `insert into rollups (${ROLLUP_COLS.join(',')}) select * from unnest(${pgArrays(ROLLUP_COLS, ROLLUP_PG_TYPES)}) ${ROLLUP_CONFLICT}`;
const columns = (rows: unknown[][], width: number): unknown[][] => Array.from({ length: width }, (_, c) => rows.map((r) => r[c]));

type Exec = Kysely<DB> | Transaction<DB>;

/** Inserts device events, skipping (device, event id) pairs already stored; returns the keys inserted. */
async function insertEvents<T extends { deviceId: string; eventId: string }>(
  store: Store, trx: Exec, table: 'votes' | 'visitor_events' | 'camera_events', items: T[], row: (item: T) => unknown[], width: number, pgText: string,
): Promise<Set<string>> {
  const inserted = new Set<string>();
  const take = (rows: Array<{ device_id: string; event_id: string }>): void => {
    for (const r of rows) inserted.add(voteKey({ deviceId: r.device_id, eventId: r.event_id }));
  };
  if (store.dialect === 'sqlite') {
    for (const chunk of chunked(items)) {
      const res = await trx.executeQuery<{ device_id: string; event_id: string }>(CompiledQuery.raw(sqliteSql(table, chunk.length), chunk.flatMap(row)));
      take(res.rows);
    }
  } else if (items.length) {
    const res = await trx.executeQuery<{ device_id: string; event_id: string }>(CompiledQuery.raw(pgText, columns(items.map(row), width)));
    take(res.rows);
  }
  return inserted;
}

/** Adds deltas to the rollups. Rows are sorted by key so concurrent PostgreSQL writers lock in one order. */
export async function upsertRollups(store: Store, trx: Exec, deltas: Map<string, RollupDelta>): Promise<void> {
  const rows = [...deltas.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([, r]) => rollupRow(r));
  if (!rows.length) return;
  if (store.dialect === 'sqlite') {
    for (const chunk of chunked(rows)) await trx.executeQuery(CompiledQuery.raw(sqliteSql('rollups', chunk.length), chunk.flat()));
  } else {
    await trx.executeQuery(CompiledQuery.raw(PG_ROLLUPS, columns(rows, ROLLUP_COLS.length)));
  }
}

export function voteRollupDeltas(votes: Iterable<PreparedVote>, acc = new Map<string, RollupDelta>()): Map<string, RollupDelta> {
  addAllToRollups(acc, (function* (): Generator<Countable> {
    for (const v of votes) {
      const flagged = v.flags.length > 0;
      yield {
        orgId: v.orgId, deviceId: v.deviceId, locationId: v.locationId, touchpointId: v.touchpointId, employeeId: v.employeeId,
        localDay: v.localDay, localHour: v.localHour,
        satisfied: !flagged && v.button === 'satisfied' ? 1 : 0,
        dissatisfied: !flagged && v.button === 'dissatisfied' ? 1 : 0,
        flagged: flagged ? 1 : 0, visitors: 0,
      };
    }
  })());
  return acc;
}

/** The (device, event id) keys of `items` already stored in `table`. */
async function storedKeys(store: Store, trx: Exec, items: Array<{ deviceId: string; eventId: string }>): Promise<Set<string>> {
  const out = new Set<string>();
  if (!items.length) return out;
  if (store.dialect === 'postgres') {
    const res = await trx.executeQuery<{ device_id: string; event_id: string }>(CompiledQuery.raw(
      'select v.device_id, v.event_id from unnest($1::text[], $2::text[]) as k(d, e) join votes v on v.device_id = k.d and v.event_id = k.e',
      [items.map((v) => v.deviceId), items.map((v) => v.eventId)]));
    for (const r of res.rows) out.add(voteKey({ deviceId: r.device_id, eventId: r.event_id }));
    return out;
  }
  const byDevice = new Map<string, string[]>();
  for (const v of items) {
    const list = byDevice.get(v.deviceId);
    if (list) list.push(v.eventId);
    else byDevice.set(v.deviceId, [v.eventId]);
  }
  for (const [deviceId, ids] of byDevice) {
    for (let i = 0; i < ids.length; i += 500) {
      const part = ids.slice(i, i + 500);
      const res = await trx.executeQuery<{ event_id: string }>(CompiledQuery.raw(
        `select event_id from votes where device_id = ? and event_id in (${part.map(() => '?').join(',')})`, [deviceId, ...part]));
      for (const r of res.rows) out.add(voteKey({ deviceId, eventId: r.event_id }));
    }
  }
  return out;
}

/**
 * Stores the votes (already free of in-batch repeats) and their rollups atomically.
 * Returns the votes actually inserted: the others were stored before and change nothing.
 * The misuse rules (src/misuse) judge the new votes here, inside the transaction and BEFORE the
 * insert, over their devices' and places' stored neighbours: the flags go into the INSERT; stored
 * votes whose verdict changes (late data) are updated and their counts moved in the same transaction.
 */
export async function writeVotes(store: Store, votes: PreparedVote[]): Promise<PreparedVote[]> {
  return store.db.transaction().execute(async (trx) => {
    await lockDevices(store, trx, votes.map((v) => v.deviceId));
    await lockLocations(store, trx, votes.map((v) => v.locationId));
    const stored = await storedKeys(store, trx, votes);
    const candidates = votes.filter((v) => !stored.has(voteKey(v)));
    const acc = new Map<string, RollupDelta>();
    const first = candidates[0];
    if (first) await judge(store, trx, { votes: candidates }, acc, { deviceId: first.deviceId, what: 'presses' });
    const inserted = await insertEvents(store, trx, 'votes', candidates, voteRow, VOTE_COLS.length, PG_VOTES);
    const fresh = candidates.filter((v) => inserted.has(voteKey(v)));
    await upsertRollups(store, trx, voteRollupDeltas(fresh, acc));
    return fresh;
  });
}

/**
 * Stores visitor counts and adds them to the rollups' `visitors`, atomically; returns those inserted.
 * above_visitors re-judges the presses of the local hours they land in, in the same transaction.
 */
export async function writeVisitors(store: Store, items: PreparedVisitors[]): Promise<PreparedVisitors[]> {
  // The first occurrence of an event id in the batch owns it, as for votes.
  const seen = new Set<string>();
  const unique = items.filter((v) => !seen.has(voteKey(v)) && (seen.add(voteKey(v)), true));
  return store.db.transaction().execute(async (trx) => {
    await lockLocations(store, trx, unique.map((v) => v.locationId));
    const inserted = await insertEvents(store, trx, 'visitor_events', unique, visitorRow, VISITOR_COLS.length, PG_VISITORS);
    const fresh = unique.filter((v) => inserted.has(voteKey(v)));
    const acc = new Map<string, RollupDelta>();
    addAllToRollups(acc, fresh.map((v): Countable => ({
      orgId: v.orgId, deviceId: v.deviceId, locationId: v.locationId, touchpointId: v.touchpointId, employeeId: null,
      localDay: v.localDay, localHour: v.localHour, satisfied: 0, dissatisfied: 0, flagged: 0, visitors: v.in,
    })));
    const first = fresh[0];
    if (first) await judge(store, trx, { visitors: fresh }, acc, { deviceId: first.deviceId, what: 'visitor counts' });
    await upsertRollups(store, trx, acc);
    return fresh;
  });
}

/** Stores camera sightings; the camera rule re-judges the presses around them in the same transaction. */
export async function writeCamera(store: Store, items: PreparedCamera[]): Promise<PreparedCamera[]> {
  const seen = new Set<string>();
  const unique = items.filter((v) => !seen.has(voteKey(v)) && (seen.add(voteKey(v)), true));
  return store.db.transaction().execute(async (trx) => {
    await lockLocations(store, trx, unique.map((v) => v.locationId));
    const inserted = await insertEvents(store, trx, 'camera_events', unique, cameraRow, CAMERA_COLS.length, PG_CAMERA);
    const fresh = unique.filter((v) => inserted.has(voteKey(v)));
    const acc = new Map<string, RollupDelta>();
    const first = fresh[0];
    if (first) await judge(store, trx, { camera: fresh }, acc, { deviceId: first.deviceId, what: 'camera sightings' });
    await upsertRollups(store, trx, acc);
    return fresh;
  });
}
