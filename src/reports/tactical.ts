// The tactical report (issue 5): for a period and a set of locations — rankings of locations,
// touchpoints and employees with their Wilson intervals and 1–5 scores, each compared with the
// previous period of the same length and with the same dates a year before, each by a two-proportion
// z-test, and the trend by day/week/month.
// Answered from the rollups through scores(), like every other figure.
import type { Store } from '../store/db.ts';
import { addDays, weekdayOf } from '../domain/time.ts';
import { WEEKDAYS } from '../domain/types.ts';
import { round4, type ScoringSettings } from '../domain/wilson.ts';
import { invalidField } from '../domain/errors.ts';
import { rowOf, scores, type Counts, type ScoreRow } from '../scores/scores.ts';
import { twoProportionTest, type Change } from './stats.ts';

export const TREND_GRAINS = ['day', 'week', 'month'] as const;
export type TrendGrain = (typeof TREND_GRAINS)[number];

export type Previous = { satisfied: number; dissatisfied: number; total: number; share: number | null };
export type ReportRow = ScoreRow & {
  previous: Previous | null; change: Change | null;
  /** The same dates a year before. */
  lastYear: Previous | null; changeVsLastYear: Change | null;
};

export type TacticalQuery = {
  from: string; to: string; trend: TrendGrain;
  locationId?: string | undefined;
  onlyLocations?: string[] | null | undefined;
};

export type TacticalReport = {
  period: { from: string; to: string };
  previousPeriod: { from: string; to: string };
  lastYearPeriod: { from: string; to: string };
  trendGrain: TrendGrain;
  total: ReportRow;
  locations: ReportRow[];
  touchpoints: ReportRow[];
  employees: ReportRow[];
  trend: ScoreRow[];
};

const days = (from: string, to: string): number => Math.round((Date.parse(to) - Date.parse(from)) / 86_400_000) + 1;

/** The period of the same length that ends the day before `from`. */
export function previousPeriod(from: string, to: string): { from: string; to: string } {
  return { from: addDays(from, -days(from, to)), to: addDays(from, -1) };
}

/** The same dates one year earlier (29 February becomes 28 February). */
export function lastYearPeriod(from: string, to: string): { from: string; to: string } {
  const back = (d: string): string => {
    const y = `${Number(d.slice(0, 4)) - 1}${d.slice(4)}`;
    return d.slice(5) === '02-29' ? `${y.slice(0, 4)}-02-28` : y;
  };
  return { from: back(from), to: back(to) };
}

type Sums = Counts;

function against(r: ScoreRow, p: ScoreRow | undefined): [Previous | null, Change | null] {
  if (!p) return [null, null];
  const c = twoProportionTest(r.satisfied, r.total, p.satisfied, p.total);
  return [{ satisfied: p.satisfied, dissatisfied: p.dissatisfied, total: p.total, share: p.share },
    c ? { diff: round4(c.diff), z: round4(c.z), p: round4(c.p), significant: c.significant } : null];
}

function compare(now: ScoreRow[], before: ScoreRow[], yearBefore: ScoreRow[]): ReportRow[] {
  const prev = new Map(before.map((r) => [r.key, r]));
  const ly = new Map(yearBefore.map((r) => [r.key, r]));
  const out = now.map((r): ReportRow => {
    const [previous, change] = against(r, prev.get(r.key));
    const [lastYear, changeVsLastYear] = against(r, ly.get(r.key));
    return { ...r, previous, change, lastYear, changeVsLastYear };
  });
  // A ranking: best first by the lower end of the interval (a small sample cannot top the list on luck).
  return out.sort((a, b) => (b.wilson?.[0] ?? -1) - (a.wilson?.[0] ?? -1) || a.label.localeCompare(b.label));
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** The bucket of a local day for a trend grain: the day, the Monday of its week, or its month. */
export function trendKey(day: string, grain: TrendGrain): { key: string; label: string } {
  if (grain === 'day') return { key: day, label: day };
  if (grain === 'month') return { key: day.slice(0, 7), label: `${MONTHS[Number(day.slice(5, 7)) - 1]!} ${day.slice(0, 4)}` };
  const monday = addDays(day, -WEEKDAYS.indexOf(weekdayOf(day)));
  return { key: monday, label: `Week of ${monday}` };
}

export async function tacticalReport(store: Store, orgId: string, scoring: ScoringSettings, q: TacticalQuery): Promise<TacticalReport> {
  if (q.from > q.to) throw invalidField('from', 'from must not be after to');
  const prev = previousPeriod(q.from, q.to);
  const base = { locationId: q.locationId, onlyLocations: q.onlyLocations };
  const get = async (from: string, to: string, by: 'location' | 'touchpoint' | 'employee' | 'total' | 'day'): Promise<ScoreRow[]> =>
    (await scores(store, orgId, scoring, { ...base, from, to, by })).rows;
  const ly = lastYearPeriod(q.from, q.to);
  const [tNow, tPrev, tLy, lNow, lPrev, lLy, pNow, pPrev, pLy, eNow, ePrev, eLy, daily] = await Promise.all([
    get(q.from, q.to, 'total'), get(prev.from, prev.to, 'total'), get(ly.from, ly.to, 'total'),
    get(q.from, q.to, 'location'), get(prev.from, prev.to, 'location'), get(ly.from, ly.to, 'location'),
    get(q.from, q.to, 'touchpoint'), get(prev.from, prev.to, 'touchpoint'), get(ly.from, ly.to, 'touchpoint'),
    get(q.from, q.to, 'employee'), get(prev.from, prev.to, 'employee'), get(ly.from, ly.to, 'employee'),
    get(q.from, q.to, 'day'),
  ]);
  const empty = rowOf('total', 'Total', { satisfied: 0, dissatisfied: 0, flagged: 0, visitors: 0 }, scoring);
  const total = compare(tNow.length ? tNow : [empty], tPrev, tLy)[0]!;

  const buckets = new Map<string, { label: string; s: Sums }>();
  for (const r of daily) {
    const { key, label } = trendKey(r.key, q.trend);
    const b = buckets.get(key) ?? (buckets.set(key, { label, s: { satisfied: 0, dissatisfied: 0, flagged: 0, visitors: 0 } }), buckets.get(key)!);
    b.s.satisfied += r.satisfied; b.s.dissatisfied += r.dissatisfied; b.s.flagged += r.flagged; b.s.visitors += r.visitors ?? 0;
  }
  const trend = [...buckets.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, b]) => rowOf(k, b.label, b.s, scoring));
  return {
    period: { from: q.from, to: q.to }, previousPeriod: prev, lastYearPeriod: ly, trendGrain: q.trend,
    total, locations: compare(lNow, lPrev, lLy), touchpoints: compare(pNow, pPrev, pLy), employees: compare(eNow, ePrev, eLy), trend,
  };
}
