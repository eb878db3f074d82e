// The misuse rules, as named steps over one device's timeline of presses (sorted by ts, then event
// id). Each step is synchronous and pure: the verdict of a press depends only on the presses of its
// device within influenceRadiusMs (settings.ts), so a late batch re-evaluates a bounded window.
// A rule marks presses with its name; nothing is dropped. Boundaries, all in milliseconds:
//   repeat   — gap to the previous press of the same button < repeatWindow (exactly the window: not a repeat);
//   burst    — a window [t, t + burstWindow) starting at a press holds more than burstMaxPresses
//              presses (all of them, repeats too): every press in it is a burst (a press exactly
//              burstWindow after the start falls outside);
//   streak   — among non-repeat presses, a run of consecutive same-button presses, each gap < maxGap,
//              at least minRun long: every press of the run after its first (the first one counts,
//              as with repeat "further presses count once");
//   off_hours — local time outside the location's opening hours: [open, close) per interval, an
//              interval may cross midnight; a location without hours is always open.
// Two rules look at a place rather than a device (evaluate.ts gathers their inputs):
//   camera   — |sighting − press| ≤ tolerance counts (exactly the tolerance: seen); see cameraVerdicts;
//   above_visitors — per location and local hour with visitor counts; see aboveVisitorsVerdicts.
import { localParts } from '../domain/time.ts';
import { WEEKDAYS, type Button, type OpeningHours } from '../domain/types.ts';
import type { MisuseSettings } from './settings.ts';
import { ingestCounters } from '../ingest/pipeline.ts';

export const RULES = ['repeat', 'burst', 'streak', 'off_hours', 'above_visitors', 'camera'] as const;
export type RuleName = (typeof RULES)[number];

export type TimelineVote = { eventId: string; ts: number; button: Button | string; locationId: string };
export type LocationHours = { timezone: string; openingHours: OpeningHours | null };
export type RuleContext = { settings: MisuseSettings; locations: Map<string, LocationHours> };

/** Marks made on new presses, by rule, counted with the pipeline's other marks (`misuse_repeat`, …). */
export const misuseCounters = ingestCounters;

type Marks = Array<Set<RuleName>>;
export type Rule = { name: RuleName; run(timeline: TimelineVote[], marks: Marks, ctx: RuleContext): void };

const isRepeatMarked = (marks: Marks, i: number): boolean => marks[i]!.has('repeat');

export const repeatRule: Rule = {
  name: 'repeat',
  run(tl, marks, { settings }) {
    const w = settings.repeatWindowSeconds * 1000;
    if (w <= 0) return;
    const last = new Map<string, number>();
    for (let i = 0; i < tl.length; i++) {
      const v = tl[i]!;
      const prev = last.get(v.button);
      if (prev !== undefined && v.ts - prev < w) marks[i]!.add('repeat');
      last.set(v.button, v.ts);
    }
  },
};

export const burstRule: Rule = {
  name: 'burst',
  run(tl, marks, { settings }) {
    // Counts every physical press (repeats too): nobody can tell which press of a burst was meant.
    const m = settings.burstWindowSeconds * 1000;
    const n = settings.burstMaxPresses;
    const diff = new Array<number>(tl.length + 1).fill(0);
    let hi = 0;
    for (let lo = 0; lo < tl.length; lo++) {
      if (hi < lo) hi = lo;
      while (hi + 1 < tl.length && tl[hi + 1]!.ts - tl[lo]!.ts < m) hi++;
      if (hi - lo + 1 > n) { diff[lo]!++; diff[hi + 1]!--; }
    }
    let run = 0;
    for (let k = 0; k < tl.length; k++) {
      run += diff[k]!;
      if (run > 0) marks[k]!.add('burst');
    }
  },
};

export const streakRule: Rule = {
  name: 'streak',
  run(tl, marks, { settings }) {
    const g = settings.streakMaxGapSeconds * 1000;
    const k = settings.streakMinRun;
    const idx: number[] = [];
    for (let i = 0; i < tl.length; i++) if (!isRepeatMarked(marks, i)) idx.push(i);
    let start = 0;
    for (let j = 1; j <= idx.length; j++) {
      const prev = tl[idx[j - 1]!]!;
      const cur = j < idx.length ? tl[idx[j]!]! : undefined;
      if (cur && cur.button === prev.button && cur.ts - prev.ts < g) continue;
      if (j - start >= k) for (let p = start + 1; p < j; p++) marks[idx[p]!]!.add('streak');
      start = j;
    }
  },
};

const hhmm = (s: string): number => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));

/** Whether a location is open at instant ts, in its zone. Minute resolution; close is exclusive. */
export function isOpenAt(loc: LocationHours, ts: number): boolean {
  const hours = loc.openingHours;
  if (!hours) return true;
  const p = localParts(loc.timezone, ts);
  const m = p.minuteOfDay;
  const wd = WEEKDAYS.indexOf(p.weekday);
  const prevDay = WEEKDAYS[(wd + 6) % 7]!;
  for (const [o, c] of hours[p.weekday] ?? []) {
    const open = hhmm(o);
    const close = hhmm(c);
    if (close > open ? m >= open && m < close : m >= open) return true;
  }
  // Yesterday's intervals that run past midnight ("22:00"–"02:00").
  for (const [o, c] of hours[prevDay] ?? []) {
    const open = hhmm(o);
    const close = hhmm(c);
    if (close < open && m < close) return true;
  }
  return false;
}

export const offHoursRule: Rule = {
  name: 'off_hours',
  run(tl, marks, { settings, locations }) {
    if (!settings.offHours) return;
    for (let i = 0; i < tl.length; i++) {
      const loc = locations.get(tl[i]!.locationId);
      if (loc && !isOpenAt(loc, tl[i]!.ts)) marks[i]!.add('off_hours');
    }
  },
};

/** In order: streak looks only at presses repeat left counted. */
export const MISUSE_STEPS: Rule[] = [repeatRule, burstRule, streakRule, offHoursRule];
/** The rules judged over one device's timeline (the others are judged per place). */
export const DEVICE_RULES: readonly RuleName[] = MISUSE_STEPS.map((r) => r.name);

/** What a camera saw at a place: `people` in front of it at ts. */
export type Sighting = { ts: number; people: number; clip: string | null };

/**
 * Runs of one person: maximal sequences of consecutive sightings (by ts) with people = 1, each at
 * most 2 × tolerance after the previous (a longer gap: the person may have left unseen). Returns,
 * per sighting, its run's index or -1, and each run's covered span [first − tol, last + tol].
 */
export function personRuns(sightings: Sighting[], tolMs: number): { runOf: number[]; spans: Array<[number, number]> } {
  const runOf: number[] = [];
  const spans: Array<[number, number]> = [];
  for (let i = 0; i < sightings.length; i++) {
    const s = sightings[i]!;
    if (s.people !== 1) { runOf.push(-1); continue; }
    const prev = sightings[i - 1];
    if (prev && prev.people === 1 && s.ts - prev.ts <= 2 * tolMs) {
      runOf.push(spans.length - 1);
      spans[spans.length - 1]![1] = s.ts + tolMs;
    } else {
      runOf.push(spans.length);
      spans.push([s.ts - tolMs, s.ts + tolMs]);
    }
  }
  return { runOf, spans };
}

/**
 * The camera rule for the presses of one place (sorted with byTime), given the place's sightings
 * (sorted by ts) covering every press's [ts − max(coverage, tolerance), ts + …]:
 * - nobody there: the camera watched (a sighting within `cameraCoverageSeconds`) but saw nobody
 *   (no sighting with people ≥ 1 within `cameraToleranceSeconds`) → flagged;
 * - one person pressing again and again: a press belongs to the presence of its nearest sighting
 *   within the tolerance (the earlier on a tie) when that sighting shows exactly one person; a
 *   presence holding more than `cameraMaxVotesPerPerson` presses has all but its first flagged.
 */
export function cameraVerdicts(votes: Array<{ ts: number }>, sightings: Sighting[], s: MisuseSettings): boolean[] {
  const tol = s.cameraToleranceSeconds * 1000;
  const cov = s.cameraCoverageSeconds * 1000;
  const { runOf } = personRuns(sightings, tol);
  const out = votes.map(() => false);
  const byRun = new Map<number, number[]>();
  let lo = 0;
  for (let i = 0; i < votes.length; i++) {
    const t = votes[i]!.ts;
    while (lo < sightings.length && sightings[lo]!.ts < t - Math.max(tol, cov)) lo++;
    let covered = false;
    let someone = false;
    let nearest = -1;
    for (let j = lo; j < sightings.length && sightings[j]!.ts <= t + Math.max(tol, cov); j++) {
      const d = Math.abs(sightings[j]!.ts - t);
      if (d <= cov) covered = true;
      if (d <= tol) {
        if (sightings[j]!.people >= 1) someone = true;
        if (nearest < 0 || d < Math.abs(sightings[nearest]!.ts - t)) nearest = j;
      }
    }
    if (covered && !someone) out[i] = true;
    const run = nearest >= 0 ? runOf[nearest]! : -1;
    if (run >= 0) {
      const list = byRun.get(run);
      if (list) list.push(i);
      else byRun.set(run, [i]);
    }
  }
  for (const list of byRun.values()) if (list.length > s.cameraMaxVotesPerPerson) for (const i of list.slice(1)) out[i] = true;
  return out;
}

/**
 * above_visitors for one location's local hour with visitor counts: walking its presses in time
 * order (sorted with byTime), the counted ones beyond `visitors` are flagged — the latest presses
 * of the hour first, since the earlier ones were already counted when they came.
 */
export function aboveVisitorsVerdicts(counted: boolean[], visitors: number): boolean[] {
  let kept = 0;
  return counted.map((c) => {
    if (!c) return false;
    if (kept < visitors) { kept++; return false; }
    return true;
  });
}

export const byTime = (a: TimelineVote, b: TimelineVote): number => a.ts - b.ts || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);

/** The rules' verdict for each press of a device's timeline (sorted with byTime): the rule names, in RULES order. */
export function evaluateTimeline(timeline: TimelineVote[], ctx: RuleContext): RuleName[][] {
  const marks: Marks = timeline.map(() => new Set<RuleName>());
  if (ctx.settings.enabled) for (const step of MISUSE_STEPS) step.run(timeline, marks, ctx);
  return marks.map((s) => RULES.filter((r) => s.has(r)));
}

export function countMarks(flags: readonly string[]): void {
  for (const f of flags) misuseCounters[`misuse_${f}`] = (misuseCounters[`misuse_${f}`] ?? 0) + 1;
}
