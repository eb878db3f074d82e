// PROTOCOL.md §5: GET /api/v1/orgs/{org}/live, a text/event-stream of the org's stored votes.
import type { App, AppContext } from '../context.ts';
import { bearer, requireUser } from '../auth.ts';
import { commonErrors, OrgParams, userAuth } from './schemas.ts';
import { locationLimit, orgAccess, userByToken } from '../../accounts/accounts.ts';
import type { LiveHub } from '../../live/hub.ts';

/** How often an open stream re-checks its token and grants (a revoked token or a changed grant closes it). */
const RECHECK_MS = 60_000;

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
        + 'reload its figures; a client blocked for a minute is disconnected. Send the API token as `Authorization: Bearer`.',
      produces: ['text/event-stream'],
      response: { ...commonErrors },
    },
  }, async (req, reply) => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    const org = await orgAccess(ctx.store, p, req.params.org, 'read');
    const locations = locationLimit(p);
    const token = bearer(req);

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no', // nginx: do not buffer the stream
      connection: 'keep-alive',
    });
    res.socket?.setNoDelay(true);
    res.write(`retry: 3000\n: live votes of ${org.id}\n\n`);
    const sub = hub.subscribe(res, { orgId: org.id, locations });

    const recheck = setInterval(() => {
      void userByToken(ctx.store, token).then(async (u) => {
        if (!u) return sub.close();
        const still = await orgAccess(ctx.store, u, org.id, 'read').then(() => true, () => false);
        if (!still || !sameGrants(locationLimit(u), locations)) sub.close();
      }, () => { /* store hiccup: keep the stream, try again next time */ });
    }, RECHECK_MS);
    recheck.unref();
    res.on('close', () => {
      clearInterval(recheck);
      sub.close();
    });
  });

  // Open streams would keep the server from closing: end them first.
  app.addHook('preClose', async () => { hub.closeAll(); });
}
