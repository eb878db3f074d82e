// The dissatisfaction-spike test (README "Alerts"). Pure: no I/O, no clock; the evaluator feeds it
// a location's recent presses and its baseline, tests check it against exact values and simulations.
//
// The test. For each dissatisfied press at time t in the evaluated stretch and each window length
// w in SPIKE.windowsMinutes, take the presses in (t − w, t]: n of them, k dissatisfied. Under "no
// spike", K ~ Binomial(n, p0) with p0 the location's baseline dissatisfied share for the weekday ×
// hour of t. Alarm when n ≥ minVotes and the exact one-sided tail P(K ≥ k | n, p0) < alpha.
//
// The false-alarm rate. An alarm can only begin at a dissatisfied press, so the tests run per
// open week are (dissatisfied presses per week) × (number of window lengths). With
// alpha = falseAlarmsPerWeek / that number (Bonferroni), the expected number of false alarms
// per location per open week is at most falseAlarmsPerWeek (a rule's params.falseAlarmsPerWeek,
// default SPIKE.falseAlarmsPerOpenWeek = 0.25: one in four weeks), for any traffic level; the discreteness of the binomial makes the real rate lower still
// (test/spike.test.ts measures it, BENCHMARKS.md "Alerts: spike test" records it).

export const SPIKE = {
  /** Default upper bound of false alarms per location per open week (one per four weeks); a rule may set its own. */
  falseAlarmsPerOpenWeek: 0.25,
  /** The bounds a rule's params.falseAlarmsPerWeek must lie in (one per 20 weeks … one per open day). */
  minFalseAlarmsPerWeek: 0.05,
  maxFalseAlarmsPerWeek: 7,
  /** Sliding windows tested at each dissatisfied press. */
  windowsMinutes: [15, 30, 60] as readonly number[],
  /** No alarm on fewer presses than this in the window. */
  minVotes: 4,
  /** Baseline: the last this many weeks of the same weekday × hour. */
  baselineWeeks: 8,
  /** Shrinkage: a weekday × hour cell counts as if it had this many more presses at the location's overall rate. */
  priorVotes: 20,
  /** p0 is the shrunk estimate plus this many standard errors (a one-sided 84 % upper bound at 1). */
  baselineZ: 1,
  /** p0 never below this: a location with almost no complaints would otherwise alarm on two. */
  minP0: 0.02,
  /** alpha never above this at the default budget, even with very little traffic (scaled with a rule's budget, to at most 5×). */
  maxAlpha: 0.01,
  /** An open spike alert closes itself after this long without a significant window. */
  recoverMinutes: 60,
} as const;

// ---- Exact binomial tail in log space

const LOG_FACT: number[] = [0];
function logFactorial(n: number): number {
  for (let i = LOG_FACT.length; i <= n; i++) LOG_FACT[i] = LOG_FACT[i - 1]! + Math.log(i);
  return LOG_FACT[n]!;
}

/** log P(X = i) for X ~ Binomial(n, p). */
function logPmf(i: number, n: number, p: number): number {
  return logFactorial(n) - logFactorial(i) - logFactorial(n - i) + i * Math.log(p) + (n - i) * Math.log1p(-p);
}

/** P(X ≥ k) for X ~ Binomial(n, p), summed exactly term by term in log space (log-sum-exp). */
export function binomialTail(k: number, n: number, p: number): number {
  if (!Number.isInteger(k) || !Number.isInteger(n) || n < 0) throw new RangeError('binomialTail: k and n must be integers, n ≥ 0');
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  let max = -Infinity;
  const logs: number[] = [];
  for (let i = k; i <= n; i++) {
    const l = logPmf(i, n, p);
    logs.push(l);
    if (l > max) max = l;
  }
  let sum = 0;
  for (const l of logs) sum += Math.exp(l - max);
  return Math.min(1, Math.exp(max + Math.log(sum)));
}

// ---- Baseline and alpha

/** A weekday × hour cell's dissatisfied share, shrunk toward the location's overall share when the cell is thin. */
export function baselineP0(cell: { black: number; total: number }, overall: { black: number; total: number }): number {
  const rate = overall.total > 0 ? overall.black / overall.total : 0.2;
  const m = cell.total + SPIKE.priorVotes;
  const p = (cell.black + SPIKE.priorVotes * rate) / m;
  // The upper end of a one-sided interval (z = baselineZ) of that estimate: a baseline that came
  // out low by chance would otherwise multiply the false alarms (the tail is steep in p0).
  const upper = p + SPIKE.baselineZ * Math.sqrt((p * (1 - p)) / m);
  return Math.min(0.99, Math.max(SPIKE.minP0, upper));
}

/**
 * The per-test significance level for a location with this many dissatisfied presses per open
 * week, spending `falseAlarmsPerWeek` (expected false alarms per location per open week) over them.
 * The cap (maxAlpha at the default budget) scales with the budget so a quiet location gets the same
 * share of a larger budget as a busy one; it only ever lowers alpha, so the bound holds.
 */
export function spikeAlpha(blackPerWeek: number, falseAlarmsPerWeek: number = SPIKE.falseAlarmsPerOpenWeek): number {
  const cap = Math.min(5 * SPIKE.maxAlpha, SPIKE.maxAlpha * (falseAlarmsPerWeek / SPIKE.falseAlarmsPerOpenWeek));
  return Math.min(cap, falseAlarmsPerWeek / (Math.max(1, blackPerWeek) * SPIKE.windowsMinutes.length));
}

// ---- The test

export type Press = { ts: number; dissatisfied: boolean };
export type SpikeResult = { alarm: boolean; at: number; windowMinutes: number; n: number; k: number; p0: number; pValue: number } | null;

/**
 * The most significant window ending at a dissatisfied press in (from, to], or null when no such
 * press had enough presses around it. `presses` sorted by ts and covering at least
 * (from − longest window, to]; `p0At(ts)` the baseline for the weekday × hour of ts.
 */
export function spikeTest(presses: readonly Press[], p0At: (ts: number) => number, alpha: number, from: number, to: number): SpikeResult {
  let best: SpikeResult = null;
  let lo = 0;
  for (let j = 0; j < presses.length; j++) {
    const end = presses[j]!;
    if (end.ts > to) break;
    if (end.ts <= from || !end.dissatisfied) continue;
    const p0 = p0At(end.ts);
    for (const w of SPIKE.windowsMinutes) {
      const start = end.ts - w * 60_000;
      while (lo < j && presses[lo]!.ts <= start - 60 * 60_000) lo++; // coarse skip; the exact bound is checked below
      let n = 0, k = 0;
      // Every press at or before `end` in the window, including presses sharing end's ts after it.
      for (let i = lo; i < presses.length && presses[i]!.ts <= end.ts; i++) {
        const q = presses[i]!;
        if (q.ts <= start) continue;
        n++;
        if (q.dissatisfied) k++;
      }
      if (n < SPIKE.minVotes) continue;
      const pValue = binomialTail(k, n, p0);
      if (!best || pValue < best.pValue) best = { alarm: pValue < alpha, at: end.ts, windowMinutes: w, n, k, p0, pValue };
    }
  }
  return best;
}
