// The statistics behind a score. Kept free of any I/O so tests check them against independently
// computed values.

/** z for a two-sided 95 % interval, as PROTOCOL.md §4 fixes it. */
export const Z95 = 1.959963984540054;

/** Wilson score interval of k successes in n trials; null when n = 0. */
export function wilson(k: number, n: number, z = Z95): [number, number] | null {
  if (n <= 0) return null;
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  // At k = 0 or k = n the end is exactly 0 or 1; the closed form leaves rounding noise there.
  return [k === 0 ? 0 : Math.max(0, centre - half), k === n ? 1 : Math.min(1, centre + half)];
}

export type ScoringSettings = {
  /** Below this many counted votes a row's score is null: too few to judge. */
  minSample: number;
  /** Lowest share of satisfied votes that earns 2, 3, 4 and 5; below the first the score is 1. */
  thresholds: [number, number, number, number];
};

// Defaults: a panel service is "excellent" at 90 % satisfied; under half satisfied is a failure.
export const DEFAULT_SCORING: ScoringSettings = { minSample: 10, thresholds: [0.5, 0.65, 0.8, 0.9] };

/** The automatic 1–5 score of a share; null below the minimum sample. */
export function score(satisfied: number, total: number, s: ScoringSettings = DEFAULT_SCORING): 1 | 2 | 3 | 4 | 5 | null {
  if (total < s.minSample || total === 0) return null;
  const share = satisfied / total;
  let result: 1 | 2 | 3 | 4 | 5 = 1;
  s.thresholds.forEach((t, i) => {
    if (share >= t) result = (i + 2) as 2 | 3 | 4 | 5;
  });
  return result;
}

/** Rounds for the wire: four decimals, as in the protocol's example. */
export const round4 = (x: number): number => Math.round(x * 10_000) / 10_000;
