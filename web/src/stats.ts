// The statistics the dashboard shows, computed from counts. Pure (no DOM), so node tests check it
// against independently computed values (test/dashboard-stats.test.ts). The server's figures use
// the same formulas (src/domain/wilson.ts); the dashboard recomputes them when it adds live votes
// or sums several locations' local days. The interval and the score are the server's own code.
import { wilson, score as domainScore, Z95, type ScoringSettings } from '../../src/domain/wilson.ts';
export { wilson, Z95 };

export type Counts = { satisfied: number; dissatisfied: number; flagged: number; visitors: number };
export type Scoring = { minSample: number; thresholds: number[] };
export type Score = 1 | 2 | 3 | 4 | 5;

export const ZERO: Counts = { satisfied: 0, dissatisfied: 0, flagged: 0, visitors: 0 };
/** Significance level of the period-vs-period test. */
export const ALPHA = 0.05;

export const total = (c: Counts): number => c.satisfied + c.dissatisfied;
export const add = (a: Counts, b: Counts): Counts => ({
  satisfied: a.satisfied + b.satisfied, dissatisfied: a.dissatisfied + b.dissatisfied, flagged: a.flagged + b.flagged, visitors: a.visitors + b.visitors,
});
export const sum = (list: Iterable<Counts>): Counts => {
  let c = ZERO;
  for (const x of list) c = add(c, x);
  return c;
};
/** Counts from a scores row (PROTOCOL §4); visitors null = no counter reported. */
export const countsOf = (r: { satisfied: number; dissatisfied: number; flagged: number; visitors: number | null } | undefined): Counts =>
  r ? { satisfied: r.satisfied, dissatisfied: r.dissatisfied, flagged: r.flagged, visitors: r.visitors ?? 0 } : ZERO;

export const share = (c: Counts): number | null => (total(c) ? c.satisfied / total(c) : null);
export const responseRate = (c: Counts): number | null => (c.visitors > 0 ? total(c) / c.visitors : null);

/** The automatic 1–5 score: the share against the org's four thresholds; null below the minimum sample. */
export function score(c: Counts, s: Scoring): Score | null {
  return domainScore(c.satisfied, total(c), s as ScoringSettings);
}

/** Standard normal cumulative distribution (Abramowitz & Stegun 26.2.17 via erfc 7.1.26; |error| < 1.5e-7). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-z * z);
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}

export type Comparison = {
  /** share now − share before, in proportion units (0.03 = +3 percentage points). */
  diff: number;
  z: number;
  /** two-sided p-value */
  p: number;
  /** p < ALPHA: the change is unlikely to be chance alone. */
  significant: boolean;
};

/**
 * Two-proportion z-test, pooled: z = (p1 − p2) / √(p̂(1 − p̂)(1/n1 + 1/n2)) with p̂ = (k1 + k2)/(n1 + n2),
 * two-sided p = 2(1 − Φ(|z|)). null when either period has no votes. With all votes on one
 * button in both periods there is no variance: z = 0, p = 1.
 */
export function compare(now: Counts, before: Counts): Comparison | null {
  const n1 = total(now);
  const n2 = total(before);
  if (!n1 || !n2) return null;
  const p1 = now.satisfied / n1;
  const p2 = before.satisfied / n2;
  const pooled = (now.satisfied + before.satisfied) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  const z = se > 0 ? (p1 - p2) / se : 0;
  const p = se > 0 ? Math.min(1, 2 * (1 - normalCdf(Math.abs(z)))) : 1;
  return { diff: p1 - p2, z, p, significant: p < ALPHA };
}

// ---- Local dates (YYYY-MM-DD strings, calendar arithmetic in UTC so no zone can shift them)

export const addDays = (day: string, n: number): string => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
/** Monday of the ISO week holding `day`. */
export const weekStart = (day: string): string => addDays(day, -((new Date(`${day}T00:00:00Z`).getUTCDay() + 6) % 7));
export const monthStart = (day: string): string => `${day.slice(0, 7)}-01`;
export const addMonths = (day: string, n: number): string => {
  const d = new Date(`${day.slice(0, 7)}-01T00:00:00Z`);
  d.setUTCMonth(d.getUTCMonth() + n);
  return d.toISOString().slice(0, 10);
};

export type Granularity = 'day' | 'week' | 'month';
export type Bucket = { key: string; counts: Counts };

/** The range a time series covers, ending on `today`: 1 … `days` days, 26 weeks or 12 months, whole weeks and months. */
export function seriesRange(g: Granularity, today: string, days: number): { from: string; to: string } {
  if (g === 'day') return { from: addDays(today, -(days - 1)), to: today };
  if (g === 'week') return { from: addDays(weekStart(today), -7 * 25), to: today };
  return { from: addMonths(monthStart(today), -11), to: today };
}

/** Groups day rows into day, week (Monday first) or month buckets, with empty buckets filled in. */
export function bucketize(rows: Array<{ key: string } & Counts>, g: Granularity, from: string, to: string): Bucket[] {
  const keyOf = g === 'day' ? (d: string) => d : g === 'week' ? weekStart : monthStart;
  const out = new Map<string, Counts>();
  for (let d = keyOf(from); d <= to; d = g === 'month' ? addMonths(d, 1) : addDays(d, g === 'week' ? 7 : 1)) out.set(d, ZERO);
  for (const r of rows) {
    const k = keyOf(r.key);
    out.set(k, add(out.get(k) ?? ZERO, r));
  }
  return [...out.entries()].map(([key, counts]) => ({ key, counts }));
}
