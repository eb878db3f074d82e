// PROTOCOL.md §1: administration with an admin or partner user's API token, plus reads the
// dashboard needs. Every route under /orgs/{org} checks the caller's access to that org first.
import { Type } from 'typebox';
import type { App, AppContext } from '../context.ts';
import { requireUser } from '../auth.ts';
import {
  commonErrors, EmployeeOut, ErrorBody, Id, LocationOut, Name, OrgOut, OrgParams, PartnerOut, rowsOf, TouchpointOut, UserOut, userAuth,
} from './schemas.ts';
import { ORG_ROLES } from '../../domain/types.ts';
import { forbidden, invalidField, notFound } from '../../domain/errors.ts';
import { createUser, locationLimit, orgAccess, signIn } from '../../accounts/accounts.ts';
import {
  createEmployee, createLocation, createOrg, createPartner, createTouchpoint, listEmployees, listLocations, listOrgs,
  listTouchpoints, orgAudit, partnerExists, requireInOrg, scoringOf, setScoring, updateEmployee, updateLocation, updateTouchpoint,
} from '../../orgs/orgs.ts';
import { forgetLocationHours } from '../../misuse/evaluate.ts';

const Email = Type.String({ minLength: 3, maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+$' });
const Password = Type.String({ minLength: 8, maxLength: 200 });
const Channel = Type.String({ minLength: 1, maxLength: 32, description: 'counter, table, web, phone, … ' });
const OpeningHours = Type.Record(Type.String(), Type.Array(Type.Array(Type.String())), { description: '{"mon":[["09:00","21:00"]], …}; a missing day is closed' });
const Scoring = Type.Object({ minSample: Type.Integer(), thresholds: Type.Array(Type.Number()) });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Timezone = Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone, e.g. Europe/Moscow (no raw offsets)' });
const Archived = { archivedAt: Nullable(Type.String({ description: 'when it was archived; null = in use' })) };
const LocationRow = Type.Intersect([LocationOut, Type.Object(Archived)]);
const TouchpointRow = Type.Intersect([TouchpointOut, Type.Object(Archived)]);
const EmployeeRow = Type.Intersect([EmployeeOut, Type.Object({ active: Type.Boolean({ description: 'false = deactivated (kept with their votes and shifts)' }) })]);
const Reason = Type.Optional(Type.String({ maxLength: 500, description: 'why, kept in the audit log' }));
const ListArchived = Type.Object({ archived: Type.Optional(Type.Boolean({ description: 'include archived ones' })) });
const withConflict = { ...commonErrors, 409: ErrorBody };
const LocParams = Type.Object({ org: Id, location: Id });
const TpParams = Type.Object({ org: Id, touchpoint: Id });
const EmpParams = Type.Object({ org: Id, employee: Id });

export function adminRoutes(app: App, ctx: AppContext): void {
  const { store, refs } = ctx;
  const user = (req: Parameters<typeof requireUser>[2]) => requireUser(store, refs, req);

  app.post('/api/v1/auth/token', {
    schema: { tags: ['accounts'], summary: 'Exchange email and password for an API token', body: Type.Object({ email: Email, password: Type.String({ maxLength: 200 }) }),
      response: { 200: Type.Object({ token: Type.String() }), ...commonErrors } },
  }, async (req) => ({ token: await signIn(store, req.body.email, req.body.password) }));

  app.post('/api/v1/partners', {
    schema: { tags: ['accounts'], summary: 'Create an integrator partner (instance admin)', security: userAuth, body: Type.Object({ name: Name }), response: { 201: PartnerOut, ...commonErrors } },
  }, async (req, reply) => {
    const p = await user(req);
    if (p.role !== 'admin') throw forbidden('only the instance administrator creates partners');
    return reply.status(201).send(await createPartner(store, req.body.name));
  });

  app.post('/api/v1/partners/:partner/users', {
    schema: { tags: ['accounts'], summary: 'Create a partner-admin user (instance admin)', security: userAuth,
      params: Type.Object({ partner: Id }), body: Type.Object({ email: Email, name: Name, password: Type.Optional(Password) }), response: { 201: UserOut, ...commonErrors } },
  }, async (req, reply) => {
    const p = await user(req);
    if (p.role !== 'admin') throw forbidden('only the instance administrator creates partner users');
    if (!(await partnerExists(store, req.params.partner))) throw notFound('partner');
    return reply.status(201).send(await createUser(store, { ...req.body, role: 'partner-admin', partnerId: req.params.partner }));
  });

  app.post('/api/v1/orgs', {
    schema: { tags: ['organisations'], summary: 'Create a client organisation', security: userAuth,
      body: Type.Object({ name: Name, partnerId: Type.Optional(Id) }), response: { 201: OrgOut, ...commonErrors } },
  }, async (req, reply) => {
    const p = await user(req);
    let partnerId: string | null = null;
    if (p.role === 'partner-admin') partnerId = p.partnerId;
    else if (p.role === 'admin') {
      partnerId = req.body.partnerId ?? null;
      if (partnerId && !(await partnerExists(store, partnerId))) throw invalidField('partnerId', 'no such partner');
    } else throw forbidden('only administrators and partners create organisations');
    return reply.status(201).send(await createOrg(store, req.body.name, partnerId));
  });

  app.get('/api/v1/orgs', {
    schema: { tags: ['organisations'], summary: 'Organisations this user can see', security: userAuth, response: { 200: rowsOf(OrgOut), ...commonErrors } },
  }, async (req) => {
    const p = await user(req);
    if (p.role === 'admin') return { rows: await listOrgs(store) };
    if (p.role === 'partner-admin') return { rows: p.partnerId ? await listOrgs(store, { partnerId: p.partnerId }) : [] };
    return { rows: p.orgId ? await listOrgs(store, { orgId: p.orgId }) : [] };
  });

  app.get('/api/v1/orgs/:org', {
    schema: { tags: ['organisations'], summary: 'One organisation with its scoring settings, and what the caller may do in it', security: userAuth, params: OrgParams,
      response: { 200: Type.Intersect([OrgOut, Type.Object({
        scoring: Scoring,
        you: Type.Object({
          role: Type.String({ description: 'admin | partner-admin | org-admin | manager | viewer' }),
          canAdmin: Type.Boolean({ description: 'may change the organisation (the pages show write controls only then)' }),
          canPlace: Type.Boolean({ description: 'may claim and place devices (administrators, and a manager in the granted locations)' }),
        }),
      })]), ...commonErrors } },
  }, async (req) => {
    const p = await user(req);
    const org = await orgAccess(store, p, req.params.org, 'read');
    const canAdmin = p.role === 'admin' || p.role === 'partner-admin' || p.role === 'org-admin';
    return { id: org.id, name: org.name, partnerId: org.partner_id, scoring: scoringOf(org.settings), you: { role: p.role, canAdmin, canPlace: canAdmin || p.role === 'manager' } };
  });

  app.put('/api/v1/orgs/:org/scoring', {
    schema: { tags: ['organisations'], summary: 'Set the minimum sample and the share thresholds of scores 2–5', security: userAuth, params: OrgParams,
      body: Type.Object({ minSample: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })), thresholds: Type.Optional(Type.Array(Type.Number({ minimum: 0, maximum: 1 }), { minItems: 4, maxItems: 4 })), reason: Reason }),
      response: { 200: Scoring, ...commonErrors } },
  }, async (req) => {
    const p = await user(req);
    await orgAccess(store, p, req.params.org, 'admin');
    const { reason, ...input } = req.body;
    return setScoring(store, req.params.org, input, { userId: p.userId, reason });
  });

  app.post('/api/v1/orgs/:org/locations', {
    schema: { tags: ['organisations'], summary: 'Create a location', security: userAuth, params: OrgParams,
      body: Type.Object({ name: Name, timezone: Timezone, openingHours: Type.Optional(OpeningHours) }), response: { 201: LocationRow, ...commonErrors } },
  }, async (req, reply) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    return reply.status(201).send(await createLocation(store, req.params.org, req.body));
  });

  app.get('/api/v1/orgs/:org/locations', {
    schema: { tags: ['organisations'], summary: 'Locations in use (a manager sees the granted ones); ?archived=true adds the archived', security: userAuth, params: OrgParams,
      querystring: ListArchived, response: { 200: rowsOf(LocationRow), ...commonErrors } },
  }, async (req) => {
    const p = await user(req);
    await orgAccess(store, p, req.params.org, 'read');
    return { rows: await listLocations(store, req.params.org, locationLimit(p), req.query.archived ?? false) };
  });

  app.patch('/api/v1/orgs/:org/locations/:location', {
    schema: { tags: ['organisations'], summary: 'Change a location: name, time zone, opening hours, archived', security: userAuth, params: LocParams,
      description: 'Given fields change, others keep their value; all are checked before anything is written. A new zone or opening hours apply to presses '
        + 'stored from now on (ingest sees them at once); stored presses keep their local day and hour. openingHours null = no hours (never off-hours). '
        + 'Archiving hides the location from lists and pickers and keeps its votes; refused (409) while devices stand there. Audited.',
      body: Type.Object({ name: Type.Optional(Name), timezone: Type.Optional(Timezone), openingHours: Type.Optional(Nullable(OpeningHours)), archived: Type.Optional(Type.Boolean()), reason: Reason }, { additionalProperties: false }),
      response: { 200: LocationRow, ...withConflict } },
  }, async (req) => {
    const p = await user(req);
    await orgAccess(store, p, req.params.org, 'admin');
    const { reason, ...patch } = req.body;
    const loc = await updateLocation(store, req.params.org, req.params.location, patch, { userId: p.userId, reason });
    refs.invalidateLocation(loc.id);
    forgetLocationHours(store, loc.id);
    return loc;
  });

  app.post('/api/v1/orgs/:org/touchpoints', {
    schema: { tags: ['organisations'], summary: 'Create a touchpoint', security: userAuth, params: OrgParams,
      body: Type.Object({ name: Name, locationId: Type.Optional(Id), channel: Type.Optional(Channel) }), response: { 201: TouchpointRow, ...commonErrors } },
  }, async (req, reply) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    return reply.status(201).send(await createTouchpoint(store, req.params.org, req.body));
  });

  app.get('/api/v1/orgs/:org/touchpoints', {
    schema: { tags: ['organisations'], summary: 'Touchpoints in use; ?archived=true adds the archived', security: userAuth, params: OrgParams,
      querystring: ListArchived, response: { 200: rowsOf(TouchpointRow), ...commonErrors } },
  }, async (req) => {
    const p = await user(req);
    await orgAccess(store, p, req.params.org, 'read');
    return { rows: await listTouchpoints(store, req.params.org, locationLimit(p), req.query.archived ?? false) };
  });

  app.patch('/api/v1/orgs/:org/touchpoints/:touchpoint', {
    schema: { tags: ['organisations'], summary: 'Change a touchpoint: name, location, channel, archived', security: userAuth, params: TpParams,
      description: 'Given fields change, others keep their value (null clears locationId or channel). Moving it to another location or archiving it is refused (409) while devices stand at it. Audited.',
      body: Type.Object({ name: Type.Optional(Name), locationId: Type.Optional(Nullable(Id)), channel: Type.Optional(Nullable(Channel)), archived: Type.Optional(Type.Boolean()), reason: Reason }, { additionalProperties: false }),
      response: { 200: TouchpointRow, ...withConflict } },
  }, async (req) => {
    const p = await user(req);
    await orgAccess(store, p, req.params.org, 'admin');
    const { reason, ...patch } = req.body;
    return updateTouchpoint(store, req.params.org, req.params.touchpoint, patch, { userId: p.userId, reason });
  });

  app.post('/api/v1/orgs/:org/employees', {
    schema: { tags: ['organisations'], summary: 'Create an employee', security: userAuth, params: OrgParams, body: Type.Object({ name: Name }), response: { 201: EmployeeRow, ...commonErrors } },
  }, async (req, reply) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    return reply.status(201).send(await createEmployee(store, req.params.org, req.body.name));
  });

  app.get('/api/v1/orgs/:org/employees', {
    schema: { tags: ['organisations'], summary: 'Employees, the deactivated ones too (marked active: false), so history can name them; ?active=true only the active', security: userAuth, params: OrgParams,
      querystring: Type.Object({ active: Type.Optional(Type.Boolean()) }), response: { 200: rowsOf(EmployeeRow), ...commonErrors } },
  }, async (req) => {
    await orgAccess(store, await user(req), req.params.org, 'read');
    return { rows: await listEmployees(store, req.params.org, !req.query.active) };
  });

  app.patch('/api/v1/orgs/:org/employees/:employee', {
    schema: { tags: ['organisations'], summary: 'Rename or (de)activate an employee', security: userAuth, params: EmpParams,
      description: 'A deactivated employee keeps their votes and past shifts; no new shift or device placement may name them. Audited.',
      body: Type.Object({ name: Type.Optional(Name), active: Type.Optional(Type.Boolean()), reason: Reason }, { additionalProperties: false }),
      response: { 200: EmployeeRow, ...commonErrors } },
  }, async (req) => {
    const p = await user(req);
    await orgAccess(store, p, req.params.org, 'admin');
    const { reason, ...patch } = req.body;
    return updateEmployee(store, req.params.org, req.params.employee, patch, { userId: p.userId, reason });
  });

  app.get('/api/v1/orgs/:org/audit', {
    schema: { tags: ['organisations'], summary: 'Changes to locations, touchpoints, employees and score thresholds, newest first: who, when, before and after, why', security: userAuth, params: OrgParams,
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }),
      response: { 200: rowsOf(Type.Object({
        id: Type.String(), at: Type.String(), userId: Nullable(Type.String()), entity: Type.String(), entityId: Type.String(), action: Type.String(),
        reason: Nullable(Type.String()), before: Type.Unknown(), after: Type.Unknown(),
      })), ...commonErrors } },
  }, async (req) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    return { rows: await orgAudit(store, req.params.org, req.query.limit) };
  });

  app.post('/api/v1/orgs/:org/users', {
    schema: { tags: ['accounts'], summary: 'Create a user of this organisation', security: userAuth, params: OrgParams,
      body: Type.Object({
        email: Email, name: Name, role: Type.Enum([...ORG_ROLES]), password: Type.Optional(Password),
        locationIds: Type.Optional(Type.Array(Id, { maxItems: 10_000 })),
      }), response: { 201: UserOut, ...commonErrors } },
  }, async (req, reply) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    const ids = req.body.locationIds;
    for (const [i, id] of (ids ?? []).entries()) await requireInOrg(store, 'locations', req.params.org, id, `locationIds[${i}]`);
    if (req.body.role === 'manager' && !ids) throw invalidField('locationIds', 'a manager needs the list of locations granted');
    const u = await createUser(store, { ...req.body, orgId: req.params.org, locationIds: ids ?? null });
    return reply.status(201).send(u);
  });
}
