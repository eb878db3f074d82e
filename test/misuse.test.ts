// Fake-press defence (issue 6): each rule on crafted sequences at its edges, late data changing
// verdicts (and the scores following), a simulated day with injected abuse (precision, recall and
// scores equal to the honest votes' own), review with audit, tenancy and malformed input.
// Expected values are computed here from the presses sent and the documented rule definitions.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { Api, eachBackend, type Fixture, rng } from './harness.ts';
import type { Store } from '../src/store/db.ts';
import { rebuildRollups } from '../src/scores/rebuild.ts';

const S = 1000;
const MIN = 60 * S;
type Button = 'satisfied' | 'dissatisfied';
type Press = { id: string; ts: number; button: Button };

async function flagsOf(store: Store, deviceId: string): Promise<Map<string, string[]>> {
  const rows = await store.db.selectFrom('votes').select(['event_id', 'flags']).where('device_id', '=', deviceId).execute();
  return new Map(rows.map((r) => [r.event_id, r.flags ? (JSON.parse(r.flags) as string[]) : []]));
}

async function rollupRows(store: Store, orgId: string): Promise<string[]> {
  const r = await sql<Record<string, unknown>>`select cube, grain, bucket, location_id, touchpoint_id, employee_id, device_id, satisfied, dissatisfied, flagged, visitors
    from rollups where org_id = ${orgId}`.execute(store.db);
  return r.rows.map((x) => [x['cube'], x['grain'], x['bucket'], x['location_id'], x['touchpoint_id'], x['employee_id'], x['device_id'],
    Number(x['satisfied']), Number(x['dissatisfied']), Number(x['flagged']), Number(x['visitors'])].join('|')).sort();
}

/** The rollups ingest maintained must be exactly what a rebuild from the votes gives. */
async function assertRebuildAgrees(store: Store, orgId: string): Promise<void> {
  const maintained = await rollupRows(store, orgId);
  await rebuildRollups(store, orgId);
  assert.deepEqual(await rollupRows(store, orgId), maintained);
}

const send = async (api: Api, token: string, presses: Press[]): Promise<void> => {
  for (let i = 0; i < presses.length; i += 1000) {
    const r = await api.votes(token, presses.slice(i, i + 1000).map((p) => ({ id: p.id, ts: p.ts, button: p.button })));
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
};

eachBackend('misuse', (ctx) => {
  let api: Api;
  before(async () => { api = await Api.start(ctx().store); });
  after(async () => { await api.close(); });

  /** A fresh org (UTC location, always open unless given hours) with the misuse settings patched. */
  async function org(settings: Record<string, unknown> = {}, timezone = 'UTC', extra: { openingHours?: unknown } = {}): Promise<Fixture> {
    const f = await api.fixture(timezone, extra);
    if (Object.keys(settings).length) await api.ok('PUT', `/api/v1/orgs/${f.orgId}/misuse/settings`, settings);
    return f;
  }
  const T0 = Date.parse('2026-11-10T10:00:00Z');

  it('settings: documented defaults, overrides, null resets, and 400 naming the field', async () => {
    const f = await api.fixture();
    const path = `/api/v1/orgs/${f.orgId}/misuse/settings`;
    const g = await api.ok('GET', path, undefined);
    assert.deepEqual(g.settings, {
      enabled: true, repeatWindowSeconds: 10, burstMaxPresses: 8, burstWindowSeconds: 60, streakMinRun: 5, streakMaxGapSeconds: 20, offHours: true,
      camera: true, cameraToleranceSeconds: 30, cameraCoverageSeconds: 600, cameraMaxVotesPerPerson: 2, aboveVisitors: true, episodeGapMinutes: 10,
    });
    assert.deepEqual(g.overrides, {});
    const p = await api.ok('PUT', path, { repeatWindowSeconds: 5, offHours: false });
    assert.equal(p.settings.repeatWindowSeconds, 5);
    assert.equal(p.settings.offHours, false);
    assert.equal(p.settings.burstMaxPresses, 8);
    const r = await api.ok('PUT', path, { repeatWindowSeconds: null });
    assert.equal(r.settings.repeatWindowSeconds, 10);
    assert.deepEqual(r.overrides, { offHours: false });
    for (const [body, field] of [
      [{ burstMaxPresses: 1 }, 'burstMaxPresses'], [{ repeatWindowSeconds: 'x' }, 'repeatWindowSeconds'], [{ streakMinRun: 2.5 }, 'streakMinRun'],
      [{ offHours: 'yes' }, 'offHours'], [{ colour: 1 }, 'colour'], [[1, 2], 'body'],
    ] as const) {
      const res = await api.call('PUT', path, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.field, field);
    }
    assert.equal((await api.ok('GET', path, undefined)).settings.offHours, false, 'a refused PUT changes nothing');
    // Switched off: the rules do not run, presses a second apart are both counted.
    await api.ok('PUT', path, { enabled: false });
    await send(api, f.deviceToken, [{ id: 'x1', ts: Date.parse('2026-11-10T10:00:00Z'), button: 'satisfied' }, { id: 'x2', ts: Date.parse('2026-11-10T10:00:01Z'), button: 'satisfied' }]);
    assert.deepEqual([...(await flagsOf(ctx().store, f.deviceId)).values()], [[], []]);
  });

  it('repeat: same button less than the window after the previous press; exactly the window is not a repeat', async () => {
    const f = await org();
    await send(api, f.deviceToken, [
      { id: 'a', ts: T0, button: 'satisfied' },
      { id: 'b', ts: T0 + 10 * S - 1, button: 'satisfied' }, // 9.999 s after a: repeat
      { id: 'c', ts: T0 + 20 * S - 1, button: 'satisfied' }, // exactly 10 s after b: not a repeat
      { id: 'd', ts: T0 + 25 * S, button: 'dissatisfied' }, // other button: not a repeat
      { id: 'e', ts: T0 + 29 * S, button: 'satisfied' }, // 9.001 s after c (d between is the other button): repeat
    ]);
    const flags = await flagsOf(ctx().store, f.deviceId);
    assert.deepEqual(Object.fromEntries(flags), { a: [], b: ['repeat'], c: [], d: [], e: ['repeat'] });
    const [row] = await api.scores(f.orgId, { from: '2026-11-10', to: '2026-11-10' });
    assert.deepEqual([row.satisfied, row.dissatisfied, row.flagged], [2, 1, 2]);
    await assertRebuildAgrees(ctx().store, f.orgId);
  });

  it('burst: more than N presses in [t, t + M); a press exactly M after the start is outside', async () => {
    const f = await org({ burstMaxPresses: 3, burstWindowSeconds: 60 });
    // Alternate buttons, 15 s apart: no repeats, no streaks.
    const inside: Press[] = [0, 15, 30].map((s, i) => ({ id: `in${i}`, ts: T0 + s * S, button: i % 2 ? 'dissatisfied' : 'satisfied' }));
    inside.push({ id: 'in3', ts: T0 + 60 * S - 1, button: 'dissatisfied' }); // 4 presses in [T0, T0 + 60 s)
    const t1 = T0 + 3_600 * S;
    const edge: Press[] = [0, 15, 30].map((s, i) => ({ id: `ed${i}`, ts: t1 + s * S, button: i % 2 ? 'dissatisfied' : 'satisfied' }));
    edge.push({ id: 'ed3', ts: t1 + 60 * S, button: 'dissatisfied' }); // exactly 60 s after the first: 3 per window at most
    await send(api, f.deviceToken, [...inside, ...edge]);
    const flags = await flagsOf(ctx().store, f.deviceId);
    for (const p of inside) assert.deepEqual(flags.get(p.id), ['burst'], p.id);
    for (const p of edge) assert.deepEqual(flags.get(p.id), [], p.id);
    await assertRebuildAgrees(ctx().store, f.orgId);
  });

  it('streak: a run of ≥ K same-button presses with gaps < G flags all but its first; a gap of exactly G or another button breaks it', async () => {
    const f = await org({ streakMinRun: 3, streakMaxGapSeconds: 30 });
    const at = (base: number, secs: number[], button: Button, prefix: string): Press[] => secs.map((s, i) => ({ id: `${prefix}${i}`, ts: base + Math.round(s * S), button }));
    const run = at(T0, [0, 20, 40, 69.999], 'satisfied', 'run'); // gaps 20, 20, 29.999: one run of 4
    const gapAtG = at(T0 + 3_600 * S, [0, 20, 50], 'dissatisfied', 'gap'); // last gap exactly 30 s: runs of 2 and 1
    const broken = [...at(T0 + 7_200 * S, [0, 20], 'satisfied', 'brk'), { id: 'brkX', ts: T0 + 7_200 * S + 30 * S, button: 'dissatisfied' as Button },
      ...at(T0 + 7_200 * S + 40 * S, [0], 'satisfied', 'brkY')];
    await send(api, f.deviceToken, [...run, ...gapAtG, ...broken]);
    const flags = await flagsOf(ctx().store, f.deviceId);
    assert.deepEqual(run.map((p) => flags.get(p.id)), [[], ['streak'], ['streak'], ['streak']]);
    assert.deepEqual(gapAtG.map((p) => flags.get(p.id)), [[], [], []]);
    assert.deepEqual(broken.map((p) => flags.get(p.id)), [[], [], [], []]);
    await assertRebuildAgrees(ctx().store, f.orgId);
  });

  it("off_hours: outside [open, close) in the location's zone, across midnight; no hours = always open", async () => {
    // Asia/Tokyo is UTC+9 all year. Monday 2026-11-16 22:00 → Tuesday 02:00, Tuesday 09:00–18:00.
    const hours = { mon: [['22:00', '02:00']], tue: [['09:00', '18:00']] };
    const f = await org({ repeatWindowSeconds: 0 }, 'Asia/Tokyo', { openingHours: hours }); // m3 and t1 are 1 s apart
    const jst = (s: string): number => Date.parse(`${s}+09:00`);
    const cases: Array<[string, string, boolean]> = [
      ['m1', '2026-11-16T21:59:59', false], ['m2', '2026-11-16T22:00:00', true], ['m3', '2026-11-16T23:59:59', true],
      ['t1', '2026-11-17T00:00:00', true], ['t2', '2026-11-17T01:59:59', true], ['t3', '2026-11-17T02:00:00', false],
      ['t4', '2026-11-17T08:59:59', false], ['t5', '2026-11-17T09:00:00', true], ['t6', '2026-11-17T17:59:59', true],
      ['t7', '2026-11-17T18:00:00', false], ['w1', '2026-11-18T01:00:00', false], // Tuesday has no interval past midnight
    ];
    await send(api, f.deviceToken, cases.map(([id, s]) => ({ id, ts: jst(s), button: 'satisfied' })));
    const flags = await flagsOf(ctx().store, f.deviceId);
    for (const [id, s, open] of cases) assert.deepEqual(flags.get(id), open ? [] : ['off_hours'], `${id} ${s}`);
    // Scores by local day: Tuesday counts t1, t2, t5, t6 and holds back t3, t4, t7.
    const rows = await api.scores(f.orgId, { from: '2026-11-16', to: '2026-11-18', by: 'day' });
    const byDay = Object.fromEntries(rows.map((r: any) => [r.key, [r.satisfied, r.flagged]]));
    assert.deepEqual(byDay, { '2026-11-16': [2, 1], '2026-11-17': [4, 3], '2026-11-18': [0, 1] });
    // The fixture's other orgs have no hours: a press at 03:00 local is counted.
    const open = await org({}, 'Asia/Tokyo');
    await send(api, open.deviceToken, [{ id: 'night', ts: jst('2026-11-17T03:00:00'), button: 'dissatisfied' }]);
    assert.deepEqual((await flagsOf(ctx().store, open.deviceId)).get('night'), []);
    await assertRebuildAgrees(ctx().store, f.orgId);
  });

  it('late data: an earlier press arriving later turns a stored press into a repeat, and a late press can break a stored streak; scores follow', async () => {
    const f = await org({ streakMinRun: 3, streakMaxGapSeconds: 30 });
    const day = { from: '2026-11-10', to: '2026-11-10' };
    await send(api, f.deviceToken, [{ id: 'second', ts: T0 + 5 * S, button: 'dissatisfied' }]);
    let [row] = await api.scores(f.orgId, day);
    assert.deepEqual([row.satisfied, row.dissatisfied, row.flagged], [0, 1, 0]);
    await send(api, f.deviceToken, [{ id: 'first', ts: T0, button: 'dissatisfied' }]); // the buffered, earlier press
    assert.deepEqual(Object.fromEntries(await flagsOf(ctx().store, f.deviceId)), { first: [], second: ['repeat'] });
    [row] = await api.scores(f.orgId, day);
    assert.deepEqual([row.satisfied, row.dissatisfied, row.flagged], [0, 1, 1]);

    // A stored streak of 3 (two flagged) …
    const t1 = T0 + 3_600 * S;
    await send(api, f.deviceToken, [0, 20, 40].map((s, i) => ({ id: `s${i}`, ts: t1 + s * S, button: 'satisfied' as Button })));
    [row] = await api.scores(f.orgId, day);
    assert.deepEqual([row.satisfied, row.dissatisfied, row.flagged], [1, 1, 3]);
    // … broken by a late press of the other button between its first two: nothing is a streak any more.
    await send(api, f.deviceToken, [{ id: 'late', ts: t1 + 10 * S, button: 'dissatisfied' }]);
    const flags = await flagsOf(ctx().store, f.deviceId);
    assert.deepEqual(['s0', 's1', 's2', 'late'].map((id) => flags.get(id)), [[], [], [], []]);
    [row] = await api.scores(f.orgId, day);
    assert.deepEqual([row.satisfied, row.dissatisfied, row.flagged], [3, 2, 1]);
    // A batch whose presses arrive out of order is judged by time, not by arrival.
    const t2 = T0 + 7_200 * S;
    await send(api, f.deviceToken, [{ id: 'o3', ts: t2 + 8 * S, button: 'satisfied' }, { id: 'o1', ts: t2, button: 'satisfied' }, { id: 'o2', ts: t2 + 4 * S, button: 'satisfied' }]);
    const f2 = await flagsOf(ctx().store, f.deviceId);
    assert.deepEqual(['o1', 'o2', 'o3'].map((id) => f2.get(id)), [[], ['repeat'], ['repeat']]);
    await assertRebuildAgrees(ctx().store, f.orgId);
  });

  it('concurrent requests of one device (one group commit, or several connections) are judged together', async () => {
    const f = await org();
    const t = Date.parse('2026-11-11T10:00:00Z');
    const presses: Press[] = Array.from({ length: 6 }, (_, i) => ({ id: `c${i}`, ts: t + i * 2 * S, button: 'satisfied' }));
    // Two server nodes on one store: on PostgreSQL their transactions run on separate connections.
    const node2 = await Api.start(ctx().store);
    try {
      const rs = await Promise.all([...presses].reverse().map((p, i) => (i % 2 ? node2 : api).votes(f.deviceToken, [{ id: p.id, ts: p.ts, button: p.button }])));
      assert.ok(rs.every((r) => r.status === 200));
    } finally {
      await node2.close();
    }
    const flags = await flagsOf(ctx().store, f.deviceId);
    assert.deepEqual(presses.map((p) => flags.get(p.id)), [[], ['repeat'], ['repeat'], ['repeat'], ['repeat'], ['repeat']]);
    const [row] = await api.scores(f.orgId, { from: '2026-11-11', to: '2026-11-11' });
    assert.deepEqual([row.satisfied, row.flagged], [1, 5]);
    await assertRebuildAgrees(ctx().store, f.orgId);
  });

  // ---- A simulated day with injected abuse.
  type Truth = Press & { abusive: boolean };
  /**
   * One device's day in a location open 09:00–21:00 UTC. Honest presses arrive `minGap` + an
   * exponential gap apart; abuse episodes are placed in the day: a hammer (same button 1–6 s apart;
   * its first press is a real opinion, the rest abuse), kids playing (12–20 presses of random buttons
   * 1–3 s apart, all abuse), a slow hammer dodging the repeat window (same button 11–19 s apart; the
   * first press counts), and presses at night (all abuse). `margin` keeps honest presses away from abuse.
   */
  function simulateDay(seed: number, prefix: string, minGap: number, margin: number): Truth[] {
    const r = rng(seed);
    const open = Date.parse('2026-11-12T09:00:00Z');
    const close = Date.parse('2026-11-12T21:00:00Z');
    const abuse: Truth[][] = [];
    let n = 0;
    const id = (): string => `${prefix}${n++}`;
    const btn = (): Button => (r() < 0.75 ? 'satisfied' : 'dissatisfied');
    for (let k = 0; k < 14; k++) {
      const kind = k % 4;
      let t = open + 10 * MIN + Math.floor(r() * (close - open - 40 * MIN));
      const ep: Truth[] = [];
      if (kind === 0) {
        const b = btn();
        const len = 4 + Math.floor(r() * 4);
        for (let i = 0; i < len; i++) { ep.push({ id: id(), ts: t, button: b, abusive: i > 0 }); t += S + Math.floor(r() * 5 * S); }
      } else if (kind === 1) {
        const len = 12 + Math.floor(r() * 9);
        for (let i = 0; i < len; i++) { ep.push({ id: id(), ts: t, button: btn(), abusive: true }); t += S + Math.floor(r() * 2 * S); }
      } else if (kind === 2) {
        const b = btn();
        const len = 5 + Math.floor(r() * 4);
        for (let i = 0; i < len; i++) { ep.push({ id: id(), ts: t, button: b, abusive: i > 0 }); t += 11 * S + Math.floor(r() * 8 * S); }
      } else {
        t = Date.parse('2026-11-12T22:00:00Z') + Math.floor(r() * 9 * 3_600 * S); // 22:00–07:00
        const len = 1 + Math.floor(r() * 3);
        for (let i = 0; i < len; i++) { ep.push({ id: id(), ts: t, button: btn(), abusive: true }); t += 5 * MIN + Math.floor(r() * 30 * MIN); }
      }
      // Episodes do not overlap one another (by at least the margin and the rules' reach).
      const clash = abuse.some((o) => ep[0]!.ts - 3 * MIN < o[o.length - 1]!.ts && o[0]!.ts < ep[ep.length - 1]!.ts + 3 * MIN);
      if (!clash) abuse.push(ep);
    }
    const honest: Truth[] = [];
    for (let t = open + Math.floor(r() * 5 * MIN); t < close; t += minGap + Math.floor(-Math.log(1 - r()) * 4 * MIN)) {
      if (abuse.some((o) => t > o[0]!.ts - margin && t < o[o.length - 1]!.ts + margin)) continue;
      honest.push({ id: id(), ts: t, button: btn(), abusive: false });
    }
    return [...honest, ...abuse.flat()];
  }

  /** Sends a device's presses in shuffled batches (late, out-of-order data), then scores precision and recall. */
  async function runDay(f: Fixture, presses: Truth[], seed: number): Promise<{ precision: number; recall: number; tp: number; fp: number; fn: number }> {
    const r = rng(seed);
    const shuffled = [...presses].sort(() => r() - 0.5);
    for (let i = 0; i < shuffled.length; i += 97) await send(api, f.deviceToken, shuffled.slice(i, i + 97));
    const flags = await flagsOf(ctx().store, f.deviceId);
    assert.equal(flags.size, presses.length);
    let tp = 0; let fp = 0; let fn = 0;
    for (const p of presses) {
      const flagged = (flags.get(p.id) ?? []).length > 0;
      if (flagged && p.abusive) tp++;
      else if (flagged) fp++;
      else if (p.abusive) fn++;
    }
    return { precision: tp / (tp + fp), recall: tp / (tp + fn), tp, fp, fn };
  }

  const HOURS_9_21 = Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [['09:00', '21:00']]]));

  it('a simulated day with abuse kept apart from honest presses: every abusive press flagged, no honest one; scores = the honest votes alone', async () => {
    const f = await org({}, 'UTC', { openingHours: HOURS_9_21 });
    const presses = simulateDay(11, 'x', MIN, 2 * MIN);
    const m = await runDay(f, presses, 5);
    console.log(`# misuse exact day: ${presses.length} presses, ${presses.filter((p) => p.abusive).length} abusive; precision ${m.precision.toFixed(3)}, recall ${m.recall.toFixed(3)}`);
    assert.deepEqual([m.fp, m.fn], [0, 0]);
    const counted = presses.filter((p) => !p.abusive);
    const [row] = await api.scores(f.orgId, { from: '2026-11-12', to: '2026-11-13', by: 'total' });
    assert.equal(row.satisfied, counted.filter((p) => p.button === 'satisfied').length);
    assert.equal(row.dissatisfied, counted.filter((p) => p.button === 'dissatisfied').length);
    assert.equal(row.flagged, presses.length - counted.length);
    const honestSat = counted.filter((p) => p.button === 'satisfied').length;
    assert.equal(row.share, Math.round((honestSat / counted.length) * 1e4) / 1e4); // shares are given to 4 places
    await assertRebuildAgrees(ctx().store, f.orgId);
  });

  it('a realistic day (honest presses may come close together, abuse next to them): precision and recall stay above a floor', async () => {
    let tp = 0; let fp = 0; let fn = 0; let total = 0;
    for (const seed of [21, 22, 23]) {
      const f = await org({}, 'UTC', { openingHours: HOURS_9_21 });
      const presses = simulateDay(seed, `r${seed}-`, 0, 0);
      const m = await runDay(f, presses, seed);
      tp += m.tp; fp += m.fp; fn += m.fn; total += presses.length;
    }
    const precision = tp / (tp + fp);
    const recall = tp / (tp + fn);
    console.log(`# misuse realistic days: ${total} presses, ${tp + fn} abusive; flagged ${tp + fp}; precision ${precision.toFixed(3)}, recall ${recall.toFixed(3)}`);
    assert.ok(precision >= 0.9, `precision ${precision}`);
    assert.ok(recall >= 0.95, `recall ${recall}`);
  });

  it('review: restoring an episode counts its presses, confirming holds them back again; rollups follow and each decision is audited', async () => {
    const f = await org();
    const base = Date.parse('2026-11-14T12:00:00Z');
    // Episode 1: 6 dissatisfied presses 2 s apart (the first counts, 5 repeats). Episode 2, an hour later: 3 satisfied repeats.
    const ep1: Press[] = Array.from({ length: 6 }, (_, i) => ({ id: `h${i}`, ts: base + i * 2 * S, button: 'dissatisfied' }));
    const ep2: Press[] = Array.from({ length: 4 }, (_, i) => ({ id: `k${i}`, ts: base + 3_600 * S + i * 3 * S, button: 'satisfied' }));
    await send(api, f.deviceToken, [...ep1, ...ep2]);
    const day = { from: '2026-11-14', to: '2026-11-14', by: 'total' };
    const counts = async (): Promise<number[]> => { const [r] = await api.scores(f.orgId, day); return [r.satisfied, r.dissatisfied, r.flagged]; };
    assert.deepEqual(await counts(), [1, 1, 8]);
    const P = `/api/v1/orgs/${f.orgId}/misuse`;
    const eps = (await api.ok('GET', `${P}/episodes?from=2026-11-14&to=2026-11-14`, undefined)).rows;
    assert.equal(eps.length, 2);
    const e1 = eps.find((e: any) => e.timeline[0].id === 'h1');
    assert.ok(e1, 'episode of the hammered black button');
    assert.deepEqual([e1.votes, e1.pending, e1.status, e1.rules], [5, 5, 'pending', { repeat: 5 }]);
    assert.deepEqual(e1.timeline.map((t: any) => t.id), ['h1', 'h2', 'h3', 'h4', 'h5']);

    const restored = await api.ok('POST', `${P}/episodes/${e1.id}/restore`, { reason: 'a real complaint, she pressed until someone came' });
    assert.deepEqual([restored.votes, restored.moved], [5, 5]);
    assert.deepEqual(await counts(), [1, 6, 3]);
    await assertRebuildAgrees(ctx().store, f.orgId);
    // Reviewed presses keep the reviewer's verdict even when a late neighbour re-evaluates them.
    await send(api, f.deviceToken, [{ id: 'late', ts: base + 11 * S, button: 'dissatisfied' }]);
    assert.deepEqual((await flagsOf(ctx().store, f.deviceId)).get('h5'), []);
    assert.deepEqual(await counts(), [1, 6, 4]); // the late press itself is a repeat of h5
    const all = (await api.ok('GET', `${P}/episodes?from=2026-11-14&to=2026-11-14&status=all`, undefined)).rows;
    const e1b = all.find((e: any) => e.timeline.some((t: any) => t.id === 'h1'));
    assert.deepEqual([e1b.votes, e1b.pending, e1b.restored], [6, 1, 5]);

    const confirmed = await api.ok('POST', `${P}/episodes/${e1b.id}/confirm`, { reason: 'camera shows the same man' });
    assert.deepEqual([confirmed.votes, confirmed.moved], [6, 5]);
    assert.deepEqual(await counts(), [1, 1, 9]);
    const one = await api.ok('POST', `${P}/votes/restore`, { deviceId: f.deviceId, eventId: 'k2', reason: 'single vote check' });
    assert.deepEqual([one.votes, one.moved], [1, 1]);
    assert.deepEqual(await counts(), [2, 1, 8]);
    await assertRebuildAgrees(ctx().store, f.orgId);

    const audit = (await api.ok('GET', `${P}/audit`, undefined)).rows;
    assert.deepEqual(audit.map((a: any) => [a.action, a.scope, a.votes]), [['restore', 'vote', 1], ['confirm', 'episode', 6], ['restore', 'episode', 5]]);
    const first = audit[2];
    assert.equal(first.reason, 'a real complaint, she pressed until someone came');
    assert.ok(first.userId && Date.parse(first.at) > Date.now() - 60_000);
    assert.deepEqual(first.before[0], { id: 'h1', flagged: ['repeat'], review: null });
    assert.deepEqual(first.after[0], { id: 'h1', flagged: [], review: 'restored' });
    assert.deepEqual(audit[1].after.find((x: any) => x.id === 'h1'), { id: 'h1', flagged: ['repeat'], review: 'confirmed' });

    const report = await api.ok('GET', `${P}/report?from=2026-11-14&to=2026-11-14`, undefined);
    assert.deepEqual(report.locations.map((l: any) => [l.locationId, l.votes, l.flagged, l.confirmed, l.restored, l.rules]),
      [[f.locationId, 11, 8, 6, 1, { repeat: 8 }]]);
    assert.deepEqual(report.rows, [{ locationId: f.locationId, rule: 'repeat', flagged: 8 }]);
  });

  it('tenancy and roles: another org\'s users get 403 on every misuse route; a viewer cannot review; 404 for unknown episodes', async () => {
    const a = await org();
    await send(api, a.deviceToken, [{ id: 'p1', ts: T0, button: 'satisfied' }, { id: 'p2', ts: T0 + S, button: 'satisfied' }]);
    const b = await api.fixture();
    const user = async (orgId: string, role: string): Promise<string> => {
      const email = `${role}-${Math.random().toString(36).slice(2, 9)}@example.test`;
      await api.ok('POST', `/api/v1/orgs/${orgId}/users`, { email, name: role, role, password: 'misuse password 1' }, 201);
      return (await api.ok('POST', '/api/v1/auth/token', { email, password: 'misuse password 1' }, 200, null)).token;
    };
    const spy = await user(b.orgId, 'org-admin');
    const viewer = await user(a.orgId, 'viewer');
    const P = `/api/v1/orgs/${a.orgId}/misuse`;
    const [ep] = (await api.ok('GET', `${P}/episodes?from=2026-11-10&to=2026-11-10`, undefined)).rows;
    assert.ok(ep);
    const routes: Array<[string, string, unknown]> = [
      ['GET', `${P}/settings`, undefined], ['PUT', `${P}/settings`, { offHours: false }],
      ['GET', `${P}/episodes?from=2026-11-10&to=2026-11-10`, undefined], ['POST', `${P}/episodes/${ep.id}/restore`, { reason: 'x' }],
      ['POST', `${P}/episodes/${ep.id}/confirm`, { reason: 'x' }], ['POST', `${P}/votes/restore`, { deviceId: a.deviceId, eventId: 'p2', reason: 'x' }],
      ['GET', `${P}/audit`, undefined], ['GET', `${P}/report?from=2026-11-10&to=2026-11-10`, undefined],
    ];
    for (const [method, path, body] of routes) {
      const r = await api.call(method, path, body, spy);
      assert.equal(r.status, 403, `${method} ${path}: ${JSON.stringify(r.body)}`);
    }
    // B's admin reviewing B's own org cannot reach A's episode either.
    const cross = await api.call('POST', `/api/v1/orgs/${b.orgId}/misuse/episodes/${ep.id}/restore`, { reason: 'x' }, spy);
    assert.equal(cross.status, 404);
    assert.equal((await api.call('POST', `${P}/episodes/${ep.id}/restore`, { reason: 'x' }, viewer)).status, 403);
    assert.equal((await api.call('PUT', `${P}/settings`, { offHours: false }, viewer)).status, 403);
    assert.equal((await api.call('GET', `${P}/episodes?from=2026-11-10&to=2026-11-10`, undefined, viewer)).status, 200);
    assert.deepEqual([...(await flagsOf(ctx().store, a.deviceId)).values()], [[], ['repeat']], 'nothing changed');
    assert.equal((await api.ok('GET', `${P}/audit`, undefined)).rows.length, 0);
  });

  it('malformed input gets 400 naming the field', async () => {
    const a = await org();
    await send(api, a.deviceToken, [{ id: 'p1', ts: T0, button: 'satisfied' }, { id: 'p2', ts: T0 + S, button: 'satisfied' }]);
    const P = `/api/v1/orgs/${a.orgId}/misuse`;
    const [ep] = (await api.ok('GET', `${P}/episodes?from=2026-11-10&to=2026-11-10`, undefined)).rows;
    const cases: Array<[string, string, unknown, string]> = [
      ['GET', `${P}/episodes?from=2026-13-01&to=2026-11-10`, undefined, 'from'],
      ['GET', `${P}/episodes?from=2026-11-10`, undefined, 'to'],
      ['GET', `${P}/episodes?from=2026-11-11&to=2026-11-10`, undefined, 'from'],
      ['GET', `${P}/report?from=2026-11-10&to=yesterday`, undefined, 'to'],
      ['POST', `${P}/episodes/${ep.id}/restore`, {}, 'reason'],
      ['POST', `${P}/episodes/${ep.id}/restore`, { reason: '  ' }, 'reason'],
      ['POST', `${P}/episodes/not-an-episode/restore`, { reason: 'x' }, 'id'],
      ['POST', `${P}/episodes/${ep.id}/delete`, { reason: 'x' }, 'action'],
      ['POST', `${P}/votes/confirm`, { eventId: 'p2', reason: 'x' }, 'deviceId'],
    ];
    for (const [method, path, body, field] of cases) {
      const r = await api.call(method, path, body);
      assert.equal(r.status, 400, `${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.ok(String(r.body.error.field).includes(field), `${path}: field ${r.body.error.field}, expected ${field}`);
    }
    assert.equal((await api.call('POST', `${P}/votes/confirm`, { deviceId: a.deviceId, eventId: 'nope', reason: 'x' })).status, 404);
  });
});
