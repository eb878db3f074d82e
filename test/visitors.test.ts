// Visitor counters (PROTOCOL §2 visitors): people counted at the door fill `visitors` and
// `responseRate` in scores; retries count once; only counters may send them.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Api, eachBackend, type Fixture } from './harness.ts';

eachBackend('visitor counters', (ctx) => {
  let api: Api;
  let f: Fixture;
  let counterToken: string;
  let counterId: string;

  before(async () => {
    api = await Api.start(ctx().store);
    f = await api.fixture('Asia/Kolkata');
    const c = await api.ok('POST', `/api/v1/orgs/${f.orgId}/devices`, { kind: 'counter', name: 'Door', locationId: f.locationId }, 201);
    counterToken = c.token;
    counterId = c.id;
  });
  after(async () => { await api.close(); });

  it('fills visitors and response rate by location, day and hour, in the location zone', async () => {
    // 2026-05-10T18:20Z is 23:50 in Kolkata (+05:30); 18:40Z is 00:10 the next local day.
    const r = await api.call('POST', '/api/v1/ingest/visitors', { events: [
      { id: 'v1', ts: '2026-05-10T18:20:00Z', in: 30, out: 28 },
      { id: 'v2', ts: '2026-05-10T18:40:00Z', in: 50 },
    ] }, counterToken);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { accepted: 2, duplicates: 0 });
    const votes = [
      { id: 'a', ts: '2026-05-10T18:21:00Z', button: 'satisfied' },
      { id: 'b', ts: '2026-05-10T18:22:00Z', button: 'dissatisfied' },
      { id: 'c', ts: '2026-05-10T18:45:00Z', button: 'satisfied' },
    ];
    assert.equal((await api.votes(f.deviceToken, votes)).status, 200);

    const [loc] = await api.scores(f.orgId, { from: '2026-05-10', to: '2026-05-11', by: 'location' });
    assert.equal(loc.visitors, 80);
    assert.equal(loc.total, 3);
    assert.equal(loc.responseRate, Math.round((3 / 80) * 10000) / 10000);

    const days = await api.scores(f.orgId, { from: '2026-05-10', to: '2026-05-11', by: 'day' });
    assert.deepEqual(days.map((d: any) => [d.key, d.visitors, d.total]), [['2026-05-10', 30, 2], ['2026-05-11', 50, 1]]);
    const hours = await api.scores(f.orgId, { from: '2026-05-10', to: '2026-05-11', by: 'hour' });
    assert.deepEqual(hours.map((h: any) => [h.key, h.visitors]), [['00', 50], ['23', 30]]);
  });

  it('counts a retried batch once, and a day without a counter says null, not zero', async () => {
    const again = await api.call('POST', '/api/v1/ingest/visitors', { events: [{ id: 'v1', ts: '2026-05-10T18:20:00Z', in: 30 }] }, counterToken);
    assert.deepEqual(again.body, { accepted: 0, duplicates: 1 });
    const [loc] = await api.scores(f.orgId, { from: '2026-05-10', to: '2026-05-11', by: 'location' });
    assert.equal(loc.visitors, 80);
    await api.votes(f.deviceToken, [{ id: 'd', ts: '2026-06-02T08:00:00Z', button: 'satisfied' }]);
    const [june] = await api.scores(f.orgId, { from: '2026-06-01', to: '2026-06-30', by: 'total' });
    assert.equal(june.visitors, null);
    assert.equal(june.responseRate, null);
  });

  it('refuses visitors from a panel and votes from a counter, and names bad fields', async () => {
    const fromPanel = await api.call('POST', '/api/v1/ingest/visitors', { events: [{ id: 'x', ts: Date.now(), in: 1 }] }, f.deviceToken);
    assert.equal(fromPanel.status, 403);
    const fromCounter = await api.votes(counterToken, [{ id: 'y', ts: Date.now(), button: 'satisfied' }]);
    assert.equal(fromCounter.status, 403);
    const bad = await api.call('POST', '/api/v1/ingest/visitors', { events: [{ id: 'ok', ts: Date.now(), in: 2 }, { id: 'neg', ts: Date.now(), in: -1 }] }, counterToken);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'events[1].in');
    const stored = await ctx().store.db.selectFrom('visitor_events').select('event_id').where('device_id', '=', counterId).execute();
    assert.deepEqual(stored.map((s) => s.event_id).sort(), ['v1', 'v2']);
  });
});
