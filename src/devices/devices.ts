// Devices, their secret tokens and where they stand over time.
import type { Store } from '../store/db.ts';
import type { Refs } from '../store/refs.ts';
import type { DeviceBus } from './events.ts';
import { newId, newSecret, hashSecret } from '../domain/ids.ts';
import { conflict, invalidField, notFound } from '../domain/errors.ts';
import type { Attribution, DeviceKind } from '../domain/types.ts';
import { requireInOrg } from '../orgs/orgs.ts';

/** unclaimed: waits for its claim code (bulk-created); active: placed; retired: out of service for good. */
export type DeviceStatus = 'unclaimed' | 'active' | 'retired';
export type Device = {
  id: string; orgId: string; kind: DeviceKind; name: string | null;
  locationId: string | null; touchpointId: string | null; employeeId: string | null;
  lastSeenAt: string | null; battery: number | null; rssi: number | null; firmware: string | null; buffered: number | null;
  status: DeviceStatus; claimedAt: string | null; retiredAt: string | null;
};

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
export const statusOf = (r: { claimed_at: number | null; retired_at: number | null }): DeviceStatus =>
  r.retired_at !== null ? 'retired' : r.claimed_at === null ? 'unclaimed' : 'active';
/** What token_hash holds once a device's token is revoked: no SHA-256 in base64url contains ':'. */
export const revokedTokenHash = (deviceId: string): string => `revoked:${deviceId}`;

/** Checks an attribution's references belong to the org, and that a touchpoint sits at that location. */
export async function checkAttribution(store: Store, orgId: string, a: Attribution): Promise<void> {
  await requireInOrg(store, 'locations', orgId, a.locationId, 'locationId');
  if (a.touchpointId) {
    await requireInOrg(store, 'touchpoints', orgId, a.touchpointId, 'touchpointId');
    const tp = await store.db.selectFrom('touchpoints').select('location_id').where('id', '=', a.touchpointId).executeTakeFirstOrThrow();
    if (tp.location_id && tp.location_id !== a.locationId) throw invalidField('touchpointId', 'this touchpoint belongs to another location');
  }
  if (a.employeeId) await requireInOrg(store, 'employees', orgId, a.employeeId, 'employeeId');
}

export async function createDevice(store: Store, orgId: string, body: { kind: DeviceKind; name?: string | undefined } & Attribution): Promise<Device & { token: string }> {
  const a: Attribution = { locationId: body.locationId, touchpointId: body.touchpointId ?? null, employeeId: body.employeeId ?? null };
  await checkAttribution(store, orgId, a);
  const id = newId('dev');
  const token = newSecret('lbd');
  const t = Date.now();
  await store.db.transaction().execute(async (trx) => {
    await trx.insertInto('devices').values({ id, org_id: orgId, kind: body.kind, name: body.name ?? null, token_hash: hashSecret(token), created_at: t, last_seen_at: null, battery: null, rssi: null, firmware: null, buffered: null, claimed_at: t }).execute();
    // The first placement also covers presses the device buffered before it was registered.
    await trx.insertInto('device_assignments').values({ id: newId('asg'), device_id: id, org_id: orgId, location_id: a.locationId, touchpoint_id: a.touchpointId, employee_id: a.employeeId, valid_from: 0, valid_to: null, created_at: t }).execute();
  });
  return { id, token, orgId, kind: body.kind, name: body.name ?? null, ...a, lastSeenAt: null, battery: null, rssi: null, firmware: null, buffered: null, status: 'active', claimedAt: iso(t), retiredAt: null };
}

/**
 * Devices with the placement valid at `now` (a move scheduled for later is not yet current);
 * `deviceId` narrows it to one.
 */
export async function listDevices(store: Store, orgId: string, only: string[] | null = null, now = Date.now(), deviceId?: string): Promise<Device[]> {
  let q = store.db.selectFrom('devices')
    .leftJoin('device_assignments', (j) => j.onRef('device_assignments.device_id', '=', 'devices.id')
      .on('device_assignments.valid_from', '<=', now)
      .on((eb) => eb.or([eb('device_assignments.valid_to', 'is', null), eb('device_assignments.valid_to', '>', now)])))
    .select(['devices.id', 'devices.org_id', 'devices.kind', 'devices.name', 'devices.last_seen_at', 'devices.battery', 'devices.rssi', 'devices.firmware', 'devices.buffered',
      'devices.claimed_at', 'devices.retired_at', 'device_assignments.location_id', 'device_assignments.touchpoint_id', 'device_assignments.employee_id'])
    .where('devices.org_id', '=', orgId).orderBy('devices.name').orderBy('devices.id');
  if (deviceId !== undefined) q = q.where('devices.id', '=', deviceId);
  // A manager sees the devices currently placed in the granted locations.
  if (only) q = only.length ? q.where('device_assignments.location_id', 'in', only) : q.where(({ lit }) => lit(false));
  const rows = await q.execute();
  return rows.map((r) => ({
    id: r.id, orgId: r.org_id, kind: r.kind as DeviceKind, name: r.name,
    locationId: r.location_id, touchpointId: r.touchpoint_id, employeeId: r.employee_id,
    lastSeenAt: iso(r.last_seen_at),
    battery: r.battery, rssi: r.rssi, firmware: r.firmware, buffered: r.buffered,
    status: statusOf(r), claimedAt: iso(r.claimed_at), retiredAt: iso(r.retired_at),
  }));
}

/** One device of the org (a manager: only if it stands in one of their locations), or 404. */
export async function getDevice(store: Store, orgId: string, deviceId: string, only: string[] | null = null): Promise<Device> {
  const [d] = await listDevices(store, orgId, only, Date.now(), deviceId);
  if (!d) throw notFound('device');
  return d;
}

/** The device row of this org, or 404; retired devices give 409 unless allowed. */
async function deviceRow(store: Store, orgId: string, deviceId: string, allowRetired = false): Promise<{ claimed_at: number | null; retired_at: number | null }> {
  const row = await store.db.selectFrom('devices').select(['claimed_at', 'retired_at']).where('id', '=', deviceId).where('org_id', '=', orgId).executeTakeFirst();
  if (!row) throw notFound('device');
  if (row.retired_at !== null && !allowRetired) throw conflict(`this device was retired at ${iso(row.retired_at)}`, 'device');
  return row;
}

/**
 * A new token for the device, shown once; the old one stops working at once on this node (the
 * token cache is cleared) and within the cache's few seconds on other nodes of a cluster.
 */
export async function rotateToken(store: Store, refs: Refs, bus: DeviceBus, orgId: string, deviceId: string): Promise<{ id: string; token: string }> {
  await deviceRow(store, orgId, deviceId);
  const token = newSecret('lbd');
  await store.db.updateTable('devices').set({ token_hash: hashSecret(token) }).where('id', '=', deviceId).where('retired_at', 'is', null).execute();
  refs.invalidateTokens();
  bus.emit('credentials', { deviceId, orgId, reason: 'rotated' });
  return { id: deviceId, token };
}

/** The device keeps its data and placement but has no working token until one is rotated in. */
export async function revokeToken(store: Store, refs: Refs, bus: DeviceBus, orgId: string, deviceId: string): Promise<void> {
  await deviceRow(store, orgId, deviceId);
  await store.db.updateTable('devices').set({ token_hash: revokedTokenHash(deviceId) }).where('id', '=', deviceId).execute();
  refs.invalidateTokens();
  bus.emit('credentials', { deviceId, orgId, reason: 'revoked' });
}

/**
 * Takes a device out of service for good: its token stops working, its placement ends now (a move
 * scheduled for later is dropped), its open claim codes expire, the fleet view no longer counts it.
 * Its votes stay where they were counted. Retiring a retired device changes nothing.
 */
export async function retireDevice(store: Store, refs: Refs, bus: DeviceBus, orgId: string, deviceId: string, now = Date.now()): Promise<Device> {
  const row = await deviceRow(store, orgId, deviceId, true);
  if (row.retired_at === null) {
    await store.db.transaction().execute(async (trx) => {
      await trx.updateTable('devices').set({ retired_at: now, token_hash: revokedTokenHash(deviceId) }).where('id', '=', deviceId).where('retired_at', 'is', null).execute();
      await trx.deleteFrom('device_assignments').where('device_id', '=', deviceId).where('valid_from', '>', now).execute();
      await trx.updateTable('device_assignments').set({ valid_to: now }).where('device_id', '=', deviceId)
        .where((eb) => eb.or([eb('valid_to', 'is', null), eb('valid_to', '>', now)])).execute();
      await trx.updateTable('device_claims').set({ expires_at: now }).where('device_id', '=', deviceId).where('used_at', 'is', null).where('expires_at', '>', now).execute();
    });
    refs.invalidateTokens();
    refs.invalidateDevice(deviceId);
    bus.emit('credentials', { deviceId, orgId, reason: 'retired' });
  }
  return getDevice(store, orgId, deviceId);
}

/**
 * Moves a device from `from` on (default now). Earlier presses keep their attribution: `from`
 * may not lie in the past, because votes already stored would then be attributed twice over.
 */
export async function reassign(store: Store, refs: Refs, orgId: string, deviceId: string, a: Attribution, from = Date.now()): Promise<{ validFrom: string }> {
  const device = await deviceRow(store, orgId, deviceId);
  await checkAttribution(store, orgId, a);
  if (from < Date.now() - 60_000) throw invalidField('from', 'from must not be in the past: stored votes keep the attribution they had');
  await store.db.transaction().execute(async (trx) => {
    const open = await trx.selectFrom('device_assignments').select(['id', 'valid_from']).where('device_id', '=', deviceId).where('valid_to', 'is', null).executeTakeFirst();
    if (open && open.valid_from >= from) throw invalidField('from', 'from must be later than the start of the current assignment');
    if (open) await trx.updateTable('device_assignments').set({ valid_to: from }).where('id', '=', open.id).execute();
    await trx.insertInto('device_assignments').values({ id: newId('asg'), device_id: deviceId, org_id: orgId, location_id: a.locationId, touchpoint_id: a.touchpointId, employee_id: a.employeeId, valid_from: from, valid_to: null, created_at: Date.now() }).execute();
    // Placing an unclaimed device by hand claims it (its claim codes then refuse to bind it again).
    if (device.claimed_at === null) await trx.updateTable('devices').set({ claimed_at: Date.now() }).where('id', '=', deviceId).where('claimed_at', 'is', null).execute();
  });
  refs.invalidateDevice(deviceId);
  return { validFrom: new Date(from).toISOString() };
}

export type Heartbeat = { battery?: number | undefined; rssi?: number | undefined; firmware?: string | undefined; buffered?: number | undefined };

export async function recordHeartbeat(store: Store, deviceId: string, hb: Heartbeat, at = Date.now()): Promise<void> {
  await store.db.updateTable('devices').set({
    last_seen_at: at,
    ...(hb.battery !== undefined ? { battery: hb.battery } : {}),
    ...(hb.rssi !== undefined ? { rssi: hb.rssi } : {}),
    ...(hb.firmware !== undefined ? { firmware: hb.firmware } : {}),
    ...(hb.buffered !== undefined ? { buffered: hb.buffered } : {}),
  }).where('id', '=', deviceId).execute();
}
