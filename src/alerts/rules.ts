// Alert rules and webhooks of an organisation (README "Alerts"): stored as rows with JSON columns,
// checked here so every route and the evaluator see the same shape.
import type { Store } from '../store/db.ts';
import type { AlertRulesTable, AlertWebhooksTable } from '../store/schema.ts';
import { newId, newSecret } from '../domain/ids.ts';
import { invalidField, notFound } from '../domain/errors.ts';
import { SPIKE } from './spike.ts';
import type { DestinationPolicy } from './destination.ts';

export const RULE_KINDS = ['score_below', 'spike', 'device_offline', 'battery_low'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];
export const ALERT_LANGS = ['en', 'ru'] as const;
export type AlertLang = (typeof ALERT_LANGS)[number];

export type RuleParams = {
  /** score_below: alert while the 1–5 score is below this (2–5). */
  threshold?: number | undefined;
  /** score_below: the local days counted, today included (1–90, default 7). */
  windowDays?: number | undefined;
  /** battery_low: alert below this percentage (default: the org's fleet lowBatteryPercent). */
  batteryPercent?: number | undefined;
  /** spike: expected false alarms per location per open week the test may spend (default 0.25, 0.05–7). */
  falseAlarmsPerWeek?: number | undefined;
};
export type Recipient = { to: string; lang: AlertLang };
export type Channels = { emails: Recipient[]; webhookIds: string[] };
export type QuietHours = { start: string; end: string };
export type Rule = {
  id: string; orgId: string; name: string; kind: RuleKind; enabled: boolean; critical: boolean;
  locationIds: string[] | null; params: RuleParams; channels: Channels; quietHours: QuietHours | null;
  createdBy: string | null; createdAt: string; updatedBy: string | null; updatedAt: string;
};
export type RuleInput = {
  name: string; kind: RuleKind; enabled?: boolean | undefined; critical?: boolean | undefined;
  locationIds?: string[] | null | undefined; params?: RuleParams | undefined;
  channels?: { emails?: Array<{ to: string; lang?: AlertLang | undefined }> | undefined; webhookIds?: string[] | undefined } | undefined;
  quietHours?: QuietHours | null | undefined;
};

export function ruleOf(r: AlertRulesTable): Rule {
  return {
    id: r.id, orgId: r.org_id, name: r.name, kind: r.kind as RuleKind, enabled: !!r.enabled, critical: !!r.critical,
    locationIds: r.location_ids ? (JSON.parse(r.location_ids) as string[]) : null,
    params: JSON.parse(r.params) as RuleParams, channels: JSON.parse(r.channels) as Channels,
    quietHours: r.quiet_hours ? (JSON.parse(r.quiet_hours) as QuietHours) : null,
    createdBy: r.created_by, createdAt: new Date(Number(r.created_at)).toISOString(), updatedBy: r.updated_by, updatedAt: new Date(Number(r.updated_at)).toISOString(),
  };
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;

/** Checks a rule against the org's locations, users and webhooks; the error names the field. */
async function checked(store: Store, orgId: string, input: RuleInput): Promise<Omit<AlertRulesTable, 'id' | 'org_id' | 'created_by' | 'created_at' | 'updated_by' | 'updated_at'>> {
  const params: RuleParams = {};
  const p = input.params ?? {};
  if (input.kind === 'score_below') {
    if (p.threshold === undefined) throw invalidField('params.threshold', 'score_below needs params.threshold: alert while the 1–5 score is below it (2–5)');
    params.threshold = p.threshold;
    params.windowDays = p.windowDays ?? 7;
  }
  if (input.kind === 'spike') {
    const f = p.falseAlarmsPerWeek ?? SPIKE.falseAlarmsPerOpenWeek;
    if (typeof f !== 'number' || !Number.isFinite(f) || f < SPIKE.minFalseAlarmsPerWeek || f > SPIKE.maxFalseAlarmsPerWeek) {
      throw invalidField('params.falseAlarmsPerWeek', `params.falseAlarmsPerWeek must be a number from ${SPIKE.minFalseAlarmsPerWeek} to ${SPIKE.maxFalseAlarmsPerWeek} (expected false alarms per location per open week)`);
    }
    params.falseAlarmsPerWeek = f;
  }
  if (input.kind === 'battery_low' && p.batteryPercent !== undefined) params.batteryPercent = p.batteryPercent;
  const locationIds = input.locationIds ?? null;
  if (locationIds) {
    if (!locationIds.length) throw invalidField('locationIds', 'locationIds must list at least one location, or be null for all');
    const found = await store.db.selectFrom('locations').select('id').where('org_id', '=', orgId).where('id', 'in', locationIds).execute();
    const known = new Set(found.map((r) => r.id));
    const bad = locationIds.findIndex((id) => !known.has(id));
    if (bad >= 0) throw invalidField(`locationIds[${bad}]`, `${locationIds[bad]} is not a location of this organisation`);
  }
  const emails = input.channels?.emails ?? [];
  const userIds = emails.filter((e) => !e.to.includes('@')).map((e) => e.to);
  const users = userIds.length ? await store.db.selectFrom('users').select('id').where('org_id', '=', orgId).where('id', 'in', userIds).execute() : [];
  const knownUsers = new Set(users.map((u) => u.id));
  emails.forEach((e, i) => {
    if (e.to.includes('@') ? !EMAIL.test(e.to) : !knownUsers.has(e.to)) {
      throw invalidField(`channels.emails[${i}].to`, `${e.to} is neither an email address nor a user of this organisation`);
    }
  });
  const webhookIds = input.channels?.webhookIds ?? [];
  if (webhookIds.length) {
    const hooks = await store.db.selectFrom('alert_webhooks').select('id').where('org_id', '=', orgId).where('id', 'in', webhookIds).execute();
    const known = new Set(hooks.map((h) => h.id));
    const bad = webhookIds.findIndex((id) => !known.has(id));
    if (bad >= 0) throw invalidField(`channels.webhookIds[${bad}]`, `${webhookIds[bad]} is not a webhook of this organisation`);
  }
  const q = input.quietHours ?? null;
  if (q) {
    if (!HHMM.test(q.start)) throw invalidField('quietHours.start', 'quietHours.start must be HH:MM');
    if (!HHMM.test(q.end)) throw invalidField('quietHours.end', 'quietHours.end must be HH:MM');
    if (q.start === q.end) throw invalidField('quietHours.end', 'quiet hours must not be empty');
  }
  return {
    name: input.name.trim(), kind: input.kind, enabled: input.enabled === false ? 0 : 1, critical: input.critical ? 1 : 0,
    location_ids: locationIds ? JSON.stringify(locationIds) : null, params: JSON.stringify(params),
    channels: JSON.stringify({ emails: emails.map((e) => ({ to: e.to.includes('@') ? e.to.trim().toLowerCase() : e.to, lang: e.lang ?? 'en' })), webhookIds }),
    quiet_hours: q ? JSON.stringify({ start: q.start, end: q.end }) : null,
  };
}

export async function createRule(store: Store, orgId: string, userId: string, input: RuleInput, now = Date.now()): Promise<Rule> {
  const row: AlertRulesTable = { id: newId('alr'), org_id: orgId, ...(await checked(store, orgId, input)), created_by: userId, created_at: now, updated_by: userId, updated_at: now };
  await store.db.insertInto('alert_rules').values(row).execute();
  return ruleOf(row);
}

export async function getRule(store: Store, orgId: string, id: string): Promise<Rule> {
  const r = await store.db.selectFrom('alert_rules').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
  if (!r) throw notFound('alert rule');
  return ruleOf(r);
}

export async function listRules(store: Store, orgId: string): Promise<Rule[]> {
  return (await store.db.selectFrom('alert_rules').selectAll().where('org_id', '=', orgId).orderBy('created_at').orderBy('id').execute()).map(ruleOf);
}

/**
 * Replaces a rule's definition (who and when are kept); its open alerts stay and are re-evaluated
 * under it. A disabled rule is not evaluated: its open alerts wait for a person.
 */
export async function updateRule(store: Store, orgId: string, id: string, userId: string, input: RuleInput, now = Date.now()): Promise<Rule> {
  await getRule(store, orgId, id);
  await store.db.updateTable('alert_rules').set({ ...(await checked(store, orgId, input)), updated_by: userId, updated_at: now }).where('id', '=', id).where('org_id', '=', orgId).execute();
  return getRule(store, orgId, id);
}

// Rules are disabled, never deleted: their alerts keep pointing at them (data is flagged, not dropped).

// ---- Webhooks

export type Webhook = { id: string; orgId: string; name: string; url: string; enabled: boolean; createdAt: string };
const webhookOf = (w: AlertWebhooksTable): Webhook => ({ id: w.id, orgId: w.org_id, name: w.name, url: w.url, enabled: !!w.enabled, createdAt: new Date(w.created_at).toISOString() });

/** A new webhook and its signing secret, which is shown only in this answer; its URL must pass `policy` (400 naming `url`). */
export async function createWebhook(store: Store, policy: DestinationPolicy, orgId: string, input: { name: string; url: string }, now = Date.now()): Promise<Webhook & { secret: string }> {
  const row: AlertWebhooksTable = { id: newId('awh'), org_id: orgId, name: input.name.trim(), url: policy.checkUrl(input.url), secret: newSecret('lbw'), enabled: 1, created_at: now };
  await store.db.insertInto('alert_webhooks').values(row).execute();
  return { ...webhookOf(row), secret: row.secret };
}

export async function listWebhooks(store: Store, orgId: string): Promise<Webhook[]> {
  return (await store.db.selectFrom('alert_webhooks').selectAll().where('org_id', '=', orgId).orderBy('created_at').execute()).map(webhookOf);
}

export async function updateWebhook(store: Store, policy: DestinationPolicy, orgId: string, id: string, input: { name?: string | undefined; url?: string | undefined; enabled?: boolean | undefined }): Promise<Webhook> {
  const set: Partial<AlertWebhooksTable> = {};
  if (input.name !== undefined) set.name = input.name.trim();
  if (input.url !== undefined) set.url = policy.checkUrl(input.url);
  if (input.enabled !== undefined) set.enabled = input.enabled ? 1 : 0;
  const q = store.db.updateTable('alert_webhooks').where('org_id', '=', orgId).where('id', '=', id);
  const res = Object.keys(set).length ? await q.set(set).executeTakeFirst() : null;
  const row = await store.db.selectFrom('alert_webhooks').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
  if (!row || (res && Number(res.numUpdatedRows) !== 1)) throw notFound('webhook');
  return webhookOf(row);
}
