// Fleet health on both backends: the derived state with a fake clock (online → stale → offline →
// recovered, low battery), one recorded and emitted event per transition and none for an
// unchanged state, even with two monitors sweeping one store; votes count as contact; per-org
// thresholds; the views per organisation (managers see their locations) and per partner (its own
// organisations only). Expected states are computed here from the documented thresholds.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Api, eachBackend, assertError, unique } from './harness.ts';
import { deriveHealth, FLEET_DEFAULTS, FleetMonitor } from '../src/devices/fleet.ts';
import { recordHeartbeat } from '../src/devices/devices.ts';
import { flushSeen, markSeen } from '../src/devices/seen.ts';
import type { DeviceHealthEvent } from '../src/devices/events.ts';

const MIN = 60_000;
const TZ = 'Europe/Berlin';


describe('derived device state (README thresholds: stale after 10 min, offline after 60 min, low battery below 15 %)', () => {
  const t = FLEET_DEFAULTS;
  const placed = 1_000_000_000_000;
  const seen = placed + 5 * MIN;
  const at = (lastSeenAt: number | null, now: number, battery: number | null = 90, claimedAt: number | null = placed) => deriveHealth({ claimedAt, lastSeenAt, battery }, t, now);
  it('follows the age of the last contact, boundaries included', () => {
    assert.deepEqual(at(seen, seen + 9 * MIN + 59_999), { state: 'online', since: seen });
    assert.deepEqual(at(seen, seen + 10 * MIN), { state: 'stale', since: seen + 10 * MIN });
    assert.deepEqual(at(seen, seen + 59 * MIN), { state: 'stale', since: seen + 10 * MIN });
    assert.deepEqual(at(seen, seen + 60 * MIN), { state: 'offline', since: seen + 60 * MIN });
  });
  it('low battery while in contact; an unknown battery (mains power) is never low', () => {
    assert.equal(at(seen, seen + MIN, 14.9).state, 'low_battery');
    assert.equal(at(seen, seen + MIN, 15).state, 'online');
    assert.equal(at(seen, seen + MIN, null).state, 'online');
    assert.equal(at(seen, seen + 11 * MIN, 3).state, 'stale', 'no contact outranks the battery it last reported');
  });
  it('unclaimed devices are only that; a placed device not heard from since is never_seen, then offline', () => {
    assert.equal(at(seen, seen + 2 * 60 * MIN, 90, null).state, 'unclaimed');
    assert.deepEqual(at(null, placed + 59 * MIN), { state: 'never_seen', since: placed });
    assert.deepEqual(at(null, placed + 60 * MIN), { state: 'offline', since: placed + 60 * MIN });
    // A contact on the bench days before the placement does not count; one just before it does.
    assert.equal(at(placed - 3 * 86_400_000, placed + MIN).state, 'never_seen');
    assert.equal(at(placed - 2 * MIN, placed + MIN).state, 'online');
  });
});

eachBackend('fleet health', (ctx) => {
  let api: Api;
  before(async () => {
    api = await Api.start(ctx().store);
    await api.server.fleet?.stop(); // the server's own monitor runs on the real clock; these tests drive theirs
  });
  after(async () => { await api?.close(); });

  /** A monitor on the server's store and bus with a clock the test sets, and the bus events of `devices`. */
  function monitor(devices: string[]): { m: FleetMonitor; events: DeviceHealthEvent[]; set(now: number): void; stop(): void } {
    let now = Date.now();
    const m = new FleetMonitor(ctx().store, api.server.ctx.bus, { clock: () => now });
    const events: DeviceHealthEvent[] = [];
    const listener = (e: DeviceHealthEvent) => { if (devices.includes(e.deviceId)) events.push(e); };
    api.server.ctx.bus.on('health', listener);
    return { m, events, set(t) { now = t; }, stop() { api.server.ctx.bus.off('health', listener); } };
  }
  const stored = async (deviceId: string) => (await ctx().store.db.selectFrom('device_events').selectAll().where('device_id', '=', deviceId).orderBy('at').orderBy('created_at').execute())
    .map((r) => [r.previous, r.state, r.at]);

  it('online → stale → offline → recovered → low battery → online: one event per transition, at the moment it happened', async () => {
    const f = await api.fixture(TZ);
    const mon = monitor([f.deviceId]);
    try {
      // A real heartbeat first: the route records the contact.
      const hb = await api.call('POST', '/api/v1/ingest/heartbeat', { battery: 80, rssi: -60, firmware: '1.2.0' }, f.deviceToken);
      assert.equal(hb.status, 200);
      const t0 = (await ctx().store.db.selectFrom('devices').select('last_seen_at').where('id', '=', f.deviceId).executeTakeFirstOrThrow()).last_seen_at!;
      assert.ok(Math.abs(t0 - Date.now()) < 10_000);

      const step = async (now: number): Promise<string[]> => {
        mon.set(now);
        return (await mon.m.sweep()).filter((t) => t.deviceId === f.deviceId).map((t) => t.state);
      };
      assert.deepEqual(await step(t0 + MIN), ['online']);
      assert.deepEqual(await step(t0 + 2 * MIN), [], 'unchanged: no event');
      assert.deepEqual(await step(t0 + 9 * MIN), []);
      assert.deepEqual(await step(t0 + 10 * MIN + 1), ['stale']);
      assert.deepEqual(await step(t0 + 30 * MIN), []);
      assert.deepEqual(await step(t0 + 75 * MIN), ['offline']);
      assert.deepEqual(await step(t0 + 80 * MIN), []);
      await recordHeartbeat(ctx().store, f.deviceId, { battery: 70 }, t0 + 90 * MIN);
      assert.deepEqual(await step(t0 + 90 * MIN + 5000), ['online'], 'recovered on a heartbeat');
      await recordHeartbeat(ctx().store, f.deviceId, { battery: 12 }, t0 + 95 * MIN);
      assert.deepEqual(await step(t0 + 95 * MIN + 5000), ['low_battery']);
      await recordHeartbeat(ctx().store, f.deviceId, { battery: 13 }, t0 + 100 * MIN);
      assert.deepEqual(await step(t0 + 100 * MIN + 5000), [], 'still low: no second event');
      await recordHeartbeat(ctx().store, f.deviceId, { battery: 95 }, t0 + 105 * MIN);
      assert.deepEqual(await step(t0 + 105 * MIN + 5000), ['online'], 'battery replaced');

      const expected = [
        [null, 'online', t0], ['online', 'stale', t0 + 10 * MIN], ['stale', 'offline', t0 + 60 * MIN],
        ['offline', 'online', t0 + 90 * MIN], ['online', 'low_battery', t0 + 95 * MIN], ['low_battery', 'online', t0 + 105 * MIN],
      ];
      assert.deepEqual(await stored(f.deviceId), expected);
      assert.deepEqual(mon.events.map((e) => [e.previous, e.state, e.at]), expected, 'the same on the bus, for alerts');
      assert.ok(mon.events.every((e) => e.orgId === f.orgId));
      assert.equal(mon.events[4]!.battery, 12);

      // The API lists them newest first, and pages back with `before`.
      const listed = (await api.ok('GET', `/api/v1/orgs/${f.orgId}/fleet/events?deviceId=${f.deviceId}`, undefined)).rows;
      assert.deepEqual(listed.map((e: any) => [e.previous, e.state, Date.parse(e.at)]), [...expected].reverse());
      const older = (await api.ok('GET', `/api/v1/orgs/${f.orgId}/fleet/events?limit=2&before=${encodeURIComponent(listed[1].at)}`, undefined)).rows;
      assert.deepEqual(older.map((e: any) => e.state), ['online', 'offline']);
      assertError(await api.call('GET', `/api/v1/orgs/${f.orgId}/fleet/events?limit=0`), 400, 'limit');
      assertError(await api.call('GET', `/api/v1/orgs/${f.orgId}/fleet/events?before=yesterday`), 400, 'before');
    } finally { mon.stop(); }
  });

  it('two monitors (two server nodes) sweeping together record each transition once', async () => {
    const f = await api.fixture(TZ);
    await recordHeartbeat(ctx().store, f.deviceId, { battery: 50 }, Date.now());
    const a = monitor([f.deviceId]);
    const b = monitor([]);
    try {
      const now = Date.now() + 2 * 60 * MIN;
      a.set(now);
      b.set(now);
      const [ra, rb] = await Promise.all([a.m.sweep(), b.m.sweep()]);
      const mine = [...ra, ...rb].filter((t) => t.deviceId === f.deviceId);
      assert.deepEqual(mine.map((t) => t.state), ['offline'], 'from null straight to offline, once');
      assert.equal((await stored(f.deviceId)).length, 1);
      assert.equal(a.events.length, 1, 'one bus event (both monitors share this bus)');
    } finally { a.stop(); b.stop(); }
  });

  it('votes count as contact, written at most once a minute per device', async () => {
    const f = await api.fixture(TZ);
    const mon = monitor([f.deviceId]);
    try {
      mon.set(Date.now());
      await mon.m.sweep();
      assert.equal((await ctx().store.db.selectFrom('devices').select('health_state').where('id', '=', f.deviceId).executeTakeFirstOrThrow()).health_state, 'never_seen');
      assert.deepEqual(mon.events, [], 'a new device is no alert');

      const before = Date.now();
      const r = await api.votes(f.deviceToken, [{ id: 'v1', ts: before - 60_000, button: 'satisfied' }]);
      assert.equal(r.status, 200);
      mon.set(Date.now());
      assert.deepEqual((await mon.m.sweep()).filter((t) => t.deviceId === f.deviceId).map((t) => [t.previous, t.state]), [['never_seen', 'online']]);
      const seen = (await ctx().store.db.selectFrom('devices').select('last_seen_at').where('id', '=', f.deviceId).executeTakeFirstOrThrow()).last_seen_at!;
      assert.ok(seen >= before && seen <= Date.now(), 'last seen = when the votes arrived');

      // Throttled: a mark 30 s later is not written, one 61 s later is; never backwards.
      const lastSeen = async () => (await ctx().store.db.selectFrom('devices').select('last_seen_at').where('id', '=', f.deviceId).executeTakeFirstOrThrow()).last_seen_at;
      markSeen(ctx().store, f.deviceId, seen + 30_000);
      await flushSeen(ctx().store);
      assert.equal(await lastSeen(), seen);
      markSeen(ctx().store, f.deviceId, seen + 61_000);
      await flushSeen(ctx().store);
      assert.equal(await lastSeen(), seen + 61_000);
      await recordHeartbeat(ctx().store, f.deviceId, {}, seen + 200_000);
      markSeen(ctx().store, f.deviceId, seen + 130_000); // a slower node's older mark
      await flushSeen(ctx().store);
      assert.equal(await lastSeen(), seen + 200_000);
    } finally { mon.stop(); }
  });

  it('thresholds per organisation: validated, and used by the monitor and the view', async () => {
    const f = await api.fixture(TZ);
    const path = `/api/v1/orgs/${f.orgId}/fleet/settings`;
    assert.deepEqual(await api.ok('GET', path, undefined), { staleAfterMinutes: 10, offlineAfterMinutes: 60, lowBatteryPercent: 15 });
    assert.deepEqual(await api.ok('PUT', path, { staleAfterMinutes: 2, lowBatteryPercent: 30 }), { staleAfterMinutes: 2, offlineAfterMinutes: 60, lowBatteryPercent: 30 });
    assertError(await api.call('PUT', path, { offlineAfterMinutes: 2 }), 400, 'offlineAfterMinutes');
    assertError(await api.call('PUT', path, { staleAfterMinutes: 0 }), 400, 'staleAfterMinutes');
    assertError(await api.call('PUT', path, { lowBatteryPercent: 101 }), 400, 'lowBatteryPercent');
    assertError(await api.call('PUT', path, { offlineAfterMinute: 5 }), 400, 'offlineAfterMinute');
    assertError(await api.call('PUT', path, { staleAfterMinutes: 'ten' }), 400, 'staleAfterMinutes');

    const now = Date.now();
    await ctx().store.db.updateTable('devices').set({ claimed_at: now - 60 * MIN }).where('id', '=', f.deviceId).execute(); // placed an hour ago
    await recordHeartbeat(ctx().store, f.deviceId, { battery: 25 }, now - 3 * MIN);
    const view = await api.ok('GET', `/api/v1/orgs/${f.orgId}/fleet`, undefined);
    assert.deepEqual(view.thresholds, { staleAfterMinutes: 2, offlineAfterMinutes: 60, lowBatteryPercent: 30 });
    assert.equal(view.devices[0].state, 'stale', '3 minutes without contact is stale at 2');
    await recordHeartbeat(ctx().store, f.deviceId, { battery: 25 }, now);
    assert.equal((await api.ok('GET', `/api/v1/orgs/${f.orgId}/fleet`, undefined)).devices[0].state, 'low_battery', '25 % is low at 30');
    const mon = monitor([f.deviceId]);
    try {
      mon.set(now + 2 * MIN);
      assert.deepEqual((await mon.m.sweep()).filter((t) => t.deviceId === f.deviceId).map((t) => t.state), ['stale']);
    } finally { mon.stop(); }
  });

  it('the organisation view: every state counted, managers see their locations only, retired devices are gone', async () => {
    const f = await api.fixture(TZ);
    const loc2 = await api.ok('POST', `/api/v1/orgs/${f.orgId}/locations`, { name: 'Annex', timezone: TZ }, 201);
    const mk = async (locationId: string, name: string) => (await api.ok('POST', `/api/v1/orgs/${f.orgId}/devices`, { kind: 'panel', name, locationId }, 201)).id as string;
    const now = Date.now();
    const ids = { online: f.deviceId, stale: await mk(f.locationId, 'b-stale'), offline: await mk(f.locationId, 'c-offline'), low: await mk(loc2.id, 'd-low'), never: await mk(loc2.id, 'e-never'), gone: await mk(loc2.id, 'f-retired') };
    // Placed devices "seen" relative to a placement hours ago, as in the field.
    await ctx().store.db.updateTable('devices').set({ claimed_at: now - 5 * 60 * MIN }).where('id', 'in', [ids.online, ids.stale, ids.offline, ids.low]).execute();
    await recordHeartbeat(ctx().store, ids.online, { battery: 90, firmware: '2.0.1' }, now - MIN);
    await recordHeartbeat(ctx().store, ids.stale, { battery: 90 }, now - 15 * MIN);
    await recordHeartbeat(ctx().store, ids.offline, { battery: 90 }, now - 3 * 60 * MIN);
    await recordHeartbeat(ctx().store, ids.low, { battery: 7 }, now - 30_000);
    await api.ok('POST', `/api/v1/orgs/${f.orgId}/devices/${ids.gone}/retire`, undefined);
    const bulk = await api.ok('POST', `/api/v1/orgs/${f.orgId}/devices/bulk`, { kind: 'fob', count: 2, namePrefix: 'z-box' }, 201);

    const view = await api.ok('GET', `/api/v1/orgs/${f.orgId}/fleet`, undefined);
    assert.deepEqual(view.counts, { online: 1, stale: 1, offline: 1, low_battery: 1, never_seen: 1, unclaimed: 2 });
    assert.equal(view.total, 7);
    const state = new Map(view.devices.map((d: any) => [d.id, d]));
    assert.deepEqual([ids.online, ids.stale, ids.offline, ids.low, ids.never, ...bulk.devices.map((d: any) => d.id)].map((id) => (state.get(id) as any)?.state),
      ['online', 'stale', 'offline', 'low_battery', 'never_seen', 'unclaimed', 'unclaimed']);
    const on = state.get(ids.online) as any;
    assert.deepEqual([on.firmware, on.battery, on.locationId, Date.parse(on.lastSeenAt)], ['2.0.1', 90, f.locationId, now - MIN]);
    assert.equal(Date.parse((state.get(ids.stale) as any).since), now - 5 * MIN, 'stale since 10 minutes after its last contact');

    const email = `${unique('manager')}@example.test`;
    await api.ok('POST', `/api/v1/orgs/${f.orgId}/users`, { email, name: 'M', role: 'manager', password: 'long enough password', locationIds: [loc2.id] }, 201);
    const manager = (await api.ok('POST', '/api/v1/auth/token', { email, password: 'long enough password' })).token;
    const mine = await api.ok('GET', `/api/v1/orgs/${f.orgId}/fleet`, undefined, 200, manager);
    assert.deepEqual(mine.devices.map((d: any) => d.id), [ids.low, ids.never]);
    assert.deepEqual(mine.counts, { online: 0, stale: 0, offline: 0, low_battery: 1, never_seen: 1, unclaimed: 0 });
    assertError(await api.call('PUT', `/api/v1/orgs/${f.orgId}/fleet/settings`, { staleAfterMinutes: 5 }, manager), 403);
  });

  it('the partner view: each of its organisations with counts, no one else\'s; tenancy checked', async () => {
    const p1 = await api.ok('POST', '/api/v1/partners', { name: unique('Integrator') }, 201);
    const p2 = await api.ok('POST', '/api/v1/partners', { name: unique('Rival') }, 201);
    const signIn = async (partner: string) => {
      const email = `${unique('partner')}@example.test`;
      await api.ok('POST', `/api/v1/partners/${partner}/users`, { email, name: 'P', password: 'long enough password' }, 201);
      return (await api.ok('POST', '/api/v1/auth/token', { email, password: 'long enough password' })).token as string;
    };
    const t1 = await signIn(p1.id);
    const t2 = await signIn(p2.id);
    const mkOrg = async (token: string, name: string) => {
      const o = await api.ok('POST', '/api/v1/orgs', { name }, 201, token);
      const l = await api.ok('POST', `/api/v1/orgs/${o.id}/locations`, { name: 'Main', timezone: TZ }, 201, token);
      return { id: o.id as string, loc: l.id as string };
    };
    const a1 = await mkOrg(t1, 'A café');
    const a2 = await mkOrg(t1, 'B bakery');
    const b1 = await mkOrg(t2, 'Rival bar');
    const now = Date.now();
    const dev = async (o: { id: string; loc: string }, token: string, seenAgo: number | null) => {
      const d = await api.ok('POST', `/api/v1/orgs/${o.id}/devices`, { kind: 'panel', locationId: o.loc }, 201, token);
      await ctx().store.db.updateTable('devices').set({ claimed_at: now - 5 * 60 * MIN }).where('id', '=', d.id).execute(); // placed hours ago
      if (seenAgo !== null) await recordHeartbeat(ctx().store, d.id, { battery: 80 }, now - seenAgo);
    };
    await dev(a1, t1, MIN);
    await dev(a1, t1, MIN);
    await dev(a1, t1, 20 * MIN);
    await api.ok('POST', `/api/v1/orgs/${a2.id}/devices/bulk`, { kind: 'fob', count: 3 }, 201, t1);
    await dev(b1, t2, MIN);

    const zero = { online: 0, stale: 0, offline: 0, low_battery: 0, never_seen: 0, unclaimed: 0 };
    const view = await api.ok('GET', `/api/v1/partners/${p1.id}/fleet`, undefined, 200, t1);
    assert.deepEqual(view.orgs, [
      { id: a1.id, name: 'A café', counts: { ...zero, online: 2, stale: 1 }, total: 3 },
      { id: a2.id, name: 'B bakery', counts: { ...zero, unclaimed: 3 }, total: 3 },
    ]);
    assert.deepEqual(view.counts, { ...zero, online: 2, stale: 1, unclaimed: 3 });
    assert.equal(view.total, 6);
    assert.deepEqual((await api.ok('GET', `/api/v1/partners/${p1.id}/fleet`, undefined)).orgs.map((o: any) => o.id), [a1.id, a2.id], 'the instance admin sees it too');

    assertError(await api.call('GET', `/api/v1/partners/${p1.id}/fleet`, undefined, t2), 403);
    assertError(await api.call('GET', `/api/v1/partners/${p2.id}/fleet`, undefined, t1), 403);
    assertError(await api.call('GET', `/api/v1/orgs/${b1.id}/fleet`, undefined, t1), 403);
    assertError(await api.call('GET', `/api/v1/orgs/${a1.id}/fleet/events`, undefined, t2), 403);
    assertError(await api.call('GET', '/api/v1/partners/ptr_nope/fleet'), 404);
    assertError(await api.call('GET', `/api/v1/partners/${p1.id}/fleet`, undefined, null), 401);
    const email = `${unique('owner')}@example.test`;
    await api.ok('POST', `/api/v1/orgs/${a1.id}/users`, { email, name: 'O', role: 'org-admin', password: 'long enough password' }, 201, t1);
    const owner = (await api.ok('POST', '/api/v1/auth/token', { email, password: 'long enough password' })).token;
    assertError(await api.call('GET', `/api/v1/partners/${p1.id}/fleet`, undefined, owner), 403, undefined);
    assert.equal((await api.ok('GET', `/api/v1/orgs/${a1.id}/fleet`, undefined, 200, owner)).total, 3, 'the client sees its own fleet');
    assert.equal((await api.ok('GET', `/api/v1/orgs/${a1.id}/fleet`, undefined, 200, t1)).total, 3, 'and so does its partner');
  });
});
