// Every incoming vote runs through this named list of steps. A step enriches the vote or marks it
// (clamped time, misuse flags); nothing is dropped here: duplicates are settled by the store, and
// flagged votes are kept and held out of the scores. Each mark is counted in `ingestCounters`.
// The misuse rules (repeat, burst, streak, off_hours) are named steps too, but over a device's
// timeline rather than one vote: they run in the write transaction (src/misuse/evaluate.ts, called by
// writeVotes), where the device's stored neighbours and late arrivals are seen exactly.
import { localParts } from '../domain/time.ts';
import { AppError } from '../domain/errors.ts';
import type { AssignmentRef, DeviceRef, LocationRef, Refs, ShiftRef } from '../store/refs.ts';
import { assignmentAt, shiftAt } from '../store/refs.ts';
import type { Placed, PreparedCamera, PreparedVisitors, PreparedVote, VoteEvent } from './vote.ts';

/** A device's clock may run ahead a little; beyond this a ts is clamped to the receive time. */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;

export type StepContext = { device: DeviceRef; refs: Refs; receivedAt: number };
/** What the steps read, fetched once per batch so the steps themselves stay synchronous. */
type Loaded = StepContext & {
  assignments: AssignmentRef[]; locations: Map<string, LocationRef>;
  /** Shifts by touchpoint, for the touchpoints without their own employee this batch lands on. */
  shifts: Map<string, ShiftRef[]>;
};
export type Step<T extends Placed = PreparedVote> = { name: string; run(item: T, ctx: Loaded): void };

export const ingestCounters: Record<string, number> = { received: 0, clamped_future_ts: 0 };
const count = (reason: string): void => { ingestCounters[reason] = (ingestCounters[reason] ?? 0) + 1; };

const isFuture = (ts: number, receivedAt: number): boolean => ts > receivedAt + FUTURE_TOLERANCE_MS;
const clampFutureTs: Step<Placed> = {
  name: 'clamp_future_ts',
  run(v, ctx) {
    if (isFuture(v.deviceTs, ctx.receivedAt)) {
      v.ts = ctx.receivedAt;
      v.clamped = true;
      count('clamped_future_ts');
    }
  },
};

const attribute: Step<Placed> = {
  name: 'attribute',
  run(v, ctx) {
    const a = assignmentAt(ctx.assignments, v.ts);
    if (!a) throw new AppError('conflict', 'this device is not assigned to a location yet');
    v.locationId = a.locationId;
    v.touchpointId = a.touchpointId;
    v.employeeId = a.employeeId;
  },
};

const bucketLocalTime: Step<Placed> = {
  name: 'bucket_local_time',
  run(v, ctx) {
    const loc = ctx.locations.get(v.locationId);
    if (!loc) throw new AppError('internal', `location ${v.locationId} of device ${v.deviceId} is missing`);
    const p = localParts(loc.timezone, v.ts);
    v.localDay = p.day;
    v.localHour = p.hour;
  },
};

// A panel at a cash desk rates whoever is on shift there at the press's (effective) time; a device
// placed with its own employee (a waiter's fob) carries that employee and ignores the schedule.
const shiftEmployee: Step<Placed> = {
  name: 'shift_employee',
  run(v, ctx) {
    if (v.employeeId !== null || v.touchpointId === null) return;
    const s = shiftAt(ctx.shifts.get(v.touchpointId) ?? [], v.ts);
    if (s) v.employeeId = s.employeeId;
  },
};

export const VOTE_STEPS: Array<Step<PreparedVote>> = [clampFutureTs, attribute, shiftEmployee, bucketLocalTime];
// A counter's people are placed like votes, but not on an employee: nobody is rated by a door.
const noEmployee: Step<Placed> = { name: 'no_employee', run(v) { v.employeeId = null; } };
export const VISITOR_STEPS: Array<Step<PreparedVisitors>> = [clampFutureTs, attribute, noEmployee, bucketLocalTime];
// A camera watches a place (location, touchpoint), not a person.
export const CAMERA_STEPS: Array<Step<PreparedCamera>> = [clampFutureTs, attribute, noEmployee, bucketLocalTime];

/** `withShiftsAt`: the events' timestamps, when the steps need the shifts covering them. */
async function load(ctx: StepContext, withShiftsAt: number[] | null): Promise<Loaded> {
  const assignments = await ctx.refs.assignments(ctx.device.id);
  const locations = new Map<string, LocationRef>();
  for (const a of assignments) {
    const loc = await ctx.refs.location(a.locationId);
    if (loc) locations.set(loc.id, loc);
  }
  const shifts = new Map<string, ShiftRef[]>();
  if (withShiftsAt) {
    // The instants each shift-staffed touchpoint is asked about (effective times, as the steps will see them).
    const wanted = new Map<string, number[]>();
    for (const deviceTs of withShiftsAt) {
      const ts = isFuture(deviceTs, ctx.receivedAt) ? ctx.receivedAt : deviceTs;
      const a = assignmentAt(assignments, ts);
      if (!a || a.touchpointId === null || a.employeeId !== null) continue;
      const list = wanted.get(a.touchpointId);
      if (list) list.push(ts);
      else wanted.set(a.touchpointId, [ts]);
    }
    for (const [tp, instants] of wanted) shifts.set(tp, await ctx.refs.shifts(tp, instants));
  }
  return { ...ctx, assignments, locations, shifts };
}

function placed(id: string, ts: number, ctx: StepContext): Placed {
  return {
    deviceId: ctx.device.id, eventId: id, orgId: ctx.device.orgId,
    ts, deviceTs: ts, receivedAt: ctx.receivedAt, clamped: false,
    locationId: '', touchpointId: null, employeeId: null, localDay: '', localHour: 0,
  };
}

/** Turns validated events (timestamps already parsed) into votes ready to store. */
export async function prepareVotes(
  events: Array<VoteEvent & { parsedTs: number }>, ctx: StepContext, steps: Array<Step<PreparedVote>> = VOTE_STEPS,
): Promise<PreparedVote[]> {
  const loaded = await load(ctx, events.map((e) => e.parsedTs));
  return events.map((e) => {
    const v: PreparedVote = { ...placed(e.id, e.parsedTs, ctx), button: e.button, reason: e.reason ?? null, flags: [] };
    for (const step of steps) step.run(v, loaded);
    count('received');
    return v;
  });
}

/** Turns validated visitor events into counts ready to store. */
export async function prepareVisitors(
  events: Array<{ id: string; in: number; out?: number | undefined; parsedTs: number }>, ctx: StepContext,
): Promise<PreparedVisitors[]> {
  const loaded = await load(ctx, null);
  return events.map((e) => {
    const v: PreparedVisitors = { ...placed(e.id, e.parsedTs, ctx), in: e.in, out: e.out ?? null };
    for (const step of VISITOR_STEPS) step.run(v, loaded);
    count('visitors_received');
    return v;
  });
}

/** Turns validated camera events into sightings ready to store. */
export async function prepareCamera(
  events: Array<{ id: string; people: number; clip?: string | undefined; parsedTs: number }>, ctx: StepContext,
): Promise<PreparedCamera[]> {
  const loaded = await load(ctx, null);
  return events.map((e) => {
    const v: PreparedCamera = { ...placed(e.id, e.parsedTs, ctx), people: e.people, clip: e.clip ?? null };
    for (const step of CAMERA_STEPS) step.run(v, loaded);
    count('camera_received');
    return v;
  });
}
