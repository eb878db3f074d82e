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

// Votes and visitor counts as one stream of counted items; a vote with flags is held back and
// counts only in `flagged`. `$WHERE` is where the org filter goes, in both halves.
const SOURCE = `(
  select org_id, device_id, location_id, touchpoint_id, employee_id, local_day, local_hour,
    case when flags is null and button = 'satisfied' then 1 else 0 end as s,
    case when flags is null and button = 'dissatisfied' then 1 else 0 end as d,
    case when flags is null then 0 else 1 end as f, 0 as v
  from votes $WHERE
  union all
  select org_id, device_id, location_id, touchpoint_id, null as employee_id, local_day, local_hour, 0, 0, 0, in_count
  from visitor_events $WHERE
) src`;
const SUMS = 'sum(s), sum(d), sum(f), sum(v)';

const ROLLUP_COLS = 'org_id, cube, grain, bucket, location_id, touchpoint_id, employee_id, device_id, satisfied, dissatisfied, flagged, visitors';

/** The statements, one per cube × grain, as SQL text with `$WHERE` where the org filter goes. */
export function rebuildStatements(): Array<{ cube: string; grain: Grain; text: string }> {
  const out: Array<{ cube: string; grain: Grain; text: string }> = [];
  for (const cube of CUBES) {
    const dims = (['location', 'touchpoint', 'employee', 'device'] as const).map((d) => (cube.dims.includes(d) ? DIM_EXPR[d] : null));
    for (const grain of GRAINS) {
      const groupBy = ['org_id', BUCKET_EXPR[grain], ...dims.filter((d): d is string => d !== null)];
      const select = ['org_id', `'${cube.name}'`, `'${grain}'`, BUCKET_EXPR[grain], ...dims.map((d) => d ?? "''"), SUMS];
      out.push({
        cube: cube.name, grain,
        text: `insert into rollups (${ROLLUP_COLS}) select ${select.join(', ')} from ${SOURCE} group by ${groupBy.join(', ')}`,
      });
    }
  }
  return out;
}

/**
 * Rebuilds the rollups of one organisation (or of all) from its votes, in one transaction: the
 * old rows are deleted and the new ones inserted, so readers see either the old or the new table.
 */
export async function rebuildRollups(store: Store, orgId?: string): Promise<{ votes: number; rows: number }> {
  return store.db.transaction().execute(async (trx: Transaction<DB>) => {
    if (store.dialect === 'postgres') {
      // Ingest writes votes and rollup deltas in one transaction: holding off new votes while the
      // table is rebuilt keeps a concurrent vote from being counted twice or not at all.
      await sql`lock table votes, visitor_events in share mode`.execute(trx);
    }
    const where = (): RawBuilder<unknown> => (orgId === undefined ? sql`` : sql`where org_id = ${orgId}`);
    await sql`delete from rollups ${where()}`.execute(trx);
    let rows = 0;
    for (const s of rebuildStatements()) {
      const parts = s.text.split('$WHERE');
      const r = await sql.join(parts.flatMap((p, i) => (i ? [where(), sql.raw(p)] : [sql.raw(p)])), sql``).execute(trx);
      rows += Number(r.numAffectedRows ?? 0);
    }
    const n = await sql<{ n: number }>`select count(*) as n from votes ${where()}`.execute(trx);
    return { votes: Number(n.rows[0]?.n ?? 0), rows };
  });
}
