// Reads the votes of an export through its own read-only SQLite connection, off the main thread
// (see voteBatches in votes.ts). One batch per 'next' message; 'done' at the end.
import { parentPort, workerData } from 'node:worker_threads';
import { DatabaseSync } from 'node:sqlite';
import type { RawVote, VoteQuery } from './votes.ts';
import { utcWindow } from './votes.ts';

const { path, orgId, q, batch } = workerData as { path: string; orgId: string; q: VoteQuery; batch: number };
const db = new DatabaseSync(path, { readOnly: true });
db.exec('pragma busy_timeout = 5000');
const [lo, hi] = utcWindow(q.from, q.to);
const params: Array<string | number> = [orgId, lo, hi, q.from, q.to];
let where = 'org_id = ? and ts >= ? and ts < ? and local_day >= ? and local_day <= ?';
if (q.flagged === true) where += ' and flags is not null';
if (q.flagged === false) where += ' and flags is null';
if (q.onlyLocations) {
  where += ` and location_id in (${q.onlyLocations.map(() => '?').join(',') || 'null'})`;
  params.push(...q.onlyLocations);
}
const stmt = db.prepare(`select device_id, event_id, ts, button, reason, location_id, touchpoint_id, employee_id, flags
  from votes where ${where} order by ts, device_id, event_id`);
// One statement, one snapshot: the export is consistent even while votes keep arriving.
const it = stmt.iterate(...params) as IterableIterator<RawVote>;

parentPort!.on('message', () => {
  const rows: RawVote[] = [];
  for (let r = it.next(); !r.done; r = it.next()) {
    rows.push(r.value);
    if (rows.length >= batch) break;
  }
  if (rows.length) parentPort!.postMessage({ rows });
  else {
    db.close();
    parentPort!.postMessage({ done: true });
    parentPort!.close();
  }
});
