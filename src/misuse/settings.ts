// Per-organisation settings of the fake-press filter (issue 6), stored under `misuse` in the org's
// settings JSON like `scoring` and `fleet`. Only overrides are stored; the effective settings are
// the documented defaults (README "Fake-press defence") with the overrides on top.
import type { Kysely, Transaction } from 'kysely';
import type { Store } from '../store/db.ts';
import type { DB } from '../store/schema.ts';
import { invalidField, notFound } from '../domain/errors.ts';

export type MisuseSettings = {
  /** Master switch: false = the rules do not run: new votes are counted, votes already flagged stay as they are. */
  enabled: boolean;
  /** repeat: a press of the same button on the same device less than this many seconds after the previous one. 0 = rule off. */
  repeatWindowSeconds: number;
  /** burst: more than `burstMaxPresses` (non-repeat) presses on one device within `burstWindowSeconds`. */
  burstMaxPresses: number;
  burstWindowSeconds: number;
  /** streak: a run of at least `streakMinRun` (non-repeat) same-button presses, each less than `streakMaxGapSeconds` after the previous. */
  streakMinRun: number;
  streakMaxGapSeconds: number;
  /** off_hours: flag presses outside the location's opening hours (a location without hours is always open). */
  offHours: boolean;
  /** camera: with a camera at the press's place, flag presses with nobody in front of it, and presses beyond the first of one person's many. */
  camera: boolean;
  /** camera: a sighting counts for a press when at most this many seconds from it (either side). */
  cameraToleranceSeconds: number;
  /** camera: the camera watches a press when it reported anything (even 0 people) at most this many seconds from it. */
  cameraCoverageSeconds: number;
  /** camera: one continuous presence of a single person with more than this many presses: all but its first are flagged. */
  cameraMaxVotesPerPerson: number;
  /** above_visitors: in a local hour with visitor counts, counted presses beyond the people counted are flagged, latest first. */
  aboveVisitors: boolean;
  /** Review queue: flagged presses of one device at most this many minutes apart form one episode. */
  episodeGapMinutes: number;
};

export const MISUSE_DEFAULTS: MisuseSettings = {
  enabled: true,
  repeatWindowSeconds: 10, // = the device setting's default: the device itself ignores such presses
  burstMaxPresses: 8,
  burstWindowSeconds: 60,
  streakMinRun: 5,
  streakMaxGapSeconds: 20,
  offHours: true,
  camera: true,
  cameraToleranceSeconds: 30,
  cameraCoverageSeconds: 600,
  cameraMaxVotesPerPerson: 2,
  aboveVisitors: true,
  episodeGapMinutes: 10,
};

/** Bounds of each numeric field (inclusive); the PUT route answers 400 naming the field outside them. */
export const MISUSE_BOUNDS: Record<Exclude<keyof MisuseSettings, 'enabled' | 'offHours' | 'camera' | 'aboveVisitors'>, [number, number]> = {
  repeatWindowSeconds: [0, 3600],
  burstMaxPresses: [2, 1000],
  burstWindowSeconds: [1, 3600],
  streakMinRun: [2, 100],
  streakMaxGapSeconds: [1, 3600],
  cameraToleranceSeconds: [1, 600],
  cameraCoverageSeconds: [10, 86_400],
  cameraMaxVotesPerPerson: [1, 100],
  episodeGapMinutes: [1, 1440],
};
const BOOLEAN_KEYS = ['enabled', 'offHours', 'camera', 'aboveVisitors'] as const;
/** Settings of the review queue, not of a place: a location cannot override them. */
const ORG_ONLY = ['episodeGapMinutes'] as const;

/** Validates a PUT body: every field optional, null resets it to the default; unknown fields are refused. */
export function validateMisusePatch(body: unknown, forLocation = false): Partial<Record<keyof MisuseSettings, number | boolean | null>> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalidField('body', 'the body must be a JSON object');
  const out: Partial<Record<keyof MisuseSettings, number | boolean | null>> = {};
  for (const [k, v] of Object.entries(body)) {
    if (forLocation && (ORG_ONLY as readonly string[]).includes(k)) throw invalidField(k, `${k} is set for the whole organisation, not per location`);
    if ((BOOLEAN_KEYS as readonly string[]).includes(k)) {
      if (v !== null && typeof v !== 'boolean') throw invalidField(k, `${k} must be true, false or null (default)`);
      out[k as keyof MisuseSettings] = v as boolean | null;
    } else if (k in MISUSE_BOUNDS) {
      const [lo, hi] = MISUSE_BOUNDS[k as keyof typeof MISUSE_BOUNDS];
      if (v !== null && (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi)) {
        throw invalidField(k, `${k} must be an integer from ${lo} to ${hi}, or null (default)`);
      }
      out[k as keyof MisuseSettings] = v as number | null;
    } else {
      throw invalidField(k, `unknown setting "${k}"; known: ${Object.keys(MISUSE_DEFAULTS).join(', ')}`);
    }
  }
  return out;
}

type OrgSettingsJson = Record<string, unknown> & { misuse?: Partial<MisuseSettings>; misuseLocations?: Record<string, Partial<MisuseSettings>> };

/** An org's misuse settings: its own, and each location's overrides on top of them. */
export type OrgMisuse = { org: MisuseSettings; locations: Map<string, MisuseSettings> };
export function orgMisuseOf(settingsJson: string): OrgMisuse {
  const all = JSON.parse(settingsJson) as OrgSettingsJson;
  const org = { ...MISUSE_DEFAULTS, ...(all.misuse ?? {}) };
  const locations = new Map(Object.entries(all.misuseLocations ?? {}).map(([id, o]) => [id, { ...org, ...o, episodeGapMinutes: org.episodeGapMinutes }]));
  return { org, locations };
}
/** The settings that judge presses at `locationId`. */
export const settingsAt = (m: OrgMisuse, locationId: string): MisuseSettings => m.locations.get(locationId) ?? m.org;

export async function misuseSettings(store: Store, orgId: string): Promise<{ settings: MisuseSettings; overrides: Partial<MisuseSettings>; locations: Record<string, Partial<MisuseSettings>> }> {
  const org = await store.db.selectFrom('orgs').select('settings').where('id', '=', orgId).executeTakeFirst();
  if (!org) throw notFound('organisation');
  const all = JSON.parse(org.settings) as OrgSettingsJson;
  const overrides = all.misuse ?? {};
  return { settings: { ...MISUSE_DEFAULTS, ...overrides }, overrides, locations: all.misuseLocations ?? {} };
}

/** A location's effective settings (defaults ← org ← location), its own overrides and the org's. */
export async function locationMisuseSettings(store: Store, orgId: string, locationId: string) {
  await requireLocation(store, orgId, locationId);
  const { settings: orgSettings, locations } = await misuseSettings(store, orgId);
  const overrides = locations[locationId] ?? {};
  return { locationId, settings: { ...orgSettings, ...overrides }, overrides, orgSettings };
}

async function requireLocation(store: Store, orgId: string, locationId: string): Promise<void> {
  const loc = await store.db.selectFrom('locations').select('id').where('id', '=', locationId).where('org_id', '=', orgId).executeTakeFirst();
  if (!loc) throw notFound('location');
}

const applyPatch = (current: Record<string, unknown> | undefined, patch: Record<string, unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = { ...(current ?? {}) };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
};

/** Applies a validated patch; returns the effective settings. Takes effect for votes evaluated from now on. */
export async function setMisuseSettings(store: Store, orgId: string, body: unknown) {
  const patch = validateMisusePatch(body);
  await store.db.transaction().execute(async (trx) => {
    const org = await trx.selectFrom('orgs').select('settings').where('id', '=', orgId).executeTakeFirst();
    if (!org) throw notFound('organisation');
    const all = JSON.parse(org.settings) as OrgSettingsJson;
    await trx.updateTable('orgs').set({ settings: JSON.stringify({ ...all, misuse: applyPatch(all.misuse, patch) }) }).where('id', '=', orgId).execute();
  });
  cacheOf(store).delete(orgId);
  return misuseSettings(store, orgId);
}

/** Sets a location's overrides (null resets a field to the org's value); the org-only fields are refused. */
export async function setLocationMisuseSettings(store: Store, orgId: string, locationId: string, body: unknown) {
  const patch = validateMisusePatch(body, true);
  await requireLocation(store, orgId, locationId);
  await store.db.transaction().execute(async (trx) => {
    const org = await trx.selectFrom('orgs').select('settings').where('id', '=', orgId).executeTakeFirst();
    if (!org) throw notFound('organisation');
    const all = JSON.parse(org.settings) as OrgSettingsJson;
    const locations = { ...(all.misuseLocations ?? {}) };
    const next = applyPatch(locations[locationId], patch);
    if (Object.keys(next).length) locations[locationId] = next;
    else delete locations[locationId];
    await trx.updateTable('orgs').set({ settings: JSON.stringify({ ...all, misuseLocations: locations }) }).where('id', '=', orgId).execute();
  });
  cacheOf(store).delete(orgId);
  return locationMisuseSettings(store, orgId, locationId);
}

/**
 * How far (ms) the verdict of a press can depend on other presses of its device: a press arriving
 * at t can change verdicts only within [t − R, t + R], and those need context [t − 2R, t + 2R].
 */
export function influenceRadiusMs(s: MisuseSettings): number {
  const w = s.repeatWindowSeconds * 1000;
  return w + Math.max(s.burstWindowSeconds * 1000, (s.streakMinRun - 1) * s.streakMaxGapSeconds * 1000) + 1000;
}

// Ingest reads the settings of the orgs in every batch: they are cached per store for CACHE_MS.
// A change on this node applies at once; other nodes of a cluster see it within CACHE_MS.
const CACHE_MS = 5_000;
const caches = new WeakMap<Store, Map<string, { v: OrgMisuse; at: number }>>();
function cacheOf(store: Store): Map<string, { v: OrgMisuse; at: number }> {
  let c = caches.get(store);
  if (!c) caches.set(store, (c = new Map()));
  return c;
}

/** Effective settings of these orgs and their locations, for ingest (read through `trx`, cached briefly). */
export async function misuseSettingsFor(store: Store, trx: Kysely<DB> | Transaction<DB>, orgIds: string[]): Promise<Map<string, OrgMisuse>> {
  const cache = cacheOf(store);
  const now = Date.now();
  const out = new Map<string, OrgMisuse>();
  const missing: string[] = [];
  for (const id of new Set(orgIds)) {
    const hit = cache.get(id);
    if (hit && now - hit.at < CACHE_MS) out.set(id, hit.v);
    else missing.push(id);
  }
  if (missing.length) {
    const rows = await trx.selectFrom('orgs').select(['id', 'settings']).where('id', 'in', missing).execute();
    if (cache.size > 10_000) cache.clear();
    for (const r of rows) {
      const v = orgMisuseOf(r.settings);
      out.set(r.id, v);
      cache.set(r.id, { v, at: now });
    }
  }
  return out;
}
