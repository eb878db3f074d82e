// The repair tool: rollups recomputed from the raw votes must equal, row for row, the rollups that
// ingest maintained vote by vote — two independent paths to the same table — and rebuilding one
// organisation must leave the others alone.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { Api, eachBackend, type Fixture } from './harness.ts';
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
