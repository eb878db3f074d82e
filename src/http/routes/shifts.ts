// Shifts (src/shifts): who is on duty at a touchpoint, so presses at a panel without its own
// employee go to whoever was on shift. Reading needs access to the org (a manager sees the
// touchpoints of the granted locations); writing needs an org administrator.
import { Type } from 'typebox';
import type { App, AppContext } from '../context.ts';
import { requireUser } from '../auth.ts';
import { commonErrors, ErrorBody, Id, OrgParams, userAuth } from './schemas.ts';
import { locationLimit, orgAccess } from '../../accounts/accounts.ts';
import { invalidField } from '../../domain/errors.ts';
import { createShift, deleteShift, deleteShifts, listShifts, MAX_LIST_LIMIT, parseBound } from '../../shifts/shifts.ts';
import { importShifts, MAX_IMPORT_ROWS } from '../../shifts/import.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const ShiftOut = Type.Object({
  id: Type.String(), orgId: Type.String(),
  employeeId: Type.String(), employeeName: Type.String(), touchpointId: Type.String(), touchpointName: Type.String(),
  locationId: Nullable(Type.String()), timezone: Nullable(Type.String()),
  start: Type.String({ description: 'ISO-8601 UTC, inclusive' }), end: Type.String({ description: 'ISO-8601 UTC, exclusive' }),
  localStart: Nullable(Type.String({ description: 'YYYY-MM-DDTHH:MM in the location\'s zone' })), localEnd: Nullable(Type.String()),
});
const ShiftPreviewOut = Type.Intersect([Type.Omit(ShiftOut, ['id']), Type.Object({ id: Nullable(Type.String({ description: 'null in a dry run' })) })]);
const Problems = Type.Object({
  error: Type.Object({
    code: Type.String(), message: Type.String(), field: Type.Optional(Type.String()),
    problems: Type.Optional(Type.Array(Type.Object({ code: Type.String(), field: Type.String(), message: Type.String() }))),
  }),
});
const Time = Type.Union([Type.String({ maxLength: 64 }), Type.Integer()], {
  description: 'an instant (ISO-8601 with an offset, or epoch ms), or a local time "2026-11-20T09:00" in the zone of the touchpoint\'s location',
});
const Bound = (what: string) => Type.Optional(Type.String({ maxLength: 64, description: `${what}: ISO-8601 with an offset, or epoch ms` }));
const ImportQuery = Type.Object({ dryRun: Type.Optional(Type.Boolean({ description: 'check and show what would be stored, store nothing' })) });
const ImportJson = Type.Object({ csv: Type.String({ minLength: 1 }), dryRun: Type.Optional(Type.Boolean()) }, { additionalProperties: false });
const IMPORT_BODY_LIMIT = 4 * 1024 * 1024;

export async function shiftRoutes(app: App, ctx: AppContext): Promise<void> {
  const { store, refs } = ctx;
  const user = (req: Parameters<typeof requireUser>[2]) => requireUser(store, refs, req);

  app.post('/api/v1/orgs/:org/shifts', {
    schema: {
      tags: ['shifts'], summary: 'Put an employee on shift at a touchpoint over [start, end)', security: userAuth, params: OrgParams,
      description: 'At most 24 hours; one employee at a time per touchpoint, and nobody on two shifts at once (409 naming touchpointId or employeeId). '
        + 'Presses stored from now on at a panel placed at this touchpoint without its own employee go to this employee; stored presses keep theirs.',
      body: Type.Object({ employeeId: Id, touchpointId: Id, start: Time, end: Time }, { additionalProperties: false }),
      response: { 201: ShiftOut, ...commonErrors, 409: ErrorBody },
    },
  }, async (req, reply) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    return reply.status(201).send(await createShift(store, refs, req.params.org, req.body));
  });

  const Filters = {
    touchpointId: Type.Optional(Id), employeeId: Type.Optional(Id), locationId: Type.Optional(Id),
    from: Bound('shifts ending after this instant'), to: Bound('shifts starting before this instant'),
  };
  const filtersOf = (q: { touchpointId?: string | undefined; employeeId?: string | undefined; locationId?: string | undefined; from?: string | undefined; to?: string | undefined }, only: string[] | null) => {
    if (only && q.locationId && !only.includes(q.locationId)) throw invalidField('locationId', 'this location is not granted to you');
    const from = parseBound(q.from, 'from');
    const to = parseBound(q.to, 'to');
    if (from !== undefined && to !== undefined && from >= to) throw invalidField('from', 'from must be before to');
    return { touchpointId: q.touchpointId, employeeId: q.employeeId, locationId: q.locationId, from, to, onlyLocations: only };
  };

  app.get('/api/v1/orgs/:org/shifts', {
    schema: {
      tags: ['shifts'], summary: 'Shifts ordered by start, filtered by touchpoint, employee, location and time range', security: userAuth, params: OrgParams,
      querystring: Type.Object({ ...Filters, limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIST_LIMIT, default: 1000 })), cursor: Type.Optional(Type.String({ maxLength: 200 })) }),
      response: { 200: Type.Object({ rows: Type.Array(ShiftOut), next: Nullable(Type.String({ description: 'cursor of the next page' })) }), ...commonErrors },
    },
  }, async (req) => {
    const p = await user(req);
    await orgAccess(store, p, req.params.org, 'read');
    return listShifts(store, req.params.org, { ...filtersOf(req.query, locationLimit(p)), limit: req.query.limit, cursor: req.query.cursor });
  });

  app.delete('/api/v1/orgs/:org/shifts/:shift', {
    schema: {
      tags: ['shifts'], summary: 'Delete a shift (stored presses keep the employee they were given)', security: userAuth,
      params: Type.Object({ org: Id, shift: Id }), response: { 204: Type.Null(), ...commonErrors },
    },
  }, async (req, reply) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    await deleteShift(store, refs, req.params.org, req.params.shift);
    return reply.status(204).send(null);
  });

  app.delete('/api/v1/orgs/:org/shifts', {
    schema: {
      tags: ['shifts'], summary: 'Delete every shift overlapping [from, to) that matches the filters (e.g. a week before importing it again)', security: userAuth, params: OrgParams,
      querystring: Type.Object({ ...Filters, from: Type.String({ maxLength: 64 }), to: Type.String({ maxLength: 64 }) }),
      response: { 200: Type.Object({ deleted: Type.Integer() }), ...commonErrors },
    },
  }, async (req) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    const f = filtersOf(req.query, null);
    return { deleted: await deleteShifts(store, refs, req.params.org, { ...f, from: f.from!, to: f.to! }) };
  });

  // The import takes the file itself (text/csv) or JSON {"csv": "…"}; the text/csv parser exists
  // only inside this scope: every other route stays JSON only.
  await app.register(async (scoped: App) => {
    scoped.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: IMPORT_BODY_LIMIT }, (_req, body, done) => done(null, body));
    scoped.post('/api/v1/orgs/:org/shifts/import', {
      bodyLimit: IMPORT_BODY_LIMIT,
      schema: {
        tags: ['shifts'], security: userAuth, params: OrgParams, querystring: ImportQuery,
        summary: 'Import a schedule from CSV, all rows or none; ?dryRun=true shows what would be stored',
        description: `Columns employee, touchpoint (id or exact name), location (optional, to tell touchpoints apart), date (local start date YYYY-MM-DD), `
          + `start and end (local HH:MM in the touchpoint's location zone; an end not after the start is the next day; 24:00 is midnight). `
          + `Delimiter ",", ";" or tab. At most ${MAX_IMPORT_ROWS} rows. Every problem is listed in error.problems, each naming its field, e.g. rows[3].start (rows counted from 0 after the header).`,
        body: { content: { 'text/csv': { schema: Type.String({ minLength: 1 }) }, 'application/json': { schema: ImportJson } } } as never,
        response: {
          200: Type.Object({ dryRun: Type.Boolean(), count: Type.Integer(), ignoredColumns: Type.Array(Type.String()), shifts: Type.Array(ShiftPreviewOut) }),
          201: Type.Object({ dryRun: Type.Boolean(), count: Type.Integer(), ignoredColumns: Type.Array(Type.String()), shifts: Type.Array(ShiftOut) }),
          ...commonErrors, 400: Problems, 409: Problems,
        },
      },
    }, async (req, reply) => {
      await orgAccess(store, await user(req), req.params.org, 'admin');
      const body = req.body as string | { csv: string; dryRun?: boolean } | undefined;
      const csv = typeof body === 'string' ? body : body?.csv;
      if (!csv) throw invalidField('csv', 'send the CSV as a text/csv body, or as JSON {"csv": "…"}');
      const dryRun = (typeof body === 'object' ? body.dryRun : undefined) ?? req.query.dryRun ?? false;
      const result = await importShifts(store, refs, req.params.org, csv, { dryRun });
      return reply.status(dryRun ? 200 : 201).send(result);
    });
  });
}
