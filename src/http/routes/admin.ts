// PROTOCOL.md §1: administration with an admin or partner user's API token, plus reads the
// dashboard needs. Every route under /orgs/{org} checks the caller's access to that org first.
import { Type } from 'typebox';
import type { App, AppContext } from '../context.ts';
import { requireUser } from '../auth.ts';
import {
  commonErrors, EmployeeOut, Id, LocationOut, Name, OrgOut, OrgParams, PartnerOut, rowsOf, TouchpointOut, UserOut, userAuth,
} from './schemas.ts';
import { ORG_ROLES } from '../../domain/types.ts';
import { forbidden, invalidField, notFound } from '../../domain/errors.ts';
import { createUser, locationLimit, orgAccess, signIn } from '../../accounts/accounts.ts';
import {
  createEmployee, createLocation, createOrg, createPartner, createTouchpoint, listEmployees, listLocations, listOrgs,
  listTouchpoints, partnerExists, requireInOrg, scoringOf, setScoring,
} from '../../orgs/orgs.ts';

const Email = Type.String({ minLength: 3, maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+$' });
const Password = Type.String({ minLength: 8, maxLength: 200 });
const Channel = Type.String({ minLength: 1, maxLength: 32, description: 'counter, table, web, phone, … ' });
const OpeningHours = Type.Record(Type.String(), Type.Array(Type.Array(Type.String())), { description: '{"mon":[["09:00","21:00"]], …}; a missing day is closed' });
const Scoring = Type.Object({ minSample: Type.Integer(), thresholds: Type.Array(Type.Number()) });

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
    schema: { tags: ['organisations'], summary: 'One organisation with its scoring settings', security: userAuth, params: OrgParams, response: { 200: Type.Intersect([OrgOut, Type.Object({ scoring: Scoring })]), ...commonErrors } },
  }, async (req) => {
    const org = await orgAccess(store, await user(req), req.params.org, 'read');
    return { id: org.id, name: org.name, partnerId: org.partner_id, scoring: scoringOf(org.settings) };
  });

  app.put('/api/v1/orgs/:org/scoring', {
    schema: { tags: ['organisations'], summary: 'Set the minimum sample and the share thresholds of scores 2–5', security: userAuth, params: OrgParams,
      body: Type.Object({ minSample: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })), thresholds: Type.Optional(Type.Array(Type.Number({ minimum: 0, maximum: 1 }), { minItems: 4, maxItems: 4 })) }),
      response: { 200: Scoring, ...commonErrors } },
  }, async (req) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    return setScoring(store, req.params.org, req.body);
  });

  app.post('/api/v1/orgs/:org/locations', {
    schema: { tags: ['organisations'], summary: 'Create a location', security: userAuth, params: OrgParams,
      body: Type.Object({ name: Name, timezone: Type.String({ minLength: 1, maxLength: 64 }), openingHours: Type.Optional(OpeningHours) }), response: { 201: LocationOut, ...commonErrors } },
  }, async (req, reply) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    return reply.status(201).send(await createLocation(store, req.params.org, req.body));
  });

  app.get('/api/v1/orgs/:org/locations', {
    schema: { tags: ['organisations'], summary: 'Locations (a manager sees the granted ones)', security: userAuth, params: OrgParams, response: { 200: rowsOf(LocationOut), ...commonErrors } },
  }, async (req) => {
    const p = await user(req);
    await orgAccess(store, p, req.params.org, 'read');
    return { rows: await listLocations(store, req.params.org, locationLimit(p)) };
  });

  app.post('/api/v1/orgs/:org/touchpoints', {
    schema: { tags: ['organisations'], summary: 'Create a touchpoint', security: userAuth, params: OrgParams,
      body: Type.Object({ name: Name, locationId: Type.Optional(Id), channel: Type.Optional(Channel) }), response: { 201: TouchpointOut, ...commonErrors } },
  }, async (req, reply) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    return reply.status(201).send(await createTouchpoint(store, req.params.org, req.body));
  });

  app.get('/api/v1/orgs/:org/touchpoints', {
    schema: { tags: ['organisations'], summary: 'Touchpoints', security: userAuth, params: OrgParams, response: { 200: rowsOf(TouchpointOut), ...commonErrors } },
  }, async (req) => {
    const p = await user(req);
    await orgAccess(store, p, req.params.org, 'read');
    return { rows: await listTouchpoints(store, req.params.org, locationLimit(p)) };
  });

  app.post('/api/v1/orgs/:org/employees', {
    schema: { tags: ['organisations'], summary: 'Create an employee', security: userAuth, params: OrgParams, body: Type.Object({ name: Name }), response: { 201: EmployeeOut, ...commonErrors } },
  }, async (req, reply) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    return reply.status(201).send(await createEmployee(store, req.params.org, req.body.name));
  });

  app.get('/api/v1/orgs/:org/employees', {
    schema: { tags: ['organisations'], summary: 'Employees', security: userAuth, params: OrgParams, response: { 200: rowsOf(EmployeeOut), ...commonErrors } },
  }, async (req) => {
    await orgAccess(store, await user(req), req.params.org, 'read');
    return { rows: await listEmployees(store, req.params.org) };
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
