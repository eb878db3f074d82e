// P2: batched ingest, votes per second. Our server (child process, fresh store, one panel per
// location in several zones) loaded over HTTP with 1000-event batches — each batch a device's
// offline buffer, one press a minute — against a raw prepared-insert loop into the same database:
// a transaction of 1000 single-row inserts into a table shaped like `votes` (same columns, key
// and index), no rollups, no HTTP. On SQLite and on PostgreSQL.
import { DatabaseSync } from 'node:sqlite';
import autocannon from 'autocannon';
import pg from 'pg';
import { openStore } from '../src/store/db.ts';
import { fmt, log, PG_URL, pgAppName, scratch, startChild, storeOptionsOf, waitQuiet, type Backend, type BenchDevice, type Figure, type Scratch } from './lib.ts';
import type { LoadOptions } from './p1.ts';

export const BATCH = 1000;
const PATH = '/api/v1/ingest/votes';
const COLS = ['device_id', 'event_id', 'org_id', 'ts', 'device_ts', 'received_at', 'clamped', 'button', 'reason',
  'location_id', 'touchpoint_id', 'employee_id', 'local_day', 'local_hour', 'flags'];
const PG_TYPES = ['text', 'text', 'text', 'int8', 'int8', 'int8', 'int4', 'text', 'text', 'text', 'text', 'text', 'text', 'int4', 'text'];

/**
 * The JSON body of one batch: a device's offline buffer of `BATCH` presses a minute apart. Each
 * device's batches follow one another in time (batch k of a device covers the k-th stretch of
 * 1000 minutes from 60 days ago), as a real device uploads what it has not sent before.
 */
const ORIGIN = Date.now() - 60 * 86_400_000;
function batchBody(tag: string, seq: number, deviceBatch: number): string {
  const start = ORIGIN + deviceBatch * BATCH * 60_000;
  const parts: string[] = new Array(BATCH);
  for (let i = 0; i < BATCH; i++) {
    const button = (seq + i) % 6 === 0 ? 'dissatisfied' : 'satisfied';
    parts[i] = `{"id":"${tag}-${seq}-${i}","ts":${start + i * 60_000},"button":"${button}"${button === 'dissatisfied' && i % 3 === 0 ? ',"reason":"queue"' : ''}}`;
  }
  return `{"events":[${parts.join(',')}]}`;
}

async function oursOverHttp(place: Scratch, o: LoadOptions, connections: number, deviceCount: number): Promise<{ votesPerSec: number; perCommit: number; p99: number }> {
  const child = await startChild({ mode: 'ours', store: storeOptionsOf(place), devices: deviceCount });
  const tag = `p2${Date.now().toString(36)}`;
  let seq = 0;
  const load = async (seconds: number): Promise<{ ok: number; duration: number; p99: number }> => {
    const r = await autocannon({
      url: child.url, connections, duration: seconds, timeout: 60,
      requests: [{
        method: 'POST', path: PATH, headers: { 'content-type': 'application/json' },
        setupRequest: (req) => {
          seq++;
          const dev = child.devices[seq % child.devices.length]!;
          req.headers = { ...req.headers, authorization: `Bearer ${dev.token}` };
          req.body = batchBody(tag, seq, Math.floor(seq / child.devices.length));
          return req;
        },
      }],
    });
    if (r.errors || r.non2xx || r.timeouts) throw new Error(`P2 load: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx`);
    return { ok: r['2xx'], duration: r.duration, p99: r.latency.p99 };
  };
  await waitQuiet(`P2 ${place.backend} ours`);
  const warm = await load(o.warmup);
  const run = await load(o.duration);
  const stop = await child.stop();
  const store = await openStore(storeOptionsOf(place));
  const n = Number((await store.db.selectFrom('votes').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  await store.close();
  const acked = (warm.ok + run.ok) * BATCH;
  // Requests still in flight when autocannon stops are stored but not counted: up to one per connection per run.
  if (n < acked || n > acked + 2 * connections * BATCH) throw new Error(`P2: ${(warm.ok + run.ok) * BATCH} votes acknowledged but ${n} stored`);
  return { votesPerSec: (run.ok * BATCH) / run.duration, perCommit: stop.stats ? stop.stats.requests / Math.max(1, stop.stats.groups) : 0, p99: run.p99 };
}

/** Rows shaped like ours: the same devices, ids, a minute apart; local day/hour taken as UTC (no zone work). */
function rawRows(devices: BenchDevice[], orgId: string, batch: number): unknown[][] {
  const dev = devices[batch % devices.length]!;
  const start = ORIGIN + Math.floor(batch / devices.length) * BATCH * 60_000;
  const rows: unknown[][] = new Array(BATCH);
  for (let i = 0; i < BATCH; i++) {
    const ts = start + i * 60_000;
    const iso = new Date(ts).toISOString();
    const button = (batch + i) % 6 === 0 ? 'dissatisfied' : 'satisfied';
    rows[i] = [dev.id, `raw-${batch}-${i}`, orgId, ts, ts, Date.now(), 0, button, button === 'dissatisfied' && i % 3 === 0 ? 'queue' : null,
      dev.locationId, null, null, iso.slice(0, 10), Number(iso.slice(11, 13)), null];
  }
  return rows;
}

type RawMode = 'loop' | 'unnest';

/** The baseline: `seconds` of 1000-row transactions into raw_votes (a copy of votes' shape). Votes per second. */
async function rawInserts(place: Scratch, devices: BenchDevice[], orgId: string, seconds: number, mode: RawMode): Promise<number> {
  const table = `raw_votes_${mode}`;
  const insert = `insert into ${table} (${COLS.join(',')}) values (${COLS.map((_, i) => (place.backend === 'sqlite' ? '?' : `$${i + 1}`)).join(',')})`;
  if (place.backend === 'sqlite') {
    const db = new DatabaseSync(`${place.dataDir}/loyalty.db`);
    try {
      db.exec('pragma journal_mode = wal; pragma synchronous = full; pragma busy_timeout = 5000;');
      const ddl = (db.prepare(`select sql from sqlite_master where type = 'table' and name = 'votes'`).get() as { sql: string }).sql;
      db.exec(ddl.replace(/^create table "votes"/i, `create table "${table}"`));
      db.exec(`create index ${table}_org_ts on ${table} (org_id, ts)`);
      const stmt = db.prepare(insert);
      const end = performance.now() + seconds * 1000;
      const t0 = performance.now();
      let n = 0;
      for (let b = 0; performance.now() < end; b++) {
        const rows = rawRows(devices, orgId, b);
        db.exec('begin');
        for (const r of rows) stmt.run(...(r as Array<string | number | null>));
        db.exec('commit');
        n += rows.length;
      }
      return n / ((performance.now() - t0) / 1000);
    } finally { db.close(); }
  }
  const c = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${place.pgSchema}`, application_name: pgAppName(place.pgSchema!) });
  await c.connect();
  try {
    await c.query(`create table ${table} (like votes including all)`);
    const unnest = `insert into ${table} (${COLS.join(',')}) select * from unnest(${COLS.map((_, i) => `$${i + 1}::${PG_TYPES[i]}[]`).join(', ')})`;
    const end = performance.now() + seconds * 1000;
    const t0 = performance.now();
    let n = 0;
    for (let b = 0; performance.now() < end; b++) {
      const rows = rawRows(devices, orgId, b);
      await c.query('begin');
      if (mode === 'loop') {
        for (const r of rows) await c.query({ name: `ins_${table}`, text: insert, values: r });
      } else {
        await c.query({ name: `unnest_${table}`, text: unnest, values: COLS.map((_, col) => rows.map((r) => r[col])) });
      }
      await c.query('commit');
      n += rows.length;
    }
    return n / ((performance.now() - t0) / 1000);
  } finally { await c.end(); }
}

export async function p2(o: LoadOptions, backends: Backend[], connections: number): Promise<{ figures: Figure[]; notes: string[] }> {
  const figures: Figure[] = [];
  const notes: string[] = [];
  const deviceCount = 10;
  for (const backend of backends) {
    const place = scratch(backend, 'p2');
    try {
      log(`P2 ${backend}: our server, ${BATCH} events/request, ${connections} connections over ${deviceCount} devices, ${o.warmup} s warm-up + ${o.duration} s`);
      const ours = await oursOverHttp(place, o, connections, deviceCount);
      log(`  ours: ${fmt(ours.votesPerSec)} votes/s (${fmt(ours.votesPerSec / BATCH, 1)} requests/s, p99 ${ours.p99} ms, ${fmt(ours.perCommit, 1)} requests per commit)`);
      // The same org and devices the server used: the baseline rows look like ours.
      const store = await openStore(storeOptionsOf(place));
      const devices = (await store.db.selectFrom('device_assignments').select(['device_id', 'location_id', 'org_id']).execute())
        .map((r) => ({ id: r.device_id, token: '', locationId: r.location_id, timezone: 'UTC', orgId: r.org_id }));
      await store.close();
      const orgId = devices[0]!.orgId;
      log(`P2 ${backend}: raw prepared-insert loop, ${BATCH} rows per transaction, ${o.duration} s`);
      await waitQuiet(`P2 ${backend} raw loop`);
      const loop = await rawInserts(place, devices, orgId, o.duration, 'loop');
      log(`  raw loop: ${fmt(loop)} votes/s`);
      let unnestNote = '';
      if (backend === 'postgres') {
        await waitQuiet(`P2 ${backend} raw unnest`);
        const unnest = await rawInserts(place, devices, orgId, o.duration, 'unnest');
        log(`  raw unnest (one statement per 1000 rows): ${fmt(unnest)} votes/s`);
        unnestNote = `; a stronger raw baseline, one \`unnest\` statement per 1000-row transaction, does ${fmt(unnest)} votes/s (ours = ${(ours.votesPerSec / unnest).toFixed(2)}× of it)`;
      }
      const ratio = ours.votesPerSec / loop;
      figures.push({
        figure: `P2 batched ingest (1000 events/request), ${backend === 'sqlite' ? 'SQLite' : 'PostgreSQL'}`,
        ours: `${fmt(ours.votesPerSec)} votes/s`, baseline: `${fmt(loop)} votes/s (raw insert loop)`,
        ratio, goal: '≥ 0.5×', met: ratio >= 0.5,
      });
      notes.push(`P2 ${backend}: ${connections} connections, ${fmt(ours.perCommit, 1)} requests per commit, request p99 ${ours.p99} ms${unnestNote}.`);
    } finally {
      await place.dispose();
    }
  }
  return { figures, notes };
}
