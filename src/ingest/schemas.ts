// The bodies devices send (PROTOCOL.md §2), defined once: HTTP routes validate with them and the
// MQTT consumer validates the same payloads with them, so both transports answer the same errors.
import { Type, type Static } from 'typebox';
import { BUTTONS } from '../domain/types.ts';

export const MAX_EVENTS = 1000;
/** 1000 events of the longest allowed fields fit well below this. */
export const INGEST_BODY_LIMIT = 1024 * 1024;

const EventId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\x20-\\x7E]+$', description: 'unique per device; a retry sends the same id' });
const Ts = Type.Union([Type.String(), Type.Integer()], { description: 'ISO-8601 with offset, or epoch milliseconds' });

export const VoteEvent = Type.Object({
  id: EventId,
  ts: Ts,
  button: Type.Enum([...BUTTONS]),
  reason: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
});
export const VotesBody = Type.Object({ events: Type.Array(VoteEvent, { minItems: 1, maxItems: MAX_EVENTS }) });
export type VotesBody = Static<typeof VotesBody>;

export const HeartbeatBody = Type.Object({
  battery: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
  rssi: Type.Optional(Type.Number({ minimum: -200, maximum: 0 })),
  firmware: Type.Optional(Type.String({ maxLength: 64 })),
  buffered: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000 })),
});
export type HeartbeatBody = Static<typeof HeartbeatBody>;

export const VisitorEvent = Type.Object({
  id: EventId,
  ts: Ts,
  in: Type.Integer({ minimum: 0, maximum: 100_000, description: 'people who came in since the previous event' }),
  out: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
});
export const VisitorsBody = Type.Object({ events: Type.Array(VisitorEvent, { minItems: 1, maxItems: MAX_EVENTS }) });
export type VisitorsBody = Static<typeof VisitorsBody>;

export const CameraEvent = Type.Object({
  id: EventId,
  ts: Ts,
  people: Type.Integer({ minimum: 0, maximum: 1000, description: 'people the camera sees in front of its touchpoint at ts' }),
  clip: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, pattern: '^https?://[\\x21-\\x7E]+$', description: 'http(s) link to a clip of that moment, kept as evidence' })),
});
export const CameraBody = Type.Object({ events: Type.Array(CameraEvent, { minItems: 1, maxItems: MAX_EVENTS }) });
export type CameraBody = Static<typeof CameraBody>;

export const IngestReply = Type.Object({ accepted: Type.Integer(), duplicates: Type.Integer() });
