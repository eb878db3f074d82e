// Short-lived cache of what ingest looks up on every request: device by token hash, its
// assignments, its location's zone, the shifts at its touchpoint. Writes on this node invalidate at
// once; other nodes of a cluster see a change within TTL_MS (an assignment change takes effect from
// a moment that is not in the past, see devices.reassign, so the delay never misattributes a vote;
// a shift changed on another node may be seen up to TTL_MS late, see src/shifts).
import type { Store } from './db.ts';
import type { DeviceKind } from '../domain/types.ts';

const TTL_MS = 5_000;

export type DeviceRef = { id: string; orgId: string; kind: DeviceKind };
export type AssignmentRef = { locationId: string; touchpointId: string | null; employeeId: string | null; validFrom: number; validTo: number | null };
export type LocationRef = { id: string; orgId: string; timezone: string; openingHours: string | null };
/** An employee on shift at a touchpoint over [start, end). */
export type ShiftRef = { id: string; employeeId: string; start: number; end: number };

/** The longest shift (src/shifts enforces it); lookups by instant rely on it to bound their scan. */
export const MAX_SHIFT_MS = 24 * 3_600_000;
const DAY_MS = 86_400_000;
/** A batch touching more UTC days than this (an offline buffer) reads its shifts in one uncached query. */
const MAX_CACHED_DAYS = 7;

class TtlCache<V> {
  #map = new Map<string, { v: V; at: number }>();
  /** Bumped by every invalidation: a load that began before one must not cache what it read. */
  #generation = 0;
  async get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.#map.get(key);
    const now = Date.now();
    if (hit && now - hit.at < TTL_MS) return hit.v;
    const generation = this.#generation;
    const v = await load();
    if (generation !== this.#generation) return v; // e.g. a token rotated while its row was being read
    if (this.#map.size > 100_000) this.#map.clear();
    this.#map.set(key, { v, at: now });
    return v;
  }
  delete(key: string): void { this.#generation++; this.#map.delete(key); }
  clear(): void { this.#generation++; this.#map.clear(); }
}

export class Refs {
  readonly #store: Store;
  #devices = new TtlCache<DeviceRef | null>();
  #assignments = new TtlCache<AssignmentRef[]>();
  #locations = new TtlCache<LocationRef | null>();
  /** Shifts of a touchpoint overlapping one UTC day, keyed "touchpointId|day number". */
  #shifts = new TtlCache<ShiftRef[]>();
  constructor(store: Store) { this.#store = store; }

  deviceByTokenHash(hash: string): Promise<DeviceRef | null> {
    return this.#devices.get(hash, async () => {
      const r = await this.#store.db.selectFrom('devices').select(['id', 'org_id', 'kind']).where('token_hash', '=', hash).executeTakeFirst();
      return r ? { id: r.id, orgId: r.org_id, kind: r.kind as DeviceKind } : null;
    });
  }

  /** Assignments of a device ordered by valid_from. */
  assignments(deviceId: string): Promise<AssignmentRef[]> {
    return this.#assignments.get(deviceId, async () => {
      const rows = await this.#store.db.selectFrom('device_assignments')
        .select(['location_id', 'touchpoint_id', 'employee_id', 'valid_from', 'valid_to'])
        .where('device_id', '=', deviceId).orderBy('valid_from').execute();
      return rows.map((r) => ({ locationId: r.location_id, touchpointId: r.touchpoint_id, employeeId: r.employee_id, validFrom: r.valid_from, validTo: r.valid_to }));
    });
  }

  location(id: string): Promise<LocationRef | null> {
    return this.#locations.get(id, async () => {
      const r = await this.#store.db.selectFrom('locations').select(['id', 'org_id', 'timezone', 'opening_hours']).where('id', '=', id).executeTakeFirst();
      return r ? { id: r.id, orgId: r.org_id, timezone: r.timezone, openingHours: r.opening_hours } : null;
    });
  }

  /** Shifts at a touchpoint covering any of `instants`, ordered by start. */
  async shifts(touchpointId: string, instants: number[]): Promise<ShiftRef[]> {
    const days = [...new Set(instants.map((t) => Math.floor(t / DAY_MS)))];
    if (days.length > MAX_CACHED_DAYS) {
      return this.#loadShifts(touchpointId, Math.min(...instants), Math.max(...instants) + 1);
    }
    const byId = new Map<string, ShiftRef>();
    for (const day of days) {
      const list = await this.#shifts.get(`${touchpointId}|${day}`, () => this.#loadShifts(touchpointId, day * DAY_MS, (day + 1) * DAY_MS));
      for (const s of list) byId.set(s.id, s);
    }
    return [...byId.values()].sort((a, b) => a.start - b.start);
  }

  /** Shifts at a touchpoint overlapping [from, to). */
  async #loadShifts(touchpointId: string, from: number, to: number): Promise<ShiftRef[]> {
    const rows = await this.#store.db.selectFrom('shifts').select(['id', 'employee_id', 'starts_at', 'ends_at'])
      .where('touchpoint_id', '=', touchpointId).where('starts_at', '<', to).where('starts_at', '>', from - MAX_SHIFT_MS).where('ends_at', '>', from)
      .orderBy('starts_at').execute();
    return rows.map((r) => ({ id: r.id, employeeId: r.employee_id, start: r.starts_at, end: r.ends_at }));
  }

  /** A shift over [start, end) at this touchpoint was added or removed. */
  invalidateShifts(touchpointId: string, start: number, end: number): void {
    for (let day = Math.floor(start / DAY_MS); day * DAY_MS < end; day++) this.#shifts.delete(`${touchpointId}|${day}`);
  }

  invalidateDevice(deviceId: string): void { this.#assignments.delete(deviceId); }
  /** A location's zone or opening hours changed (src/orgs): presses from now on are bucketed by the new ones. */
  invalidateLocation(locationId: string): void { this.#locations.delete(locationId); }
  /** Token rotation or deletion: forget every cached token. */
  invalidateTokens(): void { this.#devices.clear(); }
}

/** The assignment in force at `ts`; a vote older than the first assignment belongs to the first. */
export function assignmentAt(list: AssignmentRef[], ts: number): AssignmentRef | undefined {
  let found = list[0];
  for (const a of list) {
    if (a.validFrom <= ts) found = a;
    else break;
  }
  return found;
}

/**
 * The shift in force at `ts` in a list ordered by start (start inclusive, end exclusive: a handover
 * instant belongs to who starts). Shifts at one touchpoint never overlap, so it is the last one
 * starting at or before `ts`, if it has not ended.
 */
export function shiftAt(list: ShiftRef[], ts: number): ShiftRef | undefined {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.start <= ts) lo = mid + 1;
    else hi = mid;
  }
  const s = list[lo - 1];
  return s && ts < s.end ? s : undefined;
}
