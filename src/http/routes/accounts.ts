// Accounts and access (README "Accounts and access"): browser sessions, a user's own API tokens,
// invites by link, the users of an organisation, the first admin's setup link, and revocable
// wall display links. The public wall's live stream is in live.ts.
import { Type } from 'typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App, AppContext } from '../context.ts';
import { cookieOf, requireSameOrigin, requireUser } from '../auth.ts';
import { commonErrors, ErrorBody, Id, Name, OrgParams, rowsOf, userAuth } from './schemas.ts';
import { ORG_ROLES } from '../../domain/types.ts';
import { notFound } from '../../domain/errors.ts';
import { checkPassword, createToken, orgAccess } from '../../accounts/accounts.ts';
import { ABSOLUTE_MS, createSession, revokeSession, SESSION_COOKIE } from '../../accounts/sessions.ts';
import { acceptLink, createInvite, inviteBySecret, listInvites, revokeInvite } from '../../accounts/invites.ts';
import { accessChanged, listOrgUsers, listTokens, me, patchUser, revokeToken } from '../../accounts/users.ts';
import { createWallLink, listWallLinks, revokeWallLink, wallBySecret, wallView } from '../../accounts/wall-links.ts';

const Email = Type.String({ minLength: 3, maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+$' });
const Password = Type.String({ minLength: 8, maxLength: 200 });
const Secret = Type.String({ minLength: 1, maxLength: 100 });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Ids = Type.Array(Id, { maxItems: 10_000 });
const withConflict = { ...commonErrors, 409: ErrorBody, 429: ErrorBody };

const MeOut = Type.Object({
  id: Type.String(), email: Type.String(), name: Type.String(), role: Type.String(),
  orgId: Nullable(Type.String()), partnerId: Nullable(Type.String()), locationIds: Nullable(Type.Array(Type.String())),
});
const SignedIn = Type.Object({ user: MeOut });
const TokenOut = Type.Object({ id: Type.String(), label: Nullable(Type.String()), createdAt: Type.String(), lastUsedAt: Nullable(Type.String()) });
const InviteOut = Type.Object({
  id: Type.String(), email: Nullable(Type.String()), role: Type.String(), locationIds: Nullable(Type.Array(Type.String())),
  state: Type.String({ description: 'pending | accepted | expired | revoked' }), createdAt: Type.String(), expiresAt: Nullable(Type.String()), acceptedAt: Nullable(Type.String()),
});
const OrgUserOut = Type.Object({
  id: Type.String(), email: Type.String(), name: Type.String(), role: Type.String(), locationIds: Nullable(Type.Array(Type.String())),
  disabled: Type.Boolean(), createdAt: Type.String(),
});
const WallLinkOut = Type.Object({ id: Type.String(), label: Type.String(), locationIds: Nullable(Type.Array(Type.String())), createdAt: Type.String(), revokedAt: Nullable(Type.String()) });
const Figures = Type.Object({
  satisfied: Type.Integer(), dissatisfied: Type.Integer(), total: Type.Integer(), flagged: Type.Integer(),
  share: Nullable(Type.Number()), wilson: Nullable(Type.Array(Type.Number())), score: Nullable(Type.Integer()),
});
const WallOut = Type.Object({
  org: Type.Object({ name: Type.String() }), label: Type.String(),
  scoring: Type.Object({ minSample: Type.Integer(), thresholds: Type.Array(Type.Number()) }),
  locations: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), timezone: Type.String(), day: Type.String({ description: 'today in the location\'s zone' }), today: Figures })),
});

/** Secure cookies over https (as the request or the proxy says), or always with COOKIE_SECURE=true / an https PUBLIC_URL. */
function secureCookie(req: FastifyRequest): boolean {
  const flag = process.env['COOKIE_SECURE'];
  if (flag === 'true' || flag === '1') return true;
  if (flag === 'false' || flag === '0') return false;
  return req.protocol === 'https' || String(req.headers['x-forwarded-proto'] ?? '').split(',')[0]?.trim() === 'https'
    || (process.env['PUBLIC_URL'] ?? '').startsWith('https:');
}

function setSessionCookie(req: FastifyRequest, reply: FastifyReply, value: string, maxAgeMs: number): void {
  const attrs = [`${SESSION_COOKIE}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax', `Max-Age=${Math.floor(maxAgeMs / 1000)}`];
  if (secureCookie(req)) attrs.push('Secure');
  void reply.header('set-cookie', attrs.join('; '));
  void reply.header('cache-control', 'no-store');
}

export function accountRoutes(app: App, ctx: AppContext): void {
  const { store, refs } = ctx;
  const user = (req: FastifyRequest) => requireUser(store, refs, req);
  const signInAs = async (req: FastifyRequest, reply: FastifyReply, userId: string) => {
    const s = await createSession(store, userId);
    setSessionCookie(req, reply, s.id, ABSOLUTE_MS);
    return { user: await me(store, userId) };
  };

  // --- sessions -------------------------------------------------------------------------------
  app.post('/api/v1/auth/session', {
    schema: { tags: ['accounts'], summary: 'Sign in with email and password: sets the session cookie (browsers)',
      description: `Sets \`${SESSION_COOKIE}\` (HttpOnly, SameSite=Lax, Secure over https). Same-origin only: send the header X-Loyalty-CSRF. Five wrong passwords lock the email for a minute (429).`,
      body: Type.Object({ email: Email, password: Type.String({ minLength: 1, maxLength: 200 }) }), response: { 200: SignedIn, ...withConflict } },
  }, async (req, reply) => {
    requireSameOrigin(req);
    const userId = await checkPassword(store, req.body.email, req.body.password);
    return signInAs(req, reply, userId);
  });

  app.delete('/api/v1/auth/session', {
    schema: { tags: ['accounts'], summary: 'Sign out: ends this session on the server and clears the cookie', security: userAuth, response: { 204: Type.Null(), ...commonErrors } },
  }, async (req, reply) => {
    const p = await user(req);
    const id = cookieOf(req, SESSION_COOKIE);
    if (id) await revokeSession(store, id);
    accessChanged.emit('changed', p.userId);
    setSessionCookie(req, reply, '', 0);
    return reply.status(204).send(null);
  });

  app.get('/api/v1/auth/me', {
    schema: { tags: ['accounts'], summary: 'The signed-in user', security: userAuth, response: { 200: MeOut, ...commonErrors } },
  }, async (req) => me(store, (await user(req)).userId));

  // --- my API tokens ----------------------------------------------------------------------------
  app.get('/api/v1/auth/tokens', {
    schema: { tags: ['accounts'], summary: 'My API tokens (not the secrets: those are shown once)', security: userAuth, response: { 200: rowsOf(TokenOut), ...commonErrors } },
  }, async (req) => ({ rows: await listTokens(store, (await user(req)).userId) }));

  app.post('/api/v1/auth/tokens', {
    schema: { tags: ['accounts'], summary: 'Create an API token for a script; the secret is in this answer only', security: userAuth,
      body: Type.Object({ label: Type.String({ minLength: 1, maxLength: 100 }) }),
      response: { 201: Type.Intersect([TokenOut, Type.Object({ token: Type.String() })]), ...commonErrors } },
  }, async (req, reply) => {
    const t = await createToken(store, (await user(req)).userId, req.body.label);
    return reply.status(201).send({ id: t.id, label: t.label, createdAt: new Date(t.createdAt).toISOString(), lastUsedAt: null, token: t.token });
  });

  app.delete('/api/v1/auth/tokens/:token', {
    schema: { tags: ['accounts'], summary: 'Revoke one of my API tokens (refused from the next request on)', security: userAuth,
      params: Type.Object({ token: Id }), response: { 204: Type.Null(), ...commonErrors } },
  }, async (req, reply) => {
    await revokeToken(store, (await user(req)).userId, req.params.token);
    return reply.status(204).send(null);
  });

  // --- invites ----------------------------------------------------------------------------------
  app.post('/api/v1/orgs/:org/invites', {
    schema: { tags: ['accounts'], summary: 'Invite someone into the organisation by link (valid 7 days, single use)', security: userAuth, params: OrgParams,
      description: 'Nobody grants a role above their own; a manager needs `locationIds`. The answer\'s `url` (`/invite/{secret}`) is shown once: send it to the person.',
      body: Type.Object({ email: Email, role: Type.Enum([...ORG_ROLES]), locationIds: Type.Optional(Ids) }),
      response: { 201: Type.Intersect([InviteOut, Type.Object({ url: Type.String() })]), ...withConflict } },
  }, async (req, reply) => {
    const p = await user(req);
    await orgAccess(store, p, req.params.org, 'admin');
    return reply.status(201).send(await createInvite(store, p, req.params.org, req.body));
  });

  app.get('/api/v1/orgs/:org/invites', {
    schema: { tags: ['accounts'], summary: 'Invites of the organisation with their state', security: userAuth, params: OrgParams, response: { 200: rowsOf(InviteOut), ...commonErrors } },
  }, async (req) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    return { rows: await listInvites(store, req.params.org) };
  });

  app.delete('/api/v1/orgs/:org/invites/:invite', {
    schema: { tags: ['accounts'], summary: 'Revoke an invite that was not accepted yet', security: userAuth,
      params: Type.Object({ org: OrgParams.properties.org, invite: Id }), response: { 200: InviteOut, ...withConflict } },
  }, async (req) => {
    const p = await user(req);
    await orgAccess(store, p, req.params.org, 'admin');
    return revokeInvite(store, p, req.params.org, req.params.invite);
  });

  app.get('/api/v1/invites/:secret', {
    schema: { tags: ['accounts'], summary: 'Who invites whom to what (public: the secret is the credential)', params: Type.Object({ secret: Secret }),
      response: { 200: Type.Object({ orgName: Nullable(Type.String()), email: Nullable(Type.String()), role: Type.String(), invitedBy: Nullable(Type.String()), expiresAt: Nullable(Type.String()) }), ...withConflict } },
  }, async (req) => {
    const i = await inviteBySecret(store, req.params.secret, 'invite');
    return { orgName: i.orgName, email: i.email, role: i.role, invitedBy: i.invitedBy, expiresAt: i.expires_at === null ? null : new Date(Number(i.expires_at)).toISOString() };
  });

  app.post('/api/v1/invites/:secret/accept', {
    schema: { tags: ['accounts'], summary: 'Accept an invite: creates the user and signs them in (session cookie)', params: Type.Object({ secret: Secret }),
      body: Type.Object({ name: Name, password: Password }), response: { 200: SignedIn, ...withConflict } },
  }, async (req, reply) => {
    requireSameOrigin(req);
    return signInAs(req, reply, await acceptLink(store, req.params.secret, 'invite', req.body));
  });

  // --- the first admin --------------------------------------------------------------------------
  app.get('/api/v1/setup/:secret', {
    schema: { tags: ['accounts'], summary: 'Whether a first-admin setup link is still good (printed by loyalty start)', params: Type.Object({ secret: Secret }),
      response: { 200: Type.Object({ ok: Type.Boolean() }), ...withConflict } },
  }, async (req) => {
    await inviteBySecret(store, req.params.secret, 'setup');
    return { ok: true };
  });

  app.post('/api/v1/setup/:secret', {
    schema: { tags: ['accounts'], summary: 'Create the first instance administrator through the setup link and sign in', params: Type.Object({ secret: Secret }),
      body: Type.Object({ email: Email, name: Name, password: Password }), response: { 200: SignedIn, ...withConflict } },
  }, async (req, reply) => {
    requireSameOrigin(req);
    return signInAs(req, reply, await acceptLink(store, req.params.secret, 'setup', req.body));
  });

  // --- users of an organisation -----------------------------------------------------------------
  app.get('/api/v1/orgs/:org/users', {
    schema: { tags: ['accounts'], summary: 'Users of the organisation with their role, locations and state (org administrators)', security: userAuth, params: OrgParams,
      response: { 200: rowsOf(OrgUserOut), ...commonErrors } },
  }, async (req) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    return { rows: await listOrgUsers(store, req.params.org) };
  });

  app.patch('/api/v1/orgs/:org/users/:user', {
    schema: { tags: ['accounts'], summary: 'Change a user\'s role, granted locations or disabled state', security: userAuth,
      description: 'Disabling ends the user\'s sessions at once and refuses their API tokens while disabled. Nobody changes their own access or grants a role above their own; the last org-admin stays.',
      params: Type.Object({ org: OrgParams.properties.org, user: Id }),
      body: Type.Object({ role: Type.Optional(Type.Enum([...ORG_ROLES])), locationIds: Type.Optional(Nullable(Ids)), disabled: Type.Optional(Type.Boolean()) }, { minProperties: 1 }),
      response: { 200: OrgUserOut, ...withConflict } },
  }, async (req) => {
    const p = await user(req);
    await orgAccess(store, p, req.params.org, 'admin');
    return patchUser(store, p, req.params.org, req.params.user, req.body);
  });

  app.get('/api/v1/orgs/:org/access-audit', {
    schema: { tags: ['accounts'], summary: 'Who granted, changed or revoked access, when (newest first)', security: userAuth, params: OrgParams,
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }),
      response: { 200: rowsOf(Type.Object({ id: Type.String(), at: Type.String(), actorId: Nullable(Type.String()), action: Type.String(), target: Type.String(), detail: Type.Unknown() })), ...commonErrors } },
  }, async (req) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    const rows = await store.db.selectFrom('access_audit').selectAll().where('org_id', '=', req.params.org).orderBy('at', 'desc').limit(req.query.limit ?? 200).execute();
    return { rows: rows.map((r) => ({ id: r.id, at: new Date(Number(r.at)).toISOString(), actorId: r.actor_id, action: r.action, target: r.target, detail: JSON.parse(r.detail) as unknown })) };
  });

  // --- wall links -------------------------------------------------------------------------------
  app.post('/api/v1/orgs/:org/wall-links', {
    schema: { tags: ['accounts'], summary: 'Create a revocable read-only wall display link (the url is shown once)', security: userAuth, params: OrgParams,
      body: Type.Object({ label: Name, locationIds: Type.Optional(Ids) }), response: { 201: Type.Intersect([WallLinkOut, Type.Object({ url: Type.String() })]), ...commonErrors } },
  }, async (req, reply) => {
    const p = await user(req);
    await orgAccess(store, p, req.params.org, 'admin');
    return reply.status(201).send(await createWallLink(store, p, req.params.org, req.body));
  });

  app.get('/api/v1/orgs/:org/wall-links', {
    schema: { tags: ['accounts'], summary: 'Wall display links of the organisation', security: userAuth, params: OrgParams, response: { 200: rowsOf(WallLinkOut), ...commonErrors } },
  }, async (req) => {
    await orgAccess(store, await user(req), req.params.org, 'admin');
    return { rows: await listWallLinks(store, req.params.org) };
  });

  app.delete('/api/v1/orgs/:org/wall-links/:link', {
    schema: { tags: ['accounts'], summary: 'Revoke a wall link: refused from the next request, open streams closed', security: userAuth,
      params: Type.Object({ org: OrgParams.properties.org, link: Id }), response: { 204: Type.Null(), ...commonErrors } },
  }, async (req, reply) => {
    const p = await user(req);
    await orgAccess(store, p, req.params.org, 'admin');
    await revokeWallLink(store, p, req.params.org, req.params.link);
    return reply.status(204).send(null);
  });

  app.get('/api/v1/wall/:secret', {
    schema: { tags: ['accounts'], summary: 'The public wall: today\'s figures per location, each in its own zone (the secret is the credential)',
      params: Type.Object({ secret: Secret }), response: { 200: WallOut, 404: ErrorBody, 400: ErrorBody } },
  }, async (req, reply) => {
    const link = await wallBySecret(store, req.params.secret);
    if (!link) throw notFound('wall link');
    void reply.header('cache-control', 'no-store');
    return wallView(store, link);
  });
}
