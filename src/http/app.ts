// The HTTP server: one Fastify instance with every route, OpenAPI at /docs, and the dashboard (web/dist).
import Fastify, { type FastifyBaseLogger, type FastifyReply } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { App, AppContext } from './context.ts';
import { installErrorHandler } from './errors.ts';
import { authenticateRoute } from './auth.ts';
import { rejectNul } from '../ingest/validate.ts';
import { AppError } from '../domain/errors.ts';
import { ingestRoutes } from './routes/ingest.ts';
import { adminRoutes } from './routes/admin.ts';
import { deviceRoutes } from './routes/devices.ts';
import { scoreRoutes } from './routes/scores.ts';
import { shiftRoutes } from './routes/shifts.ts';
import { misuseRoutes } from './routes/misuse.ts';
import { liveRoutes } from './routes/live.ts';
import { accountRoutes } from './routes/accounts.ts';
import { spaRoutes } from './routes/spa.ts';
import { LiveHub } from '../live/hub.ts';

/** A pino logger (tokens redacted, see REDACT); none = silent, as in tests. `live`: the hub the committer publishes to. */
export type AppOptions = { logger?: FastifyBaseLogger | undefined; live?: LiveHub | undefined };

/** Every route as registered, with the security it declares: test/route-walk.test.ts calls each one. */
export type RouteEntry = { method: string; url: string; security: string[] };
export const ROUTES = new WeakMap<object, RouteEntry[]>();

/** Tokens never reach the log. */
export const REDACT = ['req.headers.authorization', 'req.headers.cookie', 'req.body.password', 'res.body.token'];

export async function buildApp(ctx: AppContext, opts: AppOptions = {}): Promise<App> {
  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    bodyLimit: 256 * 1024,
    // Load balancers and device fleets keep connections open; close idle ones on shutdown.
    forceCloseConnections: 'idle',
    // Router-level failures (bad percent-encoding, an absurdly long id) answer in the protocol's shape too.
    frameworkErrors: (err, _req, reply: FastifyReply) => {
      const e = err.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? new AppError('uri_too_long', 'a path segment is too long')
        : new AppError('invalid_field', `the URL is malformed: ${err.message}`, 'url');
      void reply.status(e.status).send(e.toJSON());
    },
  }).withTypeProvider<TypeBoxTypeProvider>().setValidatorCompiler(TypeBoxValidatorCompiler) as unknown as App;

  const routes: RouteEntry[] = [];
  ROUTES.set(app, routes);
  app.addHook('onRoute', (r) => {
    const security = (r.schema?.security ?? []).flatMap((s) => Object.keys(s));
    for (const method of [r.method].flat()) routes.push({ method, url: r.url, security });
  });
  installErrorHandler(app);
  // JSON only: a text/plain body would reach handlers as a string and fail later with a vaguer error.
  app.removeContentTypeParser('text/plain');
  await app.register(swagger, {
    openapi: {
      info: { title: 'Loyalty Button API', version: '1', description: 'Votes in, scores out. The device and script contract is PROTOCOL v1.' },
      components: { securitySchemes: {
        user: { type: 'http', scheme: 'bearer', description: 'API token of a user (loyalty admin-token, POST /api/v1/auth/tokens, or POST /api/v1/auth/token). Browsers may instead send the session cookie lb_session (POST /api/v1/auth/session); state-changing requests signed in by cookie must be same-origin and carry the header X-Loyalty-CSRF.' },
        device: { type: 'http', scheme: 'bearer', description: 'device token, shown once when the device is registered' },
      } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // Routes that declare a security scheme authenticate before their body is validated.
  app.addHook('preValidation', async (req) => {
    if (req.routeOptions.schema?.security?.length) await authenticateRoute(ctx.store, ctx.refs, req);
    rejectNul(req.params);
    rejectNul(req.query);
    rejectNul(req.body);
  });

  app.get('/health', { schema: { hide: true } }, async () => ({ ok: true }));
  ingestRoutes(app, ctx);
  adminRoutes(app, ctx);
  deviceRoutes(app, ctx);
  scoreRoutes(app, ctx);
  (await import('./routes/reports.ts')).reportRoutes(app, ctx); // raw votes, exports, reports (src/reports, src/exports)
  (await import('./routes/reports.ts')).scheduleRoutes(app, ctx); // email report schedules (src/reports/schedules.ts)
  await shiftRoutes(app, ctx);
  misuseRoutes(app, ctx);
  (await import('./routes/partner.ts')).partnerRoutes(app, ctx); // partner console (src/orgs/overview.ts)
  accountRoutes(app, ctx); // sessions, API tokens, invites, users, setup, wall links (src/accounts)
  (await import('./routes/alerts.ts')).alertRoutes(app, ctx); // alert rules, webhooks, alerts, deliveries (src/alerts)

  liveRoutes(app, ctx, opts.live ?? new LiveHub());
  spaRoutes(app);
  return app;
}
