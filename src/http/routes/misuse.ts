// Fake-press defence (issue 6, README "Fake-press defence"): the filter's settings, the review
// queue of flagged episodes, confirm / restore with an audit log, and the misuse report.
// Every route checks the caller's access to the org first (another org's user gets 403).
import { Type } from 'typebox';
import type { App, AppContext } from '../context.ts';
import type { FastifyRequest } from 'fastify';
import { requireUser } from '../auth.ts';
import { commonErrors, Id, OrgParams, userAuth } from './schemas.ts';
import { locationLimit, orgAccess } from '../../accounts/accounts.ts';
import { forbidden, invalidField } from '../../domain/errors.ts';
import { parseDateRange } from '../../domain/time.ts';
import type { UserPrincipal } from '../../domain/types.ts';
import { locationMisuseSettings, MISUSE_BOUNDS, MISUSE_DEFAULTS, misuseSettings, setLocationMisuseSettings, setMisuseSettings } from '../../misuse/settings.ts';
import { listAudit, listEpisodes, misuseReport, parseEpisodeId, review, type ReviewAction } from '../../misuse/review.ts';

const Settings = Type.Object({
  enabled: Type.Boolean(), repeatWindowSeconds: Type.Integer(), burstMaxPresses: Type.Integer(), burstWindowSeconds: Type.Integer(),
  streakMinRun: Type.Integer(), streakMaxGapSeconds: Type.Integer(), offHours: Type.Boolean(),
  camera: Type.Boolean(), cameraToleranceSeconds: Type.Integer(), cameraCoverageSeconds: Type.Integer(), cameraMaxVotesPerPerson: Type.Integer(),
  aboveVisitors: Type.Boolean(), episodeGapMinutes: Type.Integer(),
});
const Overrides = Type.Record(Type.String(), Type.Unknown());
const SettingsView = Type.Object({
  settings: Settings, overrides: Overrides, defaults: Settings,
  locations: Type.Record(Type.String(), Overrides, { description: 'each location\'s own overrides, on top of the org\'s settings' }),
});
const LocationSettingsView = Type.Object({
  locationId: Type.String(), settings: Settings, overrides: Overrides, orgSettings: Settings, defaults: Settings,
});
const LocationParams = Type.Object({ org: Id, location: Id });
const Range = Type.Object({
  from: Type.String({ description: 'first local date, inclusive (YYYY-MM-DD)' }), to: Type.String({ description: 'last local date, inclusive' }),
});
const ReviewBody = Type.Object({ reason: Type.String({ description: 'why: kept in the audit log' }) });
const ReviewOut = Type.Object({ auditId: Type.String(), action: Type.String(), votes: Type.Integer(), moved: Type.Integer({ description: 'votes whose counting changed' }) });
const Action = Type.Enum(['confirm', 'restore']);

function reasonOf(body: unknown): string {
  const r = (body as { reason?: unknown } | null)?.reason;
  if (typeof r !== 'string' || !r.trim()) throw invalidField('reason', 'reason is required: say why, it goes to the audit log');
  if (r.length > 1000) throw invalidField('reason', 'reason must be at most 1000 characters');
  return r.trim();
}

/** Reviewers: admins of the org and managers (within their locations); viewers only look. */
function requireReviewer(p: UserPrincipal): void {
  if (p.role === 'viewer') throw forbidden('a viewer cannot review flagged votes');
}

export function misuseRoutes(app: App, ctx: AppContext): void {
  const base = '/api/v1/orgs/:org/misuse';

  app.get(`${base}/settings`, {
    schema: { tags: ['misuse'], summary: 'Fake-press filter settings: effective values, the org\'s overrides and the defaults', security: userAuth, params: OrgParams, response: { 200: SettingsView, ...commonErrors } },
  }, async (req) => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    const org = await orgAccess(ctx.store, p, req.params.org, 'read');
    return { ...(await misuseSettings(ctx.store, org.id)), defaults: MISUSE_DEFAULTS };
  });

  app.put(`${base}/settings`, {
    schema: {
      tags: ['misuse'], security: userAuth, params: OrgParams,
      summary: `Changes fake-press filter settings (org admins): fields given are set, null resets to the default, others keep their value. Bounds: ${Object.entries(MISUSE_BOUNDS).map(([k, [lo, hi]]) => `${k} ${lo}–${hi}`).join(', ')}. Applies to votes evaluated from now on.`,
      body: Type.Unknown(), response: { 200: SettingsView, ...commonErrors },
    },
  }, async (req) => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    const org = await orgAccess(ctx.store, p, req.params.org, 'admin');
    return { ...(await setMisuseSettings(ctx.store, org.id, req.body)), defaults: MISUSE_DEFAULTS };
  });

  app.get(`${base}/settings/locations/:location`, {
    schema: {
      tags: ['misuse'], summary: 'Fake-press filter settings at one location: effective values (defaults ← org ← location), the location\'s overrides and the org\'s settings',
      security: userAuth, params: LocationParams, response: { 200: LocationSettingsView, ...commonErrors },
    },
  }, async (req) => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    const org = await orgAccess(ctx.store, p, req.params.org, 'read');
    return { ...(await locationMisuseSettings(ctx.store, org.id, req.params.location)), defaults: MISUSE_DEFAULTS };
  });

  app.put(`${base}/settings/locations/:location`, {
    schema: {
      tags: ['misuse'], security: userAuth, params: LocationParams,
      summary: 'Overrides fake-press filter settings at one location (org admins): same fields and bounds as the org\'s except episodeGapMinutes; null resets a field to the org\'s value. Applies to votes evaluated from now on.',
      body: Type.Unknown(), response: { 200: LocationSettingsView, ...commonErrors },
    },
  }, async (req) => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    const org = await orgAccess(ctx.store, p, req.params.org, 'admin');
    return { ...(await setLocationMisuseSettings(ctx.store, org.id, req.params.location, req.body)), defaults: MISUSE_DEFAULTS };
  });

  app.get(`${base}/episodes`, {
    schema: {
      tags: ['misuse'], summary: 'Review queue: flagged presses grouped into episodes per device, with their timeline', security: userAuth, params: OrgParams,
      querystring: Type.Intersect([Range, Type.Object({ status: Type.Optional(Type.Enum(['pending', 'confirmed', 'restored', 'mixed', 'all'], { default: 'pending' })) })]),
      response: { 200: Type.Object({ rows: Type.Array(Type.Unknown()) }), ...commonErrors },
    },
  }, async (req) => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    const org = await orgAccess(ctx.store, p, req.params.org, 'read');
    const { from, to } = parseDateRange(req.query);
    const status = req.query.status as 'pending' | 'confirmed' | 'restored' | 'mixed' | 'all' | undefined;
    return { rows: await listEpisodes(ctx.store, org.id, { from, to, status, onlyLocations: locationLimit(p) }) };
  });

  /** A review decision's caller: a reviewer of the org, with the reason the decision needs. */
  const reviewRequest = async (req: FastifyRequest, orgId: string, body: unknown) => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    const org = await orgAccess(ctx.store, p, orgId, 'read');
    requireReviewer(p);
    return { p, org, reason: reasonOf(body) };
  };

  app.post(`${base}/episodes/:id/:action`, {
    schema: {
      tags: ['misuse'], summary: 'Confirms (held back from scores) or restores (counted) every flagged press of an episode; audited', security: userAuth,
      params: Type.Object({ org: Id, id: Type.String({ minLength: 1, maxLength: 400 }), action: Action }), body: ReviewBody,
      response: { 200: ReviewOut, ...commonErrors },
    },
  }, async (req) => {
    const { p, org, reason } = await reviewRequest(req, req.params.org, req.body);
    const ep = parseEpisodeId(req.params.id);
    return review(ctx.store, org.id, p.userId, req.params.action as ReviewAction, { scope: 'episode', ...ep }, reason, locationLimit(p));
  });

  app.post(`${base}/votes/:action`, {
    schema: {
      tags: ['misuse'], summary: 'Confirms or restores one flagged vote; audited', security: userAuth,
      params: Type.Object({ org: Id, action: Action }),
      body: Type.Object({ deviceId: Id, eventId: Type.String({ minLength: 1, maxLength: 64 }), reason: Type.String() }),
      response: { 200: ReviewOut, ...commonErrors },
    },
  }, async (req) => {
    const { p, org, reason } = await reviewRequest(req, req.params.org, req.body);
    return review(ctx.store, org.id, p.userId, req.params.action as ReviewAction, { scope: 'vote', deviceId: req.body.deviceId, eventId: req.body.eventId }, reason, locationLimit(p));
  });

  app.get(`${base}/audit`, {
    schema: {
      tags: ['misuse'], summary: 'Review decisions, newest first: who, when, why, before/after', security: userAuth, params: OrgParams,
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) }),
      response: { 200: Type.Object({ rows: Type.Array(Type.Unknown()) }), ...commonErrors },
    },
  }, async (req) => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    const org = await orgAccess(ctx.store, p, req.params.org, 'read');
    return { rows: await listAudit(ctx.store, org.id, req.query.limit ?? 100) };
  });

  app.get(`${base}/report`, {
    schema: {
      tags: ['misuse'], summary: 'How many presses were held back, per location and rule, over local dates [from, to]', security: userAuth, params: OrgParams,
      querystring: Range, response: { 200: Type.Unknown(), ...commonErrors },
    },
  }, async (req) => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    const org = await orgAccess(ctx.store, p, req.params.org, 'read');
    const { from, to } = parseDateRange(req.query);
    return misuseReport(ctx.store, org.id, from, to, locationLimit(p));
  });
}
