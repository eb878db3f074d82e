// Revocable wall display links: a secret in the URL opens today's figures of one organisation
// (optionally some of its locations), read-only, and nothing else. Revoking takes effect on the
// next request; open live streams on this node close at once (`wallRevoked`), on other nodes at
// their next re-check.
import { EventEmitter } from 'node:events';
import type { Store } from '../store/db.ts';
import type { WallLinksTable } from '../store/schema.ts';
import { hashSecret, newId, newSecret } from '../domain/ids.ts';
import { notFound } from '../domain/errors.ts';
import type { UserPrincipal } from '../domain/types.ts';
import { todayIn } from '../domain/time.ts';
import { listLocations, requireInOrg, scoringOf } from '../orgs/orgs.ts';
import { scores, type ScoreRow } from '../scores/scores.ts';
import type { ScoringSettings } from '../domain/wilson.ts';
import { audit } from './accounts.ts';

/** Emits 'revoked' with the link id. */
export const wallRevoked = new EventEmitter();
wallRevoked.setMaxListeners(0);

export type WallLinkOut = { id: string; label: string; locationIds: string[] | null; createdAt: string; revokedAt: string | null };
const out = (r: WallLinksTable): WallLinkOut => ({
  id: r.id, label: r.label, locationIds: r.location_ids ? (JSON.parse(r.location_ids) as string[]) : null,
  createdAt: new Date(Number(r.created_at)).toISOString(), revokedAt: r.revoked_at === null ? null : new Date(Number(r.revoked_at)).toISOString(),
});

export async function createWallLink(store: Store, actor: UserPrincipal, orgId: string, body: { label: string; locationIds?: string[] | undefined }): Promise<WallLinkOut & { url: string }> {
  for (const [i, id] of (body.locationIds ?? []).entries()) await requireInOrg(store, 'locations', orgId, id, `locationIds[${i}]`);
  const secret = newSecret('lbw');
  const row: WallLinksTable = {
    id: newId('wal'), secret_hash: hashSecret(secret), org_id: orgId, label: body.label,
    location_ids: body.locationIds ? JSON.stringify(body.locationIds) : null, created_by: actor.userId, created_at: Date.now(), revoked_at: null,
  };
  await store.db.insertInto('wall_links').values(row).execute();
  await audit(store, { orgId, actorId: actor.userId, action: 'wall-link.create', target: row.id, detail: { label: body.label, locationIds: body.locationIds ?? null } });
  return { ...out(row), url: `/wall/${secret}` };
}

export async function listWallLinks(store: Store, orgId: string): Promise<WallLinkOut[]> {
  return (await store.db.selectFrom('wall_links').selectAll().where('org_id', '=', orgId).orderBy('created_at', 'desc').execute()).map(out);
}

export async function revokeWallLink(store: Store, actor: UserPrincipal, orgId: string, id: string): Promise<void> {
  const row = await store.db.selectFrom('wall_links').select(['id', 'revoked_at']).where('id', '=', id).where('org_id', '=', orgId).executeTakeFirst();
  if (!row) throw notFound('wall link');
  if (row.revoked_at === null) {
    await store.db.updateTable('wall_links').set({ revoked_at: Date.now() }).where('id', '=', id).execute();
    await audit(store, { orgId, actorId: actor.userId, action: 'wall-link.revoke', target: id });
  }
  wallRevoked.emit('revoked', id);
}

/** The live link a secret opens, or null (unknown or revoked). */
export async function wallBySecret(store: Store, secret: string): Promise<{ id: string; orgId: string; locationIds: string[] | null } | null> {
  const r = await store.db.selectFrom('wall_links').selectAll().where('secret_hash', '=', hashSecret(secret)).executeTakeFirst();
  if (!r || r.revoked_at !== null) return null;
  return { id: r.id, orgId: r.org_id, locationIds: r.location_ids ? (JSON.parse(r.location_ids) as string[]) : null };
}

export type WallView = {
  org: { name: string }; label: string; scoring: ScoringSettings;
  locations: Array<{ id: string; name: string; timezone: string; day: string; today: ScoreRow }>;
};

/** Today's figures of each location of the link, each for its own local day (src/scores). */
export async function wallView(store: Store, link: { id: string; orgId: string; locationIds: string[] | null }, now = Date.now()): Promise<WallView> {
  const org = await store.db.selectFrom('orgs').select(['name', 'settings']).where('id', '=', link.orgId).executeTakeFirstOrThrow();
  const label = (await store.db.selectFrom('wall_links').select('label').where('id', '=', link.id).executeTakeFirstOrThrow()).label;
  const scoring = scoringOf(org.settings);
  const locs = await listLocations(store, link.orgId, link.locationIds);
  const byDay = new Map<string, string[]>();
  for (const l of locs) {
    const d = todayIn(l.timezone, now);
    byDay.set(d, [...(byDay.get(d) ?? []), l.id]);
  }
  const rows = new Map<string, ScoreRow>();
  for (const [day, ids] of byDay) {
    for (const r of (await scores(store, link.orgId, scoring, { from: day, to: day, by: 'location', onlyLocations: ids })).rows) rows.set(r.key, r);
  }
  const empty = (id: string, name: string): ScoreRow => ({ key: id, label: name, satisfied: 0, dissatisfied: 0, total: 0, share: null, wilson: null, score: null, visitors: null, responseRate: null, flagged: 0 });
  return {
    org: { name: org.name }, label, scoring,
    locations: locs.map((l) => ({ id: l.id, name: l.name, timezone: l.timezone, day: todayIn(l.timezone, now), today: rows.get(l.id) ?? empty(l.id, l.name) })),
  };
}
