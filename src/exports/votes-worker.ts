// Reads the votes of an export through its own read-only SQLite connection, off the main thread
// (see voteBatches in votes.ts). One batch per 'next' message; 'done' at the end.
import { parentPort, workerData } from 'node:worker_threads';
import { DatabaseSync } from 'node:sqlite';
import type { VoteQuery } from './votes.ts';
import { sqliteVoteReader } from './votes.ts';

const { path, orgId, q, batch } = workerData as { path: string; orgId: string; q: VoteQuery; batch: number };
const db = new DatabaseSync(path, { readOnly: true });
const reader = sqliteVoteReader(db, orgId, q, batch);

parentPort!.on('message', () => {
  const rows = reader.next();
  if (rows.length) parentPort!.postMessage({ rows });
  else {
    reader.close();
    db.close();
    parentPort!.postMessage({ done: true });
    parentPort!.close();
  }
});
