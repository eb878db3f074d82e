// Users of an organisation and their access, and a user's own API tokens.
import { EventEmitter } from 'node:events';
import type { Store } from '../store/db.ts';
import { conflict, forbidden, invalidField, notFound } from '../domain/errors.ts';
import type { UserPrincipal, UserRole } from '../domain/types.ts';
import { audit, mayGrant, ROLE_RANK } from './accounts.ts';
import { checkGrant } from './invites.ts';
import { revokeUserSessions } from './sessions.ts';

/**
 * Emits 'changed' with a user id when that user's access changed on this node (role, locations,
 * disabled, a token revoked, signed out): open live streams re-check at once instead of within a minute.
 */
export const accessChanged = new EventEmitter();
accessChanged.setMaxListeners(0);

export type Me = { id: string; email: string; name: string; role: string; orgId: string | null; partnerId: string | null; locationIds: string[] | null };
export type OrgUser = { id: string; email: string; name: string; role: string; locationIds: string[] | null; disabled: boolean; createdAt: string };

const ids = (json: string | null): string[] | null => (json ? (JSON.parse(json) as string[]) : null);

export async function me(store: Store, userId: string): Promise<Me> {
  const u = await store.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirstOrThrow();
  return { id: u.id, email: u.email, name: u.name, role: u.role, orgId: u.org_id, partnerId: u.partner_id, locationIds: ids(u.location_ids) };
}

export async function listOrgUsers(store: Store, orgId: string): Promise<OrgUser[]> {
  const rows = await store.db.selectFrom('users').selectAll().where('org_id', '=', orgId).orderBy('email').execute();
  return rows.map((u) => ({ id: u.id, email: u.email, name: u.name, role: u.role, locationIds: ids(u.location_ids), disabled: u.disabled_at !== null, createdAt: new Date(Number(u.created_at)).toISOString() }));
}

/**
 * Changes a user's role, granted locations or disabled flag. Nobody changes their own access (no
 * accidental lock-out), nobody touches a user above them or grants a role above their own; a
 * disabled user's sessions end at once and their tokens are refused while disabled.
 */
export async function patchUser(store: Store, actor: UserPrincipal, orgId: string, userId: string,
  body: { role?: UserRole | undefined; locationIds?: string[] | null | undefined; disabled?: boolean | undefined }): Promise<OrgUser> {
  const u = await store.db.selectFrom('users').selectAll().where('id', '=', userId).where('org_id', '=', orgId).executeTakeFirst();
  if (!u) throw notFound('user');
  if (u.id === actor.userId) throw forbidden('you cannot change your own access; ask another administrator');
  if (!mayGrant(actor.role, u.role as UserRole)) throw forbidden(`a ${actor.role} cannot change a ${u.role}`);
  const role = body.role ?? (u.role as UserRole);
  const locationIds = body.locationIds !== undefined ? body.locationIds : ids(u.location_ids);
  if (body.role !== undefined || body.locationIds !== undefined) {
    if (role === 'manager' && !locationIds) throw invalidField('locationIds', 'a manager needs the list of locations granted');
    await checkGrant(store, actor, orgId, role, role === 'manager' ? locationIds : null);
  }
  if (ROLE_RANK[role] > ROLE_RANK['org-admin']) throw invalidField('role', 'an organisation user is an org-admin, manager or viewer');
  const disabledAt = body.disabled === undefined ? u.disabled_at : body.disabled ? (u.disabled_at ?? Date.now()) : null;
  const next = { role, location_ids: role === 'manager' && locationIds ? JSON.stringify(locationIds) : null, disabled_at: disabledAt };
  if (u.role === 'org-admin' && (role !== 'org-admin' || disabledAt !== null)) {
    // The org keeps at least one working administrator (an instance or partner admin can still help, but should not have to).
    const admins = await store.db.selectFrom('users').select('id').where('org_id', '=', orgId).where('role', '=', 'org-admin').where('disabled_at', 'is', null).where('id', '!=', u.id).execute();
    if (!admins.length) throw conflict('this is the organisation\'s last administrator');
  }
  await store.db.updateTable('users').set(next).where('id', '=', u.id).execute();
  if (disabledAt !== null && u.disabled_at === null) await revokeUserSessions(store, u.id);
  accessChanged.emit('changed', u.id);
  await audit(store, {
    orgId, actorId: actor.userId, action: 'user.update', target: u.id,
    detail: { before: { role: u.role, locationIds: ids(u.location_ids), disabled: u.disabled_at !== null }, after: { role, locationIds: ids(next.location_ids), disabled: disabledAt !== null } },
  });
  return { id: u.id, email: u.email, name: u.name, role, locationIds: ids(next.location_ids), disabled: disabledAt !== null, createdAt: new Date(Number(u.created_at)).toISOString() };
}

export type TokenOut = { id: string; label: string | null; createdAt: string; lastUsedAt: string | null };

export async function listTokens(store: Store, userId: string): Promise<TokenOut[]> {
  const rows = await store.db.selectFrom('api_tokens').select(['id', 'label', 'created_at', 'last_used_at'])
    .where('user_id', '=', userId).where('revoked_at', 'is', null).orderBy('created_at', 'desc').execute();
  return rows.map((r) => ({ id: r.id!, label: r.label, createdAt: new Date(Number(r.created_at)).toISOString(), lastUsedAt: r.last_used_at === null ? null : new Date(Number(r.last_used_at)).toISOString() }));
}

export async function revokeToken(store: Store, userId: string, id: string): Promise<void> {
  const r = await store.db.updateTable('api_tokens').set({ revoked_at: Date.now() })
    .where('id', '=', id).where('user_id', '=', userId).where('revoked_at', 'is', null).executeTakeFirst();
  if (Number(r.numUpdatedRows) !== 1) throw notFound('token');
  accessChanged.emit('changed', userId);
}
