// The alert evaluator (README "Alerts"): every enabled rule of every org, judged at an explicit
// `now` — by the periodic AlertEvaluator (every minute by default) or by tests. Safe with several
// server nodes: raising is idempotent on the unique open_key, closing is compare-and-set.
import type { Store } from '../store/db.ts';
import type { AlertsTable } from '../store/schema.ts';
import { addDays, localParts, todayIn, weekdayOf } from '../domain/time.ts';
import { scoringOf } from '../orgs/orgs.ts';
import { scores } from '../scores/scores.ts';
import { deriveHealth, fleetThresholdsOf } from '../devices/fleet.ts';
import { flushSeen } from '../devices/seen.ts';
import { baselineP0, spikeAlpha, spikeTest, SPIKE, type Press } from './spike.ts';
import { raise, recover, type Finding } from './alerts.ts';
import { ruleOf, type Rule } from './rules.ts';

export type EvaluateOptions = {
  publicUrl?: string | undefined;
  /** Only this org's rules (tests, a manual run); default all. */
  orgId?: string | undefined;
  /** A rule that fails (a bad row, a lost connection) is reported here and the others still run; default: rethrow. */
  onRuleError?: ((err: unknown, ruleId: string) => void) | undefined;
};
export type EvaluationResult = { rules: number; opened: string[]; updated: string[]; closed: string[] };

type Loc = { id: string; name: string; timezone: string };
type Judged = { evaluated: Set<string>; findings: Finding[] };

const base = (o: EvaluateOptions): string => (o.publicUrl ?? '').replace(/\/+$/, '');
/**
 * The location's dashboard view for local days [from, to]; `days` (7, 30 or 90, the smallest that
 * reaches back to `from` from today) is the period the dashboard's location page shows.
 */
function locLink(o: EvaluateOptions, orgId: string, locId: string, from: string, to: string, today: string): string {
  const span = Math.round((Date.parse(today) - Date.parse(from)) / 86_400_000) + 1;
  const days = span <= 7 ? 7 : span <= 30 ? 30 : 90;
  return `${base(o)}/orgs/${orgId}/locations/${locId}?from=${from}&to=${to}&days=${days}`;
}

/** Evaluates every enabled rule at `now`; returns what it opened, updated and closed. */
export async function evaluateAlerts(store: Store, now: number, o: EvaluateOptions = {}): Promise<EvaluationResult> {
  let q = store.db.selectFrom('alert_rules').selectAll().where('enabled', '=', 1);
  if (o.orgId) q = q.where('org_id', '=', o.orgId);
  const rules = (await q.orderBy('org_id').orderBy('id').execute()).map(ruleOf);
  const out: EvaluationResult = { rules: rules.length, opened: [], updated: [], closed: [] };
  if (rules.some((r) => r.kind === 'device_offline' || r.kind === 'battery_low')) await flushSeen(store);
  for (const rule of rules) {
    try {
      await evaluateRule(store, rule, now, o, out);
    } catch (e) {
      if (!o.onRuleError) throw e;
      o.onRuleError(e, rule.id);
    }
  }
  return out;
}

async function evaluateRule(store: Store, rule: Rule, now: number, o: EvaluateOptions, out: EvaluationResult): Promise<void> {
  {
    const org = await store.db.selectFrom('orgs').select(['id', 'settings']).where('id', '=', rule.orgId).executeTakeFirst();
    if (!org) return;
    let locs: Loc[] = await store.db.selectFrom('locations').select(['id', 'name', 'timezone']).where('org_id', '=', rule.orgId).execute();
    if (rule.locationIds) locs = locs.filter((l) => rule.locationIds!.includes(l.id));
    const judged = rule.kind === 'score_below' ? await scoreBelow(store, rule, org.settings, locs, now, o)
      : rule.kind === 'spike' ? await spike(store, rule, locs, now, o)
      : await devices(store, rule, org.settings, locs, now, o);
    const firing = new Set<string>();
    for (const f of judged.findings) {
      firing.add(f.deviceId ?? f.locationId ?? 'org');
      const r = await raise(store, rule, f, now);
      (r.opened ? out.opened : out.updated).push(r.id);
    }
    const tz = new Map(locs.map((l) => [l.id, l.timezone]));
    out.closed.push(...await recover(store, rule, firing, judged.evaluated, now, (a: AlertsTable) => tz.get(a.location_id ?? '') ?? 'UTC'));
  }
}

/** score_below: the location's 1–5 score over the last windowDays local days (today included); no score under the org's minimum sample. */
async function scoreBelow(store: Store, rule: Rule, settings: string, locs: Loc[], now: number, o: EvaluateOptions): Promise<Judged> {
  const scoring = scoringOf(settings);
  const j: Judged = { evaluated: new Set(), findings: [] };
  for (const l of locs) {
    const to = todayIn(l.timezone, now);
    const from = addDays(to, -((rule.params.windowDays ?? 7) - 1));
    const row = (await scores(store, rule.orgId, scoring, { from, to, by: 'total', locationId: l.id })).rows[0];
    if (!row || row.score === null) continue; // too few votes to judge: neither fire nor recover
    j.evaluated.add(l.id);
    if (row.score < rule.params.threshold!) {
      j.findings.push({
        locationId: l.id, deviceId: null, timezone: l.timezone, value: row.score, worse: 'low',
        detail: { location: l.name, score: row.score, share: row.share, total: row.total, threshold: rule.params.threshold, from, to, minSample: scoring.minSample },
        link: locLink(o, rule.orgId, l.id, from, to, to),
      });
    }
  }
  return j;
}

/**
 * spike: firing while some window ending at a dissatisfied press in the last recoverMinutes is
 * significant (src/alerts/spike.ts); so an alert closes itself recoverMinutes after its last
 * significant window. Baseline: the location's hour rollups of the last baselineWeeks weeks.
 */
async function spike(store: Store, rule: Rule, locs: Loc[], now: number, o: EvaluateOptions): Promise<Judged> {
  const j: Judged = { evaluated: new Set(), findings: [] };
  const longest = Math.max(...SPIKE.windowsMinutes) * 60_000;
  const from = now - SPIKE.recoverMinutes * 60_000;
  for (const l of locs) {
    j.evaluated.add(l.id);
    const votes = await store.db.selectFrom('votes').select(['ts', 'button'])
      .where('org_id', '=', rule.orgId).where('location_id', '=', l.id).where('flags', 'is', null)
      .where('ts', '>', from - longest).where('ts', '<=', now).orderBy('ts').execute();
    const presses: Press[] = votes.map((v) => ({ ts: Number(v.ts), dissatisfied: v.button === 'dissatisfied' }));
    if (!presses.some((p) => p.dissatisfied && p.ts > from)) continue;
    const today = todayIn(l.timezone, now);
    const rows = await store.db.selectFrom('rollups').select(['bucket', 'satisfied', 'dissatisfied'])
      .where('org_id', '=', rule.orgId).where('cube', '=', 'L').where('grain', '=', 'h').where('location_id', '=', l.id)
      .where('bucket', '>=', `${addDays(today, -7 * SPIKE.baselineWeeks)}T00`).where('bucket', '<', `${today}T00`).execute();
    const cells = new Map<string, { black: number; total: number }>();
    const overall = { black: 0, total: 0 };
    const days = new Set<string>();
    for (const r of rows) {
      const key = `${weekdayOf(r.bucket.slice(0, 10))}-${Number(r.bucket.slice(11, 13))}`;
      const c = cells.get(key) ?? (cells.set(key, { black: 0, total: 0 }), cells.get(key)!);
      const black = Number(r.dissatisfied), total = black + Number(r.satisfied);
      c.black += black; c.total += total; overall.black += black; overall.total += total;
      if (total) days.add(r.bucket.slice(0, 10));
    }
    // Dissatisfied presses per week over the weeks that had any data (a new location has fewer than baselineWeeks).
    const weeks = Math.max(1, Math.min(SPIKE.baselineWeeks, Math.ceil(days.size / 7)));
    const alpha = spikeAlpha(overall.black / weeks, rule.params.falseAlarmsPerWeek);
    const p0At = (ts: number): number => {
      const lp = localParts(l.timezone, ts);
      return baselineP0(cells.get(`${lp.weekday}-${lp.hour}`) ?? { black: 0, total: 0 }, overall);
    };
    const r = spikeTest(presses, p0At, alpha, from, now);
    if (!r?.alarm) continue;
    const day = localParts(l.timezone, r.at).day;
    j.findings.push({
      locationId: l.id, deviceId: null, timezone: l.timezone, value: r.pValue, worse: 'low',
      detail: { location: l.name, at: new Date(r.at).toISOString(), windowMinutes: r.windowMinutes, votes: r.n, dissatisfied: r.k, baseline: r.p0, pValue: r.pValue, alpha, weekday: localParts(l.timezone, r.at).weekday, hour: localParts(l.timezone, r.at).hour },
      link: locLink(o, rule.orgId, l.id, day, day, today),
    });
  }
  return j;
}

/** device_offline / battery_low: each placed device's health now (src/devices/fleet.ts deriveHealth, the org's thresholds). */
async function devices(store: Store, rule: Rule, settings: string, locs: Loc[], now: number, o: EvaluateOptions): Promise<Judged> {
  const j: Judged = { evaluated: new Set(), findings: [] };
  const t = fleetThresholdsOf(settings);
  const byId = new Map(locs.map((l) => [l.id, l]));
  const rows = await store.db.selectFrom('devices')
    .innerJoin('device_assignments', (jn) => jn.onRef('device_assignments.device_id', '=', 'devices.id')
      .on('device_assignments.valid_from', '<=', now)
      .on((eb) => eb.or([eb('device_assignments.valid_to', 'is', null), eb('device_assignments.valid_to', '>', now)])))
    .select(['devices.id', 'devices.name', 'devices.claimed_at', 'devices.last_seen_at', 'devices.battery', 'device_assignments.location_id'])
    .where('devices.org_id', '=', rule.orgId).where('devices.retired_at', 'is', null).execute();
  for (const d of rows) {
    const l = byId.get(d.location_id);
    if (!l) continue; // outside the rule's scope
    const h = deriveHealth({ claimedAt: d.claimed_at, lastSeenAt: d.last_seen_at, battery: d.battery }, t, now);
    const day = todayIn(l.timezone, now);
    const common = { locationId: l.id, deviceId: d.id, timezone: l.timezone, link: locLink(o, rule.orgId, l.id, day, day, day) };
    const lastSeenAt = d.last_seen_at === null ? null : new Date(Number(d.last_seen_at)).toISOString();
    if (rule.kind === 'device_offline') {
      if (h.state === 'unclaimed' || h.state === 'never_seen') continue;
      j.evaluated.add(d.id);
      if (h.state === 'offline') j.findings.push({ ...common, value: null, worse: 'low', detail: { location: l.name, device: d.name ?? d.id, lastSeenAt, offlineAfterMinutes: t.offlineAfterMinutes } });
    } else {
      if (d.battery === null) continue;
      const limit = rule.params.batteryPercent ?? t.lowBatteryPercent;
      j.evaluated.add(d.id);
      if (Number(d.battery) < limit) j.findings.push({ ...common, value: Number(d.battery), worse: 'low', detail: { location: l.name, device: d.name ?? d.id, battery: Number(d.battery), below: limit, lastSeenAt } });
    }
  }
  return j;
}

/** Runs evaluateAlerts every intervalMs; one pass at a time; errors go to onError and never stop it. */
export class AlertEvaluator {
  readonly #store: Store;
  readonly #o: EvaluateOptions & { intervalMs: number; onError: (e: unknown) => void };
  clock: () => number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<EvaluationResult> | null = null;
  constructor(store: Store, o: EvaluateOptions & { intervalMs?: number | undefined; clock?: (() => number) | undefined; onError?: ((e: unknown) => void) | undefined } = {}) {
    this.#store = store;
    const onError = o.onError ?? (() => {});
    this.#o = { publicUrl: o.publicUrl, intervalMs: o.intervalMs ?? 60_000, onError, onRuleError: (err, ruleId) => onError(Object.assign(err instanceof Error ? err : new Error(String(err)), { ruleId })) };
    this.clock = o.clock ?? Date.now;
  }
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => { if (!this.#running) void this.run().catch(this.#o.onError); }, this.#o.intervalMs);
    this.#timer.unref();
  }
  run(now = this.clock()): Promise<EvaluationResult> {
    this.#running ??= evaluateAlerts(this.#store, now, this.#o).finally(() => { this.#running = null; });
    return this.#running;
  }
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => {});
  }
}
