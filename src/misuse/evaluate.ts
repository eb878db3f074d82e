// Runs the misuse rules inside the transaction that stores device data, so the verdicts see
// exactly what is stored — including other requests of the same group commit and, on PostgreSQL,
// other nodes' transactions (serialised by advisory locks per device and per location).
// New presses are judged BEFORE they are inserted: their flags go into the INSERT itself; only
// stored presses whose verdict changes (late data) get an UPDATE, moved rollups and an audit row.
// Three scopes, in order:
//   device   — repeat, burst, streak, off_hours over a device's timeline: one read of its presses
//              in [min − 2R, max + 2R] (R = influence radius), verdicts written within R of a new press;
//   place    — camera over a (location, touchpoint)'s presses and camera sightings around the new
//              presses or sightings, widened to whole presences of one person;
//   hour     — above_visitors over a location's local hour (new presses, new visitor counts, and
//              presses whose other verdicts just changed), since it counts what the others left.
// Reviewed presses (confirmed or restored by a person) keep the reviewer's verdict.
import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import type { Store } from '../store/db.ts';
import type { DB } from '../store/schema.ts';
import type { OpeningHours } from '../domain/types.ts';
import { newId } from '../domain/ids.ts';
import { addToRollups, type RollupDelta } from '../scores/cubes.ts';
import type { PreparedCamera, PreparedVisitors, PreparedVote } from '../ingest/vote.ts';
import { voteKey } from '../ingest/vote.ts';
import {
  aboveVisitorsVerdicts, byTime, cameraVerdicts, countMarks, DEVICE_RULES, evaluateTimeline, personRuns, RULES,
  type LocationHours, type RuleName, type Sighting, type TimelineVote,
} from './rules.ts';
import { influenceRadiusMs, misuseSettingsFor, settingsAt, type MisuseSettings, type OrgMisuse } from './settings.ts';

type Exec = Kysely<DB> | Transaction<DB>;

export type StoredVoteRow = {
  device_id: string; event_id: string; org_id: string; ts: number; button: string; flags: string | null; review: string | null;
  location_id: string; touchpoint_id: string | null; employee_id: string | null; local_day: string; local_hour: number;
};
const ROW_COLS = 'device_id, event_id, org_id, ts, button, flags, review, location_id, touchpoint_id, employee_id, local_day, local_hour';

async function lockKeys(store: Store, trx: Exec, keys: Iterable<string>, space: number): Promise<void> {
  if (store.dialect !== 'postgres') return;
  const ids = [...new Set(keys)].sort();
  if (!ids.length) return;
  await trx.executeQuery(CompiledQuery.raw(
    `select count(pg_advisory_xact_lock(hashtextextended(d, ${space}))) from (select unnest($1::text[]) as d order by 1) s`, [ids]));
}
/** Serialises writers of the same devices across PostgreSQL connections; a no-op on SQLite (one writer). */
export const lockDevices = (store: Store, trx: Exec, deviceIds: Iterable<string>): Promise<void> => lockKeys(store, trx, deviceIds, 7316);
/** The same per location, for the place and hour rules. Always taken after any device locks (one order, no deadlock). */
export const lockLocations = (store: Store, trx: Exec, locationIds: Iterable<string>): Promise<void> => lockKeys(store, trx, locationIds, 7317);

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

// A location's zone and opening hours, cached per store: PATCH …/locations/{id} calls
// forgetLocationHours on its node; other nodes of a cluster re-read within LOCATION_TTL_MS.
const LOCATION_TTL_MS = 5_000;
const locationCaches = new WeakMap<Store, Map<string, { hours: LocationHours; at: number }>>();

/** A location's zone or opening hours changed: the off-hours rule reads them again. */
export function forgetLocationHours(store: Store, locationId: string): void { locationCaches.get(store)?.delete(locationId); }

export async function loadLocations(store: Store, trx: Exec, ids: string[]): Promise<Map<string, LocationHours>> {
  let cache = locationCaches.get(store);
  if (!cache) locationCaches.set(store, (cache = new Map()));
  const out = new Map<string, LocationHours>();
  const now = Date.now();
  const missing = ids.filter((id) => { const c = cache.get(id); return !c || now - c.at >= LOCATION_TTL_MS; });
  if (missing.length) {
    const rows = await trx.selectFrom('locations').select(['id', 'timezone', 'opening_hours']).where('id', 'in', missing).execute();
    if (cache.size > 100_000) cache.clear();
    for (const r of rows) cache.set(r.id, { hours: { timezone: r.timezone, openingHours: r.opening_hours ? (JSON.parse(r.opening_hours) as OpeningHours) : null }, at: now });
  }
  for (const id of ids) {
    const loc = cache.get(id);
    if (loc) out.set(id, loc.hours);
  }
  return out;
}

type Span = { deviceId: string; lo: number; hi: number; radius: number; at: number[] };

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


/** A press being judged: its stored row (or the new press as a row), and its flags as they now stand. */
type VState = { row: StoredVoteRow; fresh: PreparedVote | null; flags: Set<RuleName> };
const parseFlags = (s: string | null): RuleName[] => (s ? (JSON.parse(s) as RuleName[]) : []);
const flagsJson = (f: Set<RuleName>): string | null => (f.size ? JSON.stringify(RULES.filter((r) => f.has(r))) : null);
const setRule = (st: VState, rule: RuleName, on: boolean): void => { if (on) st.flags.add(rule); else st.flags.delete(rule); };
const sortStates = (a: VState, b: VState): number =>
  Number(a.row.ts) - Number(b.row.ts) || (a.row.device_id < b.row.device_id ? -1 : a.row.device_id > b.row.device_id ? 1 : 0)
  || (a.row.event_id < b.row.event_id ? -1 : a.row.event_id > b.row.event_id ? 1 : 0);

const asRow = (v: PreparedVote): StoredVoteRow => ({
  device_id: v.deviceId, event_id: v.eventId, org_id: v.orgId, ts: v.ts, button: v.button, flags: null, review: null,
  location_id: v.locationId, touchpoint_id: v.touchpointId, employee_id: v.employeeId, local_day: v.localDay, local_hour: v.localHour,
});

const HOUR = 3_600_000;
const p = (store: Store, n: number): string => (store.dialect === 'postgres' ? `$${n}` : '?');

/** What arrived: new presses (not yet inserted), or camera sightings / visitor counts (inserted). */
export type Arrivals = { votes?: PreparedVote[]; camera?: PreparedCamera[]; visitors?: PreparedVisitors[] };
/** A stored press whose verdict the arrivals changed. */
export type Change = { row: StoredVoteRow; before: string | null; after: string | null };

class Judgement {
  readonly states = new Map<string, VState>();
  readonly #store: Store;
  readonly #trx: Exec;
  readonly #fresh: PreparedVote[];
  readonly settings: Map<string, OrgMisuse>;

  constructor(store: Store, trx: Exec, fresh: PreparedVote[], settings: Map<string, OrgMisuse>) {
    this.#store = store;
    this.#trx = trx;
    this.#fresh = fresh;
    this.settings = settings;
    for (const v of fresh) this.states.set(voteKey(v), { row: asRow(v), fresh: v, flags: new Set() });
  }

  at(orgId: string, locationId: string): MisuseSettings | null {
    const m = this.settings.get(orgId);
    return m ? settingsAt(m, locationId) : null;
  }

  /** Stored rows joined to the states (a state already here wins), plus the new presses `alsoFresh` selects. */
  merge(rows: StoredVoteRow[], alsoFresh: (v: PreparedVote) => boolean): VState[] {
    const out: VState[] = [];
    const seen = new Set<string>();
    for (const r of rows) {
      const k = voteKey({ deviceId: r.device_id, eventId: r.event_id });
      if (seen.has(k)) continue;
      seen.add(k);
      let st = this.states.get(k);
      if (!st) this.states.set(k, (st = { row: r, fresh: null, flags: new Set(parseFlags(r.flags)) }));
      out.push(st);
    }
    for (const v of this.#fresh) {
      const k = voteKey(v);
      if (!seen.has(k) && alsoFresh(v)) { seen.add(k); out.push(this.states.get(k)!); }
    }
    return out.sort(sortStates);
  }

  async query(sqlText: string, params: unknown[]): Promise<StoredVoteRow[]> {
    return (await this.#trx.executeQuery<StoredVoteRow>(CompiledQuery.raw(sqlText, params))).rows;
  }

  /** repeat, burst, streak, off_hours over the timelines of the new presses' devices. */
  async devices(): Promise<void> {
    const byDevice = new Map<string, PreparedVote[]>();
    for (const v of this.#fresh) {
      const list = byDevice.get(v.deviceId);
      if (list) list.push(v);
      else byDevice.set(v.deviceId, [v]);
    }
    const spans: Span[] = [];
    for (const [deviceId, list] of byDevice) {
      const enabled = list.map((v) => this.at(v.orgId, v.locationId)).filter((x): x is MisuseSettings => !!x?.enabled);
      if (!enabled.length) continue; // filter off: new presses are counted, stored verdicts stay as they are
      const at = list.map((v) => v.ts).sort((a, b) => a - b);
      const radius = Math.max(...enabled.map(influenceRadiusMs));
      spans.push({ deviceId, lo: at[0]! - 2 * radius, hi: at[at.length - 1]! + 2 * radius, radius, at });
    }
    if (!spans.length) return;
    const rows = await loadWindows(this.#store, this.#trx, spans);
    const locations = await loadLocations(this.#store, this.#trx, [...new Set([...rows.map((r) => r.location_id), ...this.#fresh.map((v) => v.locationId)])]);
    const rowsByDevice = new Map<string, StoredVoteRow[]>();
    for (const r of rows) {
      const list = rowsByDevice.get(r.device_id);
      if (list) list.push(r);
      else rowsByDevice.set(r.device_id, [r]);
    }
    for (const span of spans) {
      const list = this.merge(rowsByDevice.get(span.deviceId) ?? [], (v) => v.deviceId === span.deviceId);
      const timeline = list.map((st): TimelineVote => ({ eventId: st.row.event_id, ts: Number(st.row.ts), button: st.row.button, locationId: st.row.location_id }));
      // One pass per distinct settings among the timeline's locations; each press takes its own location's verdict.
      const passes = new Map<MisuseSettings, RuleName[][]>();
      for (let i = 0; i < list.length; i++) {
        const st = list[i]!;
        const settings = this.at(st.row.org_id, st.row.location_id);
        if (!settings?.enabled || st.row.review !== null || !near(span.at, timeline[i]!.ts, span.radius)) continue;
        let verdicts = passes.get(settings);
        if (!verdicts) passes.set(settings, (verdicts = evaluateTimeline(timeline, { settings, locations })));
        for (const r of DEVICE_RULES) st.flags.delete(r);
        for (const r of verdicts[i]!) st.flags.add(r);
      }
    }
  }

  /** The camera rule at the places of the new presses and of the new sightings. */
  async places(camera: PreparedCamera[]): Promise<void> {
    type Place = { orgId: string; locationId: string; touchpointId: string | null; at: number[] };
    const places = new Map<string, Place>();
    const add = (orgId: string, locationId: string, touchpointId: string | null, ts: number): void => {
      const s = this.at(orgId, locationId);
      if (!s?.enabled || !s.camera) return;
      const k = `${locationId}\n${touchpointId ?? ''}`;
      const pl = places.get(k);
      if (pl) pl.at.push(ts);
      else places.set(k, { orgId, locationId, touchpointId, at: [ts] });
    };
    for (const v of this.#fresh) add(v.orgId, v.locationId, v.touchpointId, v.ts);
    for (const c of camera) add(c.orgId, c.locationId, c.touchpointId, c.ts);
    const st = this.#store;
    const tpCond = (tp: string | null, n: number): string => (tp === null ? 'touchpoint_id is null' : `touchpoint_id = ${p(st, n)}`);
    for (const pl of places.values()) {
      const s = this.at(pl.orgId, pl.locationId)!;
      const tol = s.cameraToleranceSeconds * 1000;
      const reach = Math.max(tol, s.cameraCoverageSeconds * 1000);
      // Presses whose verdict a new press or sighting can change: within `reach` of it, widened to whole presences.
      let lo = Math.min(...pl.at) - reach;
      let hi = Math.max(...pl.at) + reach;
      let sightings: Sighting[] = [];
      for (let iter = 0; iter < 50; iter++) {
        const params: unknown[] = [pl.locationId, lo - reach, hi + reach];
        if (pl.touchpointId !== null) params.push(pl.touchpointId);
        const res = await this.#trx.executeQuery<{ ts: number; people: number; clip: string | null }>(CompiledQuery.raw(
          `select ts, people, clip from camera_events where location_id = ${p(st, 1)} and ts >= ${p(st, 2)} and ts <= ${p(st, 3)} and ${tpCond(pl.touchpointId, 4)} order by ts`, params));
        sightings = res.rows.map((r) => ({ ts: Number(r.ts), people: Number(r.people), clip: r.clip }));
        const { spans } = personRuns(sightings, tol);
        let nlo = lo;
        let nhi = hi;
        for (const [a, b] of spans) if (a <= hi && b >= lo) { nlo = Math.min(nlo, a); nhi = Math.max(nhi, b); }
        if (nlo === lo && nhi === hi) break;
        lo = nlo;
        hi = nhi;
      }
      // No sighting within reach: no verdict to give, and no stored press here can carry one.
      if (!sightings.length) continue;
      const params: unknown[] = [pl.locationId, lo, hi];
      if (pl.touchpointId !== null) params.push(pl.touchpointId);
      const rows = await this.query(`select ${ROW_COLS} from votes where location_id = ${p(st, 1)} and ts >= ${p(st, 2)} and ts <= ${p(st, 3)} and ${tpCond(pl.touchpointId, 4)}`, params);
      const list = this.merge(rows, (v) => v.locationId === pl.locationId && v.touchpointId === pl.touchpointId && v.ts >= lo && v.ts <= hi);
      const verdicts = cameraVerdicts(list.map((x) => ({ ts: Number(x.row.ts) })), sightings, s);
      list.forEach((x, i) => { if (x.row.review === null) setRule(x, 'camera', verdicts[i]!); });
    }
  }

  /** above_visitors in the local hours of the new presses, of the new counts and of presses whose verdict changed. */
  async hours(visitors: PreparedVisitors[]): Promise<void> {
    type Hour = { orgId: string; locationId: string; day: string; hour: number; ts: number };
    const hours = new Map<string, Hour>();
    const add = (orgId: string, locationId: string, day: string, hour: number, ts: number): void => {
      const s = this.at(orgId, locationId);
      if (!s?.enabled || !s.aboveVisitors) return;
      const k = `${locationId}\n${day}\n${hour}`;
      if (!hours.has(k)) hours.set(k, { orgId, locationId, day, hour, ts });
    };
    for (const x of this.states.values()) {
      if (x.fresh || flagsJson(x.flags) !== x.row.flags) add(x.row.org_id, x.row.location_id, x.row.local_day, Number(x.row.local_hour), Number(x.row.ts));
    }
    for (const v of visitors) add(v.orgId, v.locationId, v.localDay, v.localHour, v.ts);
    const st = this.#store;
    // Per location, two grouped reads find the hours that need a full look: those with a counter
    // where the presses outnumber the people, or holding a press flagged above_visitors before.
    const byLoc = new Map<string, Hour[]>();
    for (const h of hours.values()) {
      const list = byLoc.get(h.locationId);
      if (list) list.push(h);
      else byLoc.set(h.locationId, [h]);
    }
    const freshPerHour = new Map<string, number>();
    for (const v of this.#fresh) freshPerHour.set(`${v.locationId}\n${v.localDay}\n${v.localHour}`, (freshPerHour.get(`${v.locationId}\n${v.localDay}\n${v.localHour}`) ?? 0) + 1);
    for (const [locationId, list] of byLoc) {
      // Every hour of `list` lies within 2 h of its instant (a local hour lasts at most 2 h of real time).
      const lo = Math.min(...list.map((h) => h.ts)) - 2 * HOUR;
      const hi = Math.max(...list.map((h) => h.ts)) + 2 * HOUR;
      const range = `location_id = ${p(st, 1)} and ts >= ${p(st, 2)} and ts <= ${p(st, 3)}`;
      const people = await this.#trx.executeQuery<{ local_day: string; local_hour: number; people: number | string }>(CompiledQuery.raw(
        `select local_day, local_hour, sum(in_count) as people from visitor_events where ${range} group by local_day, local_hour`, [locationId, lo, hi]));
      const seen = new Map(people.rows.map((r) => [`${r.local_day}\n${Number(r.local_hour)}`, Number(r.people)]));
      const pressed = await this.#trx.executeQuery<{ local_day: string; local_hour: number; n: number | string; av: number | string | null }>(CompiledQuery.raw(
        `select local_day, local_hour, count(*) as n, sum(case when flags like '%above_visitors%' then 1 else 0 end) as av from votes where ${range} group by local_day, local_hour`, [locationId, lo, hi]));
      const stored = new Map(pressed.rows.map((r) => [`${r.local_day}\n${Number(r.local_hour)}`, { n: Number(r.n), av: Number(r.av ?? 0) }]));
      for (const h of list) {
        const k = `${h.day}\n${h.hour}`;
        const visitorsSeen = seen.get(k);
        const s = stored.get(k) ?? { n: 0, av: 0 };
        const presses = s.n + (freshPerHour.get(`${locationId}\n${k}`) ?? 0);
        if (s.av === 0 && (visitorsSeen === undefined || presses <= visitorsSeen)) continue; // nobody can be over the count
        await this.#hour(h, visitorsSeen);
      }
    }
  }

  /** above_visitors over one location's local hour, with the people its counters saw (undefined: no counter reported). */
  async #hour(h: { locationId: string; day: string; hour: number; ts: number }, visitors: number | undefined): Promise<void> {
    const st = this.#store;
    const params = [h.locationId, h.ts - 2 * HOUR, h.ts + 2 * HOUR, h.day, h.hour];
    const where = `location_id = ${p(st, 1)} and ts >= ${p(st, 2)} and ts <= ${p(st, 3)} and local_day = ${p(st, 4)} and local_hour = ${p(st, 5)}`;
    const rows = await this.query(`select ${ROW_COLS} from votes where ${where}`, params);
    const list = this.merge(rows, (v) => v.locationId === h.locationId && v.localDay === h.day && v.localHour === h.hour);
    const counted = list.map((x) => x.row.review === 'restored' || (x.row.review === null && [...x.flags].every((r) => r === 'above_visitors')));
    const verdicts = visitors !== undefined ? aboveVisitorsVerdicts(counted, visitors) : counted.map(() => false);
    list.forEach((x, i) => { if (x.row.review === null) setRule(x, 'above_visitors', verdicts[i]!); });
  }

  /** Sets the new presses' flags and returns the stored presses whose verdict changed. */
  finish(): Change[] {
    const changes: Change[] = [];
    for (const x of this.states.values()) {
      const after = flagsJson(x.flags);
      if (x.fresh) {
        x.fresh.flags = after ? (JSON.parse(after) as string[]) : [];
        countMarks(x.fresh.flags);
      } else if (x.row.review === null && after !== x.row.flags) {
        changes.push({ row: x.row, before: x.row.flags, after });
      }
    }
    return changes;
  }
}

/**
 * Judges what arrived, inside `trx`, whose device and location locks the caller holds. New presses
 * get their `flags` set (the caller inserts them); stored presses whose verdict changed are updated
 * here, their counts moved in `acc`, and the change audited as the system's re-evaluation.
 */
export async function judge(store: Store, trx: Exec, arrivals: Arrivals, acc: Map<string, RollupDelta>, source: { deviceId: string; what: string }): Promise<Change[]> {
  const votes = arrivals.votes ?? [];
  const camera = arrivals.camera ?? [];
  const visitors = arrivals.visitors ?? [];
  const orgIds = [...votes, ...camera, ...visitors].map((x) => x.orgId);
  if (!orgIds.length) return [];
  const j = new Judgement(store, trx, votes, await misuseSettingsFor(store, trx, orgIds));
  await j.devices();
  await j.places(camera);
  await j.hours(visitors);
  const changes = j.finish();
  for (const c of changes) {
    addTransition(acc, c.row, c.before !== null, c.after !== null);
    await trx.executeQuery(CompiledQuery.raw(
      `update votes set flags = ${p(store, 1)} where device_id = ${p(store, 2)} and event_id = ${p(store, 3)}`, [c.after, c.row.device_id, c.row.event_id]));
  }
  if (changes.length) {
    const orgs = [...new Set(changes.map((c) => c.row.org_id))];
    for (const orgId of orgs) {
      const mine = changes.filter((c) => c.row.org_id === orgId);
      await trx.insertInto('misuse_audit').values({
        id: newId('aud'), org_id: orgId, user_id: 'system', at: Date.now(), action: 'reevaluate', scope: 'reevaluation',
        reason: `late data re-judged stored presses: ${source.what} from device ${source.deviceId}`,
        device_id: source.deviceId, votes: mine.length,
        before: JSON.stringify(mine.map((c) => ({ id: c.row.event_id, deviceId: c.row.device_id, flagged: parseFlags(c.before), review: null }))),
        after: JSON.stringify(mine.map((c) => ({ id: c.row.event_id, deviceId: c.row.device_id, flagged: parseFlags(c.after), review: null }))),
      }).execute();
    }
  }
  return changes;
}
