// Short-lived cache of what ingest looks up on every request: device by token hash, its
// assignments, its location's zone. Writes on this node invalidate at once; other nodes of a
// cluster see a change within TTL_MS (an assignment change takes effect from a moment that is not
// in the past, see devices.reassign, so the delay never misattributes a vote).
import type { Store } from './db.ts';
import type { DeviceKind } from '../domain/types.ts';

const TTL_MS = 5_000;

export type DeviceRef = { id: string; orgId: string; kind: DeviceKind };
export type AssignmentRef = { locationId: string; touchpointId: string | null; employeeId: string | null; validFrom: number; validTo: number | null };
export type LocationRef = { id: string; orgId: string; timezone: string; openingHours: string | null };

class TtlCache<V> {
  #map = new Map<string, { v: V; at: number }>();
  async get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.#map.get(key);
    const now = Date.now();
    if (hit && now - hit.at < TTL_MS) return hit.v;
    const v = await load();
    if (this.#map.size > 100_000) this.#map.clear();
    this.#map.set(key, { v, at: now });
    return v;
  }
  delete(key: string): void { this.#map.delete(key); }
  clear(): void { this.#map.clear(); }
}

export class Refs {
  readonly #store: Store;
  #devices = new TtlCache<DeviceRef | null>();
  #assignments = new TtlCache<AssignmentRef[]>();
  #locations = new TtlCache<LocationRef | null>();
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

  invalidateDevice(deviceId: string): void { this.#assignments.delete(deviceId); }
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
