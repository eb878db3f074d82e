// Devices, their secret tokens and where they stand over time.
import type { Store } from '../store/db.ts';
import type { Refs } from '../store/refs.ts';
import { newId, newSecret, hashSecret } from '../domain/ids.ts';
import { invalidField, notFound } from '../domain/errors.ts';
import type { Attribution, DeviceKind } from '../domain/types.ts';
import { requireInOrg } from '../orgs/orgs.ts';

export type Device = {
  id: string; orgId: string; kind: DeviceKind; name: string | null;
  locationId: string | null; touchpointId: string | null; employeeId: string | null;
  lastSeenAt: string | null; battery: number | null; rssi: number | null; firmware: string | null; buffered: number | null;
};

/** Checks an attribution's references belong to the org, and that a touchpoint sits at that location. */
async function checkAttribution(store: Store, orgId: string, a: Attribution): Promise<void> {
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
    await trx.insertInto('devices').values({ id, org_id: orgId, kind: body.kind, name: body.name ?? null, token_hash: hashSecret(token), created_at: t, last_seen_at: null, battery: null, rssi: null, firmware: null, buffered: null }).execute();
    // The first placement also covers presses the device buffered before it was registered.
    await trx.insertInto('device_assignments').values({ id: newId('asg'), device_id: id, org_id: orgId, location_id: a.locationId, touchpoint_id: a.touchpointId, employee_id: a.employeeId, valid_from: 0, valid_to: null, created_at: t }).execute();
  });
  return { id, token, orgId, kind: body.kind, name: body.name ?? null, ...a, lastSeenAt: null, battery: null, rssi: null, firmware: null, buffered: null };
}

/** Devices with the placement valid at `now` (a move scheduled for later is not yet current). */
export async function listDevices(store: Store, orgId: string, only: string[] | null = null, now = Date.now()): Promise<Device[]> {
  let q = store.db.selectFrom('devices')
    .leftJoin('device_assignments', (j) => j.onRef('device_assignments.device_id', '=', 'devices.id')
      .on('device_assignments.valid_from', '<=', now)
      .on((eb) => eb.or([eb('device_assignments.valid_to', 'is', null), eb('device_assignments.valid_to', '>', now)])))
    .select(['devices.id', 'devices.org_id', 'devices.kind', 'devices.name', 'devices.last_seen_at', 'devices.battery', 'devices.rssi', 'devices.firmware', 'devices.buffered',
      'device_assignments.location_id', 'device_assignments.touchpoint_id', 'device_assignments.employee_id'])
    .where('devices.org_id', '=', orgId).orderBy('devices.name').orderBy('devices.id');
  // A manager sees the devices currently placed in the granted locations.
  if (only) q = only.length ? q.where('device_assignments.location_id', 'in', only) : q.where(({ lit }) => lit(false));
  const rows = await q.execute();
  return rows.map((r) => ({
    id: r.id, orgId: r.org_id, kind: r.kind as DeviceKind, name: r.name,
    locationId: r.location_id, touchpointId: r.touchpoint_id, employeeId: r.employee_id,
    lastSeenAt: r.last_seen_at === null ? null : new Date(r.last_seen_at).toISOString(),
    battery: r.battery, rssi: r.rssi, firmware: r.firmware, buffered: r.buffered,
  }));
}

/**
 * Moves a device from `from` on (default now). Earlier presses keep their attribution: `from`
 * may not lie in the past, because votes already stored would then be attributed twice over.
 */
export async function reassign(store: Store, refs: Refs, orgId: string, deviceId: string, a: Attribution, from = Date.now()): Promise<{ validFrom: string }> {
  await requireInOrg(store, 'devices', orgId, deviceId, 'deviceId').catch(() => { throw notFound('device'); });
  await checkAttribution(store, orgId, a);
  if (from < Date.now() - 60_000) throw invalidField('from', 'from must not be in the past: stored votes keep the attribution they had');
  await store.db.transaction().execute(async (trx) => {
    const open = await trx.selectFrom('device_assignments').select(['id', 'valid_from']).where('device_id', '=', deviceId).where('valid_to', 'is', null).executeTakeFirst();
    if (open && open.valid_from >= from) throw invalidField('from', 'from must be later than the start of the current assignment');
    if (open) await trx.updateTable('device_assignments').set({ valid_to: from }).where('id', '=', open.id).execute();
    await trx.insertInto('device_assignments').values({ id: newId('asg'), device_id: deviceId, org_id: orgId, location_id: a.locationId, touchpoint_id: a.touchpointId, employee_id: a.employeeId, valid_from: from, valid_to: null, created_at: Date.now() }).execute();
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
