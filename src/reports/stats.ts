// Statistics of a change between two periods, free of I/O.

/** Standard normal CDF, via erf (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7). */
export function normalCdf(x: number): number {
  const t = 1 / (1 + 0.3275911 * (Math.abs(x) / Math.SQRT2));
  const y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(x * x) / 2);
  return x >= 0 ? (1 + y) / 2 : (1 - y) / 2;
}

export type Change = {
  /** share now − share before, in proportion points (0.05 = five percentage points). */
  diff: number;
  /** Pooled two-proportion z statistic. */
  z: number;
  /** Two-sided p-value of "the share did not change". */
  p: number;
  /** p < 0.05. */
  significant: boolean;
};

/**
 * Two-proportion z-test of k1/n1 (now) against k2/n2 (before), pooled variance.
 * null when either side has no votes or every vote is the same button on both sides (no variance).
 */
export function twoProportionTest(k1: number, n1: number, k2: number, n2: number): Change | null {
  if (n1 <= 0 || n2 <= 0) return null;
  const p1 = k1 / n1;
  const p2 = k2 / n2;
  const pooled = (k1 + k2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (se === 0) return null;
  const z = (p1 - p2) / se;
  const p = Math.min(1, 2 * (1 - normalCdf(Math.abs(z))));
  return { diff: p1 - p2, z, p, significant: p < 0.05 };
}
