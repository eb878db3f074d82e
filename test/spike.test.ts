// The spike test (src/alerts/spike.ts): the exact binomial tail against independently computed
// values, and the detector on simulated presses — its false-alarm rate on spike-free weeks against
// the documented bound at several budgets, its detection of injected spikes, and the market leader's
// default rule on the same data, telling its real catches (caused by the spike) from its noise. The figures printed here are those in BENCHMARKS.md "Alerts: spike test".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { binomialTail, baselineP0, spikeAlpha, spikeTest, SPIKE, type Press } from '../src/alerts/spike.ts';
import { mulberry32, poisson, type Rng } from '../src/demo/random.ts';
// ---- Simulated presses: locations with their own traffic and dissatisfied share per weekday ×
// hour, open 09:00–21:00 every day, seeded.

const HOUR = 3_600_000;
const WEEK = 7 * 24 * HOUR;
const MONDAY = Date.UTC(2026, 0, 5); // a Monday; the simulation's clock is UTC (zones do not matter to the test)

type SimLocation = { perHour: number[]; share: number[] }; // by weekday*24 + hour
const cellOf = (ts: number): number => Math.floor(((ts - MONDAY) % WEEK + WEEK) % WEEK / HOUR);

function makeLocation(rng: Rng): SimLocation {
  const traffic = 8 + rng() * 22; // 8–30 presses per open hour
  const base = 0.06 + rng() * 0.2; // 6–26 % dissatisfied
  const perHour: number[] = [], share: number[] = [];
  for (let c = 0; c < 168; c++) {
    const h = c % 24;
    const open = h >= 9 && h < 21;
    perHour.push(open ? traffic * (h >= 12 && h < 14 ? 1.5 : 1) * (0.8 + 0.4 * rng()) : 0);
    share.push(Math.min(0.9, base * (0.7 + 0.6 * rng())));
  }
  return { perHour, share };
}

/** A simulated press: `injected` marks a dissatisfied press the spike caused (it would have been satisfied without it). */
type SimPress = Press & { injected: boolean };

/**
 * Presses of week `w` (0 = the first), sorted; `spike` raises the dissatisfied share in
 * [start, start + minutes). One uniform draw per press decides both worlds (coupling): dissatisfied
 * when u < the share in force, injected when only the spike's share made it so (u ≥ the usual share).
 */
function simulateWeek(rng: Rng, loc: SimLocation, w: number, spike?: { start: number; minutes: number; share: number }): SimPress[] {
  const out: SimPress[] = [];
  for (let c = 0; c < 168; c++) {
    if (!loc.perHour[c]) continue;
    const t0 = MONDAY + w * WEEK + c * HOUR;
    const n = poisson(rng, loc.perHour[c]!);
    for (let i = 0; i < n; i++) {
      const ts = t0 + Math.floor(rng() * HOUR);
      const inSpike = spike && ts >= spike.start && ts < spike.start + spike.minutes * 60_000;
      const u = rng();
      const dissatisfied = u < (inSpike ? Math.max(spike.share, loc.share[c]!) : loc.share[c]!);
      out.push({ ts, dissatisfied, injected: dissatisfied && u >= loc.share[c]! });
    }
  }
  return out.sort((a, b) => a.ts - b.ts);
}

type Baseline = { p0At: (ts: number) => number; alpha: number; blackPerWeek: number; pressesPerWeek: number };
/** What the evaluator derives from the hour rollups: per-cell shrunk p0 and alpha from the dissatisfied presses per week. */
function baselineOf(history: Press[][]): Baseline {
  const cells = Array.from({ length: 168 }, () => ({ black: 0, total: 0 }));
  const overall = { black: 0, total: 0 };
  for (const week of history) for (const p of week) {
    const c = cells[cellOf(p.ts)]!;
    c.total++; overall.total++;
    if (p.dissatisfied) { c.black++; overall.black++; }
  }
  const p0 = cells.map((c) => baselineP0(c, overall));
  const blackPerWeek = overall.black / history.length;
  return { p0At: (ts) => p0[cellOf(ts)]!, alpha: spikeAlpha(blackPerWeek), blackPerWeek, pressesPerWeek: overall.total / history.length };
}

/**
 * Our test evaluated at every dissatisfied press (as the evaluator does): the press's time and the
 * smallest p-value of the windows ending there. It alarms at a budget when p < that budget's alpha,
 * so one pass serves every budget.
 */
function ourPValues(presses: Press[], b: Baseline): Array<{ ts: number; p: number }> {
  const longest = Math.max(...SPIKE.windowsMinutes) * 60_000;
  const out: Array<{ ts: number; p: number }> = [];
  let lo = 0;
  for (let j = 0; j < presses.length; j++) {
    const p = presses[j]!;
    if (!p.dissatisfied) continue;
    while (presses[lo]!.ts <= p.ts - longest) lo++;
    let hi = j;
    while (hi + 1 < presses.length && presses[hi + 1]!.ts === p.ts) hi++;
    const r = spikeTest(presses.slice(lo, hi + 1), b.p0At, 0, p.ts - 1, p.ts);
    if (r) out.push({ ts: p.ts, p: r.pValue });
  }
  return out;
}
const alarmsAt = (ps: Array<{ ts: number; p: number }>, alpha: number): number[] => ps.filter((x) => x.p < alpha).map((x) => x.ts);

// ---- Variants weighed against ours (README "Alerts"), each with its own Bonferroni count so the
// same budget bounds its false alarms: windows ending at every press (3 × presses per week tests),
// and a 120-minute window added (4 × dissatisfied presses per week).
const VARIANTS = {
  everyPress: { windows: [15, 30, 60], everyPress: true, tests: (b: Baseline) => 3 * b.pressesPerWeek },
  window120: { windows: [15, 30, 60, 120], everyPress: false, tests: (b: Baseline) => 4 * b.blackPerWeek },
} as const;
type Variant = keyof typeof VARIANTS;
const variantAlpha = (v: Variant, b: Baseline, budget: number): number =>
  Math.min(Math.min(5 * SPIKE.maxAlpha, SPIKE.maxAlpha * budget / SPIKE.falseAlarmsPerOpenWeek), budget / Math.max(1, VARIANTS[v].tests(b)));
/** The variant's smallest p-value at each press that ends its windows (the same exact binomial tail, n ≥ minVotes). */
function variantPValues(presses: Press[], b: Baseline, v: Variant): Array<{ ts: number; p: number }> {
  const { windows, everyPress } = VARIANTS[v];
  const out: Array<{ ts: number; p: number }> = [];
  const lo = windows.map(() => 0), k = windows.map(() => 0);
  for (let j = 0; j < presses.length; j++) {
    const t = presses[j]!.ts;
    let best = Infinity;
    windows.forEach((w, i) => {
      if (presses[j]!.dissatisfied) k[i]!++;
      while (presses[lo[i]!]!.ts <= t - w * 60_000) { if (presses[lo[i]!]!.dissatisfied) k[i]!--; lo[i]!++; }
      const n = j - lo[i]! + 1;
      if (n >= SPIKE.minVotes) best = Math.min(best, binomialTail(k[i]!, n, b.p0At(t)));
    });
    if ((everyPress || presses[j]!.dissatisfied) && best < Infinity) out.push({ ts: t, p: best });
  }
  return out;
}

/**
 * The market leader's default: ≥ 50 % unhappy among ≥ 4 responses within 15 minutes, checked at
 * every press; each alarm with whether the spike caused it (at least half of the window's
 * dissatisfied presses injected) — otherwise it is the rule's own noise that happened to coincide.
 */
function leaderAlarms(presses: SimPress[]): Array<{ ts: number; real: boolean }> {
  const alarms: Array<{ ts: number; real: boolean }> = [];
  let lo = 0, k = 0, inj = 0;
  for (let j = 0; j < presses.length; j++) {
    const p = presses[j]!;
    if (p.dissatisfied) k++;
    if (p.injected) inj++;
    while (presses[lo]!.ts <= p.ts - 15 * 60_000) { if (presses[lo]!.dissatisfied) k--; if (presses[lo]!.injected) inj--; lo++; }
    const n = j - lo + 1;
    if (n >= 4 && k / n >= 0.5) alarms.push({ ts: p.ts, real: inj * 2 >= k });
  }
  return alarms;
}

/** Alarms closer than the recovery time to the previous one belong to the same (deduplicated) alert. */
function episodes(alarms: number[]): number[] {
  const starts: number[] = [];
  let last = -Infinity;
  for (const a of alarms) {
    if (a - last > SPIKE.recoverMinutes * 60_000) starts.push(a);
    last = a;
  }
  return starts;
}


/** P(X ≥ k) as an exact rational with BigInt, for p = a/b: Σ C(n,i) aⁱ (b−a)ⁿ⁻ⁱ / bⁿ. */
function exactTail(k: number, n: number, a: bigint, b: bigint): number {
  let num = 0n;
  let c = 1n; // C(n, i)
  for (let i = 0; i <= n; i++) {
    if (i >= k) num += c * a ** BigInt(i) * (b - a) ** BigInt(n - i);
    c = (c * BigInt(n - i)) / BigInt(i + 1);
  }
  const den = b ** BigInt(n);
  if (num === 0n) return 0;
  // Scale so the quotient keeps 20 significant digits, however tiny the tail.
  const shift = Math.max(0, den.toString().length - num.toString().length + 20);
  return Number((num * 10n ** BigInt(shift)) / den) * 10 ** -shift;
}

test('binomialTail equals exact rational sums (BigInt) and textbook values', () => {
  assert.ok(Math.abs(binomialTail(8, 10, 0.5) - 56 / 1024) < 1e-14); // C(10,8)+C(10,9)+C(10,10) = 45+10+1
  assert.equal(binomialTail(0, 10, 0.3), 1);
  assert.equal(binomialTail(11, 10, 0.3), 0);
  assert.ok(Math.abs(binomialTail(1, 5, 0.1) - (1 - 0.9 ** 5)) < 1e-15);
  for (const [n, a, b] of [[4, 1n, 2n], [10, 3n, 20n], [25, 1n, 10n], [60, 7n, 100n], [200, 1n, 50n]] as const) {
    for (let k = 0; k <= n; k += Math.max(1, Math.floor(n / 12))) {
      const want = exactTail(k, n, a, b);
      const got = binomialTail(k, n, Number(a) / Number(b));
      const tol = Math.max(1e-300, want * 1e-10);
      assert.ok(Math.abs(got - want) <= tol, `P(X≥${k} | n=${n}, p=${a}/${b}) = ${got}, exact ${want}`);
    }
  }
  // Tails far below double-precision epsilon stay accurate in log space.
  const tiny = binomialTail(180, 200, 0.1);
  assert.ok(Math.abs(tiny - exactTail(180, 200, 1n, 10n)) <= exactTail(180, 200, 1n, 10n) * 1e-9, `tiny tail ${tiny}`);
});

test('baseline p0 shrinks a thin cell toward the location and alpha spreads the budget over the tests of a week', () => {
  // An empty cell takes the location's rate (plus its standard error at the prior's weight).
  const p = 0.1;
  assert.ok(Math.abs(baselineP0({ black: 0, total: 0 }, { black: 100, total: 1000 }) - (p + Math.sqrt(p * (1 - p) / SPIKE.priorVotes))) < 1e-12);
  // A full cell mostly keeps its own rate.
  const full = baselineP0({ black: 300, total: 1000 }, { black: 100, total: 1000 });
  assert.ok(full > 0.29 && full < 0.32, String(full));
  assert.equal(baselineP0({ black: 0, total: 5000 }, { black: 0, total: 5000 }), SPIKE.minP0);
  assert.equal(spikeAlpha(100), SPIKE.falseAlarmsPerOpenWeek / (100 * SPIKE.windowsMinutes.length));
  assert.equal(spikeAlpha(0), SPIKE.maxAlpha);
  // A rule's own budget: spent the same way, the cap scaled with it (to at most 5×).
  assert.equal(spikeAlpha(100, 2), 2 / 300);
  assert.equal(spikeAlpha(0, 1), 4 * SPIKE.maxAlpha);
  assert.equal(spikeAlpha(0, 7), 5 * SPIKE.maxAlpha);
});

test('spikeTest reports the most significant window ending at a dissatisfied press', () => {
  const t = MONDAY + 10 * HOUR;
  const presses = [0, 1, 2, 3, 4, 5].map((i) => ({ ts: t + i * 60_000, dissatisfied: i >= 1 }));
  const r = spikeTest(presses, () => 0.1, 0.001, t, t + 10 * 60_000);
  assert.ok(r);
  assert.equal(r.n, 6);
  assert.equal(r.k, 5);
  assert.equal(r.at, t + 5 * 60_000);
  assert.ok(Math.abs(r.pValue - binomialTail(5, 6, 0.1)) < 1e-15);
  assert.equal(r.alarm, true); // 5.5e-5 < 0.001
  // Fewer than minVotes presses: no test at all.
  assert.equal(spikeTest(presses.slice(3), () => 0.1, 0.001, t, t + 10 * 60_000), null);
  // Only presses in (from, to] end a window.
  assert.equal(spikeTest(presses, () => 0.1, 0.001, t + 5 * 60_000, t + 10 * 60_000), null);
});

/** The simulation: 40 locations, each with its baseline, 5 spike-free weeks and 5 weeks with one spike each. */
type Sim = {
  weeks: number; spikes: number;
  nullWeeks: Array<{ loc: number; b: Baseline; ps: Array<{ ts: number; p: number }>; vs: Record<Variant, Array<{ ts: number; p: number }>>; leader: number }>;
  /** Per spike: its location, start, baseline p0 at the start, presses during it, our p-values and the leader's alarms during it. */
  spikeWeeks: Array<{ loc: number; b: Baseline; start: number; p0: number; n: number; k: number; ps: Array<{ ts: number; p: number }>; vs: Record<Variant, Array<{ ts: number; p: number }>>; leader: Array<{ ts: number; real: boolean }> }>;
};
const SPIKE_SHAPE = { minutes: 60, share: 0.7 };
function simulate(): Sim {
  const rng = mulberry32(20261123);
  const LOCATIONS = 40, NULL_WEEKS = 5, SPIKES = 5;
  const sim: Sim = { weeks: 0, spikes: 0, nullWeeks: [], spikeWeeks: [] };
  for (let l = 0; l < LOCATIONS; l++) {
    const loc = makeLocation(rng);
    const b = baselineOf(Array.from({ length: SPIKE.baselineWeeks }, (_, w) => simulateWeek(rng, loc, w)));
    for (let w = SPIKE.baselineWeeks; w < SPIKE.baselineWeeks + NULL_WEEKS; w++) {
      const p = simulateWeek(rng, loc, w);
      sim.nullWeeks.push({ loc: l, b, ps: ourPValues(p, b), vs: { everyPress: variantPValues(p, b, 'everyPress'), window120: variantPValues(p, b, 'window120') }, leader: episodes(leaderAlarms(p).map((a) => a.ts)).length });
      sim.weeks++;
    }
    for (let s = 0; s < SPIKES; s++) {
      const w = SPIKE.baselineWeeks + NULL_WEEKS + s;
      // Starts in opening hours (09–21), at least an hour before closing.
      const start = MONDAY + w * WEEK + Math.floor(rng() * 7) * 24 * HOUR + 9 * HOUR + Math.floor(rng() * 11 * HOUR);
      const p = simulateWeek(rng, loc, w, { start, ...SPIKE_SHAPE });
      const during = (a: number): boolean => a >= start && a < start + SPIKE_SHAPE.minutes * 60_000;
      sim.spikeWeeks.push({ loc: l, b, start, p0: b.p0At(start), n: p.filter((x) => during(x.ts)).length, k: p.filter((x) => during(x.ts) && x.dissatisfied).length, ps: ourPValues(p, b).filter((x) => during(x.ts)), vs: { everyPress: variantPValues(p, b, 'everyPress').filter((x) => during(x.ts)), window120: variantPValues(p, b, 'window120').filter((x) => during(x.ts)) }, leader: leaderAlarms(p).filter((a) => during(a.ts)) });
      sim.spikes++;
    }
  }
  return sim;
}
const median = (a: number[]): number => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]!; };

/** Ours at a false-alarm budget (per location per open week) on the simulation; which spikes it found, and when. */
function ours(sim: Sim, budget: number) {
  let falseAlarms = 0;
  for (const n of sim.nullWeeks) falseAlarms += episodes(alarmsAt(n.ps, spikeAlpha(n.b.blackPerWeek, budget))).length;
  const foundAt = sim.spikeWeeks.map((s) => alarmsAt(s.ps, spikeAlpha(s.b.blackPerWeek, budget))[0]);
  const delays = sim.spikeWeeks.flatMap((s, i) => (foundAt[i] === undefined ? [] : [(foundAt[i] - s.start) / 60_000]));
  return { falseAlarms, found: foundAt.map((a) => a !== undefined), delays };
}

test('simulated weeks: false alarms within each budget, injected spikes found, the leader\'s real catches caught at each budget, with far fewer false alarms', () => {
  const sim = simulate();
  const leaderFalse = sim.nullWeeks.reduce((a, n) => a + n.leader, 0);
  const leaderRaw = sim.spikeWeeks.map((s) => s.leader.length > 0);
  const leaderReal = sim.spikeWeeks.map((s) => s.leader.some((a) => a.real));
  const leaderDelays = sim.spikeWeeks.flatMap((s) => (s.leader.length ? [(s.leader[0]!.ts - s.start) / 60_000] : []));
  const count = (a: boolean[]): number => a.filter(Boolean).length;
  const BUDGETS = [0.25, 0.5, 1, 2, 4, 7];
  const rows = BUDGETS.map((budget) => {
    const o = ours(sim, budget);
    const missedReal = sim.spikeWeeks.filter((_, i) => leaderReal[i] && !o.found[i]);
    return {
      budget, falseAlarms: o.falseAlarms, falseAlarmsPerLocationWeek: o.falseAlarms / sim.weeks, found: count(o.found),
      caughtOfLeaderRaw: sim.spikeWeeks.filter((_, i) => leaderRaw[i] && o.found[i]).length,
      caughtOfLeaderReal: sim.spikeWeeks.filter((_, i) => leaderReal[i] && o.found[i]).length,
      medianDelayMinutes: median(o.delays), missedReal,
    };
  });
  // The leader's false alarms per open week at each location, to see where the catches we miss come from.
  const leaderFalseAt = new Map<number, number>();
  for (const n of sim.nullWeeks) leaderFalseAt.set(n.loc, (leaderFalseAt.get(n.loc) ?? 0) + n.leader / 5);
  const fig = {
    locationWeeks: sim.weeks, spikes: sim.spikes,
    allSpikes: { medianP0: median(sim.spikeWeeks.map((m) => m.p0)), medianPresses: median(sim.spikeWeeks.map((m) => m.n)), leaderFalseAlarmsPerWeekThere: median(sim.spikeWeeks.map((m) => leaderFalseAt.get(m.loc)!)) },
    leader: { falseAlarms: leaderFalse, falseAlarmsPerLocationWeek: leaderFalse / sim.weeks, rawCatches: count(leaderRaw), realCatches: count(leaderReal), medianDelayMinutes: median(leaderDelays) },
    ours: rows.map(({ missedReal, ...r }) => ({
      ...r, missedReal: missedReal.length,
      // An oracle that knew the spike's exact hour and tested only it: its p-value is still not below alpha for these.
      missedBeyondOracle: missedReal.filter((m) => binomialTail(m.k, m.n, m.p0) >= spikeAlpha(m.b.blackPerWeek, r.budget)).length,
      // Of the real leader catches we miss: the baseline p0 and presses during the spike, and the leader's false alarms per week there.
      missed: missedReal.length ? { medianP0: median(missedReal.map((m) => m.p0)), medianPresses: median(missedReal.map((m) => m.n)), leaderFalseAlarmsPerWeekThere: median(missedReal.map((m) => leaderFalseAt.get(m.loc)!)) } : null,
    })),
  };
  const at = (budget: number) => rows.find((r) => r.budget === budget)!;
  // The variants at the default budget and at 2, against ours at the same budget.
  const variants = (Object.keys(VARIANTS) as Variant[]).flatMap((v) => [0.25, 2].map((budget) => {
    let falseAlarms = 0;
    for (const n of sim.nullWeeks) falseAlarms += episodes(alarmsAt(n.vs[v], variantAlpha(v, n.b, budget))).length;
    const found = sim.spikeWeeks.map((s) => alarmsAt(s.vs[v], variantAlpha(v, s.b, budget)).length > 0);
    return { variant: v, budget, falseAlarms, found: count(found), caughtOfLeaderReal: sim.spikeWeeks.filter((_, i) => leaderReal[i] && found[i]).length };
  }));
  console.log('spike benchmark', JSON.stringify({ ...fig, variants }));
  for (const v of variants) {
    // Within the same budget (same Poisson tolerance), and no better than ours at it: not adopted.
    const bound = v.budget * sim.weeks;
    assert.ok(v.falseAlarms <= bound + 3 * Math.sqrt(bound), JSON.stringify(v));
    assert.ok(v.caughtOfLeaderReal <= at(v.budget).caughtOfLeaderReal, `${JSON.stringify(v)} vs ours ${JSON.stringify(at(v.budget))}`);
  }

  for (const r of rows) {
    // Each budget holds: expected false alarms at most budget × location-weeks, with a Poisson tolerance of 3 σ…
    const bound = r.budget * sim.weeks;
    assert.ok(r.falseAlarms <= bound + 3 * Math.sqrt(bound), `budget ${r.budget}: ${r.falseAlarms} false alarms over ${sim.weeks} location-weeks exceed ${bound}`);
    // …and is not vacuous: the detector spends a fair part of it (alpha is not mis-set).
    assert.ok(r.falseAlarms >= bound / 10, `budget ${r.budget}: ${r.falseAlarms} false alarms, far below the budget`);
  }
  // A larger budget finds more and sooner; never fewer.
  for (let i = 1; i < rows.length; i++) {
    assert.ok(rows[i]!.caughtOfLeaderReal >= rows[i - 1]!.caughtOfLeaderReal && rows[i]!.found >= rows[i - 1]!.found);
    assert.ok(rows[i]!.medianDelayMinutes <= rows[i - 1]!.medianDelayMinutes);
  }
  // Almost every catch of the leader's rule on these spikes is caused by the spike (189 of 191).
  assert.ok(fig.leader.realCatches >= 0.95 * fig.leader.rawCatches, JSON.stringify(fig.leader));
  // The default budget: 82 % of the leader's real catches at 160× fewer false alarms.
  assert.ok(at(0.25).caughtOfLeaderReal >= 0.78 * fig.leader.realCatches, JSON.stringify(at(0.25)));
  assert.ok(at(0.25).falseAlarms * 100 <= leaderFalse);
  // Budget 2 (0.99 false alarms a week): 91 % of its real catches at 18× fewer false alarms; budget 4: 93 % at 10.6× fewer.
  assert.ok(at(2).caughtOfLeaderReal >= 0.88 * fig.leader.realCatches, JSON.stringify(at(2)));
  assert.ok(at(2).falseAlarms * 15 <= leaderFalse);
  assert.ok(at(4).caughtOfLeaderReal >= 0.9 * fig.leader.realCatches, JSON.stringify(at(4)));
  assert.ok(at(4).falseAlarms * 8 <= leaderFalse);
  // The largest budget a rule may set (one a day): 95 % of its real catches at 6.6× fewer false alarms.
  assert.ok(at(7).caughtOfLeaderReal >= 0.93 * fig.leader.realCatches, JSON.stringify(at(7)));
  assert.ok(at(7).falseAlarms * 5 <= leaderFalse);
  // Why not all: the catches we miss are at high-baseline locations (p0 ≈ 0.25 against 70 %, on about
  // 11 presses in the hour), where the leader's rule itself alarms about 25 times a week without a spike.
  const missed = fig.ours.find((r) => r.budget === 2)!.missed!;
  // …and most of them are beyond any test at that false-alarm budget: even a single test of exactly
  // the spike's hour (one test, not a scan) would not reach alpha on so few presses.
  for (const r of fig.ours) assert.ok(r.missedBeyondOracle >= r.missedReal / 2, JSON.stringify(r));
  assert.ok(missed.medianP0 > fig.allSpikes.medianP0 + 0.05, JSON.stringify({ missed, all: fig.allSpikes }));
  assert.ok(missed.leaderFalseAlarmsPerWeekThere > 1.2 * fig.allSpikes.leaderFalseAlarmsPerWeekThere, JSON.stringify({ missed, all: fig.allSpikes }));
});
