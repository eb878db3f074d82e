// Authentication: users by API token (Authorization: Bearer lbt_…) or by session cookie (the
// dashboard), devices by device token (Bearer lbd_…). A request with an Authorization header is
// judged by it alone; without one, the session cookie is used.
//
// CSRF: a cookie is sent by the browser whatever page made the request, so a state-changing
// request (not GET/HEAD/OPTIONS) authenticated by the cookie must prove it comes from our own
// pages: it carries the header `X-Loyalty-CSRF` (a cross-site form cannot set a header, and
// cross-site script needs a CORS preflight this server never grants), and if the browser says
// where it comes from (`Sec-Fetch-Site`, `Origin`), that is this origin. SameSite=Lax on the
// cookie is a third, independent line. Bearer tokens are not sent by browsers on their own, so
// they need none of this.
import type { FastifyRequest } from 'fastify';
import type { Store } from '../store/db.ts';
import type { Refs } from '../store/refs.ts';
import { hashSecret } from '../domain/ids.ts';
import { forbidden, unauthorized } from '../domain/errors.ts';
import type { DeviceKind, DevicePrincipal, Principal, UserPrincipal } from '../domain/types.ts';
import { orgAccess, userByToken } from '../accounts/accounts.ts';
import { SESSION_COOKIE, sessionUser } from '../accounts/sessions.ts';
import { rejectNul } from '../ingest/validate.ts';

export const CSRF_HEADER = 'x-loyalty-csrf';
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export function bearer(req: FastifyRequest): string {
  const h = req.headers.authorization;
  if (!h) throw unauthorized('Authorization: Bearer <token> header is missing');
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  if (!m) throw unauthorized('Authorization header must be "Bearer <token>"');
  return m[1]!;
}

/** A cookie's value from the request's Cookie header, or null. */
export function cookieOf(req: FastifyRequest, name: string): string | null {
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim() || null;
  }
  return null;
}

/** How a request authenticated: what an open stream re-checks later. */
export type Credential = { kind: 'token'; token: string } | { kind: 'session'; id: string };

// Resolved once per request: by the preValidation hook (so a missing token answers 401 before a
// malformed body answers 400 — strangers learn nothing about a route's schema) or by the handler.
const resolved = new WeakMap<FastifyRequest, { p: Principal; cred: Credential | null }>();

export async function principalOf(store: Store, refs: Refs, req: FastifyRequest): Promise<Principal> {
  const known = resolved.get(req);
  if (known) return known.p;
  const r = await resolvePrincipal(store, refs, req);
  resolved.set(req, r);
  return r.p;
}

/** The user credential of an authenticated request (after principalOf), null for a device. */
export const credentialOf = (req: FastifyRequest): Credential | null => resolved.get(req)?.cred ?? null;

/** The user a credential stands for now, or null when it was revoked, expired or its user disabled. */
export const userOfCredential = (store: Store, c: Credential): Promise<UserPrincipal | null> =>
  c.kind === 'token' ? userByToken(store, c.token) : sessionUser(store, c.id);

async function resolvePrincipal(store: Store, refs: Refs, req: FastifyRequest): Promise<{ p: Principal; cred: Credential | null }> {
  if (!req.headers.authorization) {
    const id = cookieOf(req, SESSION_COOKIE);
    if (!id) throw unauthorized('sign in (session cookie) or send Authorization: Bearer <token>');
    const u = await sessionUser(store, id);
    if (!u) throw unauthorized('the session has expired or was signed out; sign in again');
    if (!SAFE.has(req.method)) requireSameOrigin(req);
    return { p: u, cred: { kind: 'session', id } };
  }
  const token = bearer(req);
  if (token.startsWith('lbd_')) {
    const d = await refs.deviceByTokenHash(hashSecret(token));
    if (!d) throw unauthorized('unknown or revoked device token');
    return { p: { kind: 'device', deviceId: d.id, orgId: d.orgId, deviceKind: d.kind }, cred: null };
  }
  const u = await userByToken(store, token);
  if (!u) throw unauthorized('unknown or revoked API token');
  return { p: u, cred: { kind: 'token', token } };
}

/** The CSRF rule (see the top of this file): 403 unless the request comes from this origin's pages. */
export function requireSameOrigin(req: FastifyRequest): void {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') throw forbidden(`cross-site request refused (Sec-Fetch-Site: ${String(site)})`);
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== 'null') {
    let host: string;
    try { host = new URL(origin).host; } catch { throw forbidden('cross-site request refused (malformed Origin)'); }
    if (host !== req.headers.host) throw forbidden('cross-site request refused (Origin is another site)');
  } else if (origin === 'null') throw forbidden('cross-site request refused (Origin: null)');
  if (req.headers[CSRF_HEADER] === undefined) throw forbidden(`a request signed in by cookie must send the ${CSRF_HEADER} header (the dashboard does)`);
}

/**
 * Run before validation on every route that declares a security scheme: authenticates, and on
 * routes under /orgs/{org} checks that a user may read that organisation at all — so another
 * tenant's user is refused (403) before the body is even looked at, on every such route,
 * including ones added later. The handlers still check the finer rights (admin, locations).
 */
export async function authenticateRoute(store: Store, refs: Refs, req: FastifyRequest): Promise<void> {
  const p = await principalOf(store, refs, req);
  // A token of the wrong kind is refused before validation too (a device learns nothing of user routes' bodies).
  const schemes = (req.routeOptions.schema?.security ?? []).flatMap((s) => Object.keys(s));
  if (p.kind === 'device' && !schemes.includes('device')) throw forbidden('a device token cannot use this route; use an API token');
  if (p.kind === 'user' && !schemes.includes('user')) throw forbidden('this route is for devices; use a device token');
  rejectNul(req.params);
  const params = (req.params ?? {}) as Record<string, unknown>;
  if (p.kind !== 'user') return;
  if (typeof params['org'] === 'string') await orgAccess(store, p, params['org'], 'read');
  if (typeof params['partner'] === 'string' && p.role !== 'admin' && !(p.role === 'partner-admin' && p.partnerId === params['partner'])) {
    throw forbidden('this partner is not yours');
  }
}

export async function requireUser(store: Store, refs: Refs, req: FastifyRequest): Promise<UserPrincipal> {
  const p = await principalOf(store, refs, req);
  if (p.kind !== 'user') throw forbidden('a device token cannot use this route; use an API token');
  return p;
}

export async function requireDevice(store: Store, refs: Refs, req: FastifyRequest, kinds: readonly DeviceKind[]): Promise<DevicePrincipal> {
  const p = await principalOf(store, refs, req);
  if (p.kind !== 'device') throw forbidden('this route is for devices; use a device token');
  if (!kinds.includes(p.deviceKind)) throw forbidden(`a ${p.deviceKind} cannot send this; allowed: ${kinds.join(', ')}`);
  return p;
}
