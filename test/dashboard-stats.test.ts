// The dashboard's statistics (web/src/stats.ts) against independently known values: the Wilson
// interval against the server's implementation, the two-proportion z-test against textbook
// figures, and the weekly / monthly buckets of the time series.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addMonths, bucketize, compare, normalCdf, score, seriesRange, weekStart, wilson, ZERO } from '../web/src/stats.ts';
import { wilson as serverWilson, score as serverScore, DEFAULT_SCORING } from '../src/domain/wilson.ts';

describe('dashboard statistics', () => {
  it('computes the same Wilson interval and score as the server', () => {
    for (const [k, n] of [[0, 1], [1, 1], [41, 50], [9, 10], [500, 1000], [3, 7], [0, 40], [40, 40]] as const) {
      assert.deepEqual(wilson(k, n), serverWilson(k, n), `${k}/${n}`);
      const c = { ...ZERO, satisfied: k, dissatisfied: n - k };
      assert.equal(score(c, DEFAULT_SCORING), serverScore(k, n, DEFAULT_SCORING), `${k}/${n}`);
    }
    assert.equal(wilson(0, 0), null);
  });

  it('has a normal CDF accurate to 1e-7', () => {
    // Φ values from standard tables.
    for (const [x, p] of [[0, 0.5], [1, 0.8413447461], [1.959963985, 0.975], [-1.644853627, 0.05], [2.575829304, 0.995], [-3, 0.0013498980]] as const) {
      assert.ok(Math.abs(normalCdf(x) - p) < 2e-7, `Φ(${x}) = ${normalCdf(x)}, want ${p}`);
    }
  });

  it('runs the two-proportion z-test (pooled, two-sided)', () => {
    // 90/100 vs 80/100: p̂ = 0.85, se = √(0.85·0.15·0.02) = 0.0504975, z = 1.98030, p = 0.04768.
    const a = compare({ ...ZERO, satisfied: 90, dissatisfied: 10 }, { ...ZERO, satisfied: 80, dissatisfied: 20 })!;
    assert.ok(Math.abs(a.diff - 0.1) < 1e-12);
    assert.ok(Math.abs(a.z - 1.980295) < 1e-5, `z ${a.z}`);
    assert.ok(Math.abs(a.p - 0.047676) < 1e-5, `p ${a.p}`);
    assert.equal(a.significant, true);
    // A small change on small samples is not significant.
    const b = compare({ ...ZERO, satisfied: 18, dissatisfied: 2 }, { ...ZERO, satisfied: 16, dissatisfied: 4 })!;
    assert.equal(b.significant, false);
    assert.ok(b.p > 0.3);
    // Symmetric, and degenerate cases are defined.
    const c = compare({ ...ZERO, satisfied: 80, dissatisfied: 20 }, { ...ZERO, satisfied: 90, dissatisfied: 10 })!;
    assert.ok(Math.abs(c.z + a.z) < 1e-12 && Math.abs(c.p - a.p) < 1e-12);
    assert.deepEqual(compare({ ...ZERO, satisfied: 5 }, { ...ZERO, satisfied: 9 }), { diff: 0, z: 0, p: 1, significant: false });
    assert.equal(compare(ZERO, { ...ZERO, satisfied: 1 }), null);
  });

  it('buckets local days into ISO weeks and months, filling gaps', () => {
    assert.equal(weekStart('2026-11-22'), '2026-11-16'); // a Sunday belongs to the week of Monday the 16th
    assert.equal(weekStart('2026-11-16'), '2026-11-16');
    assert.equal(addMonths('2026-01-31', 1), '2026-02-01');
    assert.deepEqual(seriesRange('week', '2026-11-20', 30), { from: '2026-05-25', to: '2026-11-20' });
    assert.deepEqual(seriesRange('month', '2026-11-20', 30), { from: '2025-12-01', to: '2026-11-20' });
    const day = (key: string, satisfied: number, dissatisfied: number) => ({ key, ...ZERO, satisfied, dissatisfied });
    const weeks = bucketize([day('2026-11-02', 1, 0), day('2026-11-08', 2, 1), day('2026-11-20', 5, 5)], 'week', '2026-11-02', '2026-11-20');
    assert.deepEqual(weeks.map((w) => [w.key, w.counts.satisfied, w.counts.dissatisfied]), [['2026-11-02', 3, 1], ['2026-11-09', 0, 0], ['2026-11-16', 5, 5]]);
    const months = bucketize([day('2026-10-31', 1, 0), day('2026-11-01', 0, 1)], 'month', '2026-09-01', '2026-11-20');
    assert.deepEqual(months.map((m) => [m.key, m.counts.satisfied, m.counts.dissatisfied]), [['2026-09-01', 0, 0], ['2026-10-01', 1, 0], ['2026-11-01', 0, 1]]);
  });
});
