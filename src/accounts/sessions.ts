// Browser sessions: the cookie carries an opaque random id, the store keeps only its SHA-256.
// A session ends after IDLE_MS without use, after ABSOLUTE_MS whatever happens, on sign-out, and
// at once when its user is disabled.
import type { Store } from '../store/db.ts';
import { hashSecret, newSecret } from '../domain/ids.ts';
import type { UserPrincipal } from '../domain/types.ts';
import { principalOfRow } from './accounts.ts';

export const SESSION_COOKIE = 'lb_session';
export const IDLE_MS = 7 * 24 * 3_600_000;
export const ABSOLUTE_MS = 30 * 24 * 3_600_000;
/** Use is recorded at most once a minute per session, so reading pages does not write on every call. */
const TOUCH_MS = 60_000;

export async function createSession(store: Store, userId: string, now = Date.now()): Promise<{ id: string; expiresAt: number }> {
  const id = newSecret('lbs');
  const expiresAt = now + ABSOLUTE_MS;
  await store.db.insertInto('sessions').values({ id_hash: hashSecret(id), user_id: userId, created_at: now, last_seen_at: now, expires_at: expiresAt, revoked_at: null }).execute();
  return { id, expiresAt };
}

export async function sessionUser(store: Store, id: string, now = Date.now()): Promise<UserPrincipal | null> {
  const row = await store.db.selectFrom('sessions').innerJoin('users', 'users.id', 'sessions.user_id')
    .select(['users.id', 'users.role', 'users.org_id', 'users.partner_id', 'users.location_ids', 'users.disabled_at',
      'sessions.id_hash', 'sessions.last_seen_at', 'sessions.expires_at', 'sessions.revoked_at'])
    .where('sessions.id_hash', '=', hashSecret(id)).executeTakeFirst();
  if (!row || row.revoked_at !== null || row.disabled_at !== null) return null;
  if (now >= Number(row.expires_at) || now - Number(row.last_seen_at) >= IDLE_MS) return null;
  if (now - Number(row.last_seen_at) > TOUCH_MS) await store.db.updateTable('sessions').set({ last_seen_at: now }).where('id_hash', '=', row.id_hash).execute();
  return principalOfRow(row);
}

export async function revokeSession(store: Store, id: string): Promise<void> {
  await store.db.updateTable('sessions').set({ revoked_at: Date.now() }).where('id_hash', '=', hashSecret(id)).where('revoked_at', 'is', null).execute();
}

/** Every open session of a user (disabled, or their password changed). */
export async function revokeUserSessions(store: Store, userId: string): Promise<void> {
  await store.db.updateTable('sessions').set({ revoked_at: Date.now() }).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
}
