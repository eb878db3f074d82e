// Scores for one location (or a manager's locations) read the rollups by (org, cube, grain,
// location, bucket range), but the primary key puts the bucket before the location: such a query
// walked every location's rows of the range. This index follows the scores queries' access path
// (src/scores/scores.ts). On PostgreSQL it also INCLUDEs the other columns, so the read is an
// index-only scan instead of one heap fetch per row (the main cost there, BENCHMARKS.md P4).
// Not on SQLite: its rollups table is clustered by the key (without rowid), P4 is met there, and
// every index on rollups is paid on each ingest upsert (P2 is the SQLite miss).
import { sql, SqliteAdapter, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

type AnyDb = Kysely<any>; // the schema as it was then, not today's types

export const rollupIndexMigration: Migration = {
  async up(db: AnyDb) {
    if (db.getExecutor().adapter instanceof SqliteAdapter) return;
    await sql`create index rollups_by_location on rollups (org_id, cube, grain, location_id, bucket)
      include (touchpoint_id, employee_id, device_id, satisfied, dissatisfied, flagged, visitors)`.execute(db);
  },
};
