// Fleet health: a state derived from each device's last contact (heartbeat, votes, visitor counts,
// settings fetch) and battery, with per-org thresholds; a monitor that sweeps the fleet, records
// each transition once in device_events and emits it on the device bus (alerts consume it); and
// the health views per organisation and per partner.
import type { Store } from '../store/db.ts';
import type { DeviceBus, DeviceHealthEvent } from './events.ts';
import { newId } from '../domain/ids.ts';
import { invalidField, notFound } from '../domain/errors.ts';
import type { DeviceKind } from '../domain/types.ts';
import { flushSeen } from './seen.ts';

// ---- Thresholds (orgs.settings.fleet)

export type FleetThresholds = { staleAfterMinutes: number; offlineAfterMinutes: number; lowBatteryPercent: number };
/** Defaults, also in README "Devices and fleet". */
export const FLEET_DEFAULTS: FleetThresholds = { staleAfterMinutes: 10, offlineAfterMinutes: 60, lowBatteryPercent: 15 };

export function fleetThresholdsOf(settingsJson: string): FleetThresholds {
  const s = JSON.parse(settingsJson) as { fleet?: Partial<FleetThresholds> };
  return { ...FLEET_DEFAULTS, ...(s.fleet ?? {}) };
}

export async function fleetThresholds(store: Store, orgId: string): Promise<FleetThresholds> {
  const org = await store.db.selectFrom('orgs').select('settings').where('id', '=', orgId).executeTakeFirst();
  if (!org) throw notFound('organisation');
  return fleetThresholdsOf(org.settings);
}

/** Sets some thresholds (the others keep their value); stale must come before offline. */
export async function setFleetThresholds(store: Store, orgId: string, input: Partial<FleetThresholds>): Promise<FleetThresholds> {
  const org = await store.db.selectFrom('orgs').select('settings').where('id', '=', orgId).executeTakeFirst();
  if (!org) throw notFound('organisation');
  const next: FleetThresholds = { ...fleetThresholdsOf(org.settings) };
  for (const k of ['staleAfterMinutes', 'offlineAfterMinutes', 'lowBatteryPercent'] as const) if (input[k] !== undefined) next[k] = input[k];
  if (next.offlineAfterMinutes <= next.staleAfterMinutes) {
    throw invalidField(input.offlineAfterMinutes !== undefined ? 'offlineAfterMinutes' : 'staleAfterMinutes',
      `offlineAfterMinutes (${next.offlineAfterMinutes}) must be greater than staleAfterMinutes (${next.staleAfterMinutes})`);
  }
  const settings = { ...(JSON.parse(org.settings) as object), fleet: next };
  await store.db.updateTable('orgs').set({ settings: JSON.stringify(settings) }).where('id', '=', orgId).execute();
  return next;
}

// ---- States

/** What the monitor raises events for. */
export const ALERT_STATES = ['online', 'stale', 'offline', 'low_battery'] as const;
/** Every state the views count: `never_seen` = placed, no contact yet; `unclaimed` = waiting for its claim code. */
export const HEALTH_STATES = [...ALERT_STATES, 'never_seen', 'unclaimed'] as const;
export type HealthState = (typeof HEALTH_STATES)[number];
export type Counts = Record<HealthState, number>;
export const emptyCounts = (): Counts => ({ online: 0, stale: 0, offline: 0, low_battery: 0, never_seen: 0, unclaimed: 0 });

export type HealthInput = { claimedAt: number | null; lastSeenAt: number | null; battery: number | null };

/**
 * The state of a device at `now` and the moment it entered it:
 * - unclaimed: not placed yet (no events: it may sit in a box for months);
 * - offline: no contact for offlineAfterMinutes or more (or never, that long after its placement);
 * - stale: no contact for staleAfterMinutes or more;
 * - low_battery: in contact, last reported battery below lowBatteryPercent;
 * - online: in contact;
 * - never_seen: placed less than offlineAfterMinutes ago and not heard from since.
 * A contact counts from shortly before the placement on (an installer powers it up, then claims it);
 * one on the bench weeks earlier does not make a freshly placed device look alive.
 */
export function deriveHealth(d: HealthInput, t: FleetThresholds, now: number): { state: HealthState; since: number | null } {
  if (d.claimedAt === null) return { state: 'unclaimed', since: null };
  const staleMs = t.staleAfterMinutes * 60_000;
  const offlineMs = t.offlineAfterMinutes * 60_000;
  const contact = d.lastSeenAt !== null && d.lastSeenAt >= d.claimedAt - staleMs ? d.lastSeenAt : null;
  if (contact === null) {
    return now - d.claimedAt >= offlineMs ? { state: 'offline', since: d.claimedAt + offlineMs } : { state: 'never_seen', since: d.claimedAt };
  }
  const age = now - contact;
  if (age >= offlineMs) return { state: 'offline', since: contact + offlineMs };
  if (age >= staleMs) return { state: 'stale', since: contact + staleMs };
  if (d.battery !== null && d.battery < t.lowBatteryPercent) return { state: 'low_battery', since: Math.min(contact, now) };
  return { state: 'online', since: Math.min(contact, now) };
}

const isAlertState = (s: string): boolean => (ALERT_STATES as readonly string[]).includes(s);

// ---- Monitor

export type Transition = DeviceHealthEvent & { id: string };
export type FleetMonitorOptions = {
  /** How often to sweep (default 30 s). */
  intervalMs?: number | undefined;
  /** Injectable clock (tests): epoch ms. */
  clock?: (() => number) | undefined;
  /** Where sweep failures go (the server's logger); they never stop the monitor. */
  onError?: ((err: unknown) => void) | undefined;
};

const PAGE = 2_000;

/**
 * Sweeps every device that is not retired, derives its state and, where it differs from the state
 * stored, stores the new one. A change into online/stale/offline/low_battery is a transition: one
 * device_events row and one 'health' event on the bus. The stored state is compare-and-set, so
 * several server nodes sweeping the same store record each transition once. A change into
 * unclaimed/never_seen (a new device) is stored silently.
 */
export class FleetMonitor {
  readonly #store: Store;
  readonly #bus: DeviceBus;
  readonly #intervalMs: number;
  readonly #onError: (err: unknown) => void;
  clock: () => number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<Transition[]> | null = null;

  constructor(store: Store, bus: DeviceBus, o: FleetMonitorOptions = {}) {
    this.#store = store;
    this.#bus = bus;
    this.#intervalMs = o.intervalMs ?? 30_000;
    this.clock = o.clock ?? Date.now;
    this.#onError = o.onError ?? (() => {});
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      if (!this.#running) void this.sweep().catch(this.#onError);
    }, this.#intervalMs);
    this.#timer.unref();
  }

  /** Stops sweeping, waits for a sweep under way and writes the pending last-seen marks. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => {});
    await flushSeen(this.#store).catch(this.#onError);
  }

  /** One pass over the fleet; returns the transitions it recorded. Concurrent calls share one pass. */
  sweep(): Promise<Transition[]> {
    this.#running ??= this.#sweep().finally(() => { this.#running = null; });
    return this.#running;
  }

  async #sweep(): Promise<Transition[]> {
    const store = this.#store;
    await flushSeen(store); // votes' last-seen marks first, or a busy device would look stale
    const now = this.clock();
    const thresholds = new Map<string, FleetThresholds>();
    for (const o of await store.db.selectFrom('orgs').select(['id', 'settings']).execute()) thresholds.set(o.id, fleetThresholdsOf(o.settings));
    const recorded: Transition[] = [];
    let after = '';
    for (;;) {
      const rows = await store.db.selectFrom('devices')
        .select(['id', 'org_id', 'claimed_at', 'last_seen_at', 'battery', 'health_state'])
        .where('retired_at', 'is', null).where('id', '>', after).orderBy('id').limit(PAGE).execute();
      if (!rows.length) break;
      after = rows[rows.length - 1]!.id;
      const changes: Array<{ id: string; orgId: string; previous: string | null; state: HealthState; since: number | null; lastSeenAt: number | null; battery: number | null }> = [];
      for (const r of rows) {
        const h = deriveHealth({ claimedAt: r.claimed_at, lastSeenAt: r.last_seen_at, battery: r.battery }, thresholds.get(r.org_id) ?? FLEET_DEFAULTS, now);
        if (h.state !== r.health_state) changes.push({ id: r.id, orgId: r.org_id, previous: r.health_state, state: h.state, since: h.since, lastSeenAt: r.last_seen_at, battery: r.battery });
      }
      if (!changes.length) continue;
      const page: Transition[] = [];
      await store.db.transaction().execute(async (trx) => {
        for (const c of changes) {
          const res = await trx.updateTable('devices').set({ health_state: c.state, health_since: c.since })
            .where('id', '=', c.id).where('health_state', c.previous === null ? 'is' : '=', c.previous).executeTakeFirst();
          if (Number(res.numUpdatedRows) !== 1 || !isAlertState(c.state) || c.previous === 'unclaimed') continue; // another node got there first, or nothing to tell
          const at = Math.min(c.since ?? now, now);
          const t: Transition = { id: newId('dve'), deviceId: c.id, orgId: c.orgId, state: c.state, previous: c.previous, at, lastSeenAt: c.lastSeenAt, battery: c.battery };
          await trx.insertInto('device_events').values({
            id: t.id, device_id: t.deviceId, org_id: t.orgId, state: t.state, previous: t.previous, at,
            detail: JSON.stringify({ lastSeenAt: c.lastSeenAt, battery: c.battery }), created_at: now,
          }).execute();
          page.push(t);
        }
      });
      // Told only once stored, so a consumer can rely on the event being in device_events.
      for (const t of page) {
        recorded.push(t);
        const { id: _id, ...event } = t;
        try { this.#bus.emit('health', event); } catch (e) { this.#onError(e); }
      }
      if (rows.length < PAGE) break;
    }
    return recorded;
  }
}

// ---- Views

export type FleetDevice = {
  id: string; name: string | null; kind: DeviceKind; locationId: string | null; touchpointId: string | null;
  state: HealthState; since: string | null; lastSeenAt: string | null;
  battery: number | null; rssi: number | null; firmware: string | null; buffered: number | null;
};

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

/**
 * Every device of an org that is not retired with its state now, and the counts by state; with
 * `only` (a manager's locations) just the devices standing in those locations.
 */
export async function orgFleet(store: Store, orgId: string, only: string[] | null, now = Date.now()): Promise<{ thresholds: FleetThresholds; counts: Counts; total: number; devices: FleetDevice[] }> {
  await flushSeen(store);
  const thresholds = await fleetThresholds(store, orgId);
  let q = store.db.selectFrom('devices')
    .leftJoin('device_assignments', (j) => j.onRef('device_assignments.device_id', '=', 'devices.id')
      .on('device_assignments.valid_from', '<=', now)
      .on((eb) => eb.or([eb('device_assignments.valid_to', 'is', null), eb('device_assignments.valid_to', '>', now)])))
    .select(['devices.id', 'devices.name', 'devices.kind', 'devices.claimed_at', 'devices.last_seen_at', 'devices.battery', 'devices.rssi',
      'devices.firmware', 'devices.buffered', 'devices.health_state', 'devices.health_since', 'device_assignments.location_id', 'device_assignments.touchpoint_id'])
    .where('devices.org_id', '=', orgId).where('devices.retired_at', 'is', null).orderBy('devices.name').orderBy('devices.id');
  if (only) q = only.length ? q.where('device_assignments.location_id', 'in', only) : q.where(({ lit }) => lit(false));
  const counts = emptyCounts();
  const devices = (await q.execute()).map((r): FleetDevice => {
    const h = deriveHealth({ claimedAt: r.claimed_at, lastSeenAt: r.last_seen_at, battery: r.battery }, thresholds, now);
    counts[h.state]++;
    // The monitor knows when a device came online; the derivation only when its contact was.
    const since = r.health_state === h.state && r.health_since !== null ? r.health_since : h.since;
    return {
      id: r.id, name: r.name, kind: r.kind as DeviceKind, locationId: r.location_id, touchpointId: r.touchpoint_id,
      state: h.state, since: iso(since), lastSeenAt: iso(r.last_seen_at), battery: r.battery, rssi: r.rssi, firmware: r.firmware, buffered: r.buffered,
    };
  });
  return { thresholds, counts, total: devices.length, devices };
}

/** Each client organisation of a partner with its devices counted by state, and the partner's totals. */
export async function partnerFleet(store: Store, partnerId: string, now = Date.now()): Promise<{ counts: Counts; total: number; orgs: Array<{ id: string; name: string; counts: Counts; total: number }> }> {
  await flushSeen(store);
  const orgs = await store.db.selectFrom('orgs').select(['id', 'name', 'settings']).where('partner_id', '=', partnerId).orderBy('name').orderBy('id').execute();
  const byOrg = new Map(orgs.map((o) => [o.id, { id: o.id, name: o.name, counts: emptyCounts(), total: 0, thresholds: fleetThresholdsOf(o.settings) }]));
  const counts = emptyCounts();
  let total = 0;
  if (orgs.length) {
    const rows = await store.db.selectFrom('devices').innerJoin('orgs', 'orgs.id', 'devices.org_id')
      .select(['devices.org_id', 'devices.claimed_at', 'devices.last_seen_at', 'devices.battery'])
      .where('orgs.partner_id', '=', partnerId).where('devices.retired_at', 'is', null).execute();
    for (const r of rows) {
      const o = byOrg.get(r.org_id);
      if (!o) continue;
      const { state } = deriveHealth({ claimedAt: r.claimed_at, lastSeenAt: r.last_seen_at, battery: r.battery }, o.thresholds, now);
      o.counts[state]++;
      o.total++;
      counts[state]++;
      total++;
    }
  }
  return { counts, total, orgs: [...byOrg.values()].map(({ thresholds: _t, ...o }) => o) };
}

export type FleetEvent = { id: string; deviceId: string; state: string; previous: string | null; at: string; lastSeenAt: string | null; battery: number | null };

/** Recorded transitions, newest first; `devices` limits them to those devices (a manager's). */
export async function fleetEvents(store: Store, orgId: string, o: { deviceId?: string | undefined; devices?: string[] | null; limit?: number | undefined; before?: number | undefined }): Promise<FleetEvent[]> {
  let q = store.db.selectFrom('device_events').selectAll().where('org_id', '=', orgId).orderBy('at', 'desc').orderBy('id', 'desc').limit(o.limit ?? 100);
  if (o.deviceId) q = q.where('device_id', '=', o.deviceId);
  if (o.devices) q = o.devices.length ? q.where('device_id', 'in', o.devices) : q.where(({ lit }) => lit(false));
  if (o.before !== undefined) q = q.where('at', '<', o.before);
  return (await q.execute()).map((r) => {
    const d = (r.detail ? JSON.parse(r.detail) : {}) as { lastSeenAt?: number | null; battery?: number | null };
    return { id: r.id, deviceId: r.device_id, state: r.state, previous: r.previous, at: new Date(r.at).toISOString(), lastSeenAt: iso(d.lastSeenAt ?? null), battery: d.battery ?? null };
  });
}

