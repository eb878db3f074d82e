// Makes a raw-votes .xlsx off the main thread (see writeVotesXlsx in votes-export.ts): reads through
// its own read-only SQLite connection, writes the sheets and compresses them here, and hands the
// compressed bytes to the parent one chunk at a time (the next write waits for the parent's 'ack',
// so a slow client slows the export instead of filling memory).
import { parentPort, workerData } from 'node:worker_threads';
import { DatabaseSync } from 'node:sqlite';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { EXPORT_BATCH, sqliteVoteReader, type RawVote, type VoteQuery } from './votes.ts';
import { writeVotesXlsxFrom, type Names } from './votes-export.ts';

const { path, orgId, q, orgName } = workerData as { path: string; orgId: string; q: VoteQuery; orgName: string };
const port = parentPort!;

async function main(): Promise<void> {
  const db = new DatabaseSync(path, { readOnly: true });
  type Named = { id: string; name: string | null };
  const locs = db.prepare('select id, name, timezone from locations where org_id = ?').all(orgId) as Array<Named & { timezone: string }>;
  const named = (table: string): Map<string, string> =>
    new Map((db.prepare(`select id, name from ${table} where org_id = ?`).all(orgId) as Named[]).map((r) => [r.id, r.name ?? r.id]));
  const names: Names = {
    locations: new Map(locs.map((l) => [l.id, { name: l.name ?? l.id, tz: l.timezone }])),
    touchpoints: named('touchpoints'), employees: named('employees'),
  };
  let acked: (() => void) | null = null;
  port.on('message', () => { const a = acked; acked = null; a?.(); });
  const out = new Writable({
    highWaterMark: 256 * 1024,
    write(chunk: Buffer, _enc, cb) {
      acked = () => cb();
      const copy = new Uint8Array(chunk); // its own buffer, moved (not copied again) to the parent
      port.postMessage({ chunk: copy }, [copy.buffer]);
    },
  });
  const reader = sqliteVoteReader(db, orgId, q, EXPORT_BATCH);
  async function* batches(): AsyncGenerator<RawVote[]> {
    for (let rows = reader.next(); rows.length; rows = reader.next()) yield rows;
  }
  try {
    const n = await writeVotesXlsxFrom(names, batches(), q, out, { orgName, progress: (k) => port.postMessage({ progress: k }) });
    if (!out.writableFinished) await once(out, 'finish');
    port.postMessage({ done: n });
  } finally {
    reader.close();
    db.close();
  }
}

main().catch((e: unknown) => port.postMessage({ error: e instanceof Error ? e.message : String(e) }));
