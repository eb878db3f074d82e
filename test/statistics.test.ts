// Wilson intervals and 1–5 scores against independently obtained values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wilson, score, Z95, DEFAULT_SCORING } from '../src/domain/wilson.ts';

/**
 * The Wilson interval is the set of p for which |p̂ − p| ≤ z·sqrt(p(1−p)/n). Find its ends by
 * bisection on that inequality — a different method from the closed form under test.
 */
function wilsonByBisection(k: number, n: number, z: number): [number, number] {
  const phat = k / n;
  const inside = (p: number): boolean => Math.abs(phat - p) <= z * Math.sqrt((p * (1 - p)) / n);
  const edge = (lo: number, hi: number): number => { // lo inside, hi outside (or vice versa)
    const loIn = inside(lo);
    for (let i = 0; i < 200; i++) {
      const mid = (lo + hi) / 2;
      if (inside(mid) === loIn) lo = mid; else hi = mid;
    }
    return (lo + hi) / 2;
  };
  const lower = phat === 0 ? 0 : edge(phat, 0);
  const upper = phat === 1 ? 1 : edge(phat, 1);
  return [lower, upper];
}

test('Wilson interval matches the worked example of PROTOCOL.md (41 of 50)', () => {
  const [lo, hi] = wilson(41, 50)!;
  assert.equal(Math.round(lo * 1e4) / 1e4, 0.692);
  assert.equal(Math.round(hi * 1e4) / 1e4, 0.9023);
});

test('Wilson interval matches bisection on its defining inequality', () => {
  for (const [k, n] of [[0, 1], [1, 1], [0, 10], [10, 10], [3, 7], [14, 600], [586, 600], [500, 1000], [1, 3], [9999, 10000]] as const) {
    const [lo, hi] = wilson(k, n)!;
    const [elo, ehi] = wilsonByBisection(k, n, Z95);
    assert.ok(Math.abs(lo - elo) < 1e-9, `${k}/${n} lower ${lo} vs ${elo}`);
    assert.ok(Math.abs(hi - ehi) < 1e-9, `${k}/${n} upper ${hi} vs ${ehi}`);
    assert.ok(lo <= k / n && k / n <= hi, 'the share lies inside its interval');
  }
});

test('Wilson interval of well-known small samples', () => {
  // 0 of 10 and 10 of 10: the textbook "rule of three"-like bound is 0.2775 / 0.7225 at 95 %.
  assert.deepEqual(wilson(0, 10)!.map((x) => Math.round(x * 1e4) / 1e4), [0, 0.2775]);
  assert.deepEqual(wilson(10, 10)!.map((x) => Math.round(x * 1e4) / 1e4), [0.7225, 1]);
  assert.equal(wilson(0, 0), null);
});

test('score follows the documented default thresholds and the minimum sample', () => {
  assert.deepEqual(DEFAULT_SCORING, { minSample: 10, thresholds: [0.5, 0.65, 0.8, 0.9] });
  assert.equal(score(9, 9), null, 'below the minimum sample of 10');
  assert.equal(score(9, 10), 5, '90 % is the lowest 5');
  assert.equal(score(89, 100), 4);
  assert.equal(score(80, 100), 4);
  assert.equal(score(79, 100), 3);
  assert.equal(score(65, 100), 3);
  assert.equal(score(64, 100), 2);
  assert.equal(score(50, 100), 2);
  assert.equal(score(49, 100), 1);
  assert.equal(score(0, 100), 1);
  assert.equal(score(3, 4, { minSample: 4, thresholds: [0.2, 0.4, 0.6, 0.8] }), 4, 'custom thresholds: 75 % ≥ 0.6 (the lowest 4), < 0.8');
  assert.equal(score(3, 4, { minSample: 5, thresholds: [0.2, 0.4, 0.6, 0.8] }), null);
});
