// The operational report (issue 5): one local day, hour by hour, per location and touchpoint, from
// the hourly rollups; without a day, each location's own today so far (hours still to come are null,
// not 0); and the devices that need someone now: offline, stale, low battery, never seen (the fleet's
// own health derivation, src/devices/fleet.ts), and panels that are online but silent — no vote for
// the last SILENT_HOURS hours while their location was open all that time (a button may be broken,
// hidden or unplugged from its stand).
import type { Store } from '../store/db.ts';
import { localParts, todayIn } from '../domain/time.ts';
import { WEEKDAYS, type OpeningHours } from '../domain/types.ts';
import type { ScoringSettings } from '../domain/wilson.ts';
import { rowOf, type ScoreRow } from '../scores/scores.ts';
import { cubeFor } from '../scores/cubes.ts';
import { orgFleet, type FleetDevice } from '../devices/fleet.ts';

/** Counted votes of one local hour; null for an hour of today still to come. */
export type HourCell = { satisfied: number; dissatisfied: number; flagged: number } | null;

export type OperationalSlice = { id: string; label: string; hours: HourCell[]; total: ScoreRow };
export type OperationalLocation = OperationalSlice & {
  timezone: string; day: string;
  /** The day is today in the location's zone: figures up to `asOf`. */
  live: boolean;
  touchpoints: OperationalSlice[];
};
export type OperationalReport = {
  /** The requested day, or null for each location's today. */
  day: string | null;
  asOf: string;
  locations: OperationalLocation[];
  /** Devices of these locations that need someone: `problem` is their health state, or 'silent'. */
  devices: Array<FleetDevice & { problem: string }>;
};

export const PROBLEM_STATES = ['offline', 'stale', 'low_battery', 'never_seen'] as const;
/** A panel with no vote for this many hours, while its location was open throughout, is listed as silent. */
export const SILENT_HOURS = 2;

const toMin = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
/** Whether opening hours (intervals may cross midnight) say open at instant `ts` in `tz`. */
export function openAt(hours: OpeningHours, tz: string, ts: number): boolean {
  const p = localParts(tz, ts);
  const m = p.minuteOfDay;
  for (const [a, b] of hours[p.weekday] ?? []) {
    const A = toMin(a), B = toMin(b);
    if (B > A ? m >= A && m < B : m >= A) return true;
  }
  const yesterday = WEEKDAYS[(WEEKDAYS.indexOf(p.weekday) + 6) % 7]!;
  return (hours[yesterday] ?? []).some(([a, b]) => toMin(b) <= toMin(a) && m < toMin(b));
}

export type OperationalQuery = { day?: string | undefined; locations?: string[] | null | undefined; onlyLocations?: string[] | null | undefined; now?: number | undefined };

const zero = (): { satisfied: number; dissatisfied: number; flagged: number; visitors: number } => ({ satisfied: 0, dissatisfied: 0, flagged: 0, visitors: 0 });

export async function operationalReport(store: Store, orgId: string, scoring: ScoringSettings, q: OperationalQuery): Promise<OperationalReport> {
  const now = q.now ?? Date.now();
  let locQuery = store.db.selectFrom('locations').select(['id', 'name', 'timezone', 'opening_hours']).where('org_id', '=', orgId);
  const wanted = intersect(q.locations ?? null, q.onlyLocations ?? null);
  if (wanted) locQuery = wanted.length ? locQuery.where('id', 'in', wanted) : locQuery.where(({ lit }) => lit(false));
  const locs = (await locQuery.orderBy('name').orderBy('id').execute());
  const tps = new Map((await store.db.selectFrom('touchpoints').select(['id', 'name']).where('org_id', '=', orgId).execute()).map((t) => [t.id, t.name]));
  const cube = cubeFor(['location', 'touchpoint']);
  const locations: OperationalLocation[] = [];
  for (const l of locs) {
    const day = q.day ?? todayIn(l.timezone, now);
    const live = day === todayIn(l.timezone, now);
    const lastHour = live ? localParts(l.timezone, now).hour : 23;
    const rows = await store.db.selectFrom('rollups')
      .select(['touchpoint_id', 'bucket', 'satisfied', 'dissatisfied', 'flagged'])
      .where('org_id', '=', orgId).where('cube', '=', cube.name).where('grain', '=', 'h')
      .where('location_id', '=', l.id).where('bucket', '>=', `${day}T00`).where('bucket', '<=', `${day}T23`).execute();
    const byTp = new Map<string, HourCell[]>();
    const all: HourCell[] = hoursOf(lastHour);
    for (const r of rows) {
      const h = Number(r.bucket.slice(11, 13));
      const tp = r.touchpoint_id ?? '';
      const cells = byTp.get(tp) ?? (byTp.set(tp, hoursOf(lastHour)), byTp.get(tp)!);
      for (const target of [cells, all]) {
        const c = target[h] ?? (target[h] = { satisfied: 0, dissatisfied: 0, flagged: 0 });
        c.satisfied += Number(r.satisfied); c.dissatisfied += Number(r.dissatisfied); c.flagged += Number(r.flagged);
      }
    }
    const slice = (id: string, label: string, hours: HourCell[]): OperationalSlice => {
      const s = zero();
      for (const c of hours) if (c) { s.satisfied += c.satisfied; s.dissatisfied += c.dissatisfied; s.flagged += c.flagged; }
      return { id, label, hours, total: rowOf(id, label, s, scoring) };
    };
    const touchpoints = [...byTp.entries()].map(([id, hours]) => slice(id || 'none', id ? tps.get(id) ?? id : '(no touchpoint)', hours))
      .sort((a, b) => a.label.localeCompare(b.label));
    locations.push({ ...slice(l.id, l.name, all), timezone: l.timezone, day, live, touchpoints });
  }
  const fleet = await orgFleet(store, orgId, locs.map((l) => l.id), now);
  const problems: readonly string[] = PROBLEM_STATES;
  const devices: OperationalReport['devices'] = fleet.devices.filter((d) => problems.includes(d.state)).map((d) => ({ ...d, problem: d.state }));
  // Silent panels: open throughout the last SILENT_HOURS hours (checked every 15 minutes), no vote in them.
  const H = 3_600_000;
  const panels = fleet.devices.filter((d) => d.state === 'online' && d.kind === 'panel' && d.locationId);
  const full = cubeFor(['location', 'touchpoint', 'employee', 'device']);
  for (const l of locs) {
    const hours = l.opening_hours ? (JSON.parse(l.opening_hours) as OpeningHours) : null;
    const mine = panels.filter((d) => d.locationId === l.id);
    if (!hours || !mine.length) continue;
    const checks = Array.from({ length: SILENT_HOURS * 4 + 1 }, (_, i) => now - (i * H) / 4);
    if (!checks.every((t) => openAt(hours, l.timezone, t))) continue;
    // Hour buckets overlapping the window (a bucket that began before the window counts: a vote in it may be older, so this errs towards "not silent").
    const buckets = [...new Set(checks.map((t) => { const p = localParts(l.timezone, t); return `${p.day}T${String(p.hour).padStart(2, '0')}`; }))];
    const voted = new Set((await store.db.selectFrom('rollups').select('device_id')
      .where('org_id', '=', orgId).where('cube', '=', full.name).where('grain', '=', 'h').where('location_id', '=', l.id)
      .where('bucket', 'in', buckets).where('device_id', 'in', mine.map((d) => d.id)).execute()).map((r) => r.device_id));
    for (const d of mine) if (!voted.has(d.id)) devices.push({ ...d, problem: 'silent' });
  }
  return { day: q.day ?? null, asOf: new Date(now).toISOString(), locations, devices };
}

/** 24 hours: 0 each, null past `lastHour` (not yet lived). */
function hoursOf(lastHour: number): HourCell[] {
  return Array.from({ length: 24 }, (_, h) => (h <= lastHour ? { satisfied: 0, dissatisfied: 0, flagged: 0 } : null));
}

/** The locations asked for, within those the asker may see; null = every location. */
export function intersect(asked: string[] | null, allowed: string[] | null): string[] | null {
  if (!asked) return allowed;
  if (!allowed) return asked;
  return asked.filter((id) => allowed.includes(id));
}
