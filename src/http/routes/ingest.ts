// PROTOCOL.md §2: devices over HTTP. The bodies and the work are the ingest service's; this file
// only authenticates and maps routes onto it (MQTT maps its topics onto the same service).
import { Type } from 'typebox';
import type { App, AppContext } from '../context.ts';
import { requireDevice } from '../auth.ts';
import { CameraBody, HeartbeatBody, INGEST_BODY_LIMIT, IngestReply, VisitorsBody, VotesBody } from '../../ingest/schemas.ts';
import { ingestCamera, ingestHeartbeat, ingestVisitors, ingestVotes, MESSAGE_KINDS } from '../../ingest/service.ts';
import { ErrorBody } from './schemas.ts';

const bearerAuth = [{ device: [] }];
const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 409: ErrorBody, 413: ErrorBody, 415: ErrorBody };

export function ingestRoutes(app: App, ctx: AppContext): void {
  app.post('/api/v1/ingest/votes', {
    bodyLimit: INGEST_BODY_LIMIT,
    schema: {
      tags: ['devices'], summary: 'Store a batch of presses (all or nothing; retries are idempotent)', security: bearerAuth,
      body: VotesBody, response: { 200: IngestReply, ...errors },
    },
  }, async (req) => ingestVotes(ctx, await requireDevice(ctx.store, ctx.refs, req, MESSAGE_KINDS.votes), req.body));

  app.post('/api/v1/ingest/visitors', {
    bodyLimit: INGEST_BODY_LIMIT,
    schema: {
      tags: ['devices'], summary: 'Store people counted by a counter (all or nothing; retries are idempotent)', security: bearerAuth,
      body: VisitorsBody, response: { 200: IngestReply, ...errors },
    },
  }, async (req) => ingestVisitors(ctx, await requireDevice(ctx.store, ctx.refs, req, MESSAGE_KINDS.visitors), req.body));

  app.post('/api/v1/ingest/camera', {
    bodyLimit: INGEST_BODY_LIMIT,
    schema: {
      tags: ['devices'], summary: 'Store what a camera saw: people in front of its touchpoint, with an optional clip link (all or nothing; retries are idempotent). Late evidence re-judges the presses around it.', security: bearerAuth,
      body: CameraBody, response: { 200: IngestReply, ...errors },
    },
  }, async (req) => ingestCamera(ctx, await requireDevice(ctx.store, ctx.refs, req, MESSAGE_KINDS.camera), req.body));

  app.post('/api/v1/ingest/heartbeat', {
    schema: { tags: ['devices'], summary: 'Report battery, signal, firmware and buffered presses', security: bearerAuth, body: HeartbeatBody,
      response: { 200: Type.Object({ ok: Type.Boolean(), serverTime: Type.String() }), ...errors } },
  }, async (req) => ingestHeartbeat(ctx, await requireDevice(ctx.store, ctx.refs, req, MESSAGE_KINDS.heartbeat), req.body));
}
