// Bearer authentication for users (API tokens) and devices (device tokens).
import type { FastifyRequest } from 'fastify';
import type { Store } from '../store/db.ts';
import type { Refs } from '../store/refs.ts';
import { hashSecret } from '../domain/ids.ts';
import { forbidden, unauthorized } from '../domain/errors.ts';
import type { DeviceKind, DevicePrincipal, Principal, UserPrincipal } from '../domain/types.ts';
import { userByToken } from '../accounts/accounts.ts';

export function bearer(req: FastifyRequest): string {
  const h = req.headers.authorization;
  if (!h) throw unauthorized('Authorization: Bearer <token> header is missing');
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  if (!m) throw unauthorized('Authorization header must be "Bearer <token>"');
  return m[1]!;
}

// Resolved once per request: by the preValidation hook (so a missing token answers 401 before a
// malformed body answers 400 — strangers learn nothing about a route's schema) or by the handler.
const resolved = new WeakMap<FastifyRequest, Principal>();

export async function principalOf(store: Store, refs: Refs, req: FastifyRequest): Promise<Principal> {
  const known = resolved.get(req);
  if (known) return known;
  const p = await resolvePrincipal(store, refs, req);
  resolved.set(req, p);
  return p;
}

async function resolvePrincipal(store: Store, refs: Refs, req: FastifyRequest): Promise<Principal> {
  const token = bearer(req);
  if (token.startsWith('lbd_')) {
    const d = await refs.deviceByTokenHash(hashSecret(token));
    if (!d) throw unauthorized('unknown or revoked device token');
    return { kind: 'device', deviceId: d.id, orgId: d.orgId, deviceKind: d.kind };
  }
  const u = await userByToken(store, token);
  if (!u) throw unauthorized('unknown or revoked API token');
  return u;
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
