// PROTOCOL.md §5: GET /api/v1/orgs/{org}/live, a text/event-stream of the org's stored votes.
// Also the public wall's stream, GET /api/v1/wall/{secret}/live (README "Accounts and access").
import { Type } from 'typebox';
import type { FastifyReply } from 'fastify';
import type { App, AppContext } from '../context.ts';
import { credentialOf, requireUser, userOfCredential } from '../auth.ts';
import { commonErrors, ErrorBody, OrgParams, userAuth } from './schemas.ts';
import { locationLimit, orgAccess } from '../../accounts/accounts.ts';
import { wallBySecret, wallRevoked } from '../../accounts/wall-links.ts';
import { accessChanged } from '../../accounts/users.ts';
import { notFound } from '../../domain/errors.ts';
import { sseFrame, type LiveHub, type LiveSink, type LiveSubscription, type LiveVote } from '../../live/hub.ts';

/** How often an open stream re-checks its token and grants (a revoked token or a changed grant closes it). */
const RECHECK_MS = 60_000;
/** A wall stream re-checks its link this often: a revocation on another server node closes it within this time. */
const WALL_RECHECK_MS = 10_000;

/**
 * A public wall needs where and which button, not who: its vote frames keep only id, locationId,
 * button, ts and flagged (no device, touchpoint, employee or reason on a screen in a shop window).
 */
function wallSink(res: LiveSink): LiveSink {
  const slim = (frame: string): string => {
    const m = /^event: vote\ndata: (.*)\n\n$/s.exec(frame);
    if (!m) return frame;
    const v = JSON.parse(m[1]!) as LiveVote;
    return sseFrame('vote', { id: v.id, locationId: v.locationId, button: v.button, ts: v.ts, flagged: v.flagged });
  };
  return {
    write: ((chunk: string, ...rest: never[]) => res.write(slim(chunk), ...rest)) as LiveSink['write'],
    cork: () => res.cork(), uncork: () => res.uncork(),
    once: ((e: string, l: () => void) => res.once(e, l)) as LiveSink['once'],
    removeListener: ((e: string, l: () => void) => res.removeListener(e, l)) as LiveSink['removeListener'],
    end: ((...a: never[]) => res.end(...a)) as LiveSink['end'],
    destroy: ((e?: Error) => res.destroy(e)) as LiveSink['destroy'],
    get writableEnded() { return res.writableEnded; },
    get destroyed() { return res.destroyed; },
  };
}

/** Takes over the response as an event stream and subscribes it; `onClose` runs when it ends. */
function openStream(reply: FastifyReply, hub: LiveHub, orgId: string, locations: readonly string[] | null, onClose: () => void, wall = false): LiveSubscription {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    'x-accel-buffering': 'no', // nginx: do not buffer the stream
    connection: 'keep-alive',
  });
  res.socket?.setNoDelay(true);
  res.write('retry: 3000\n: live votes\n\n');
  const sub = hub.subscribe(wall ? wallSink(res) : res, { orgId, locations });
  res.on('close', () => {
    onClose();
    sub.close();
  });
  return sub;
}

const sameGrants = (a: readonly string[] | null, b: readonly string[] | null): boolean =>
  a === null || b === null ? a === b : a.length === b.length && a.every((x) => b.includes(x));

export function liveRoutes(app: App, ctx: AppContext, hub: LiveHub): void {
  app.get('/api/v1/orgs/:org/live', {
    schema: {
      tags: ['scores'], summary: 'Live stream of stored votes (server-sent events)', security: userAuth, params: OrgParams,
      description: 'text/event-stream. One `event: vote` per stored vote within a second of its acknowledgement, data '
        + '`{"id","deviceId","locationId","touchpointId","employeeId","button","ts","flagged":[rule…],"reason"}`; a manager gets '
        + 'only the votes of the granted locations. Comment lines (`: ping`) every 15 s keep proxies open. A client that reads '
        + 'too slowly loses votes rather than the server\'s memory: it then gets `event: dropped` with `{"count"}` and should '
        + 'reload its figures; a client blocked for a minute is disconnected. On PostgreSQL the stream carries the votes stored by every '
        + 'server node; `{"count":null,"cause":"cluster"}` says this node\'s feed of the other nodes\' votes was interrupted (an unknown '
        + 'number may be missing): reload the same way. Send the API token as `Authorization: Bearer`.',
      produces: ['text/event-stream'],
      response: { ...commonErrors },
    },
  }, async (req, reply) => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    const org = await orgAccess(ctx.store, p, req.params.org, 'read');
    const locations = locationLimit(p);
    const cred = credentialOf(req)!;
    const check = (): void => {
      void userOfCredential(ctx.store, cred).then(async (u) => {
        if (!u) return sub.close();
        const still = await orgAccess(ctx.store, u, org.id, 'read').then(() => true, () => false);
        if (!still || !sameGrants(locationLimit(u), locations)) sub.close();
      }, () => { /* store hiccup: keep the stream, try again next time */ });
    };
    // A change made on this node (disabled, demoted, signed out, token revoked) is checked at once.
    const onChanged = (userId: string): void => { if (userId === p.userId) check(); };
    accessChanged.on('changed', onChanged);
    const sub = openStream(reply, hub, org.id, locations, () => {
      clearInterval(recheck);
      accessChanged.off('changed', onChanged);
    });
    const recheck = setInterval(check, RECHECK_MS);
    recheck.unref();
  });

  app.get('/api/v1/wall/:secret/live', {
    schema: {
      tags: ['accounts'], summary: 'Live stream of a wall link\'s votes (server-sent events; the secret is the credential)',
      description: '`event: vote` frames like /orgs/{org}/live\'s but with only `{"id","locationId","button","ts","flagged"}` (nothing about devices or staff), '
        + 'limited to the link\'s organisation and locations. Closed when the link is revoked.',
      params: Type.Object({ secret: Type.String({ minLength: 1, maxLength: 100 }) }), produces: ['text/event-stream'], response: { 404: ErrorBody, 400: ErrorBody },
    },
  }, async (req, reply) => {
    const link = await wallBySecret(ctx.store, req.params.secret);
    if (!link) throw notFound('wall link');
    const onRevoked = (id: string): void => { if (id === link.id) sub.close(); };
    wallRevoked.on('revoked', onRevoked);
    const sub = openStream(reply, hub, link.orgId, link.locationIds, () => {
      clearInterval(recheck);
      wallRevoked.off('revoked', onRevoked);
    }, true);
    const recheck = setInterval(() => {
      void wallBySecret(ctx.store, req.params.secret).then((l) => { if (!l) sub.close(); }, () => { /* keep; retry next time */ });
    }, WALL_RECHECK_MS);
    recheck.unref();
  });

  // Open streams would keep the server from closing: end them first.
  app.addHook('preClose', async () => { hub.closeAll(); });
}
