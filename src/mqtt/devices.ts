// Devices by id, for messages from an external broker: the broker authenticated the sender and its
// ACL confined it to its own `lb/v1/{deviceId}/…`, so the topic names the device; the server still
// checks that the device exists, is not retired and has not had its token revoked (its queued
// messages are then refused, as its HTTP requests would be). Cached briefly, like Refs, so a busy
// fleet costs no query per message.
import type { Store } from '../store/db.ts';
import type { DeviceKind, DevicePrincipal } from '../domain/types.ts';
import { revokedTokenHash } from '../devices/devices.ts';

const TTL_MS = 5_000;
const MAX_ENTRIES = 100_000;

/** A device as the topic names it: usable, known but unusable (retired, token revoked), or not ours at all. */
export type Lookup = { status: 'ok'; device: DevicePrincipal } | { status: 'revoked' } | { status: 'unknown' };

export class DeviceDirectory {
  readonly #store: Store;
  #cache = new Map<string, { v: Lookup; at: number }>();
  /** Bumped by forget(): a lookup that began before must not cache what it read. */
  #generation = 0;
  constructor(store: Store) { this.#store = store; }

  async byId(deviceId: string, now = Date.now()): Promise<Lookup> {
    const hit = this.#cache.get(deviceId);
    if (hit && now - hit.at < TTL_MS) return hit.v;
    const generation = this.#generation;
    const r = await this.#store.db.selectFrom('devices').select(['id', 'org_id', 'kind', 'token_hash', 'retired_at']).where('id', '=', deviceId).executeTakeFirst();
    const v: Lookup = !r ? { status: 'unknown' }
      : r.retired_at !== null || r.token_hash === revokedTokenHash(r.id) ? { status: 'revoked' }
      : { status: 'ok', device: { kind: 'device', deviceId: r.id, orgId: r.org_id, deviceKind: r.kind as DeviceKind } };
    if (generation !== this.#generation) return v;
    if (this.#cache.size >= MAX_ENTRIES) this.#cache.clear();
    this.#cache.set(deviceId, { v, at: now });
    return v;
  }

  forget(deviceId: string): void { this.#generation++; this.#cache.delete(deviceId); }
}
