// The partner console (README "Partner console"): every client organisation of a partner — or of
// the instance, for its administrator — with scores and fleet health at a glance.
import { Type } from 'typebox';
import type { App, AppContext } from '../context.ts';
import { requireUser } from '../auth.ts';
import { commonErrors, userAuth } from './schemas.ts';
import { forbidden } from '../../domain/errors.ts';
import { HEALTH_STATES } from '../../devices/fleet.ts';
import { ATTENTION, partnerOverview, WEEK_DAYS } from '../../orgs/overview.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Figures = Type.Object({
  satisfied: Type.Integer(), dissatisfied: Type.Integer(), total: Type.Integer(), share: Nullable(Type.Number()),
  wilson: Nullable(Type.Array(Type.Number())), score: Nullable(Type.Integer()), visitors: Nullable(Type.Integer()),
  responseRate: Nullable(Type.Number()), flagged: Type.Integer(),
});
const Fleet = Type.Object({ ...Object.fromEntries(HEALTH_STATES.map((s) => [s, Type.Integer()])), total: Type.Integer() });

export function partnerRoutes(app: App, ctx: AppContext): void {
  app.get('/api/v1/partner/overview', {
    schema: {
      tags: ['partner'], summary: 'Client organisations with today\'s and the last 7 days\' score, fleet health and worst location, those needing attention first', security: userAuth,
      description: `A partner-admin sees the partner's organisations, the instance administrator all. "Today" and the last ${WEEK_DAYS} days are each location's local dates. `
        + `attention lists why an organisation is on top: ${ATTENTION.join(', ')}.`,
      response: { 200: Type.Object({
        generatedAt: Type.String(),
        orgs: Type.Array(Type.Object({
          id: Type.String(), name: Type.String(), partnerId: Nullable(Type.String()), locations: Type.Integer(),
          today: Figures, week: Figures, fleet: Fleet,
          worstLocation: Nullable(Type.Object({ id: Type.String(), name: Type.String(), timezone: Type.String(), week: Figures })),
          attention: Type.Array(Type.String({ description: ATTENTION.join(' | ') })),
        })),
      }), ...commonErrors },
    },
  }, async (req) => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    if (p.role !== 'admin' && (p.role !== 'partner-admin' || !p.partnerId)) throw forbidden('the partner console is for partner administrators');
    const now = Date.now();
    return { generatedAt: new Date(now).toISOString(), orgs: await partnerOverview(ctx.store, p.role === 'admin' ? null : p.partnerId, now) };
  });
}
