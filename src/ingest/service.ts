// What a device can send, independent of the transport: HTTP routes and the MQTT consumer both
// call these, so validation, idempotency and errors are the same whichever way a press arrives.
import type { Store } from '../store/db.ts';
import type { Refs } from '../store/refs.ts';
import type { DeviceKind, DevicePrincipal } from '../domain/types.ts';
import { AppError, forbidden } from '../domain/errors.ts';
import { parseTimestamp } from '../domain/time.ts';
import { recordHeartbeat } from '../devices/devices.ts';
import { markSeen } from '../devices/seen.ts';
import { prepareCamera, prepareVisitors, prepareVotes, type StepContext } from './pipeline.ts';
import { writeCamera, writeVisitors } from './write.ts';
import type { GroupCommitter, IngestResult } from './committer.ts';
import { CameraBody, HeartbeatBody, INGEST_BODY_LIMIT, VisitorsBody, VotesBody } from './schemas.ts';
import { compileChecker, rejectNul } from './validate.ts';

export type IngestContext = { store: Store; refs: Refs; committer: GroupCommitter };

/** Which device kinds may send which message (PROTOCOL §2). */
export const MESSAGE_KINDS = {
  votes: ['panel', 'fob'],
  heartbeat: ['panel', 'fob', 'counter', 'camera'],
  visitors: ['counter'],
  camera: ['camera'],
} as const satisfies Record<string, readonly DeviceKind[]>;
export type MessageKind = keyof typeof MESSAGE_KINDS;

export function requireKind(device: DevicePrincipal, message: MessageKind): void {
  const kinds: readonly DeviceKind[] = MESSAGE_KINDS[message];
  if (!kinds.includes(device.deviceKind)) throw forbidden(`a ${device.deviceKind} cannot send ${message}; allowed: ${kinds.join(', ')}`);
}

// Timestamps are checked for the whole batch before anything is stored: one bad event rejects all.
const withTs = <E extends { ts: string | number }>(events: E[]): Array<E & { parsedTs: number }> =>
  events.map((e, i) => ({ ...e, parsedTs: parseTimestamp(e.ts, `events[${i}].ts`) }));

/**
 * What every event body goes through first, before its timestamps are read (a wrong kind is 403
 * whatever it sent): the kind check, the device marked alive (written at most once a minute), and
 * the context its events are prepared in.
 */
function admit(ctx: IngestContext, device: DevicePrincipal, message: MessageKind, receivedAt: number): StepContext {
  requireKind(device, message);
  markSeen(ctx.store, device.deviceId, receivedAt);
  return { device: { id: device.deviceId, orgId: device.orgId, kind: device.deviceKind }, refs: ctx.refs, receivedAt };
}

/** Stores a validated votes body; resolves only once the votes are durably committed. */
export async function ingestVotes(ctx: IngestContext, device: DevicePrincipal, body: VotesBody, receivedAt = Date.now()): Promise<IngestResult> {
  const step = admit(ctx, device, 'votes', receivedAt);
  const votes = await prepareVotes(withTs(body.events), step);
  return ctx.committer.submit(votes);
}

/** Stores a validated visitors body (kind counter), idempotent like votes. */
export async function ingestVisitors(ctx: IngestContext, device: DevicePrincipal, body: VisitorsBody, receivedAt = Date.now()): Promise<IngestResult> {
  const step = admit(ctx, device, 'visitors', receivedAt);
  const items = await prepareVisitors(withTs(body.events), step);
  const fresh = await writeVisitors(ctx.store, items);
  return { accepted: fresh.length, duplicates: items.length - fresh.length };
}

/**
 * Stores a validated camera body (kind camera), idempotent like votes. In the same transaction the
 * camera rule re-judges the presses at the camera's place around these events (late evidence).
 */
export async function ingestCamera(ctx: IngestContext, device: DevicePrincipal, body: CameraBody, receivedAt = Date.now()): Promise<IngestResult> {
  const step = admit(ctx, device, 'camera', receivedAt);
  const items = await prepareCamera(withTs(body.events), step);
  const fresh = await writeCamera(ctx.store, items);
  return { accepted: fresh.length, duplicates: items.length - fresh.length };
}

export async function ingestHeartbeat(ctx: IngestContext, device: DevicePrincipal, body: HeartbeatBody, at = Date.now()): Promise<{ ok: true; serverTime: string }> {
  requireKind(device, 'heartbeat');
  await recordHeartbeat(ctx.store, device.deviceId, body, at);
  return { ok: true, serverTime: new Date(at).toISOString() };
}

const checkVotes = compileChecker(VotesBody);
const checkVisitors = compileChecker(VisitorsBody);
const checkHeartbeat = compileChecker(HeartbeatBody);
const checkCamera = compileChecker(CameraBody);

export type MessageOutcome =
  | { message: 'votes' | 'visitors' | 'camera'; ids: string[]; result: IngestResult }
  | { message: 'heartbeat'; ids: []; result: { ok: true; serverTime: string } };

/**
 * A raw message from a non-HTTP transport (MQTT): size check, JSON parse and the same schema as
 * the HTTP route, then the same service. `ids` are the event ids now durably stored (new or not).
 */
export async function handleDeviceMessage(ctx: IngestContext, device: DevicePrincipal, message: MessageKind, payload: Uint8Array): Promise<MessageOutcome> {
  if (payload.byteLength > INGEST_BODY_LIMIT) throw new AppError('body_too_large', `payload exceeds the limit of ${INGEST_BODY_LIMIT} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch (e) {
    throw new AppError('invalid_json', `the payload is not valid JSON: ${(e as Error).message}`, 'body');
  }
  rejectNul(json);
  if (message === 'votes') {
    const body = checkVotes(json);
    return { message, ids: body.events.map((e) => e.id), result: await ingestVotes(ctx, device, body) };
  }
  if (message === 'visitors') {
    const body = checkVisitors(json);
    return { message, ids: body.events.map((e) => e.id), result: await ingestVisitors(ctx, device, body) };
  }
  if (message === 'camera') {
    const body = checkCamera(json);
    return { message, ids: body.events.map((e) => e.id), result: await ingestCamera(ctx, device, body) };
  }
  return { message, ids: [], result: await ingestHeartbeat(ctx, device, checkHeartbeat(json)) };
}
