// PROTOCOL.md §4.
import { Type } from 'typebox';
import type { App, AppContext } from '../context.ts';
import { requireUser } from '../auth.ts';
import { commonErrors, Id, OrgParams, userAuth } from './schemas.ts';
import { locationLimit, orgAccess } from '../../accounts/accounts.ts';
import { scoringOf } from '../../orgs/orgs.ts';
import { parseDateRange } from '../../domain/time.ts';
import { invalidField } from '../../domain/errors.ts';
import { SCORE_BY, scores } from '../../scores/scores.ts';


const ScoreRow = Type.Object({
  key: Type.String(), label: Type.String(), satisfied: Type.Integer(), dissatisfied: Type.Integer(), total: Type.Integer(),
  share: Type.Union([Type.Number(), Type.Null()]), wilson: Type.Union([Type.Array(Type.Number()), Type.Null()]),
  score: Type.Union([Type.Integer(), Type.Null()]), visitors: Type.Union([Type.Integer(), Type.Null()]),
  responseRate: Type.Union([Type.Number(), Type.Null()]), flagged: Type.Integer(),
});

export function scoreRoutes(app: App, ctx: AppContext): void {
  app.get('/api/v1/orgs/:org/scores', {
    schema: {
      tags: ['scores'], summary: 'Counts, share, 95 % Wilson interval and 1–5 score, sliced; days and hours in each location\'s zone', security: userAuth,
      params: OrgParams,
      querystring: Type.Object({
        from: Type.String({ description: 'first local date, inclusive (YYYY-MM-DD)' }), to: Type.String({ description: 'last local date, inclusive' }),
        by: Type.Optional(Type.Enum([...SCORE_BY], { default: 'total' })),
        locationId: Type.Optional(Id), touchpointId: Type.Optional(Id), employeeId: Type.Optional(Id),
      }),
      response: { 200: Type.Object({ rows: Type.Array(ScoreRow) }), ...commonErrors },
    },
  }, async (req) => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    const org = await orgAccess(ctx.store, p, req.params.org, 'read');
    const q = req.query;
    const { from, to } = parseDateRange(q);
    const only = locationLimit(p);
    if (only && q.locationId && !only.includes(q.locationId)) throw invalidField('locationId', 'this location is not granted to you');
    return scores(ctx.store, org.id, scoringOf(org.settings), {
      from, to, by: q.by ?? 'total', locationId: q.locationId, touchpointId: q.touchpointId, employeeId: q.employeeId, onlyLocations: only,
    });
  });
}
