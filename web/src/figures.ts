// Per-location figures for "today" and a period, each in the location's own local days: the
// locations are grouped by their current local date (usually one or two groups) and each group is
// asked for its dates, so Novosibirsk's today and Berlin's today are both right at any hour.
import { scores, type Location } from './api.ts';
import { add, addDays, countsOf, ZERO, type Counts } from './stats.ts';
import { dayIn } from './time.ts';
import type { Received } from './org.tsx';

export type LocFigures = { today: Counts; period: Counts; prev: Counts; day: string; from: string };

export async function locationFigures(orgId: string, locations: Location[], days: number, now = Date.now()): Promise<Map<string, LocFigures>> {
  const byDay = new Map<string, Location[]>();
  for (const l of locations) {
    const d = dayIn(l.timezone, now);
    byDay.set(d, [...(byDay.get(d) ?? []), l]);
  }
  const out = new Map<string, LocFigures>();
  await Promise.all([...byDay].map(async ([day, locs]) => {
    const from = addDays(day, -(days - 1));
    const [today, period, prev] = await Promise.all([
      scores(orgId, day, day, 'location'),
      scores(orgId, from, day, 'location'),
      scores(orgId, addDays(from, -days), addDays(from, -1), 'location'),
    ]);
    const get = (rows: typeof today, id: string): Counts => countsOf(rows.find((r) => r.key === id));
    for (const l of locs) out.set(l.id, { today: get(today, l.id), period: get(period, l.id), prev: get(prev, l.id), day, from });
  }));
  return out;
}

/** One live vote as counts: flagged votes are held back from the figures (PROTOCOL §4). */
export const voteCounts = (v: Received['v']): Counts =>
  v.flagged.length ? { ...ZERO, flagged: 1 } : v.button === 'satisfied' ? { ...ZERO, satisfied: 1 } : { ...ZERO, dissatisfied: 1 };

/**
 * The loaded figures plus the live votes received after the load started (sequence > `since`),
 * each added to its location's today and period when its local day falls in them.
 */
export function withLive(figs: Map<string, LocFigures>, locById: Map<string, Location>, received: Received[], since: number): Map<string, LocFigures> {
  const fresh = received.filter((r) => r.n > since);
  if (!fresh.length) return figs;
  const out = new Map(figs);
  for (const r of fresh) {
    const f = out.get(r.v.locationId);
    const loc = locById.get(r.v.locationId);
    if (!f || !loc) continue;
    const d = dayIn(loc.timezone, Date.parse(r.v.ts));
    const c = voteCounts(r.v);
    out.set(r.v.locationId, {
      ...f,
      today: d === f.day ? add(f.today, c) : f.today,
      period: d >= f.from && d <= f.day ? add(f.period, c) : f.period,
    });
  }
  return out;
}

/** The sequence number of each location's newest live vote: a row flashes when it changes. */
export function newestVote(received: Received[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of received) if (!m.has(r.v.locationId)) m.set(r.v.locationId, r.n);
  return m;
}
