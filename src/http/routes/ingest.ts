// PROTOCOL.md §2: devices over HTTP.
import { Type } from 'typebox';
import type { App, AppContext } from '../context.ts';
import { requireDevice } from '../auth.ts';
import { parseTimestamp } from '../../domain/time.ts';
import { BUTTONS } from '../../domain/types.ts';
import { prepareVotes } from '../../ingest/pipeline.ts';
import { recordHeartbeat } from '../../devices/devices.ts';
import { ErrorBody } from './schemas.ts';

export const MAX_EVENTS = 1000;
export const INGEST_BODY_LIMIT = 1024 * 1024;

const VoteEvent = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\x20-\\x7E]+$', description: 'unique per device; a retry sends the same id' }),
  ts: Type.Union([Type.String(), Type.Integer()], { description: 'ISO-8601 with offset, or epoch milliseconds' }),
  button: Type.Enum([...BUTTONS]),
  reason: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
});
const VotesBody = Type.Object({ events: Type.Array(VoteEvent, { minItems: 1, maxItems: MAX_EVENTS }) });
const VotesReply = Type.Object({ accepted: Type.Integer(), duplicates: Type.Integer() });
const HeartbeatBody = Type.Object({
  battery: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
  rssi: Type.Optional(Type.Number({ minimum: -200, maximum: 0 })),
  firmware: Type.Optional(Type.String({ maxLength: 64 })),
  buffered: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000 })),
});
const bearerAuth = [{ device: [] }];

export function ingestRoutes(app: App, ctx: AppContext): void {
  app.post('/api/v1/ingest/votes', {
    bodyLimit: INGEST_BODY_LIMIT,
    schema: {
      tags: ['devices'], summary: 'Store a batch of presses (all or nothing; retries are idempotent)', security: bearerAuth,
      body: VotesBody, response: { 200: VotesReply, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 413: ErrorBody },
    },
  }, async (req) => {
    const device = await requireDevice(ctx.store, ctx.refs, req, ['panel', 'fob']);
    const receivedAt = Date.now();
    // Timestamps are checked for the whole batch before anything is stored: one bad event rejects all.
    const events = req.body.events.map((e, i) => ({ ...e, parsedTs: parseTimestamp(e.ts, `events[${i}].ts`) }));
    const votes = await prepareVotes(events, { device: { id: device.deviceId, orgId: device.orgId, kind: device.deviceKind }, refs: ctx.refs, receivedAt });
    return ctx.committer.submit(votes);
  });

  app.post('/api/v1/ingest/heartbeat', {
    schema: { tags: ['devices'], summary: 'Report battery, signal, firmware and buffered presses', security: bearerAuth, body: HeartbeatBody,
      response: { 200: Type.Object({ ok: Type.Boolean(), serverTime: Type.String() }), 400: ErrorBody, 401: ErrorBody } },
  }, async (req) => {
    const device = await requireDevice(ctx.store, ctx.refs, req, ['panel', 'fob', 'counter', 'camera']);
    const at = Date.now();
    await recordHeartbeat(ctx.store, device.deviceId, req.body, at);
    return { ok: true, serverTime: new Date(at).toISOString() };
  });
}
