// Runs the misuse rules inside the transaction that stores a batch of votes, so the verdicts see
// exactly the presses stored — including other requests of the same group commit and, on
// PostgreSQL, other nodes' transactions for the same device (serialised by an advisory lock).
// Per device in the batch: one read of its presses in [min − 2R, max + 2R] (R = influence radius),
// the rules over that timeline, and the verdicts of presses within R of a new press written back.
// A late press can thus turn a stored press into a repeat (or back): its flags are updated and its
// counts moved between satisfied/dissatisfied and flagged in the same transaction.
// Reviewed presses (confirmed or restored by a person) keep the reviewer's verdict.
import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import type { Store } from '../store/db.ts';
import type { DB } from '../store/schema.ts';
import type { OpeningHours } from '../domain/types.ts';
import { addToRollups, type RollupDelta } from '../scores/cubes.ts';
import type { PreparedVote } from '../ingest/vote.ts';
import { voteKey } from '../ingest/vote.ts';
import { byTime, countMarks, evaluateTimeline, type LocationHours, type TimelineVote } from './rules.ts';
import { influenceRadiusMs, misuseSettingsFor, type MisuseSettings } from './settings.ts';

type Exec = Kysely<DB> | Transaction<DB>;

export type StoredVoteRow = {
  device_id: string; event_id: string; org_id: string; ts: number; button: string; flags: string | null; review: string | null;
  location_id: string; touchpoint_id: string | null; employee_id: string | null; local_day: string; local_hour: number;
};
const ROW_COLS = 'device_id, event_id, org_id, ts, button, flags, review, location_id, touchpoint_id, employee_id, local_day, local_hour';

/** Serialises writers of the same devices across PostgreSQL connections; a no-op on SQLite (one writer). */
export async function lockDevices(store: Store, trx: Exec, deviceIds: Iterable<string>): Promise<void> {
  if (store.dialect !== 'postgres') return;
  const ids = [...new Set(deviceIds)].sort();
  if (!ids.length) return;
  await trx.executeQuery(CompiledQuery.raw(
    'select count(pg_advisory_xact_lock(hashtextextended(d, 7316))) from (select unnest($1::text[]) as d order by 1) s', [ids]));
}

/** Adds a vote's change of state (counted ↔ flagged) to the rollup deltas: −1 where it was, +1 where it is. */
export function addTransition(acc: Map<string, RollupDelta>, r: StoredVoteRow, wasFlagged: boolean, isFlagged: boolean): void {
  if (wasFlagged === isFlagged) return;
  const sign = isFlagged ? 1 : -1; // +1 flagged, −1 counted; or the reverse
  const sat = r.button === 'satisfied' ? 1 : 0;
  addToRollups(acc, {
    orgId: r.org_id, deviceId: r.device_id, locationId: r.location_id, touchpointId: r.touchpoint_id, employeeId: r.employee_id,
    localDay: r.local_day, localHour: r.local_hour,
    satisfied: -sign * sat, dissatisfied: -sign * (1 - sat), flagged: sign, visitors: 0,
  });
}

// A location's zone and opening hours never change once created (no route updates them): cached per store.
const locationCaches = new WeakMap<Store, Map<string, LocationHours>>();

export async function loadLocations(store: Store, trx: Exec, ids: string[]): Promise<Map<string, LocationHours>> {
  let cache = locationCaches.get(store);
  if (!cache) locationCaches.set(store, (cache = new Map()));
  const out = new Map<string, LocationHours>();
  const missing = ids.filter((id) => !cache.has(id));
  if (missing.length) {
    const rows = await trx.selectFrom('locations').select(['id', 'timezone', 'opening_hours']).where('id', 'in', missing).execute();
    if (cache.size > 100_000) cache.clear();
    for (const r of rows) cache.set(r.id, { timezone: r.timezone, openingHours: r.opening_hours ? (JSON.parse(r.opening_hours) as OpeningHours) : null });
  }
  for (const id of ids) {
    const loc = cache.get(id);
    if (loc) out.set(id, loc);
  }
  return out;
}

type Span = { deviceId: string; lo: number; hi: number; radius: number; settings: MisuseSettings; at: number[] };

async function loadWindows(store: Store, trx: Exec, spans: Span[]): Promise<StoredVoteRow[]> {
  if (store.dialect === 'postgres') {
    const res = await trx.executeQuery<StoredVoteRow>(CompiledQuery.raw(
      `select ${ROW_COLS.split(', ').map((c) => `v.${c}`).join(', ')} from unnest($1::text[], $2::int8[], $3::int8[]) as r(d, lo, hi)
       join votes v on v.device_id = r.d and v.ts >= r.lo and v.ts <= r.hi`,
      [spans.map((s) => s.deviceId), spans.map((s) => s.lo), spans.map((s) => s.hi)]));
    return res.rows;
  }
  const out: StoredVoteRow[] = [];
  for (const s of spans) {
    const res = await trx.executeQuery<StoredVoteRow>(CompiledQuery.raw(
      `select ${ROW_COLS} from votes where device_id = ? and ts >= ? and ts <= ?`, [s.deviceId, s.lo, s.hi]));
    out.push(...res.rows);
  }
  return out;
}

/** Whether some instant of the sorted list `at` is within `radius` of `t`. */
function near(at: number[], t: number, radius: number): boolean {
  let lo = 0;
  let hi = at.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (at[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return (lo < at.length && at[lo]! - t <= radius) || (lo > 0 && t - at[lo - 1]! <= radius);
}

/**
 * Evaluates the rules for the devices of `fresh` (votes just inserted in `trx`): sets each fresh
 * vote's `flags` (and its row), re-flags stored neighbours whose verdict changed, and adds those
 * neighbours' moves to `acc`. The fresh votes' own rollups are left to the caller (from their flags).
 */
export async function evaluateMisuse(store: Store, trx: Exec, fresh: PreparedVote[], acc: Map<string, RollupDelta>): Promise<void> {
  if (!fresh.length) return;
  const settingsByOrg = await misuseSettingsFor(store, trx, [...new Set(fresh.map((v) => v.orgId))]);
  const byDevice = new Map<string, PreparedVote[]>();
  for (const v of fresh) {
    const list = byDevice.get(v.deviceId);
    if (list) list.push(v);
    else byDevice.set(v.deviceId, [v]);
  }
  const spans: Span[] = [];
  for (const [deviceId, list] of byDevice) {
    const settings = settingsByOrg.get(list[0]!.orgId);
    if (!settings?.enabled) continue; // filter off: new presses are counted, stored verdicts stay as they are
    const at = list.map((v) => v.ts).sort((a, b) => a - b);
    const radius = influenceRadiusMs(settings);
    spans.push({ deviceId, lo: at[0]! - 2 * radius, hi: at[at.length - 1]! + 2 * radius, radius, settings, at });
  }
  const rows = await loadWindows(store, trx, spans);
  const locations = await loadLocations(store, trx, [...new Set(rows.map((r) => r.location_id))]);
  const rowsByDevice = new Map<string, StoredVoteRow[]>();
  for (const r of rows) {
    const list = rowsByDevice.get(r.device_id);
    if (list) list.push(r);
    else rowsByDevice.set(r.device_id, [r]);
  }
  const freshByKey = new Map(fresh.map((v) => [voteKey(v), v]));
  const updates: Array<[string | null, string, string]> = [];
  for (const span of spans) {
    const list = (rowsByDevice.get(span.deviceId) ?? [])
      .map((r) => ({ r, t: { eventId: r.event_id, ts: Number(r.ts), button: r.button, locationId: r.location_id } as TimelineVote }))
      .sort((a, b) => byTime(a.t, b.t));
    const verdicts = evaluateTimeline(list.map((x) => x.t), { settings: span.settings, locations });
    for (let i = 0; i < list.length; i++) {
      const { r, t } = list[i]!;
      if (r.review !== null || !near(span.at, t.ts, span.radius)) continue;
      const flags = verdicts[i]!;
      const next = flags.length ? JSON.stringify(flags) : null;
      const v = freshByKey.get(voteKey({ deviceId: r.device_id, eventId: r.event_id }));
      if (v) {
        v.flags = flags;
        countMarks(flags);
      } else {
        addTransition(acc, r, r.flags !== null, next !== null);
      }
      if (next !== r.flags) updates.push([next, r.device_id, r.event_id]);
    }
  }
  for (const [flags, deviceId, eventId] of updates) {
    await trx.executeQuery(CompiledQuery.raw(
      store.dialect === 'postgres' ? 'update votes set flags = $1 where device_id = $2 and event_id = $3' : 'update votes set flags = ? where device_id = ? and event_id = ?',
      [flags, deviceId, eventId]));
  }
}
