// A tiny seeded PRNG so the demo is the same on every machine and every run.

export type Rng = () => number;

/** mulberry32: 32-bit state, uniform in [0, 1). Good enough for demo data, not for secrets. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A Poisson-distributed count with mean `lambda` (Knuth for small means, normal approximation above). */
export function poisson(rng: Rng, lambda: number): number {
  if (lambda <= 0) return 0;
  if (lambda > 40) {
    const u = Math.max(rng(), 1e-12);
    const g = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
    return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * g));
  }
  const limit = Math.exp(-lambda);
  let k = 0;
  let p = rng();
  while (p > limit) {
    k++;
    p *= rng();
  }
  return k;
}

/** Picks an item with probability proportional to its weight. */
export function pickWeighted<T>(rng: Rng, items: readonly T[], weight: (t: T) => number): T {
  let total = 0;
  for (const i of items) total += weight(i);
  let r = rng() * total;
  for (const i of items) {
    r -= weight(i);
    if (r < 0) return i;
  }
  const last = items[items.length - 1];
  if (last === undefined) throw new Error('pickWeighted: no items');
  return last;
}
