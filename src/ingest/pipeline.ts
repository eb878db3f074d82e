// Every incoming vote runs through this named list of steps. A step enriches the vote or marks it
// (clamped time, misuse flags); nothing is dropped here: duplicates are settled by the store, and
// flagged votes are kept and held out of the scores. Each mark is counted in `ingestCounters`.
import { localParts } from '../domain/time.ts';
import { AppError } from '../domain/errors.ts';
import type { AssignmentRef, DeviceRef, LocationRef, Refs } from '../store/refs.ts';
import { assignmentAt } from '../store/refs.ts';
import type { PreparedVote, VoteEvent } from './vote.ts';

/** A device's clock may run ahead a little; beyond this a ts is clamped to the receive time. */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;

export type StepContext = { device: DeviceRef; refs: Refs; receivedAt: number };
/** What the steps read, fetched once per batch so the steps themselves stay synchronous. */
type Loaded = StepContext & { assignments: AssignmentRef[]; locations: Map<string, LocationRef> };
export type Step = { name: string; run(vote: PreparedVote, ctx: Loaded): void };

export const ingestCounters: Record<string, number> = { received: 0, clamped_future_ts: 0 };
const count = (reason: string): void => { ingestCounters[reason] = (ingestCounters[reason] ?? 0) + 1; };

const clampFutureTs: Step = {
  name: 'clamp_future_ts',
  run(v, ctx) {
    if (v.deviceTs > ctx.receivedAt + FUTURE_TOLERANCE_MS) {
      v.ts = ctx.receivedAt;
      v.clamped = true;
      count('clamped_future_ts');
    }
  },
};

const attribute: Step = {
  name: 'attribute',
  run(v, ctx) {
    const a = assignmentAt(ctx.assignments, v.ts);
    if (!a) throw new AppError('conflict', 'this device is not assigned to a location yet');
    v.locationId = a.locationId;
    v.touchpointId = a.touchpointId;
    v.employeeId = a.employeeId;
  },
};

const bucketLocalTime: Step = {
  name: 'bucket_local_time',
  run(v, ctx) {
    const loc = ctx.locations.get(v.locationId);
    if (!loc) throw new AppError('internal', `location ${v.locationId} of device ${v.deviceId} is missing`);
    const p = localParts(loc.timezone, v.ts);
    v.localDay = p.day;
    v.localHour = p.hour;
  },
};

export const VOTE_STEPS: Step[] = [clampFutureTs, attribute, bucketLocalTime];

/** Turns validated events (timestamps already parsed) into votes ready to store. */
export async function prepareVotes(
  events: Array<VoteEvent & { parsedTs: number }>, ctx: StepContext, steps: Step[] = VOTE_STEPS,
): Promise<PreparedVote[]> {
  const assignments = await ctx.refs.assignments(ctx.device.id);
  const locations = new Map<string, LocationRef>();
  for (const a of assignments) {
    const loc = await ctx.refs.location(a.locationId);
    if (loc) locations.set(loc.id, loc);
  }
  const loaded: Loaded = { ...ctx, assignments, locations };
  const out: PreparedVote[] = [];
  for (const e of events) {
    const v: PreparedVote = {
      deviceId: ctx.device.id, eventId: e.id, orgId: ctx.device.orgId,
      ts: e.parsedTs, deviceTs: e.parsedTs, receivedAt: ctx.receivedAt, clamped: false,
      button: e.button, reason: e.reason ?? null,
      locationId: '', touchpointId: null, employeeId: null, localDay: '', localHour: 0, flags: [],
    };
    for (const step of steps) step.run(v, loaded);
    count('received');
    out.push(v);
  }
  return out;
}
