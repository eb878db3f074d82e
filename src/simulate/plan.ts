// What a simulated fleet is and what it will send, decided up front from the seed: locations
// (copies of the demo's four cafés), devices, every press with its real timestamp, the counters'
// visitor reports, and each device's faults (an outage, a low battery, lost acknowledgements,
// batches sent again). The runtime only decides how events are grouped into messages, which
// depends on timing; everything that decides the expected scores is here.
//
// Timestamps: N presses are spread over the last `days` local days of each location (today
// included, never after `end`) with the demo's rhythm — opening hours, hourWeight() peaks,
// WEEKDAY_FACTOR and each café's volume — and each press's button comes from the demo's press()
// model (Novosibirsk's evening queue, Pavel's weaker service…). The run replays that history
// compressed into the run's duration, in chronological order.
import type { DeviceKind, OpeningHours, Weekday } from '../domain/types.ts';
import { addDays, todayIn, weekdayOf } from '../domain/time.ts';
import { DEVICES, EMPLOYEES, LOCATIONS, WEEKDAY_FACTOR, hourWeight, press, type DeviceSpec, type LocationSpec, type TouchpointName } from '../demo/model.ts';
import { mulberry32, pickWeighted, poisson, type Rng } from '../demo/random.ts';
import { wallToUtc } from '../demo/seed.ts';

/** How often a counter reports the people who came in since its previous report. */
export const COUNTER_PERIOD_MIN = 15;
/** An honest device is pressed at most this often: no misuse rule (repeat within 10 s, streaks of
 * presses under 30 s apart, more than 8 a minute — src/misuse/settings.ts) has cause to flag it. */
export const MIN_GAP_MS = 31_000;
/** People through the door per vote: a response rate of about 11 %. */
const VISITORS_PER_VOTE = 9;
const HOUR = 3_600_000;
/** Below this a battery is low (the fleet monitor's default lowBatteryPercent). */
export const LOW_BATTERY = 15;

/** A fault mark on an event, consumed the first time it applies. */
export const LOSE_ACK = 1;
export const SEND_AGAIN = 2;

export type SimEvent = {
  device: number;
  /** 0-based position in the device's own sequence; the event id is derived from it. */
  seq: number;
  ts: number;
  /** Votes: the button and maybe a reason. Visitor reports: `people` (the `in` count). */
  button: 'satisfied' | 'dissatisfied' | null;
  reason: string | null;
  people: number;
  /** LOSE_ACK | SEND_AGAIN, cleared once applied. */
  marks: number;
  /** Set once the server acknowledged it (first time). */
  acked: boolean;
  /** How many times it has been transmitted. */
  sends: number;
};

export type PlannedLocation = { index: number; name: string; timezone: string; openingHours: OpeningHours; spec: LocationSpec };
export type PlannedEmployee = { key: string; name: string; location: number };
export type PlannedDevice = {
  index: number; name: string; kind: Extract<DeviceKind, 'panel' | 'fob' | 'counter'>;
  location: number; touchpoint: TouchpointName | null; employee: string | null;
  events: SimEvent[];
  /** Offline while presses [from, to) happen; back no sooner than `minMs` after leaving. */
  outage: { from: number; to: number; minMs: number } | null;
  battery: number; lowBattery: boolean; rssi: number; firmware: string;
  /** Spreads heartbeats: this device's first one is due after this fraction of the interval. */
  heartbeatPhase: number;
};

export type PlanOptions = {
  seed: number; devices: number; counters: number; locations: number; votes: number; days: number; end: number;
  /** Share of devices with an outage during the run. */
  offline: number;
  /** Share of messages whose acknowledgement gets lost, and of acknowledged messages sent again (see device.ts). */
  lostAcks: number; duplicates: number;
  /** Share of devices starting with a low battery (below LOW_BATTERY %). */
  lowBattery: number;
};

export type Plan = {
  locations: PlannedLocation[]; employees: PlannedEmployee[]; devices: PlannedDevice[];
  /** Every event of every device in timestamp order: the order the run releases them in. */
  timeline: SimEvent[];
  /** First and last instant of the simulated history. */
  from: number; to: number;
};

/** The id a device gives its `seq`-th event: `p-…` for presses, `c-…` for counter reports. */
export const eventId = (kind: PlannedDevice['kind'], seq: number): string => `${kind === 'counter' ? 'c' : 'p'}-${seq + 1}`;
/** `seq` back from an event id of this simulator, or -1. */
export function seqOf(id: string): number {
  const n = Number(id.slice(2));
  return Number.isInteger(n) && n >= 1 ? n - 1 : -1;
}

const hhmm = (s: string): number => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));

type Slot = { location: number; start: number; end: number; hour: number; weekday: Weekday; weight: number };

/** The open hours of a location over the last `days` local days, each weighted by the demo rhythm. */
function slotsOf(loc: PlannedLocation, days: number, end: number): Slot[] {
  const out: Slot[] = [];
  const today = todayIn(loc.timezone, end);
  for (let i = days - 1; i >= 0; i--) {
    const day = addDays(today, -i);
    const weekday = weekdayOf(day);
    for (const [open, close] of loc.openingHours[weekday] ?? []) {
      const from = hhmm(open);
      const to = hhmm(close) > from ? hhmm(close) : 24 * 60;
      for (let h = Math.floor(from / 60); h * 60 < to; h++) {
        const a = Math.max(from, h * 60);
        const b = Math.min(to, (h + 1) * 60);
        const start = wallToUtc(loc.timezone, day, a, 0);
        if (start === null || start >= end) continue;
        const stop = Math.min(end, start + (b - a) * 60_000);
        out.push({ location: loc.index, start, end: stop, hour: h, weekday, weight: loc.spec.perDay * WEEKDAY_FACTOR[weekday] * hourWeight(h) * ((stop - start) / HOUR) });
      }
    }
  }
  return out;
}

/** Index of the first cumulative weight above `r` (binary search). */
function pickCumulative(cum: Float64Array, r: number): number {
  let lo = 0;
  let hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cum[mid]! > r) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

const newEvent = (device: number, ts: number): SimEvent => ({ device, seq: 0, ts, button: null, reason: null, people: 0, marks: 0, acked: false, sends: 0 });

export function makePlan(o: PlanOptions): Plan {
  if (o.devices < 1) throw new Error('a fleet needs at least one voting device');
  if (o.days < 1) throw new Error('days must be at least 1');
  if (o.locations < 1 || o.locations > o.devices) throw new Error('locations must be between 1 and the number of voting devices');
  const rng: Rng = mulberry32(o.seed);
  const copies = (i: number): string => (i < LOCATIONS.length ? '' : ` #${Math.floor(i / LOCATIONS.length) + 1}`);

  const locations: PlannedLocation[] = Array.from({ length: o.locations }, (_, i) => {
    const spec = LOCATIONS[i % LOCATIONS.length]!;
    return { index: i, name: `${spec.name}${copies(i)}`, timezone: spec.timezone, openingHours: spec.openingHours, spec };
  });
  const employees: PlannedEmployee[] = locations.flatMap((l) =>
    EMPLOYEES.filter((e) => e.location === l.spec.key).map((e) => ({ key: `${e.key}${copies(l.index)}`, name: `${e.name}${copies(l.index)}`, location: l.index })));

  // Voting devices: round-robin over the locations, each taking the next demo device of its café
  // (counter panel, cash-desk panel, waiters' fobs), with that device's share of the café's votes.
  const specs: DeviceSpec[] = [];
  const devices: PlannedDevice[] = [];
  const perLocation: number[] = locations.map(() => 0);
  const device = (kind: PlannedDevice['kind'], name: string, location: number, touchpoint: TouchpointName | null, employee: string | null): PlannedDevice => {
    const lowBattery = rng() < o.lowBattery;
    return {
      index: devices.length, name, kind, location, touchpoint, employee, events: [], outage: null,
      battery: lowBattery ? 3 + Math.floor(rng() * (LOW_BATTERY - 3)) : 40 + Math.floor(rng() * 61), lowBattery,
      rssi: -40 - Math.floor(rng() * 55), firmware: rng() < 0.8 ? '2.3.1' : '2.2.7', heartbeatPhase: rng(),
    };
  };
  for (let i = 0; i < o.devices; i++) {
    const loc = locations[i % locations.length]!;
    const own = DEVICES.filter((d) => d.location === loc.spec.key);
    const spec = own[perLocation[loc.index]! % own.length]!;
    const nth = Math.floor(perLocation[loc.index]! / own.length);
    perLocation[loc.index]!++;
    const name = `${spec.name.replace(loc.spec.name, loc.name)}${nth ? ` (${nth + 1})` : ''}`;
    specs.push(spec);
    devices.push(device(spec.kind as 'panel' | 'fob', name, loc.index, spec.touchpoint, spec.employee ? `${spec.employee}${copies(loc.index)}` : null));
  }
  const voters = devices.slice();
  for (let c = 0; c < o.counters; c++) {
    const loc = locations[c % locations.length]!;
    devices.push(device('counter', `${loc.name} · door counter${c >= locations.length ? ` (${Math.floor(c / locations.length) + 1})` : ''}`, loc.index, null, null));
  }

  // Presses: a slot (location × local hour) by the rhythm's weight, a device of that location by
  // its share, a uniform instant in the slot, a button by the demo model. Customers are honest: a
  // device is pressed at most once every MIN_GAP_MS (an instant too close to another press of that
  // device is drawn again, in another slot of its location).
  const slots = locations.flatMap((l) => (voters.some((d) => d.location === l.index) ? slotsOf(l, o.days, o.end) : []));
  if (!slots.length) throw new Error('no opening hours in the simulated period: use more --days');
  const cumulative = (list: Slot[]): { cum: Float64Array; total: number } => {
    const cum = new Float64Array(list.length);
    let t = 0;
    list.forEach((x, i) => { t += x.weight; cum[i] = t; });
    return { cum, total: t };
  };
  const all = cumulative(slots);
  const total = all.total;
  const slotsAt = locations.map((l) => slots.filter((x) => x.location === l.index));
  const cumAt = slotsAt.map(cumulative);
  const votersAt = locations.map((l) => voters.filter((d) => d.location === l.index));
  // One press per MIN_GAP_MS bucket and device at most; neighbours are checked for the exact gap.
  const taken = devices.map(() => new Map<number, number>());
  const fits = (device: number, ts: number): boolean => {
    const b = Math.floor(ts / MIN_GAP_MS);
    const m = taken[device]!;
    if (m.has(b)) return false;
    const before = m.get(b - 1);
    const after = m.get(b + 1);
    return (before === undefined || ts - before >= MIN_GAP_MS) && (after === undefined || after - ts >= MIN_GAP_MS);
  };
  /** Votes per (slot, counter period), for the counters below. */
  const periodVotes = new Map<string, number>();
  const PERIOD_MS = COUNTER_PERIOD_MIN * 60_000;
  for (let k = 0; k < o.votes; k++) {
    let slot = slots[pickCumulative(all.cum, rng() * total)]!;
    const dev = pickWeighted(rng, votersAt[slot.location]!, (d) => specs[d.index]!.weight);
    let ts = slot.start + Math.floor(rng() * (slot.end - slot.start));
    for (let tries = 0; !fits(dev.index, ts); tries++) {
      if (tries === 100) {
        throw new Error(`${o.votes} presses are too many for ${o.devices} device(s) over ${o.days} day(s): an honest device is pressed at most ` +
          `once every ${MIN_GAP_MS / 1000} s during opening hours; use more --devices or --days, or fewer --votes`);
      }
      const here = cumAt[slot.location]!;
      slot = slotsAt[slot.location]![pickCumulative(here.cum, rng() * here.total)]!;
      ts = slot.start + Math.floor(rng() * (slot.end - slot.start));
    }
    taken[dev.index]!.set(Math.floor(ts / MIN_GAP_MS), ts);
    const period = `${slot.location}|${slot.start}|${Math.floor((ts - slot.start) / PERIOD_MS)}`;
    periodVotes.set(period, (periodVotes.get(period) ?? 0) + 1);
    const ev = newEvent(dev.index, ts);
    const vote = press(rng, specs[dev.index]!, slot.hour, slot.weekday);
    ev.button = vote.button;
    ev.reason = vote.reason ?? null;
    dev.events.push(ev);
  }

  // Counters: every COUNTER_PERIOD_MIN of opening time, the people who came in, shared among the
  // location's counters: at least everyone who voted then (no more votes than visitors), plus
  // those who did not vote, VISITORS_PER_VOTE people per expected vote in all.
  const counters = devices.filter((d) => d.kind === 'counter');
  for (const l of locations) {
    const here = counters.filter((d) => d.location === l.index);
    for (const s of here.length ? slotsAt[l.index]! : []) {
      const parts = Math.max(1, Math.ceil((s.end - s.start) / PERIOD_MS));
      const others = (s.weight / total) * o.votes * (VISITORS_PER_VOTE - 1) / parts / here.length;
      for (let p = 0; p < parts; p++) {
        const ts = Math.min(s.end, s.start + (p + 1) * PERIOD_MS) - 1000;
        const voted = Math.ceil((periodVotes.get(`${l.index}|${s.start}|${p}`) ?? 0) / here.length);
        for (const d of here) {
          const ev = newEvent(d.index, ts);
          ev.people = voted + poisson(rng, others);
          d.events.push(ev);
        }
      }
    }
  }

  // Per device: time order, ids, faults.
  for (const d of devices) {
    d.events.sort((a, b) => a.ts - b.ts);
    d.events.forEach((e, i) => {
      e.seq = i;
      if (rng() < o.lostAcks) e.marks |= LOSE_ACK;
      if (rng() < o.duplicates) e.marks |= SEND_AGAIN;
    });
    if (d.events.length > 1 && rng() < o.offline) {
      const n = d.events.length;
      const len = Math.max(1, Math.round(n * (0.05 + 0.3 * rng())));
      const from = Math.floor(rng() * (n - 1));
      d.outage = { from, to: Math.min(n, from + len), minMs: 300 + Math.floor(rng() * 1200) };
    }
  }
  const timeline = devices.flatMap((d) => d.events).sort((a, b) => a.ts - b.ts || a.device - b.device || a.seq - b.seq);
  return { locations, employees, devices, timeline, from: timeline[0]?.ts ?? o.end, to: timeline.at(-1)?.ts ?? o.end };
}

/** What the plan will have sent once every event is through: the expected figures. */
export function expected(plan: Plan): { votes: number; satisfied: number; dissatisfied: number; visitorEvents: number; people: number } {
  const r = { votes: 0, satisfied: 0, dissatisfied: 0, visitorEvents: 0, people: 0 };
  for (const e of plan.timeline) {
    if (e.button === 'satisfied') { r.votes++; r.satisfied++; }
    else if (e.button === 'dissatisfied') { r.votes++; r.dissatisfied++; }
    else { r.visitorEvents++; r.people += e.people; }
  }
  return r;
}
