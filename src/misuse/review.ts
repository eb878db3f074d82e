// Review of flagged votes: episodes (a device's flagged presses of one main rule grouped when less
// than episodeGapMinutes apart, with the camera's and the counter's evidence), confirm / restore of an episode or of one vote with the rollups moved
// in the same transaction, and the audit log of every decision (who, when, why, before/after).
// A reviewed vote keeps the reviewer's verdict: the rules no longer re-flag it (evaluate.ts).
import type { Store } from '../store/db.ts';
import { newId } from '../domain/ids.ts';
import { invalidField, notFound } from '../domain/errors.ts';
import type { RollupDelta } from '../scores/cubes.ts';
import { upsertRollups } from '../ingest/write.ts';
import { addTransition, lockDevices, type StoredVoteRow } from './evaluate.ts';
import { misuseSettings } from './settings.ts';

export type ReviewAction = 'confirm' | 'restore';
const MAX_EPISODE_ROWS = 50_000;

type ReviewRow = StoredVoteRow & { rule_flags: string | null; reason: string | null };
const parse = (s: string | null): string[] => (s ? (JSON.parse(s) as string[]) : []);

/**
 * The rule an episode is filed under: a press broken by several rules goes with the one that says
 * most about what happened (a burst of children over the repeats inside it; camera evidence over
 * the visitor count), so one abuse makes one episode, not three.
 */
const MAIN_RULE_ORDER = ['burst', 'streak', 'repeat', 'camera', 'above_visitors', 'off_hours'];
export function mainRule(rules: string[]): string {
  return MAIN_RULE_ORDER.find((r) => rules.includes(r)) ?? rules[0] ?? 'review';
}
const rulesOf = (r: ReviewRow): string[] => parse(r.rule_flags ?? r.flags);

/** An episode id names the device, its main rule and the instants of its first and last press: stable while its presses are. */
export const episodeId = (deviceId: string, from: number, to: number, rule: string): string => Buffer.from(`${deviceId}\n${from}\n${to}\n${rule}`).toString('base64url');
export function parseEpisodeId(id: string): { deviceId: string; from: number; to: number; rule: string | null } {
  const parts = Buffer.from(id, 'base64url').toString('utf8').split('\n');
  const [deviceId, from, to, rule] = parts;
  if ((parts.length !== 3 && parts.length !== 4) || !deviceId || !/^\d+$/.test(from ?? '') || !/^\d+$/.test(to ?? '')) throw invalidField('id', 'not an episode id');
  return { deviceId, from: Number(from), to: Number(to), rule: rule ?? null };
}

export type EpisodeFilter = { from: string; to: string; status?: 'pending' | 'confirmed' | 'restored' | 'mixed' | 'all' | undefined; onlyLocations: string[] | null };

/** Flagged (or reviewed) presses of an org by local days, grouped into episodes, newest first. */
export async function listEpisodes(store: Store, orgId: string, f: EpisodeFilter) {
  const { settings } = await misuseSettings(store, orgId);
  const gap = settings.episodeGapMinutes * 60_000;
  let q = store.db.selectFrom('votes')
    .select(['device_id', 'event_id', 'org_id', 'ts', 'button', 'flags', 'review', 'rule_flags', 'reason', 'location_id', 'touchpoint_id', 'employee_id', 'local_day', 'local_hour'])
    .where('org_id', '=', orgId).where('local_day', '>=', f.from).where('local_day', '<=', f.to)
    .where((eb) => eb.or([eb('flags', 'is not', null), eb('review', 'is not', null)]))
    .orderBy('device_id').orderBy('ts').orderBy('event_id').limit(MAX_EPISODE_ROWS);
  if (f.onlyLocations) q = f.onlyLocations.length ? q.where('location_id', 'in', f.onlyLocations) : q.where(({ lit }) => lit(false));
  const rows = (await q.execute()) as ReviewRow[];
  // Per device and main rule, presses at most `gap` apart: one episode.
  const open = new Map<string, ReviewRow[]>();
  const groups: ReviewRow[][] = [];
  for (const r of rows) {
    const k = `${r.device_id}\n${mainRule(rulesOf(r))}`;
    const cur = open.get(k);
    const last = cur?.[cur.length - 1];
    if (cur && last && Number(r.ts) - Number(last.ts) <= gap) cur.push(r);
    else { const g = [r]; groups.push(g); open.set(k, g); }
  }
  const episodes = await Promise.all(groups.map(async (g) => {
    const first = g[0]!;
    const last = g[g.length - 1]!;
    const rules: Record<string, number> = {};
    let pending = 0; let confirmed = 0; let restored = 0;
    for (const r of g) {
      for (const rule of parse(r.rule_flags ?? r.flags)) rules[rule] = (rules[rule] ?? 0) + 1;
      if (r.review === 'confirmed') confirmed++;
      else if (r.review === 'restored') restored++;
      else pending++;
    }
    const status = pending ? 'pending' : confirmed && restored ? 'mixed' : confirmed ? 'confirmed' : 'restored';
    const rule = mainRule(rulesOf(first));
    return {
      id: episodeId(first.device_id, Number(first.ts), Number(last.ts), rule), rule,
      evidence: await evidenceOf(store, orgId, g, settings.cameraToleranceSeconds * 1000),
      deviceId: first.device_id, locationId: first.location_id, touchpointId: first.touchpoint_id, employeeId: first.employee_id,
      from: new Date(Number(first.ts)).toISOString(), to: new Date(Number(last.ts)).toISOString(),
      votes: g.length, pending, confirmed, restored, status, rules,
      satisfied: g.filter((r) => r.button === 'satisfied').length, dissatisfied: g.filter((r) => r.button === 'dissatisfied').length,
      timeline: g.map((r) => ({
        id: r.event_id, ts: new Date(Number(r.ts)).toISOString(), button: r.button, reason: r.reason,
        flagged: parse(r.flags), rules: parse(r.rule_flags ?? r.flags), review: r.review,
      })),
    };
  }));
  const wanted = f.status ?? 'pending';
  return episodes.filter((e) => wanted === 'all' || e.status === wanted).sort((a, b) => (a.from < b.from ? 1 : a.from > b.from ? -1 : 0));
}

/**
 * What backs an episode up: the camera's sightings at its place from a tolerance before its first
 * press to a tolerance after its last (people, clip link), and per local hour of its presses the
 * people the location's counters saw.
 */
async function evidenceOf(store: Store, orgId: string, g: ReviewRow[], tolMs: number) {
  const first = g[0]!;
  const last = g[g.length - 1]!;
  let cq = store.db.selectFrom('camera_events').select(['ts', 'people', 'clip', 'device_id'])
    .where('org_id', '=', orgId).where('location_id', '=', first.location_id)
    .where('ts', '>=', Number(first.ts) - tolMs).where('ts', '<=', Number(last.ts) + tolMs);
  cq = first.touchpoint_id === null ? cq.where('touchpoint_id', 'is', null) : cq.where('touchpoint_id', '=', first.touchpoint_id);
  const camera = (await cq.orderBy('ts').limit(200).execute())
    .map((c) => ({ ts: new Date(Number(c.ts)).toISOString(), people: Number(c.people), clip: c.clip, deviceId: c.device_id }));
  const days = [...new Set(g.map((r) => r.local_day))];
  const hours = new Set(g.map((r) => `${r.local_day} ${Number(r.local_hour)}`));
  const counted = await store.db.selectFrom('visitor_events').select(['local_day', 'local_hour']).select((eb) => eb.fn.sum<number>('in_count').as('people'))
    .where('org_id', '=', orgId).where('location_id', '=', first.location_id).where('local_day', 'in', days)
    .groupBy(['local_day', 'local_hour']).execute();
  const visitors = counted.filter((v) => hours.has(`${v.local_day} ${Number(v.local_hour)}`))
    .map((v) => ({ day: v.local_day, hour: Number(v.local_hour), people: Number(v.people) }))
    .sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : a.hour - b.hour));
  return { camera, visitors };
}

export type ReviewTarget = { scope: 'episode'; deviceId: string; from: number; to: number; rule: string | null } | { scope: 'vote'; deviceId: string; eventId: string };

/**
 * Confirms (held back) or restores (counted) the flagged presses of an episode or one vote.
 * Rollups move in the same transaction; the decision is written to the audit log.
 */
export async function review(store: Store, orgId: string, userId: string, action: ReviewAction, target: ReviewTarget, reason: string, onlyLocations: string[] | null) {
  return store.db.transaction().execute(async (trx) => {
    await lockDevices(store, trx, [target.deviceId]);
    let q = trx.selectFrom('votes')
      .select(['device_id', 'event_id', 'org_id', 'ts', 'button', 'flags', 'review', 'rule_flags', 'reason', 'location_id', 'touchpoint_id', 'employee_id', 'local_day', 'local_hour'])
      .where('org_id', '=', orgId).where('device_id', '=', target.deviceId)
      .where((eb) => eb.or([eb('flags', 'is not', null), eb('review', 'is not', null)]));
    q = target.scope === 'episode' ? q.where('ts', '>=', target.from).where('ts', '<=', target.to) : q.where('event_id', '=', target.eventId);
    if (onlyLocations) q = onlyLocations.length ? q.where('location_id', 'in', onlyLocations) : q.where(({ lit }) => lit(false));
    let rows = (await q.orderBy('ts').orderBy('event_id').execute()) as ReviewRow[];
    if (target.scope === 'episode' && target.rule !== null) rows = rows.filter((r) => mainRule(rulesOf(r)) === target.rule);
    if (!rows.length) throw notFound(target.scope === 'episode' ? 'episode' : 'flagged vote');
    const acc = new Map<string, RollupDelta>();
    const before: unknown[] = [];
    const after: unknown[] = [];
    let moved = 0;
    for (const r of rows) {
      const ruleFlags = r.rule_flags ?? r.flags;
      const flags = action === 'confirm' ? (ruleFlags ?? '["confirmed"]') : null;
      const state = action === 'confirm' ? 'confirmed' : 'restored';
      before.push({ id: r.event_id, flagged: parse(r.flags), review: r.review });
      after.push({ id: r.event_id, flagged: parse(flags), review: state });
      if ((r.flags !== null) !== (flags !== null)) moved++;
      addTransition(acc, r, r.flags !== null, flags !== null);
      await trx.updateTable('votes').set({ flags, review: state, rule_flags: ruleFlags })
        .where('device_id', '=', r.device_id).where('event_id', '=', r.event_id).execute();
    }
    await upsertRollups(store, trx, acc);
    const audit = {
      id: newId('aud'), org_id: orgId, user_id: userId, at: Date.now(), action, reason, scope: target.scope,
      device_id: target.deviceId, votes: rows.length, before: JSON.stringify(before), after: JSON.stringify(after),
    };
    await trx.insertInto('misuse_audit').values(audit).execute();
    return { auditId: audit.id, action, votes: rows.length, moved };
  });
}

export async function listAudit(store: Store, orgId: string, limit: number) {
  const rows = await store.db.selectFrom('misuse_audit').selectAll().where('org_id', '=', orgId).orderBy('at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  return rows.map((r) => ({
    id: r.id, userId: r.user_id, at: new Date(Number(r.at)).toISOString(), action: r.action, reason: r.reason, scope: r.scope,
    deviceId: r.device_id, votes: r.votes, before: JSON.parse(r.before) as unknown, after: JSON.parse(r.after) as unknown,
  }));
}

/** Flagged presses per location and rule over local days [from, to]; a press with two rules counts under each. */
export async function misuseReport(store: Store, orgId: string, from: string, to: string, onlyLocations: string[] | null) {
  let q = store.db.selectFrom('votes').select(['location_id', 'flags', 'review', 'rule_flags'])
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('org_id', '=', orgId).where('local_day', '>=', from).where('local_day', '<=', to)
    .groupBy(['location_id', 'flags', 'review', 'rule_flags']);
  if (onlyLocations) q = onlyLocations.length ? q.where('location_id', 'in', onlyLocations) : q.where(({ lit }) => lit(false));
  const names = new Map((await store.db.selectFrom('locations').select(['id', 'name']).where('org_id', '=', orgId).execute()).map((l) => [l.id, l.name]));
  type Acc = { locationId: string; name: string; votes: number; flagged: number; confirmed: number; restored: number; rules: Record<string, number> };
  const by = new Map<string, Acc>();
  for (const r of await q.execute()) {
    const n = Number(r.n);
    const a = by.get(r.location_id) ?? { locationId: r.location_id, name: names.get(r.location_id) ?? r.location_id, votes: 0, flagged: 0, confirmed: 0, restored: 0, rules: {} };
    by.set(r.location_id, a);
    a.votes += n;
    if (r.flags !== null) a.flagged += n;
    if (r.review === 'confirmed') a.confirmed += n;
    if (r.review === 'restored') a.restored += n;
    if (r.flags !== null) for (const rule of parse(r.flags)) a.rules[rule] = (a.rules[rule] ?? 0) + n;
  }
  const locations = [...by.values()].sort((x, y) => y.flagged - x.flagged || (x.name < y.name ? -1 : 1))
    .map((a) => ({ ...a, flaggedShare: a.votes ? a.flagged / a.votes : null }));
  const rows = locations.flatMap((a) => Object.entries(a.rules).map(([rule, flagged]) => ({ locationId: a.locationId, rule, flagged })));
  return { from, to, locations, rows };
}
