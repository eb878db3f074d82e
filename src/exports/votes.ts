// Raw votes (PROTOCOL.md §6): one page by keyset for the API, and every vote of a range in
// batches for exports. Order is (ts, device_id, event_id), which is unique, so a cursor never skips
// or repeats a vote even when many share a millisecond.
//
// `from`/`to` are inclusive local dates of each vote's location (like scores). The index on
// (org_id, ts) is used with a UTC window one day wider on each side; local_day then decides.
import { sql, type Kysely } from 'kysely';
import { Worker } from 'node:worker_threads';
import type { DatabaseSync } from 'node:sqlite';
import type { Store } from '../store/db.ts';
import type { DB } from '../store/schema.ts';
import { addDays } from '../domain/time.ts';
import { invalidField } from '../domain/errors.ts';

export type VoteQuery = {
  from: string; to: string;
  /** true: only votes held back by the misuse filter; false: only counted ones; undefined: all. */
  flagged?: boolean | undefined;
  /** Locations the asker may see (managers); null = all. */
  onlyLocations?: string[] | null | undefined;
};

export type VoteRow = {
  id: string; deviceId: string; ts: string; button: string; reason: string | null;
  locationId: string; touchpointId: string | null; employeeId: string | null; flagged: string[];
};

/** The columns read from `votes`, as stored (ts in epoch ms). */
export type RawVote = {
  device_id: string; event_id: string; ts: number; button: string; reason: string | null;
  location_id: string; touchpoint_id: string | null; employee_id: string | null; flags: string | null;
};

export type Cursor = { ts: number; d: string; e: string };

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.ts, c.d, c.e])).toString('base64url');
}

export function decodeCursor(s: string): Cursor {
  try {
    const v: unknown = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 3 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string' && typeof v[2] === 'string') {
      return { ts: v[0] as number, d: v[1], e: v[2] };
    }
  } catch { /* fall through */ }
  throw invalidField('cursor', 'cursor is not one this API returned');
}

export const toVoteRow = (r: RawVote): VoteRow => ({
  id: r.event_id, deviceId: r.device_id, ts: new Date(Number(r.ts)).toISOString(), button: r.button, reason: r.reason ?? null,
  locationId: r.location_id, touchpointId: r.touchpoint_id ?? null, employeeId: r.employee_id ?? null,
  flagged: r.flags ? (JSON.parse(r.flags) as string[]) : [],
});

/** UTC bounds [lo, hi) that surely contain every vote whose local day is in [from, to]. */
export function utcWindow(from: string, to: string): [number, number] {
  return [Date.parse(`${addDays(from, -1)}T00:00:00Z`), Date.parse(`${addDays(to, 2)}T00:00:00Z`)];
}

/** One page of raw votes after `cursor` (exclusive), at most `limit`, and the cursor of the next page. */
export async function votesPage(store: Store, orgId: string, q: VoteQuery, limit: number, cursor: Cursor | null): Promise<{ rows: RawVote[]; next: Cursor | null }> {
  if (q.onlyLocations && q.onlyLocations.length === 0) return { rows: [], next: null };
  const [lo, hi] = utcWindow(q.from, q.to);
  let query = (store.db as Kysely<DB>).selectFrom('votes')
    .select(['device_id', 'event_id', 'ts', 'button', 'reason', 'location_id', 'touchpoint_id', 'employee_id', 'flags'])
    .where('org_id', '=', orgId).where('ts', '>=', lo).where('ts', '<', hi)
    .where('local_day', '>=', q.from).where('local_day', '<=', q.to);
  if (q.flagged === true) query = query.where('flags', 'is not', null);
  if (q.flagged === false) query = query.where('flags', 'is', null);
  if (q.onlyLocations) query = query.where('location_id', 'in', q.onlyLocations);
  if (cursor) {
    const c = cursor;
    query = query.where((eb) => eb.or([
      eb('ts', '>', c.ts),
      eb.and([eb('ts', '=', c.ts), eb.or([eb('device_id', '>', c.d), eb.and([eb('device_id', '=', c.d), eb('event_id', '>', c.e)])])]),
    ]));
  }
  const rows = (await query.orderBy('ts').orderBy('device_id').orderBy('event_id').limit(limit + 1).execute()) as RawVote[];
  if (rows.length <= limit) return { rows, next: null };
  rows.length = limit;
  const last = rows[limit - 1]!;
  return { rows, next: { ts: Number(last.ts), d: last.device_id, e: last.event_id } };
}

/** How many votes an export of `q` will hold (for progress bars). */
export async function countVotes(store: Store, orgId: string, q: VoteQuery): Promise<number> {
  if (q.onlyLocations && q.onlyLocations.length === 0) return 0;
  const [lo, hi] = utcWindow(q.from, q.to);
  let query = store.db.selectFrom('votes').select(sql<number>`count(*)`.as('n'))
    .where('org_id', '=', orgId).where('ts', '>=', lo).where('ts', '<', hi)
    .where('local_day', '>=', q.from).where('local_day', '<=', q.to);
  if (q.flagged === true) query = query.where('flags', 'is not', null);
  if (q.flagged === false) query = query.where('flags', 'is', null);
  if (q.onlyLocations) query = query.where('location_id', 'in', q.onlyLocations);
  return Number((await query.executeTakeFirstOrThrow()).n);
}

export const EXPORT_BATCH = 1000;

/**
 * Every vote of `q` in order, in batches. On SQLite a worker thread reads through its own
 * read-only connection (node:sqlite is synchronous: a million-row scan on the server's connection
 * would stall every request); on PostgreSQL, keyset pages over the pool.
 */
export async function* voteBatches(store: Store, orgId: string, q: VoteQuery, batch = EXPORT_BATCH): AsyncGenerator<RawVote[]> {
  if (store.dialect === 'sqlite' && store.sqlitePath) {
    yield* workerBatches(store.sqlitePath, orgId, q, batch);
    return;
  }
  let cursor: Cursor | null = null;
  for (;;) {
    const page = await votesPage(store, orgId, q, batch, cursor);
    if (page.rows.length) yield page.rows;
    if (!page.next) return;
    cursor = page.next;
  }
}

/**
 * Every vote of `q` in order through a (read-only) SQLite connection, `batch` at a time: keyset pages
 * on (ts, device_id, event_id), each walking the (org_id, ts) index from the last row read and
 * sorting only ties on ts (one statement ordering the whole range had SQLite sort every row first,
 * and memory grew with the export: P6). All pages are read in one read transaction, so the export is
 * one snapshot even while votes keep arriving. For worker threads (votes-worker.ts, xlsx-worker.ts).
 */
export function sqliteVoteReader(db: DatabaseSync, orgId: string, q: VoteQuery, batch: number): { next(): RawVote[]; close(): void } {
  db.exec('pragma busy_timeout = 5000');
  const [lo, hi] = utcWindow(q.from, q.to);
  const params: Array<string | number> = [orgId, hi, q.from, q.to];
  let where = 'org_id = ? and ts < ? and local_day >= ? and local_day <= ?';
  if (q.flagged === true) where += ' and flags is not null';
  if (q.flagged === false) where += ' and flags is null';
  if (q.onlyLocations) {
    where += ` and location_id in (${q.onlyLocations.map(() => '?').join(',') || 'null'})`;
    params.push(...q.onlyLocations);
  }
  const cols = 'device_id, event_id, ts, button, reason, location_id, touchpoint_id, employee_id, flags';
  const order = `order by ts, device_id, event_id limit ${Math.max(1, Math.floor(batch))}`;
  const first = db.prepare(`select ${cols} from votes where ${where} and ts >= ? ${order}`);
  const after = db.prepare(`select ${cols} from votes where ${where} and ts >= ? and (ts, device_id, event_id) > (?, ?, ?) ${order}`);
  db.exec('begin');
  let last: RawVote | null = null;
  let open = true;
  return {
    next() {
      if (!open) return [];
      const rows = (last ? after.all(...params, last.ts, last.ts, last.device_id, last.event_id) : first.all(...params, lo)) as RawVote[];
      if (rows.length) last = rows[rows.length - 1]!;
      return rows;
    },
    close() { if (open) { open = false; db.exec('commit'); } },
  };
}

type WorkerMsg = { rows: RawVote[] } | { done: true } | { error: string };

async function* workerBatches(path: string, orgId: string, q: VoteQuery, batch: number): AsyncGenerator<RawVote[]> {
  const worker = new Worker(new URL('./votes-worker.ts', import.meta.url), { workerData: { path, orgId, q, batch }, resourceLimits: { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 8 } });
  const queue: WorkerMsg[] = [];
  let wake: (() => void) | null = null;
  const push = (m: WorkerMsg): void => { queue.push(m); wake?.(); wake = null; };
  worker.on('message', (m: WorkerMsg) => push(m));
  worker.on('error', (e) => push({ error: e.message }));
  worker.on('exit', (code) => { if (code !== 0) push({ error: `export worker exited with ${code}` }); else push({ done: true }); });
  try {
    // The worker sends one batch per request: at most two batches are ever in flight.
    worker.postMessage('next');
    for (;;) {
      while (!queue.length) await new Promise<void>((r) => { wake = r; });
      const m = queue.shift()!;
      if ('error' in m) throw new Error(m.error);
      if ('done' in m) return;
      worker.postMessage('next');
      yield m.rows;
    }
  } finally {
    await worker.terminate();
  }
}
