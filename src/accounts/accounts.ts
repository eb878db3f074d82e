// Users, their API tokens, and who may see which organisation.
import type { Store } from '../store/db.ts';
import type { OrgsTable } from '../store/schema.ts';
import { newId, newSecret, hashSecret } from '../domain/ids.ts';
import { AppError, conflict, forbidden, invalidField, notFound } from '../domain/errors.ts';
import type { Principal, UserPrincipal, UserRole } from '../domain/types.ts';
import { hashPassword, verifyPassword } from './passwords.ts';

export const ADMIN_EMAIL = 'admin@localhost';
export const MIN_PASSWORD = 8;

export type NewUser = {
  email: string; name: string; role: UserRole; password?: string | undefined;
  orgId?: string | null; partnerId?: string | null; locationIds?: string[] | null;
};

export async function createUser(store: Store, u: NewUser): Promise<{ id: string; email: string; name: string; role: UserRole; locationIds: string[] | null }> {
  const email = u.email.trim().toLowerCase();
  if (u.password !== undefined && u.password.length < MIN_PASSWORD) throw invalidField('password', `password must have at least ${MIN_PASSWORD} characters`);
  const exists = await store.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst();
  if (exists) throw conflict(`a user with email ${email} already exists`, 'email');
  const id = newId('usr');
  const password_hash = u.password === undefined ? null : await hashPassword(u.password);
  try {
    await store.db.insertInto('users').values({
      id, email, name: u.name, role: u.role, password_hash, org_id: u.orgId ?? null, partner_id: u.partnerId ?? null,
      location_ids: u.locationIds ? JSON.stringify(u.locationIds) : null, created_at: Date.now(),
    }).execute();
  } catch (e) {
    // Two concurrent creations of one email: the unique index decides, the loser gets 409.
    if (/unique|duplicate/i.test(String(e))) throw conflict(`a user with email ${email} already exists`, 'email');
    throw e;
  }
  return { id, email, name: u.name, role: u.role, locationIds: u.locationIds ?? null };
}

export async function issueToken(store: Store, userId: string, label: string | null = null): Promise<string> {
  return (await createToken(store, userId, label)).token;
}

/** A new API token of a user: its secret (shown once) and the public id it is listed and revoked by. */
export async function createToken(store: Store, userId: string, label: string | null): Promise<{ id: string; token: string; label: string | null; createdAt: number }> {
  const token = newSecret('lbt');
  const id = newId('tok');
  const createdAt = Date.now();
  await store.db.insertInto('api_tokens').values({ id, token_hash: hashSecret(token), user_id: userId, label, created_at: createdAt, revoked_at: null }).execute();
  return { id, token, label, createdAt };
}

/** Roles by reach: nobody grants a role above their own. */
export const ROLE_RANK: Record<UserRole, number> = { admin: 4, 'partner-admin': 3, 'org-admin': 2, manager: 1, viewer: 0 };
export const mayGrant = (granter: UserRole, role: UserRole): boolean => ROLE_RANK[role] <= ROLE_RANK[granter];

/** One row of the access audit: who did what to whom, when (the detail says how). */
export async function audit(store: Store, e: { orgId: string | null; actorId: string | null; action: string; target: string; detail?: unknown }): Promise<void> {
  await store.db.insertInto('access_audit').values({
    id: newId('aud'), org_id: e.orgId, actor_id: e.actorId, at: Date.now(), action: e.action, target: e.target, detail: JSON.stringify(e.detail ?? {}),
  }).execute();
}

/**
 * A new token of the instance administrator (created on first use). `loyalty admin-token` adds
 * one each call; `loyalty start` prints one labelled 'start' and revokes the previous start's, so
 * restarts do not pile up live tokens.
 */
export async function adminToken(store: Store, label: 'admin-token' | 'start' = 'admin-token'): Promise<string> {
  let admin = await store.db.selectFrom('users').select('id').where('email', '=', ADMIN_EMAIL).executeTakeFirst();
  if (!admin) admin = await createUser(store, { email: ADMIN_EMAIL, name: 'Administrator', role: 'admin' });
  if (label === 'start') {
    await store.db.updateTable('api_tokens').set({ revoked_at: Date.now() })
      .where('user_id', '=', admin.id).where('label', '=', 'start').where('revoked_at', 'is', null).execute();
  }
  return issueToken(store, admin.id, label);
}

// Failed sign-ins per email, so a password cannot be guessed at speed.
const failures = new Map<string, { n: number; until: number }>();
const MAX_FAILURES = 5;
const LOCK_MS = 60_000;

/**
 * The user whose email and password these are, or an error: `rate_limited` after MAX_FAILURES
 * wrong tries in a minute (per email), `invalid_credentials`, or 403 for a disabled account.
 */
export async function checkPassword(store: Store, emailRaw: string, password: string): Promise<string> {
  const email = emailRaw.trim().toLowerCase();
  const now = Date.now();
  const prev = failures.get(email);
  const n = prev && prev.until > now ? prev.n : 0;
  if (n >= MAX_FAILURES) {
    throw new AppError('rate_limited', 'too many failed sign-ins; try again later', undefined, Math.ceil((prev!.until - now) / 1000));
  }
  // Count the attempt before the (slow, asynchronous) hash check: otherwise a burst of parallel
  // guesses would all pass the check above before the first failure was recorded.
  if (failures.size > 10_000) for (const [k, v] of failures) if (v.until <= now) failures.delete(k);
  failures.set(email, { n: n + 1, until: now + LOCK_MS });
  const user = await store.db.selectFrom('users').select(['id', 'password_hash', 'disabled_at']).where('email', '=', email).executeTakeFirst();
  const ok = user?.password_hash ? await verifyPassword(password, user.password_hash) : false;
  if (!ok || !user) throw new AppError('invalid_credentials', 'email or password is wrong');
  failures.delete(email);
  // Said only to whoever knows the password.
  if (user.disabled_at !== null) throw forbidden('this account is disabled; ask your administrator');
  return user.id;
}

export async function signIn(store: Store, email: string, password: string): Promise<string> {
  return issueToken(store, await checkPassword(store, email, password), 'sign-in');
}

/** Last use is written at most once a minute per token: reads stay reads. */
const TOUCH_MS = 60_000;

export async function userByToken(store: Store, token: string): Promise<UserPrincipal | null> {
  const row = await store.db.selectFrom('api_tokens').innerJoin('users', 'users.id', 'api_tokens.user_id')
    .select(['users.id', 'users.role', 'users.org_id', 'users.partner_id', 'users.location_ids', 'users.disabled_at', 'api_tokens.revoked_at', 'api_tokens.last_used_at', 'api_tokens.token_hash'])
    .where('api_tokens.token_hash', '=', hashSecret(token)).executeTakeFirst();
  if (!row || row.revoked_at !== null || row.disabled_at !== null) return null;
  const now = Date.now();
  if (row.last_used_at === null || now - row.last_used_at > TOUCH_MS) {
    await store.db.updateTable('api_tokens').set({ last_used_at: now }).where('token_hash', '=', row.token_hash).execute();
  }
  return principalOfRow(row);
}

export type UserRow = { id: string; role: string; org_id: string | null; partner_id: string | null; location_ids: string | null };
export const principalOfRow = (row: UserRow): UserPrincipal => ({
  kind: 'user', userId: row.id, role: row.role as UserRole, orgId: row.org_id, partnerId: row.partner_id,
  locationIds: row.location_ids ? (JSON.parse(row.location_ids) as string[]) : null,
});

export type OrgRow = OrgsTable;
export type Need = 'read' | 'admin';

/**
 * The organisation if `p` may read it (or administer it, with need = 'admin').
 * Someone outside the org gets 403 whether or not it exists, so ids cannot be probed.
 */
export async function orgAccess(store: Store, p: Principal, orgId: string, need: Need): Promise<OrgRow> {
  if (p.kind !== 'user') throw forbidden('device tokens cannot use this route');
  const org = await store.db.selectFrom('orgs').selectAll().where('id', '=', orgId).executeTakeFirst();
  if (p.role === 'admin') {
    if (!org) throw notFound('organisation');
    return org;
  }
  const member = org && (p.role === 'partner-admin' ? org.partner_id !== null && org.partner_id === p.partnerId : p.orgId === org.id);
  if (!org || !member) throw forbidden('this organisation is not yours');
  if (need === 'admin' && p.role !== 'partner-admin' && p.role !== 'org-admin') throw forbidden(`role ${p.role} cannot change this organisation`);
  return org;
}

/** Locations a principal is limited to within an org (managers); null = all. */
export const locationLimit = (p: Principal): string[] | null => (p.kind === 'user' && p.role === 'manager' ? p.locationIds ?? [] : null);
