// The partner console's figures: for each client organisation today's and the last 7 days'
// score, its locations, its device fleet by health state and its worst location, ordered so the
// organisations that need attention come first. Scores come from src/scores (rollups), fleet
// states from src/devices/fleet.ts: nothing here recomputes either.
import type { Store } from '../store/db.ts';
import { addDays, todayIn } from '../domain/time.ts';
import { rowOf, scores, type Counts as ScoreCounts, type ScoreRow } from '../scores/scores.ts';
import { orgFleet, type Counts as FleetCounts } from '../devices/fleet.ts';
import { listLocations, scoringOf } from './orgs.ts';

export const WEEK_DAYS = 7;
/** Why an organisation is listed first; README "Partner console" explains each. */
export const ATTENTION = ['low_score', 'devices_offline', 'low_battery', 'no_votes'] as const;
export type Attention = (typeof ATTENTION)[number];

export type Figures = Omit<ScoreRow, 'key' | 'label'>;
export type OrgOverview = {
  id: string; name: string; partnerId: string | null; locations: number;
  today: Figures; week: Figures;
  fleet: FleetCounts & { total: number };
  worstLocation: { id: string; name: string; timezone: string; week: Figures } | null;
  attention: Attention[];
};

const zero = (): ScoreCounts => ({ satisfied: 0, dissatisfied: 0, flagged: 0, visitors: 0 });
const add = (a: ScoreCounts, r: ScoreRow): void => {
  a.satisfied += r.satisfied; a.dissatisfied += r.dissatisfied; a.flagged += r.flagged; a.visitors += r.visitors ?? 0;
};
const figures = (c: ScoreCounts, scoring: Parameters<typeof rowOf>[3]): Figures => {
  const { key: _k, label: _l, ...f } = rowOf('', '', c, scoring);
  return f;
};

/**
 * One organisation's overview at `now`. "Today" and "the last 7 days" are each location's own
 * local dates (PROTOCOL §4), so locations are asked for by zone: one scores() call per zone and period.
 */
export async function orgOverview(store: Store, org: { id: string; name: string; partner_id: string | null; settings: string }, now = Date.now()): Promise<OrgOverview> {
  const scoring = scoringOf(org.settings);
  // Archived locations' votes still count in the organisation's figures; only those in use are
  // counted as locations and may be the worst one.
  const all = await listLocations(store, org.id, null, true);
  const locations = all.filter((l) => l.archivedAt === null);
  const byZone = new Map<string, string[]>();
  for (const l of all) byZone.set(l.timezone, [...(byZone.get(l.timezone) ?? []), l.id]);
  const today = zero();
  const week = zero();
  const weekByLoc = new Map<string, ScoreRow>();
  for (const [tz, ids] of byZone) {
    const day = todayIn(tz, now);
    const [t, w] = await Promise.all([
      scores(store, org.id, scoring, { from: day, to: day, by: 'location', onlyLocations: ids }),
      scores(store, org.id, scoring, { from: addDays(day, -(WEEK_DAYS - 1)), to: day, by: 'location', onlyLocations: ids }),
    ]);
    for (const r of t.rows) add(today, r);
    for (const r of w.rows) { add(week, r); weekByLoc.set(r.key, r); }
  }
  // Worst: the lowest 7-day score, then the lowest share; only locations with a score qualify.
  let worst: OrgOverview['worstLocation'] = null;
  let worstRow: ScoreRow | null = null;
  for (const l of locations) {
    const r = weekByLoc.get(l.id);
    if (!r || r.score === null) continue;
    if (!worstRow || r.score < worstRow.score! || (r.score === worstRow.score && (r.share ?? 1) < (worstRow.share ?? 1))) {
      worstRow = r;
      const { key: _k, label: _l, ...f } = r;
      worst = { id: l.id, name: l.name, timezone: l.timezone, week: f };
    }
  }
  const fleet = await orgFleet(store, org.id, null, now);
  const weekFigures = figures(week, scoring);
  const attention: Attention[] = [];
  if (weekFigures.score !== null && weekFigures.score <= 2) attention.push('low_score');
  if (fleet.counts.offline > 0) attention.push('devices_offline');
  if (fleet.counts.low_battery > 0) attention.push('low_battery');
  const placed = fleet.total - fleet.counts.unclaimed;
  if (placed > 0 && weekFigures.total === 0) attention.push('no_votes');
  return {
    id: org.id, name: org.name, partnerId: org.partner_id, locations: locations.length,
    today: figures(today, scoring), week: weekFigures,
    fleet: { ...fleet.counts, total: fleet.total }, worstLocation: worst, attention,
  };
}

/**
 * Organisations needing attention first (more reasons first), then the lowest 7-day score
 * (none last), then the most devices offline, then by name.
 */
export function attentionOrder(a: OrgOverview, b: OrgOverview): number {
  return b.attention.length - a.attention.length
    || (a.week.score ?? 9) - (b.week.score ?? 9)
    || b.fleet.offline - a.fleet.offline
    || a.name.localeCompare(b.name) || (a.id < b.id ? -1 : 1);
}

/** Every organisation of a partner (or, with partnerId null, of the instance), in attention order. */
export async function partnerOverview(store: Store, partnerId: string | null, now = Date.now()): Promise<OrgOverview[]> {
  let q = store.db.selectFrom('orgs').select(['id', 'name', 'partner_id', 'settings']);
  if (partnerId !== null) q = q.where('partner_id', '=', partnerId);
  const out: OrgOverview[] = [];
  for (const org of await q.execute()) out.push(await orgOverview(store, org, now));
  return out.sort(attentionOrder);
}
