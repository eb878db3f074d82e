// "How satisfied were customers, sliced by X, between two local dates?" (PROTOCOL.md §4)
// Answered from rollups only: the smallest cube that keeps the needed dimensions, and for each
// stretch of the range the coarsest grain that fits it (whole months from month rows, the rest
// from day rows; hour rows only when the answer is by hour).
import { sql, type Kysely } from 'kysely';
import type { Store } from '../store/db.ts';
import type { DB } from '../store/schema.ts';
import { addDays, weekdayOf } from '../domain/time.ts';
import { WEEKDAYS } from '../domain/types.ts';
import { round4, score, wilson, type ScoringSettings } from '../domain/wilson.ts';
import { invalidField } from '../domain/errors.ts';
import { cubeFor, type Dim, type Grain } from './cubes.ts';

export const SCORE_BY = ['location', 'touchpoint', 'employee', 'device', 'day', 'hour', 'weekday', 'weekdayhour', 'total'] as const;
export type ScoreBy = (typeof SCORE_BY)[number];

export type ScoreQuery = {
  from: string; to: string; by: ScoreBy;
  locationId?: string | undefined; touchpointId?: string | undefined; employeeId?: string | undefined;
  /** Locations the asker may see (managers); null = all. */
  onlyLocations?: string[] | null | undefined;
};

export type ScoreRow = {
  key: string; label: string; satisfied: number; dissatisfied: number; total: number;
  share: number | null; wilson: [number, number] | null; score: 1 | 2 | 3 | 4 | 5 | null;
  visitors: number | null; responseRate: number | null; flagged: number;
};

export const NONE_KEY = 'none';
const WEEKDAY_LABEL: Record<string, string> = { mon: 'Monday', tue: 'Tuesday', wed: 'Wednesday', thu: 'Thursday', fri: 'Friday', sat: 'Saturday', sun: 'Sunday' };
const DIM_COLUMN = { location: 'location_id', touchpoint: 'touchpoint_id', employee: 'employee_id', device: 'device_id' } as const;

type Segment = { grain: Grain; from: string; to: string };

/** Splits [from, to] into whole months (month rows) and the leftover days at both ends (day rows). */
export function planSegments(from: string, to: string, by: ScoreBy): Segment[] {
  if (by === 'hour' || by === 'weekdayhour') return [{ grain: 'h', from: `${from}T00`, to: `${to}T23` }];
  if (by === 'day' || by === 'weekday') return [{ grain: 'd', from, to }];
  const segs: Segment[] = [];
  let day = from;
  while (day <= to) {
    const monthStart = day.endsWith('-01');
    const monthEnd = addDays(`${day.slice(0, 7)}-01`, 32).slice(0, 7) + '-01';
    const lastOfMonth = addDays(monthEnd, -1);
    if (monthStart && lastOfMonth <= to) {
      const prev = segs.at(-1);
      if (prev?.grain === 'm') prev.to = day.slice(0, 7);
      else segs.push({ grain: 'm', from: day.slice(0, 7), to: day.slice(0, 7) });
      day = monthEnd;
    } else {
      const end = lastOfMonth < to ? lastOfMonth : to;
      const prev = segs.at(-1);
      if (prev?.grain === 'd' && addDays(prev.to, 1) === day) prev.to = end;
      else segs.push({ grain: 'd', from: day, to: end });
      day = addDays(end, 1);
    }
  }
  return segs;
}

export type Counts = { satisfied: number; dissatisfied: number; flagged: number; visitors: number };
type Sums = Counts & { k: string };

/** A score row from counts (PROTOCOL §4): share, Wilson interval, 1–5 score, response rate. */
export function rowOf(key: string, label: string, s: Counts, scoring: ScoringSettings): ScoreRow {
  const total = s.satisfied + s.dissatisfied;
  const w = wilson(s.satisfied, total);
  return {
    key, label, satisfied: s.satisfied, dissatisfied: s.dissatisfied, total,
    share: total ? round4(s.satisfied / total) : null,
    wilson: w ? [round4(w[0]), round4(w[1])] : null,
    score: score(s.satisfied, total, scoring),
    // null, not 0, where no counter reported: "no data" is not "nobody came".
    visitors: s.visitors > 0 ? s.visitors : null,
    responseRate: s.visitors > 0 ? round4(total / s.visitors) : null,
    flagged: s.flagged,
  };
}

export async function scores(store: Store, orgId: string, scoring: ScoringSettings, q: ScoreQuery): Promise<{ rows: ScoreRow[] }> {
  if (q.from > q.to) throw invalidField('from', 'from must not be after to');
  const byDim = (['location', 'touchpoint', 'employee', 'device'] as const).find((d) => d === q.by);
  const needed = new Set<Dim>();
  if (byDim) needed.add(byDim);
  if (q.locationId || q.onlyLocations) needed.add('location');
  if (q.touchpointId) needed.add('touchpoint');
  if (q.employeeId) needed.add('employee');
  const cube = cubeFor(needed);
  if (q.onlyLocations && q.onlyLocations.length === 0) return { rows: [] };

  const keyExpr = byDim ? sql.ref(DIM_COLUMN[byDim])
    : q.by === 'hour' ? sql<string>`substr(bucket, 12, 2)`
    : q.by === 'day' || q.by === 'weekday' || q.by === 'weekdayhour' ? sql.ref('bucket')
    : sql<string>`'total'`;

  const sums = new Map<string, Sums>();
  for (const seg of planSegments(q.from, q.to, q.by)) {
    let query = (store.db as Kysely<DB>).selectFrom('rollups')
      .select([
        keyExpr.as('k'),
        sql<number>`sum(satisfied)`.as('satisfied'), sql<number>`sum(dissatisfied)`.as('dissatisfied'),
        sql<number>`sum(flagged)`.as('flagged'), sql<number>`sum(visitors)`.as('visitors'),
      ])
      .where('org_id', '=', orgId).where('cube', '=', cube.name).where('grain', '=', seg.grain)
      .where('bucket', '>=', seg.from).where('bucket', '<=', seg.to);
    if (q.locationId) query = query.where('location_id', '=', q.locationId);
    if (q.onlyLocations) query = query.where('location_id', 'in', q.onlyLocations);
    if (q.touchpointId) query = query.where('touchpoint_id', '=', q.touchpointId);
    if (q.employeeId) query = query.where('employee_id', '=', q.employeeId);
    const rows = await query.groupBy(sql.raw('1')).execute();
    for (const r of rows) {
      // weekdayhour: the local weekday and hour of an hour bucket 'YYYY-MM-DDTHH', as 'mon-13'.
      const k = q.by === 'weekday' ? weekdayOf(String(r.k))
        : q.by === 'weekdayhour' ? `${weekdayOf(String(r.k).slice(0, 10))}-${String(r.k).slice(11, 13)}` : String(r.k);
      const acc = sums.get(k) ?? (sums.set(k, { k, satisfied: 0, dissatisfied: 0, flagged: 0, visitors: 0 }), sums.get(k)!);
      acc.satisfied += Number(r.satisfied);
      acc.dissatisfied += Number(r.dissatisfied);
      acc.flagged += Number(r.flagged);
      acc.visitors += Number(r.visitors);
    }
  }

  const labels = byDim ? await labelsFor(store, byDim, [...sums.keys()]) : null;
  const out: ScoreRow[] = [...sums.values()].map((s) => rowOf(
    byDim && s.k === '' ? NONE_KEY : s.k,
    labels ? labels.get(s.k) ?? (s.k === '' ? '(none)' : s.k)
      : q.by === 'hour' ? `${s.k}:00` : q.by === 'weekday' ? WEEKDAY_LABEL[s.k]!
      : q.by === 'weekdayhour' ? `${WEEKDAY_LABEL[s.k.slice(0, 3)]!} ${s.k.slice(4)}:00` : q.by === 'total' ? 'Total' : s.k,
    s, scoring,
  ));
  const weekdayIndex = (k: string): number => WEEKDAYS.indexOf(k.slice(0, 3) as (typeof WEEKDAYS)[number]);
  const order = q.by === 'weekday' ? (r: ScoreRow) => String(weekdayIndex(r.key))
    : q.by === 'weekdayhour' ? (r: ScoreRow) => `${weekdayIndex(r.key)}-${r.key.slice(4)}`
    : byDim ? (r: ScoreRow) => r.label.toLowerCase() : (r: ScoreRow) => r.key;
  out.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
  return { rows: out };
}

async function labelsFor(store: Store, dim: Dim, ids: string[]): Promise<Map<string, string>> {
  const real = ids.filter((i) => i !== '');
  const m = new Map<string, string>();
  if (!real.length) return m;
  const table = ({ location: 'locations', touchpoint: 'touchpoints', employee: 'employees', device: 'devices' } as const)[dim];
  const rows = await store.db.selectFrom(table).select(['id', 'name']).where('id', 'in', real).execute();
  for (const r of rows) m.set(r.id, r.name ?? r.id);
  return m;
}
