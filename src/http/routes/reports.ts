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
import { tacticalReport, TREND_GRAINS, type TacticalReport } from '../../reports/tactical.ts';
import { writeTacticalXlsx } from '../../reports/tactical-xlsx.ts';
import { employeeReport } from '../../reports/employees.ts';
import { intersect, operationalReport } from '../../reports/operational.ts';
import { employeeCsv, employeeXlsx, operationalCsv, operationalXlsx, writeCsv } from '../../reports/files.ts';
import { requireInOrg } from '../../orgs/orgs.ts';
import { parseDate } from '../../domain/time.ts';
import { createSchedule, deleteSchedule, FREQUENCIES, listDeliveries, listSchedules, SCHEDULED_REPORTS } from '../../reports/schedules.ts';
import { LANGS } from '../../reports/email.ts';
import type { UserPrincipal } from '../../domain/types.ts';

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
const PreviousOut = Nullable(Type.Object({ satisfied: Type.Integer(), dissatisfied: Type.Integer(), total: Type.Integer(), share: Nullable(Type.Number()) }));
const ChangeOut = Nullable(Type.Object({ diff: Type.Number(), z: Type.Number(), p: Type.Number(), significant: Type.Boolean() }));
const ReportRowOut = Type.Object({
  ...ScoreRowOut, previous: PreviousOut, change: ChangeOut,
  lastYear: PreviousOut, changeVsLastYear: ChangeOut,
});
const Period = Type.Object({ from: Type.String(), to: Type.String() });
const Locations = Type.Optional(Type.String({ minLength: 1, maxLength: 4000, description: 'comma-separated location ids (default: every location you may see)' }));
const EmployeeRowOut = Type.Object({
  ...ScoreRowOut, shifts: Type.Integer(), shiftHours: Type.Number(), votesPerShiftHour: Nullable(Type.Number()), belowMinimum: Type.Boolean(),
});
const EmployeesOut = Type.Object({
  period: Period, minSample: Type.Integer(), employees: Type.Array(EmployeeRowOut),
  unattributed: Type.Object({ satisfied: Type.Integer(), dissatisfied: Type.Integer(), total: Type.Integer() }),
});
const HourOut = Nullable(Type.Object({ satisfied: Type.Integer(), dissatisfied: Type.Integer(), flagged: Type.Integer() }));
const SliceOut = { id: Type.String(), label: Type.String(), hours: Type.Array(HourOut, { description: '24 local hours; null = still to come today' }), total: Type.Object(ScoreRowOut) };
const OperationalOut = Type.Object({
  day: Nullable(Type.String()), asOf: Type.String(),
  locations: Type.Array(Type.Object({ ...SliceOut, timezone: Type.String(), day: Type.String(), live: Type.Boolean(), touchpoints: Type.Array(Type.Object(SliceOut)) })),
  devices: Type.Array(Type.Object({
    id: Type.String(), name: Nullable(Type.String()), kind: Type.String(), locationId: Nullable(Type.String()), touchpointId: Nullable(Type.String()),
    state: Type.String(), since: Nullable(Type.String()), lastSeenAt: Nullable(Type.String()), battery: Nullable(Type.Number()),
    rssi: Nullable(Type.Number()), firmware: Nullable(Type.String()), buffered: Nullable(Type.Number()),
    problem: Type.String({ description: 'offline | stale | low_battery | never_seen, or silent: online but no vote for 2 hours while the location was open' }),
  })),
});
const TacticalOut = Type.Object({
  period: Period, previousPeriod: Period, lastYearPeriod: Period, trendGrain: Type.String(), total: ReportRowOut,
  locations: Type.Array(ReportRowOut), touchpoints: Type.Array(ReportRowOut), employees: Type.Array(ReportRowOut),
  trend: Type.Array(Type.Object(ScoreRowOut)),
});

async function access(ctx: AppContext, req: FastifyRequest, orgId: string): Promise<{ org: OrgRow; only: string[] | null }> {
  const p = await requireUser(ctx.store, ctx.refs, req);
  const org = await orgAccess(ctx.store, p, orgId, 'read');
  return { org, only: locationLimit(p) };
}

/** The `locations` parameter: ids of this org that the asker may see (400 naming the field otherwise). */
async function locationsParam(ctx: AppContext, orgId: string, raw: string | undefined, only: string[] | null): Promise<string[] | null> {
  if (raw === undefined) return only;
  const ids = [...new Set(raw.split(',').map((x) => x.trim()).filter(Boolean))];
  if (!ids.length) throw invalidField('locations', 'locations must name at least one location id');
  for (const id of ids) {
    await requireInOrg(ctx.store, 'locations', orgId, id, 'locations');
    if (only && !only.includes(id)) throw invalidField('locations', `location ${id} is not granted to you`);
  }
  return intersect(ids, only);
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
    locations: Locations,
  });
  type ReportQuery = { from: string; to: string; trend?: 'day' | 'week' | 'month' | undefined; locationId?: string | undefined; locations?: string | undefined };
  const report = async (req: FastifyRequest, orgId: string, q: ReportQuery) => {
    const { org, only } = await access(ctx, req, orgId);
    if (only && q.locationId && !only.includes(q.locationId)) throw invalidField('locationId', 'this location is not granted to you');
    const range = parseDateRange(q);
    const locs = await locationsParam(ctx, org.id, q.locations, only);
    const rep = await tacticalReport(ctx.store, org.id, scoringOf(org.settings), { ...range, trend: q.trend ?? 'day', locationId: q.locationId, onlyLocations: locs });
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

  app.get('/api/v1/orgs/:org/reports/tactical.csv', {
    schema: { tags: ['reports'], summary: 'The tactical report as CSV: one row per location, touchpoint and employee, with both comparisons', security: userAuth, params: OrgParams, querystring: reportQuery, response: { ...commonErrors } },
  }, async (req, reply) => {
    const { org, rep } = await report(req, req.params.org, req.query);
    return stream(req, reply, 'text/csv; charset=utf-8', fileName(org, 'tactical', rep.period.from, rep.period.to, 'csv'), (out) => tacticalCsv(rep, out));
  });

  // ---- Employee report: each employee's shifts, votes and score (none below the minimum sample).
  const periodQuery = Type.Object({ ...Range, locations: Locations });
  const employees = async (req: FastifyRequest, orgId: string, q: { from: string; to: string; locations?: string | undefined }) => {
    const { org, only } = await access(ctx, req, orgId);
    const range = parseDateRange(q);
    const locs = await locationsParam(ctx, org.id, q.locations, only);
    return { org, rep: await employeeReport(ctx.store, org.id, scoringOf(org.settings), { ...range, onlyLocations: locs }) };
  };
  app.get('/api/v1/orgs/:org/reports/employees', {
    schema: {
      tags: ['reports'], summary: "Each employee's shifts, votes and score in a period (attributed by shifts; no score below the org's minimum sample), with Wilson intervals",
      security: userAuth, params: OrgParams, querystring: periodQuery, response: { 200: EmployeesOut, ...commonErrors },
    },
  }, async (req) => (await employees(req, req.params.org, req.query)).rep);
  app.get('/api/v1/orgs/:org/reports/employees.xlsx', {
    schema: { tags: ['reports'], summary: 'The employee report as .xlsx (employees sheet, summary; scores coloured 1–5)', security: userAuth, params: OrgParams, querystring: periodQuery, response: { ...commonErrors } },
  }, async (req, reply) => {
    const { org, rep } = await employees(req, req.params.org, req.query);
    return stream(req, reply, XLSX, fileName(org, 'employees', rep.period.from, rep.period.to, 'xlsx'), (out) => employeeXlsx(rep, org.name, out));
  });
  app.get('/api/v1/orgs/:org/reports/employees.csv', {
    schema: { tags: ['reports'], summary: 'The employee report as CSV', security: userAuth, params: OrgParams, querystring: periodQuery, response: { ...commonErrors } },
  }, async (req, reply) => {
    const { org, rep } = await employees(req, req.params.org, req.query);
    return stream(req, reply, 'text/csv; charset=utf-8', fileName(org, 'employees', rep.period.from, rep.period.to, 'csv'), (out) => employeeCsv(rep, out));
  });

  // ---- Operational report: a day hour by hour (default: each location's today so far) and devices with problems.
  const dayQuery = Type.Object({ day: Type.Optional(Type.String({ description: 'local date YYYY-MM-DD (default: today in each location\'s zone, so far)' })), locations: Locations });
  const operational = async (req: FastifyRequest, orgId: string, q: { day?: string | undefined; locations?: string | undefined }) => {
    const { org, only } = await access(ctx, req, orgId);
    const day = q.day === undefined ? undefined : parseDate(q.day, 'day');
    const locs = await locationsParam(ctx, org.id, q.locations, only);
    return { org, rep: await operationalReport(ctx.store, org.id, scoringOf(org.settings), { day, locations: locs }) };
  };
  const opName = (org: OrgRow, day: string | null, ext: string): string => fileName(org, 'operational', day ?? 'today', day ?? new Date().toISOString().slice(0, 10), ext);
  app.get('/api/v1/orgs/:org/reports/operational', {
    schema: {
      tags: ['reports'], summary: 'A local day hour by hour per location and touchpoint (default: today so far), and the devices needing attention',
      security: userAuth, params: OrgParams, querystring: dayQuery, response: { 200: OperationalOut, ...commonErrors },
    },
  }, async (req) => (await operational(req, req.params.org, req.query)).rep);
  app.get('/api/v1/orgs/:org/reports/operational.xlsx', {
    schema: { tags: ['reports'], summary: 'The operational report as .xlsx (summary, by hour, devices)', security: userAuth, params: OrgParams, querystring: dayQuery, response: { ...commonErrors } },
  }, async (req, reply) => {
    const { org, rep } = await operational(req, req.params.org, req.query);
    return stream(req, reply, XLSX, opName(org, rep.day, 'xlsx'), (out) => operationalXlsx(rep, org.name, out));
  });
  app.get('/api/v1/orgs/:org/reports/operational.csv', {
    schema: { tags: ['reports'], summary: 'The operational report as CSV: one row per location, touchpoint and hour', security: userAuth, params: OrgParams, querystring: dayQuery, response: { ...commonErrors } },
  }, async (req, reply) => {
    const { org, rep } = await operational(req, req.params.org, req.query);
    return stream(req, reply, 'text/csv; charset=utf-8', opName(org, rep.day, 'csv'), (out) => operationalCsv(rep, out));
  });
}

const ScheduleOut = Type.Object({
  id: Type.String(), orgId: Type.String(), userId: Type.String(), frequency: Type.String(), report: Type.String(),
  locations: Nullable(Type.Array(Type.String())), lang: Type.String(), timezone: Type.String(), sendHour: Type.Integer(),
  nextRunAt: Type.String({ description: 'next send, UTC' }),
});
const ScheduleParams = Type.Object({ org: Type.String({ minLength: 1, maxLength: 64 }), id: Id });

/** Email schedules: a user manages their own; an org admin those of every user of the org. */
export function scheduleRoutes(app: App, ctx: AppContext): void {
  const who = async (req: FastifyRequest, orgId: string): Promise<{ p: UserPrincipal; org: OrgRow }> => {
    const p = await requireUser(ctx.store, ctx.refs, req);
    const org = await orgAccess(ctx.store, p, orgId, 'read');
    return { p: p as UserPrincipal, org };
  };
  app.get('/api/v1/orgs/:org/report-schedules', {
    schema: { tags: ['reports'], summary: 'Email report schedules: yours, or every user\'s for an org admin', security: userAuth, params: OrgParams,
      response: { 200: Type.Object({ rows: Type.Array(ScheduleOut) }), ...commonErrors } },
  }, async (req) => {
    const { p, org } = await who(req, req.params.org);
    return { rows: await listSchedules(ctx.store, p, org.id) };
  });
  app.post('/api/v1/orgs/:org/report-schedules', {
    schema: {
      tags: ['reports'], summary: 'Mail a report every day, week (Mondays) or month (the 1st) at an hour of a zone, with the xlsx attached',
      description: 'Each run reports the period that just ended (yesterday, last Monday–Sunday, last month), in the language chosen. report operational (one day hour by hour, and the devices needing attention) is daily only. userId (another user of the org) needs an org admin.',
      security: userAuth, params: OrgParams,
      body: Type.Object({
        frequency: Type.Enum([...FREQUENCIES]), report: Type.Optional(Type.Enum([...SCHEDULED_REPORTS], { default: 'tactical' })),
        locations: Type.Optional(Type.Array(Id, { minItems: 1, maxItems: 500 })), lang: Type.Optional(Type.Enum([...LANGS], { default: 'en' })),
        timezone: Type.String({ minLength: 1, maxLength: 64 }), sendHour: Type.Integer({ minimum: 0, maximum: 23 }), userId: Type.Optional(Id),
      }, { additionalProperties: false }),
      response: { 201: ScheduleOut, ...commonErrors },
    },
  }, async (req, reply) => {
    const { p, org } = await who(req, req.params.org);
    return reply.status(201).send(await createSchedule(ctx.store, p, org.id, req.body));
  });
  app.delete('/api/v1/orgs/:org/report-schedules/:id', {
    schema: { tags: ['reports'], summary: 'Stop an email schedule (its delivery log goes with it)', security: userAuth, params: ScheduleParams, response: { 204: Type.Null(), ...commonErrors } },
  }, async (req, reply) => {
    const { p, org } = await who(req, req.params.org);
    await deleteSchedule(ctx.store, p, org.id, req.params.id);
    return reply.status(204).send(null);
  });
  app.get('/api/v1/orgs/:org/report-schedules/:id/deliveries', {
    schema: {
      tags: ['reports'], summary: 'The delivery log of a schedule: one row per period, with attempts and the last SMTP error', security: userAuth, params: ScheduleParams,
      response: { 200: Type.Object({ rows: Type.Array(Type.Object({ id: Type.String(), from: Type.String(), to: Type.String(), status: Type.String(), attempts: Type.Integer(),
        lastError: Nullable(Type.String()), sentAt: Nullable(Type.String()), createdAt: Type.String() })) }), ...commonErrors },
    },
  }, async (req) => {
    const { p, org } = await who(req, req.params.org);
    return { rows: await listDeliveries(ctx.store, p, org.id, req.params.id) };
  });
}

/** The tactical report's slices flat: one row per location, touchpoint and employee. */
function tacticalCsv(rep: TacticalReport, out: PassThrough): Promise<void> {
  const rows: Array<Array<string | number | null>> = [];
  for (const [slice, list] of [['total', [rep.total]], ['location', rep.locations], ['touchpoint', rep.touchpoints], ['employee', rep.employees]] as const) {
    for (const r of list) {
      rows.push([slice, r.key, r.label, r.satisfied, r.dissatisfied, r.total, r.share, r.wilson?.[0] ?? null, r.wilson?.[1] ?? null, r.score, r.flagged,
        r.previous?.total ?? null, r.previous?.share ?? null, r.change?.diff ?? null, r.change?.p ?? null, r.change ? (r.change.significant ? 'yes' : 'no') : null,
        r.lastYear?.total ?? null, r.lastYear?.share ?? null, r.changeVsLastYear?.diff ?? null, r.changeVsLastYear?.p ?? null,
        r.changeVsLastYear ? (r.changeVsLastYear.significant ? 'yes' : 'no') : null]);
    }
  }
  return writeCsv(out, ['slice', 'key', 'label', 'satisfied', 'dissatisfied', 'votes', 'share', 'wilsonLow', 'wilsonHigh', 'score', 'flagged',
    'previousVotes', 'previousShare', 'change', 'changeP', 'changeSignificant', 'lastYearVotes', 'lastYearShare', 'changeVsLastYear', 'changeVsLastYearP', 'changeVsLastYearSignificant'], rows);
}
