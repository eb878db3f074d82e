// Camera ingest (PROTOCOL §2 camera): sightings are stored once per (device, event id), attributed to
// the camera's place at their time, a batch is all or nothing with the bad field named, only
// cameras may send them, and a camera of one org never judges another org's presses.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Api, eachBackend, type Fixture } from './harness.ts';

const T0 = Date.parse('2026-11-10T10:00:00Z');

eachBackend('camera ingest', (ctx) => {
  let api: Api;
  before(async () => { api = await Api.start(ctx().store); });
  after(async () => { await api.close(); });

  async function camera(f: Fixture, touchpointId?: string): Promise<{ id: string; token: string }> {
    return api.ok('POST', `/api/v1/orgs/${f.orgId}/devices`, { kind: 'camera', name: 'Cam', locationId: f.locationId, ...(touchpointId ? { touchpointId } : {}) }, 201);
  }
  const sightings = async (deviceId: string) => ctx().store.db.selectFrom('camera_events')
    .select(['event_id', 'ts', 'people', 'clip', 'location_id', 'touchpoint_id', 'org_id']).where('device_id', '=', deviceId).orderBy('ts').execute();

  it('stores sightings attributed to the camera\'s place; a retry counts as duplicates and changes nothing', async () => {
    const f = await api.fixture('UTC');
    const tp = await api.ok('POST', `/api/v1/orgs/${f.orgId}/touchpoints`, { name: 'Till 1', locationId: f.locationId }, 201);
    const cam = await camera(f, tp.id);
    const body = { events: [
      { id: 'c1', ts: '2026-11-10T10:00:00Z', people: 1, clip: 'https://cams.example/clip/1.mp4' },
      { id: 'c2', ts: T0 + 20_000, people: 0 },
    ] };
    const r = await api.call('POST', '/api/v1/ingest/camera', body, cam.token);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { accepted: 2, duplicates: 0 });
    const again = await api.call('POST', '/api/v1/ingest/camera', body, cam.token);
    assert.deepEqual(again.body, { accepted: 0, duplicates: 2 });
    const rows = await sightings(cam.id);
    assert.deepEqual(rows.map((x) => [x.event_id, Number(x.ts), x.people, x.clip, x.location_id, x.touchpoint_id, x.org_id]), [
      ['c1', T0, 1, 'https://cams.example/clip/1.mp4', f.locationId, tp.id, f.orgId],
      ['c2', T0 + 20_000, 0, null, f.locationId, tp.id, f.orgId],
    ]);
  });

  it('a batch with one bad event is refused whole with 400 naming the field', async () => {
    const f = await api.fixture('UTC');
    const cam = await camera(f);
    const ok = { id: 'ok', ts: T0, people: 1 };
    const cases: Array<[unknown, string]> = [
      [{ events: [ok, { id: 'n', ts: T0, people: -1 }] }, 'events[1].people'],
      [{ events: [ok, { id: 'n', ts: T0, people: 1.5 }] }, 'events[1].people'],
      [{ events: [ok, { id: 'n', ts: T0 }] }, 'events[1].people'],
      [{ events: [ok, { id: 'n', ts: T0, people: 1, clip: 'javascript:alert(1)' }] }, 'events[1].clip'],
      [{ events: [ok, { id: 'n', ts: 'yesterday', people: 1 }] }, 'events[1].ts'],
      [{ events: [{ ...ok, id: '' }] }, 'events[0].id'],
      [{ events: [] }, 'events'],
    ];
    for (const [body, field] of cases) {
      const r = await api.call('POST', '/api/v1/ingest/camera', body, cam.token);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.field, field, JSON.stringify(r.body));
    }
    assert.deepEqual(await sightings(cam.id), [], 'nothing of a refused batch is stored');
  });

  it('only cameras send sightings; a camera sends no votes', async () => {
    const f = await api.fixture('UTC');
    const cam = await camera(f);
    const fromPanel = await api.call('POST', '/api/v1/ingest/camera', { events: [{ id: 'x', ts: T0, people: 1 }] }, f.deviceToken);
    assert.equal(fromPanel.status, 403);
    assert.equal((await api.votes(cam.token, [{ id: 'y', ts: T0, button: 'satisfied' }])).status, 403);
    assert.equal((await api.call('POST', '/api/v1/ingest/camera', { events: [{ id: 'z', ts: T0, people: 1 }] }, 'lbd_not-a-token')).status, 401);
  });

  it('cross-tenant: a camera of another org watching "the same" place judges nothing here, and its sightings stay in its org', async () => {
    const a = await api.fixture('UTC');
    const b = await api.fixture('UTC');
    const camB = await camera(b);
    // B's camera sees nobody around A's press time; A has no camera: A's press is counted.
    await api.call('POST', '/api/v1/ingest/camera', { events: [{ id: 'b1', ts: T0 - 5_000, people: 0 }, { id: 'b2', ts: T0 + 5_000, people: 0 }] }, camB.token);
    assert.equal((await api.votes(a.deviceToken, [{ id: 'p', ts: T0, button: 'satisfied' }])).status, 200);
    const [row] = await api.scores(a.orgId, { from: '2026-11-10', to: '2026-11-10', by: 'total' });
    assert.deepEqual([row.satisfied, row.flagged], [1, 0]);
    assert.deepEqual((await sightings(camB.id)).map((x) => x.org_id), [b.orgId, b.orgId]);
    // Another org's user cannot read or change A's settings at A's location, nor reach it through B.
    const email = `spy-${Math.random().toString(36).slice(2, 9)}@example.test`;
    await api.ok('POST', `/api/v1/orgs/${b.orgId}/users`, { email, name: 'spy', role: 'org-admin', password: 'camera password 1' }, 201);
    const spy = (await api.ok('POST', '/api/v1/auth/token', { email, password: 'camera password 1' }, 200, null)).token;
    const path = `/api/v1/orgs/${a.orgId}/misuse/settings/locations/${a.locationId}`;
    assert.equal((await api.call('GET', path, undefined, spy)).status, 403);
    assert.equal((await api.call('PUT', path, { camera: false }, spy)).status, 403);
    assert.equal((await api.call('PUT', `/api/v1/orgs/${b.orgId}/misuse/settings/locations/${a.locationId}`, { camera: false }, spy)).status, 404);
    assert.deepEqual((await api.ok('GET', path, undefined)).overrides, {}, 'nothing changed');
  });
});
