// Recomputes the rollups from the votes table: the admin repair tool for counters that drifted
// (a bug, a manual fix of votes), and the fast way to build rollups after a bulk load.
// One `insert into rollups select … group by …` per cube × grain, derived from CUBES/GRAINS so the
// list cannot drift from what ingest keeps and what the planner reads. Same SQL on both backends.
import { sql, type RawBuilder, type Transaction } from 'kysely';
import type { Store } from '../store/db.ts';
import type { DB } from '../store/schema.ts';
import { CUBES, GRAINS, type Dim, type Grain } from './cubes.ts';

/** How each dimension is read from a vote; '' for "none", as ingest stores it. */
const DIM_EXPR: Record<Dim, string> = {
  location: 'location_id',
  touchpoint: "coalesce(touchpoint_id, '')",
  employee: "coalesce(employee_id, '')",
  device: 'device_id',
};

/** The bucket of a vote at each grain, in its location's zone (local_day/local_hour are stored at ingest). */
const BUCKET_EXPR: Record<Grain, string> = {
  h: "local_day || 'T' || (case when local_hour < 10 then '0' else '' end) || cast(local_hour as text)",
  d: 'local_day',
  m: 'substr(local_day, 1, 7)',
};

// A vote with flags is held back: it counts only in `flagged`.
const SUMS = [
  "sum(case when flags is null and button = 'satisfied' then 1 else 0 end)",
  "sum(case when flags is null and button = 'dissatisfied' then 1 else 0 end)",
  'sum(case when flags is null then 0 else 1 end)',
].join(', ');

const ROLLUP_COLS = 'org_id, cube, grain, bucket, location_id, touchpoint_id, employee_id, device_id, satisfied, dissatisfied, flagged, visitors';

/** The statements, one per cube × grain, as SQL text with `$ORG` where the org filter goes. */
export function rebuildStatements(): Array<{ cube: string; grain: Grain; text: string }> {
  const out: Array<{ cube: string; grain: Grain; text: string }> = [];
  for (const cube of CUBES) {
    const dims = (['location', 'touchpoint', 'employee', 'device'] as const).map((d) => (cube.dims.includes(d) ? DIM_EXPR[d] : null));
    for (const grain of GRAINS) {
      const groupBy = ['org_id', BUCKET_EXPR[grain], ...dims.filter((d): d is string => d !== null)];
      const select = ['org_id', `'${cube.name}'`, `'${grain}'`, BUCKET_EXPR[grain], ...dims.map((d) => d ?? "''"), SUMS, '0'];
      out.push({
        cube: cube.name, grain,
        text: `insert into rollups (${ROLLUP_COLS}) select ${select.join(', ')} from votes $WHERE group by ${groupBy.join(', ')}`,
      });
    }
  }
  return out;
}

/**
 * Rebuilds the rollups of one organisation (or of all) from its votes, in one transaction: the
 * old rows are deleted and the new ones inserted, so readers see either the old or the new table.
 * Visitor counters have no stored source yet (PROTOCOL §2 visitors are not kept), so `visitors` is 0.
 */
export async function rebuildRollups(store: Store, orgId?: string): Promise<{ votes: number; rows: number }> {
  return store.db.transaction().execute(async (trx: Transaction<DB>) => {
    if (store.dialect === 'postgres') {
      // Ingest writes votes and rollup deltas in one transaction: holding off new votes while the
      // table is rebuilt keeps a concurrent vote from being counted twice or not at all.
      await sql`lock table votes in share mode`.execute(trx);
    }
    const where = (): RawBuilder<unknown> => (orgId === undefined ? sql`` : sql`where org_id = ${orgId}`);
    await sql`delete from rollups ${where()}`.execute(trx);
    let rows = 0;
    for (const s of rebuildStatements()) {
      const [before, after] = s.text.split('$WHERE') as [string, string];
      const r = await sql`${sql.raw(before)}${where()}${sql.raw(after)}`.execute(trx);
      rows += Number(r.numAffectedRows ?? 0);
    }
    const n = await sql<{ n: number }>`select count(*) as n from votes ${where()}`.execute(trx);
    return { votes: Number(n.rows[0]?.n ?? 0), rows };
  });
}
