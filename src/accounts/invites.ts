// Invite links (an org administrator invites someone into the org with a role) and the first
// admin's setup link. Both are single use: accepting one creates the user and marks it used in one
// transaction, so two people opening the same link cannot both get in.
import type { Store } from '../store/db.ts';
import type { InvitesTable } from '../store/schema.ts';
import { hashSecret, newId, newSecret } from '../domain/ids.ts';
import { conflict, forbidden, invalidField, notFound } from '../domain/errors.ts';
import type { UserPrincipal, UserRole } from '../domain/types.ts';
import { requireInOrg } from '../orgs/orgs.ts';
import { hashPassword } from './passwords.ts';
import { audit, MIN_PASSWORD, mayGrant } from './accounts.ts';

export const INVITE_TTL_MS = 7 * 24 * 3_600_000;

export type InviteState = 'pending' | 'accepted' | 'expired' | 'revoked';
export type InviteOut = {
  id: string; email: string | null; role: string; locationIds: string[] | null; state: InviteState;
  createdAt: string; expiresAt: string | null; acceptedAt: string | null;
};

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(Number(ms)).toISOString());
const stateOf = (r: InvitesTable, now = Date.now()): InviteState =>
  r.accepted_at !== null ? 'accepted' : r.revoked_at !== null ? 'revoked' : r.expires_at !== null && now >= Number(r.expires_at) ? 'expired' : 'pending';
const out = (r: InvitesTable): InviteOut => ({
  id: r.id, email: r.email, role: r.role, locationIds: r.location_ids ? (JSON.parse(r.location_ids) as string[]) : null, state: stateOf(r),
  createdAt: iso(r.created_at)!, expiresAt: iso(r.expires_at), acceptedAt: iso(r.accepted_at),
});

/** Checks a grant: the role is not above the granter's, a manager gets locations, every location is the org's. */
export async function checkGrant(store: Store, actor: UserPrincipal, orgId: string, role: UserRole, locationIds: string[] | null | undefined): Promise<void> {
  if (!mayGrant(actor.role, role)) throw forbidden(`a ${actor.role} cannot grant the role ${role}`);
  if (role === 'manager' && !locationIds) throw invalidField('locationIds', 'a manager needs the list of locations granted');
  for (const [i, id] of (locationIds ?? []).entries()) await requireInOrg(store, 'locations', orgId, id, `locationIds[${i}]`);
  // A manager can only hand on what they have (managers cannot invite today, but the rule is general).
  if (actor.role === 'manager' && (locationIds ?? []).some((l) => !(actor.locationIds ?? []).includes(l))) throw forbidden('you can only grant your own locations');
}

export async function createInvite(store: Store, actor: UserPrincipal, orgId: string, body: { email: string; role: UserRole; locationIds?: string[] | undefined }):
Promise<InviteOut & { url: string }> {
  const email = body.email.trim().toLowerCase();
  await checkGrant(store, actor, orgId, body.role, body.locationIds);
  const exists = await store.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst();
  if (exists) throw conflict(`a user with email ${email} already exists`, 'email');
  const secret = newSecret('lbi');
  const now = Date.now();
  const row: InvitesTable = {
    id: newId('inv'), secret_hash: hashSecret(secret), kind: 'invite', org_id: orgId, email, role: body.role,
    location_ids: body.role === 'manager' && body.locationIds ? JSON.stringify(body.locationIds) : null,
    created_by: actor.userId, created_at: now, expires_at: now + INVITE_TTL_MS, accepted_at: null, accepted_by: null, revoked_at: null,
  };
  await store.db.insertInto('invites').values(row).execute();
  await audit(store, { orgId, actorId: actor.userId, action: 'invite.create', target: row.id, detail: { email, role: body.role, locationIds: body.locationIds ?? null } });
  return { ...out(row), url: `/invite/${secret}` };
}

export async function listInvites(store: Store, orgId: string): Promise<InviteOut[]> {
  const rows = await store.db.selectFrom('invites').selectAll().where('org_id', '=', orgId).where('kind', '=', 'invite').orderBy('created_at', 'desc').execute();
  return rows.map(out);
}

export async function revokeInvite(store: Store, actor: UserPrincipal, orgId: string, id: string): Promise<InviteOut> {
  const row = await store.db.selectFrom('invites').selectAll().where('id', '=', id).where('org_id', '=', orgId).where('kind', '=', 'invite').executeTakeFirst();
  if (!row) throw notFound('invite');
  if (row.accepted_at !== null) throw conflict('this invite was already accepted; disable the user instead');
  if (row.revoked_at === null) {
    row.revoked_at = Date.now();
    await store.db.updateTable('invites').set({ revoked_at: row.revoked_at }).where('id', '=', id).execute();
    await audit(store, { orgId, actorId: actor.userId, action: 'invite.revoke', target: id });
  }
  return out(row);
}

/** What a secret invites to (public: the secret is the credential). Unknown → 404; used/expired/revoked → 409. */
export async function inviteBySecret(store: Store, secret: string, kind: 'invite' | 'setup'): Promise<InvitesTable & { orgName: string | null; invitedBy: string | null }> {
  const row = await store.db.selectFrom('invites').selectAll().where('secret_hash', '=', hashSecret(secret)).where('kind', '=', kind).executeTakeFirst();
  if (!row) throw notFound(kind === 'invite' ? 'invite' : 'setup link');
  const state = stateOf(row);
  if (state !== 'pending') throw conflict(`this ${kind === 'invite' ? 'invite' : 'setup link'} is ${state === 'accepted' ? 'already used' : state}`);
  const org = row.org_id ? await store.db.selectFrom('orgs').select('name').where('id', '=', row.org_id).executeTakeFirst() : undefined;
  const by = row.created_by ? await store.db.selectFrom('users').select('name').where('id', '=', row.created_by).executeTakeFirst() : undefined;
  return { ...row, orgName: org?.name ?? null, invitedBy: by?.name ?? null };
}

/**
 * Accepts an invite or a setup link: creates the user and uses up the link in one transaction.
 * `email` is the invite's own for an invite, the form's for a setup link.
 */
export async function acceptLink(store: Store, secret: string, kind: 'invite' | 'setup', body: { name: string; password: string; email?: string | undefined }): Promise<string> {
  if (body.password.length < MIN_PASSWORD) throw invalidField('password', `password must have at least ${MIN_PASSWORD} characters`);
  const link = await inviteBySecret(store, secret, kind);
  const email = (kind === 'invite' ? link.email! : (body.email ?? '')).trim().toLowerCase();
  if (!email) throw invalidField('email', 'email is required');
  const password_hash = await hashPassword(body.password); // slow: outside the transaction
  const userId = newId('usr');
  const now = Date.now();
  try {
    await store.db.transaction().execute(async (trx) => {
      const used = await trx.updateTable('invites').set({ accepted_at: now, accepted_by: userId })
        .where('id', '=', link.id).where('accepted_at', 'is', null).where('revoked_at', 'is', null).executeTakeFirst();
      if (Number(used.numUpdatedRows) !== 1) throw conflict('this link was used a moment ago');
      const taken = await trx.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst();
      if (taken) throw conflict(`a user with email ${email} already exists`, 'email');
      await trx.insertInto('users').values({
        id: userId, email, name: body.name, role: link.role, password_hash, org_id: link.org_id, partner_id: null,
        location_ids: link.location_ids, created_at: now,
      }).execute();
    });
  } catch (e) {
    if (/unique|duplicate/i.test(String(e))) throw conflict(`a user with email ${email} already exists`, 'email');
    throw e;
  }
  await audit(store, { orgId: link.org_id, actorId: userId, action: `${kind}.accept`, target: link.id, detail: { email, role: link.role, invitedBy: link.created_by } });
  return userId;
}

/** True while no enabled instance administrator can sign in with a password. */
export async function needsFirstAdmin(store: Store): Promise<boolean> {
  const row = await store.db.selectFrom('users').select('id').where('role', '=', 'admin').where('password_hash', 'is not', null).where('disabled_at', 'is', null).executeTakeFirst();
  return !row;
}

/** A new setup link for the first admin (valid until used); any earlier unused one stops working. */
export async function createSetupLink(store: Store): Promise<string> {
  const now = Date.now();
  await store.db.updateTable('invites').set({ revoked_at: now }).where('kind', '=', 'setup').where('accepted_at', 'is', null).where('revoked_at', 'is', null).execute();
  const secret = newSecret('lbi');
  await store.db.insertInto('invites').values({
    id: newId('inv'), secret_hash: hashSecret(secret), kind: 'setup', org_id: null, email: null, role: 'admin', location_ids: null,
    created_by: null, created_at: now, expires_at: null, accepted_at: null, accepted_by: null, revoked_at: null,
  }).execute();
  return `/setup/${secret}`;
}

/** The first admin from the command line (env or an interactive prompt): a new user, or a password for an existing admin. */
export async function createFirstAdmin(store: Store, emailRaw: string, password: string, name = 'Administrator'): Promise<string> {
  if (password.length < MIN_PASSWORD) throw invalidField('password', `password must have at least ${MIN_PASSWORD} characters`);
  const email = emailRaw.trim().toLowerCase();
  if (!/^[^@\s]+@[^@\s]+$/.test(email)) throw invalidField('email', 'not an email address');
  const existing = await store.db.selectFrom('users').select(['id', 'role']).where('email', '=', email).executeTakeFirst();
  const password_hash = await hashPassword(password);
  if (existing) {
    if (existing.role !== 'admin') throw conflict(`${email} is already a ${existing.role}; choose another email for the administrator`, 'email');
    await store.db.updateTable('users').set({ password_hash, disabled_at: null }).where('id', '=', existing.id).execute();
    await audit(store, { orgId: null, actorId: null, action: 'admin.password', target: existing.id, detail: { email, via: 'cli' } });
    return existing.id;
  }
  const id = newId('usr');
  await store.db.insertInto('users').values({ id, email, name, role: 'admin', password_hash, org_id: null, partner_id: null, location_ids: null, created_at: Date.now() }).execute();
  await audit(store, { orgId: null, actorId: null, action: 'admin.create', target: id, detail: { email, via: 'cli' } });
  return id;
}
