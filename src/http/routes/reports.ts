// Raw votes and exports (PROTOCOL.md §6) and the tactical report (issue 5), as JSON and files.
import { PassThrough } from 'node:stream';
import { Type } from 'typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App, AppContext } from '../context.ts';
import { requireUser } from '../auth.ts';
import { commonErrors, Id, OrgParams, userAuth } from './schemas.ts';
import { locationLimit, orgAccess, type OrgRow } from '../../accounts/accounts.ts';
import { scoringOf } from '../../orgs/orgs.ts';
import { parseDateRange } from '../../domain/time.ts';
import { invalidField } from '../../domain/errors.ts';
import { decodeCursor, encodeCursor, toVoteRow, votesPage, type VoteQuery } from '../../exports/votes.ts';
import { writeVotesCsv, writeVotesXlsx } from '../../exports/votes-export.ts';
import { tacticalReport, TREND_GRAINS } from '../../reports/tactical.ts';
import { writeTacticalXlsx } from '../../reports/tactical-xlsx.ts';

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const Range = {
  from: Type.String({ description: 'first local date, inclusive (YYYY-MM-DD)' }),
  to: Type.String({ description: 'last local date, inclusive (YYYY-MM-DD)' }),
};
const Flagged = Type.Optional(Type.Enum(['true', 'false'], { description: 'true: only votes held back by the misuse filter; false: only counted votes; absent: all' }));

const VoteOut = Type.Object({
  id: Type.String(), deviceId: Type.String(), ts: Type.String(), button: Type.String(), reason: Nullable(Type.String()),
  locationId: Type.String(), touchpointId: Nullable(Type.String()), employeeId: Nullable(Type.String()), flagged: Type.Array(Type.String()),
});

const ScoreRowOut = {
  key: Type.String(), label: Type.String(), satisfied: Type.Integer(), dissatisfied: Type.Integer(), total: Type.Integer(),
  share: Nullable(Type.Number()), wilson: Nullable(Type.Array(Type.Number())), score: Nullable(Type.Integer()),
  visitors: Nullable(Type.Integer()), responseRate: Nullable(Type.Number()), flagged: Type.Integer(),
};
const ReportRowOut = Type.Object({
  ...ScoreRowOut,
  previous: Nullable(Type.Object({ satisfied: Type.Integer(), dissatisfied: Type.Integer(), total: Type.Integer(), share: Nullable(Type.Number()) })),
  change: Nullable(Type.Object({ diff: Type.Number(), z: Type.Number(), p: Type.Number(), significant: Type.Boolean() })),
});
const Period = Type.Object({ from: Type.String(), to: Type.String() });
const TacticalOut = Type.Object({
  period: Period, previousPeriod: Period, trendGrain: Type.String(), total: ReportRowOut,
  locations: Type.Array(ReportRowOut), touchpoints: Type.Array(ReportRowOut), employees: Type.Array(ReportRowOut),
  trend: Type.Array(Type.Object(ScoreRowOut)),
});

async function access(ctx: AppContext, req: FastifyRequest, orgId: string): Promise<{ org: OrgRow; only: string[] | null }> {
  const p = await requireUser(ctx.store, ctx.refs, req);
  const org = await orgAccess(ctx.store, p, orgId, 'read');
  return { org, only: locationLimit(p) };
}

const fileName = (org: OrgRow, what: string, from: string, to: string, ext: string): string =>
  `${org.name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 40) || 'org'}-${what}-${from}-${to}.${ext}`;

/** Streams what `write` produces as the reply; an error mid-way cuts the download (the status is already sent). */
function stream(req: FastifyRequest, reply: FastifyReply, type: string, name: string, write: (out: PassThrough) => Promise<unknown>): FastifyReply {
  const out = new PassThrough({ highWaterMark: 256 * 1024 });
  write(out).then(() => { if (!out.writableEnded) out.end(); }, (err: unknown) => {
    req.log.error({ err }, 'export failed');
    out.destroy(err instanceof Error ? err : new Error(String(err)));
  });
  return reply.header('content-type', type).header('content-disposition', `attachment; filename="${name}"`).header('cache-control', 'no-store').send(out);
}

export function reportRoutes(app: App, ctx: AppContext): void {
  app.get('/api/v1/orgs/:org/votes', {
    schema: {
      tags: ['votes'], summary: 'Raw votes of a range of local dates, oldest first, by keyset pages (PROTOCOL §6)', security: userAuth,
      params: OrgParams,
      querystring: Type.Object({
        ...Range, flagged: Flagged,
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
        cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'the `next` of the previous page' })),
      }),
      response: { 200: Type.Object({ rows: Type.Array(VoteOut), next: Nullable(Type.String()) }), ...commonErrors },
    },
  }, async (req) => {
    const { org, only } = await access(ctx, req, req.params.org);
    const q = req.query;
    const vq: VoteQuery = { ...parseDateRange(q), flagged: q.flagged === undefined ? undefined : q.flagged === 'true', onlyLocations: only };
    const page = await votesPage(ctx.store, org.id, vq, q.limit ?? 100, q.cursor ? decodeCursor(q.cursor) : null);
    return { rows: page.rows.map(toVoteRow), next: page.next ? encodeCursor(page.next) : null };
  });

  const exportSchema = (fmt: string) => ({
    tags: ['votes'], summary: `Raw votes of a range as a streamed ${fmt} file, times in each location's zone and in UTC`, security: userAuth,
    params: OrgParams, querystring: Type.Object({ ...Range, flagged: Flagged }),
    response: { ...commonErrors },
  });

  app.get('/api/v1/orgs/:org/exports/votes.xlsx', { schema: exportSchema('.xlsx') }, async (req, reply) => {
    const { org, only } = await access(ctx, req, req.params.org);
    const vq: VoteQuery = { ...parseDateRange(req.query), flagged: req.query.flagged === undefined ? undefined : req.query.flagged === 'true', onlyLocations: only };
    return stream(req, reply, XLSX, fileName(org, 'votes', vq.from, vq.to, 'xlsx'), (out) => writeVotesXlsx(ctx.store, org.id, vq, out, { orgName: org.name }));
  });

  app.get('/api/v1/orgs/:org/exports/votes.csv', { schema: exportSchema('CSV (UTF-8 with BOM)') }, async (req, reply) => {
    const { org, only } = await access(ctx, req, req.params.org);
    const vq: VoteQuery = { ...parseDateRange(req.query), flagged: req.query.flagged === undefined ? undefined : req.query.flagged === 'true', onlyLocations: only };
    return stream(req, reply, 'text/csv; charset=utf-8', fileName(org, 'votes', vq.from, vq.to, 'csv'), (out) => writeVotesCsv(ctx.store, org.id, vq, out));
  });

  const reportQuery = Type.Object({
    ...Range,
    trend: Type.Optional(Type.Enum([...TREND_GRAINS], { default: 'day', description: 'grain of the trend' })),
    locationId: Type.Optional(Id),
  });
  type ReportQuery = { from: string; to: string; trend?: 'day' | 'week' | 'month' | undefined; locationId?: string | undefined };
  const report = async (req: FastifyRequest, orgId: string, q: ReportQuery) => {
    const { org, only } = await access(ctx, req, orgId);
    if (only && q.locationId && !only.includes(q.locationId)) throw invalidField('locationId', 'this location is not granted to you');
    const rep = await tacticalReport(ctx.store, org.id, scoringOf(org.settings), { ...parseDateRange(q), trend: q.trend ?? 'day', locationId: q.locationId, onlyLocations: only });
    return { org, rep };
  };

  app.get('/api/v1/orgs/:org/reports/tactical', {
    schema: {
      tags: ['reports'], summary: 'Rankings of locations, touchpoints and employees with intervals and scores, vs the previous period (two-proportion z-test), and the trend',
      security: userAuth, params: OrgParams, querystring: reportQuery, response: { 200: TacticalOut, ...commonErrors },
    },
  }, async (req) => (await report(req, req.params.org, req.query)).rep);

  app.get('/api/v1/orgs/:org/reports/tactical.xlsx', {
    schema: { tags: ['reports'], summary: 'The tactical report as .xlsx: summary, one sheet per slice, trend; scores coloured 1–5', security: userAuth, params: OrgParams, querystring: reportQuery, response: { ...commonErrors } },
  }, async (req, reply) => {
    const { org, rep } = await report(req, req.params.org, req.query);
    return stream(req, reply, XLSX, fileName(org, 'tactical', rep.period.from, rep.period.to, 'xlsx'), (out) => writeTacticalXlsx(rep, org.name, out));
  });
}
