import type { Button } from '../domain/types.ts';

/** A vote as the device sent it, after schema validation. */
export type VoteEvent = { id: string; ts: string | number; button: Button; reason?: string | undefined };

/** What every device event gets from the pipeline: effective time, attribution, local buckets. */
export type Placed = {
  deviceId: string; eventId: string; orgId: string;
  ts: number; deviceTs: number; receivedAt: number; clamped: boolean;
  locationId: string; touchpointId: string | null; employeeId: string | null;
  localDay: string; localHour: number;
};

/** A vote ready to store: every step of the pipeline has filled its part. */
export type PreparedVote = Placed & {
  button: Button; reason: string | null;
  /** Misuse rules that hold this vote back from the scores; empty = counted. */
  flags: string[];
};

export const voteKey = (v: { deviceId: string; eventId: string }): string => `${v.deviceId}\u0000${v.eventId}`;

/** A visitor count ready to store (counters have no employee: `employeeId` stays null). */
export type PreparedVisitors = Placed & { in: number; out: number | null };

/** What a camera saw, ready to store: people in front of its place (location, touchpoint) at ts. */
export type PreparedCamera = Placed & { people: number; clip: string | null };
