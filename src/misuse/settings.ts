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
  episodeGapMinutes: 10,
};

/** Bounds of each numeric field (inclusive); the PUT route answers 400 naming the field outside them. */
export const MISUSE_BOUNDS: Record<Exclude<keyof MisuseSettings, 'enabled' | 'offHours'>, [number, number]> = {
  repeatWindowSeconds: [0, 3600],
  burstMaxPresses: [2, 1000],
  burstWindowSeconds: [1, 3600],
  streakMinRun: [2, 100],
  streakMaxGapSeconds: [1, 3600],
  episodeGapMinutes: [1, 1440],
};
const BOOLEAN_KEYS = ['enabled', 'offHours'] as const;

export function misuseOf(settingsJson: string): MisuseSettings {
  const s = JSON.parse(settingsJson) as { misuse?: Partial<MisuseSettings> };
  return { ...MISUSE_DEFAULTS, ...(s.misuse ?? {}) };
}

/** Validates a PUT body: every field optional, null resets it to the default; unknown fields are refused. */
export function validateMisusePatch(body: unknown): Partial<Record<keyof MisuseSettings, number | boolean | null>> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalidField('body', 'the body must be a JSON object');
  const out: Partial<Record<keyof MisuseSettings, number | boolean | null>> = {};
  for (const [k, v] of Object.entries(body)) {
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

export async function misuseSettings(store: Store, orgId: string): Promise<{ settings: MisuseSettings; overrides: Partial<MisuseSettings> }> {
  const org = await store.db.selectFrom('orgs').select('settings').where('id', '=', orgId).executeTakeFirst();
  if (!org) throw notFound('organisation');
  const overrides = (JSON.parse(org.settings) as { misuse?: Partial<MisuseSettings> }).misuse ?? {};
  return { settings: { ...MISUSE_DEFAULTS, ...overrides }, overrides };
}

/** Applies a validated patch; returns the effective settings. Takes effect for votes evaluated from now on. */
export async function setMisuseSettings(store: Store, orgId: string, body: unknown): Promise<{ settings: MisuseSettings; overrides: Partial<MisuseSettings> }> {
  const patch = validateMisusePatch(body);
  return store.db.transaction().execute(async (trx) => {
    const org = await trx.selectFrom('orgs').select('settings').where('id', '=', orgId).executeTakeFirst();
    if (!org) throw notFound('organisation');
    const all = JSON.parse(org.settings) as Record<string, unknown> & { misuse?: Record<string, unknown> };
    const overrides: Record<string, unknown> = { ...(all.misuse ?? {}) };
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete overrides[k];
      else overrides[k] = v;
    }
    await trx.updateTable('orgs').set({ settings: JSON.stringify({ ...all, misuse: overrides }) }).where('id', '=', orgId).execute();
    cacheOf(store).delete(orgId);
    return { settings: { ...MISUSE_DEFAULTS, ...overrides } as MisuseSettings, overrides: overrides as Partial<MisuseSettings> };
  });
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
const caches = new WeakMap<Store, Map<string, { v: MisuseSettings; at: number }>>();
function cacheOf(store: Store): Map<string, { v: MisuseSettings; at: number }> {
  let c = caches.get(store);
  if (!c) caches.set(store, (c = new Map()));
  return c;
}

/** Effective settings of these orgs, for ingest (read through `trx`, cached briefly). */
export async function misuseSettingsFor(store: Store, trx: Kysely<DB> | Transaction<DB>, orgIds: string[]): Promise<Map<string, MisuseSettings>> {
  const cache = cacheOf(store);
  const now = Date.now();
  const out = new Map<string, MisuseSettings>();
  const missing: string[] = [];
  for (const id of orgIds) {
    const hit = cache.get(id);
    if (hit && now - hit.at < CACHE_MS) out.set(id, hit.v);
    else missing.push(id);
  }
  if (missing.length) {
    const rows = await trx.selectFrom('orgs').select(['id', 'settings']).where('id', 'in', missing).execute();
    if (cache.size > 10_000) cache.clear();
    for (const r of rows) {
      const v = misuseOf(r.settings);
      out.set(r.id, v);
      cache.set(r.id, { v, at: now });
    }
  }
  return out;
}
