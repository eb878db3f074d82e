// Votes and visitor counts show a device is alive as much as a heartbeat does, but writing
// last_seen_at on each of thousands of batches a second would double the hot path's writes. So
// each node remembers when it last marked a device seen, marks it at most once a minute, and
// writes the marks it collected in one statement per device in one transaction: when the fleet
// monitor sweeps (before it derives states), or lazily once FLUSH_AFTER_MS has passed.
// A mark never moves last_seen_at backwards, so nodes and heartbeats can write in any order.
import type { Store } from '../store/db.ts';

/** A device is marked seen by votes at most once per this interval (per node). */
export const SEEN_THROTTLE_MS = 60_000;
/** Pending marks are written at the latest on the first mark after this long (or at the monitor's sweep). */
const FLUSH_AFTER_MS = 15_000;
/** Devices remembered per store before the throttle forgets the oldest (it then writes once more, no harm). */
const MAX_REMEMBERED = 200_000;

type Marks = { last: Map<string, number>; pending: Map<string, number>; firstPendingAt: number; flushing: Promise<void> | null };
const byStore = new WeakMap<Store, Marks>();

function marksOf(store: Store): Marks {
  let m = byStore.get(store);
  if (!m) {
    m = { last: new Map(), pending: new Map(), firstPendingAt: 0, flushing: null };
    byStore.set(store, m);
  }
  return m;
}

/**
 * Notes that a device was heard from at `at` (a vote or visitor batch). Cheap: a map lookup, and
 * at most once a minute per device a pending mark; never waits for the store.
 */
export function markSeen(store: Store, deviceId: string, at: number): void {
  const m = marksOf(store);
  const last = m.last.get(deviceId);
  if (last !== undefined && at - last < SEEN_THROTTLE_MS && at >= last) return;
  if (m.last.size >= MAX_REMEMBERED) m.last.clear();
  m.last.set(deviceId, at);
  if (!m.pending.size) m.firstPendingAt = at;
  m.pending.set(deviceId, Math.max(at, m.pending.get(deviceId) ?? 0));
  if (at - m.firstPendingAt >= FLUSH_AFTER_MS && !m.flushing) {
    // Fire and forget: a failed write only delays last_seen_at until the next flush retries it.
    void flushSeen(store).catch(() => {});
  }
}

/** Writes every pending mark; resolves once they are stored (or were already being stored). */
export async function flushSeen(store: Store): Promise<void> {
  const m = marksOf(store);
  while (m.flushing) await m.flushing;
  if (!m.pending.size) return;
  const batch = [...m.pending.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)); // one lock order for concurrent nodes
  m.pending = new Map();
  m.flushing = (async () => {
    try {
      await store.db.transaction().execute(async (trx) => {
        for (const [id, at] of batch) {
          await trx.updateTable('devices').set({ last_seen_at: at }).where('id', '=', id)
            .where((eb) => eb.or([eb('last_seen_at', 'is', null), eb('last_seen_at', '<', at)])).execute();
        }
      });
    } catch (e) {
      // Keep the marks for the next flush (a newer mark of the same device wins).
      for (const [id, at] of batch) m.pending.set(id, Math.max(at, m.pending.get(id) ?? 0));
      throw e;
    } finally {
      m.flushing = null;
    }
  })();
  await m.flushing;
}
