// The repair tool: rollups recomputed from the raw votes must equal, row for row, the rollups that
// ingest maintained vote by vote — two independent paths to the same table — and rebuilding one
// organisation must leave the others alone.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { Api, eachBackend, rng, type Fixture } from './harness.ts';
import { addAllToRollups, addToRollups, type Countable, type RollupDelta } from '../src/scores/cubes.ts';
import { rebuildRollups } from '../src/scores/rebuild.ts';
import type { Store } from '../src/store/db.ts';

async function rollupRows(store: Store, orgId: string): Promise<string[]> {
  const r = await sql<Record<string, unknown>>`select cube, grain, bucket, location_id, touchpoint_id, employee_id, device_id, satisfied, dissatisfied, flagged, visitors
    from rollups where org_id = ${orgId}`.execute(store.db);
  return r.rows.map((x) => [x['cube'], x['grain'], x['bucket'], x['location_id'], x['touchpoint_id'], x['employee_id'], x['device_id'],
    Number(x['satisfied']), Number(x['dissatisfied']), Number(x['flagged']), Number(x['visitors'])].join('|')).sort();
}

eachBackend('rebuild rollups', (ctx) => {
  let api: Api;
  let a: Fixture;
  let b: Fixture;
  let sentA = { satisfied: 0, dissatisfied: 0 };

  before(async () => {
    api = await Api.start(ctx().store);
    a = await api.fixture('Asia/Kolkata');
    b = await api.fixture('America/New_York');
    // A second device at a touchpoint with an employee, so every cube has more than one key.
    const tp = await api.ok('POST', `/api/v1/orgs/${a.orgId}/touchpoints`, { name: 'Desk', locationId: a.locationId }, 201);
    const emp = await api.ok('POST', `/api/v1/orgs/${a.orgId}/employees`, { name: 'Vera' }, 201);
    const fob = await api.ok('POST', `/api/v1/orgs/${a.orgId}/devices`, { kind: 'fob', locationId: a.locationId, touchpointId: tp.id, employeeId: emp.id }, 201);
    const start = Date.parse('2026-02-25T00:00:00Z');
    for (const [token, n] of [[a.deviceToken, 150], [fob.token, 120], [b.deviceToken, 90]] as const) {
      const events = Array.from({ length: n }, (_, i) => ({
        id: `e${i}`, ts: start + i * 7_919_000, button: i % 3 === 0 ? 'dissatisfied' : 'satisfied',
      }));
      const r = await api.votes(token, events);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      if (token !== b.deviceToken) for (const e of events) sentA[e.button as 'satisfied' | 'dissatisfied']++;
    }
  });
  after(async () => { await api.close(); });

  it('recomputes exactly the rows that ingest maintained', async () => {
    const store = ctx().store;
    const maintained = await rollupRows(store, a.orgId);
    assert.ok(maintained.length > 100, `expected many rollup rows, got ${maintained.length}`);
    // Damage the table the way a bug would: lose rows and skew counters.
    await sql`delete from rollups where org_id = ${a.orgId} and grain = 'h'`.execute(store.db);
    await sql`update rollups set satisfied = satisfied + 7 where org_id = ${a.orgId}`.execute(store.db);
    assert.notDeepEqual(await rollupRows(store, a.orgId), maintained);

    const r = await rebuildRollups(store, a.orgId);
    assert.equal(r.votes, sentA.satisfied + sentA.dissatisfied);
    assert.deepEqual(await rollupRows(store, a.orgId), maintained);
  });

  it('serves the same scores after a rebuild, and leaves other organisations alone', async () => {
    const store = ctx().store;
    const otherBefore = await rollupRows(store, b.orgId);
    await sql`update rollups set dissatisfied = 0 where org_id = ${a.orgId}`.execute(store.db);
    await rebuildRollups(store, a.orgId);
    const [total] = await api.scores(a.orgId, { from: '2026-01-01', to: '2026-12-31', by: 'total' });
    assert.equal(total.satisfied, sentA.satisfied);
    assert.equal(total.dissatisfied, sentA.dissatisfied);
    assert.deepEqual(await rollupRows(store, b.orgId), otherBefore);
  });
});

// Ingest sums a batch's items per (device, local hour, …) before building rollup rows
// (addAllToRollups). Mixed batches must still leave exactly the rows a rebuild from the raw votes makes.
eachBackend('rollups of mixed batches', (ctx) => {
  it('a group of batches mixing devices, hours, flagged and duplicate votes equals the rebuild', async () => {
    const store = ctx().store;
    const api = await Api.start(store);
    try {
      const c = await api.fixture('Asia/Kolkata');
      const tp = await api.ok('POST', `/api/v1/orgs/${c.orgId}/touchpoints`, { name: 'Desk', locationId: c.locationId }, 201);
      const emp = await api.ok('POST', `/api/v1/orgs/${c.orgId}/employees`, { name: 'Ivo' }, 201);
      const fob = await api.ok('POST', `/api/v1/orgs/${c.orgId}/devices`, { kind: 'fob', locationId: c.locationId, touchpointId: tp.id, employeeId: emp.id }, 201);
      const desk = await api.ok('POST', `/api/v1/orgs/${c.orgId}/devices`, { kind: 'panel', locationId: c.locationId, touchpointId: tp.id }, 201);
      const rand = rng(20261123);
      const start = Date.parse('2026-03-30T20:00:00Z'); // crosses a local midnight and a month end in Kolkata
      const unique = new Map<string, number>(); // token → distinct event ids sent
      const batches = [c.deviceToken, fob.token, desk.token].map((token, d) => {
        const events: Array<{ id: string; ts: number; button: string }> = [];
        let ts = start + d * 60_000;
        for (let i = 0; i < 60; i++) {
          ts += 4 * 60_000 + Math.floor(rand() * 6 * 60_000); // every 4–10 minutes: several hours
          const button = rand() < 0.3 ? 'dissatisfied' : 'satisfied';
          events.push({ id: `m${i}`, ts, button });
          // The same button again 2 s later: the repeat rule flags it.
          if (i % 7 === 3) events.push({ id: `m${i}r`, ts: ts + 2_000, button });
          // The same event twice in the batch: stored once.
          if (i % 11 === 5) events.push({ id: `m${i}`, ts, button });
        }
        unique.set(token, new Set(events.map((e) => e.id)).size);
        return { token, events };
      });
      // Sent concurrently, so the group committer can write them in one transaction.
      const results = await Promise.all(batches.map((b) => api.votes(b.token, b.events)));
      for (const r of results) assert.equal(r.status, 200, JSON.stringify(r.body));
      // Half of each buffer sent again (a device that missed the ack), with one new press each.
      const again = await Promise.all(batches.map((b) => api.votes(b.token, [
        ...b.events.slice(0, 30), { id: 'late', ts: start + 3_600_000, button: 'dissatisfied' },
      ])));
      for (const r of again) assert.equal(r.status, 200, JSON.stringify(r.body));
      for (const r of again) assert.equal(r.body.accepted, 1, JSON.stringify(r.body));
      const distinct = [...unique.values()].reduce((a, b) => a + b, 0) + 3;

      const maintained = await rollupRows(store, c.orgId);
      const [total] = await api.scores(c.orgId, { from: '2026-03-01', to: '2026-04-30', by: 'total' });
      assert.ok(total.flagged >= 3 * 9, `repeats must be flagged, got ${total.flagged}`);
      assert.equal(total.satisfied + total.dissatisfied + total.flagged, distinct);
      const hours = maintained.filter((r) => r.startsWith('F|h|'));
      assert.ok(hours.length > 3 * 5, `expected many device-hours, got ${hours.length}`);

      await sql`delete from rollups where org_id = ${c.orgId}`.execute(store.db);
      await rebuildRollups(store, c.orgId);
      assert.deepEqual(await rollupRows(store, c.orgId), maintained);
    } finally {
      await api.close();
    }
  });
});

it('summing a batch per device-hour first gives the rows of adding each item alone', () => {
  const rand = rng(7);
  const pick = <T,>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const items: Countable[] = Array.from({ length: 2000 }, () => ({
    orgId: pick(['o1', 'o2']), deviceId: pick(['d1', 'd2', 'd3']), locationId: pick(['l1', 'l2']),
    touchpointId: pick([null, 't1']), employeeId: pick([null, 'e1', 'e2']),
    localDay: pick(['2026-01-31', '2026-02-01', '2026-02-02']), localHour: Math.floor(rand() * 24),
    // Signed, as the misuse rules' transitions are (−1 counted, +1 flagged).
    satisfied: pick([-1, 0, 1]), dissatisfied: pick([0, 1]), flagged: pick([-1, 0, 1]), visitors: pick([0, 0, 3]),
  }));
  const one = new Map<string, RollupDelta>();
  for (const i of items) addToRollups(one, i);
  const all = new Map<string, RollupDelta>();
  addAllToRollups(all, items);
  assert.deepEqual(all, one); // Maps compare by content, not insertion order
  assert.ok(one.size > 1000);
});
