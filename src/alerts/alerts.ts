// Alerts and their lifecycle (README "Alerts"): open → acknowledged → closed (by a person with a
// comment, or automatically when the figures recover). Every transition and comment is an
// alert_events row (who, when, what). Raising is idempotent: the unique open_key keeps one open
// alert per (rule, location or device), and a re-fire updates it (last seen, value, peak).
// Notifications go to the outbox in the same transaction, so none is lost with a crash.
import type { Kysely, Transaction } from 'kysely';
import type { Store } from '../store/db.ts';
import type { AlertsTable, DB } from '../store/schema.ts';
import { newId } from '../domain/ids.ts';
import { conflict, forbidden, invalidField, notFound } from '../domain/errors.ts';
import { localParts } from '../domain/time.ts';
import { ruleOf, type Rule } from './rules.ts';

export const ALERT_STATES = ['open', 'acknowledged', 'closed'] as const;
export type AlertState = (typeof ALERT_STATES)[number];

export type Alert = {
  id: string; orgId: string; ruleId: string; kind: string; locationId: string | null; deviceId: string | null;
  state: AlertState; openedAt: string; lastSeenAt: string; value: number | null; peak: number | null;
  detail: Record<string, unknown>; link: string;
  acknowledgedBy: string | null; acknowledgedAt: string | null; closedBy: string | null; closedAt: string | null;
  closeReason: 'manual' | 'recovered' | null;
};
export type AlertEvent = { id: string; at: string; userId: string | null; action: string; comment: string | null; detail: Record<string, unknown> | null };

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
export function alertOf(r: AlertsTable): Alert {
  return {
    id: r.id, orgId: r.org_id, ruleId: r.rule_id, kind: r.kind, locationId: r.location_id, deviceId: r.device_id,
    state: r.state as AlertState, openedAt: iso(r.opened_at)!, lastSeenAt: iso(r.last_seen_at)!,
    value: r.value === null ? null : Number(r.value), peak: r.peak === null ? null : Number(r.peak),
    detail: JSON.parse(r.detail) as Record<string, unknown>, link: r.link,
    acknowledgedBy: r.acked_by, acknowledgedAt: iso(r.acked_at), closedBy: r.closed_by, closedAt: iso(r.closed_at),
    closeReason: r.close_reason as Alert['closeReason'],
  };
}

type Db = Kysely<DB> | Transaction<DB>;

async function event(db: Db, a: { id: string; org_id: string }, at: number, action: string, userId: string | null, comment: string | null, detail: unknown = null): Promise<void> {
  await db.insertInto('alert_events').values({ id: newId('ale'), alert_id: a.id, org_id: a.org_id, at, user_id: userId, action, comment, detail: detail === null ? null : JSON.stringify(detail) }).execute();
}

// ---- Quiet hours

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * When a notification raised at `now` may go out: now, or the end of the rule's quiet hours in the
 * location's zone (deferred, not dropped). Critical rules bypass quiet hours.
 */
export function deliverAt(rule: Pick<Rule, 'quietHours' | 'critical'>, timezone: string, now: number): number {
  const q = rule.quietHours;
  if (!q || rule.critical) return now;
  const lp = localParts(timezone, now);
  const m = lp.minuteOfDay, s = minutesOf(q.start), e = minutesOf(q.end);
  const quiet = s < e ? m >= s && m < e : m >= s || m < e;
  if (!quiet) return now;
  const wait = (e - m + 1440) % 1440;
  // From the start of the current local minute; a DST change inside the quiet hours shifts it by the change.
  return now - (now % 60_000) + wait * 60_000;
}

// ---- Raising and recovering (the evaluator)

export type Finding = {
  locationId: string | null; deviceId: string | null; timezone: string;
  value: number | null;
  /** Which way is worse, for the peak: 'low' (a score, a battery) or 'high' (a spike's significance). */
  worse: 'low' | 'high';
  detail: Record<string, unknown>; link: string;
};

const subjectOf = (f: { locationId: string | null; deviceId: string | null }): string => f.deviceId ?? f.locationId ?? 'org';

/** Opens an alert for the finding, or updates the open one of the same rule and subject. Returns the alert id and whether it is new. */
export async function raise(store: Store, rule: Rule, f: Finding, now: number): Promise<{ id: string; opened: boolean }> {
  const key = `${rule.id}|${subjectOf(f)}`;
  const existing = await store.db.selectFrom('alerts').selectAll().where('open_key', 'in', [key, `${key}${HELD}`]).executeTakeFirst();
  if (existing?.state === 'closed') return { id: existing.id, opened: false }; // closed by a person: held until it recovers
  if (existing) {
    const prevPeak = existing.peak === null ? null : Number(existing.peak);
    const peak = f.value === null ? prevPeak : prevPeak === null ? f.value : f.worse === 'low' ? Math.min(prevPeak, f.value) : Math.max(prevPeak, f.value);
    await store.db.updateTable('alerts').set({ last_seen_at: now, value: f.value, peak, detail: JSON.stringify(f.detail) }).where('id', '=', existing.id).execute();
    return { id: existing.id, opened: false };
  }
  const row: AlertsTable = {
    id: newId('alt'), org_id: rule.orgId, rule_id: rule.id, kind: rule.kind, location_id: f.locationId, device_id: f.deviceId,
    open_key: key, state: 'open', opened_at: now, last_seen_at: now, value: f.value, peak: f.value, detail: JSON.stringify(f.detail), link: f.link,
    acked_by: null, acked_at: null, closed_by: null, closed_at: null, close_reason: null,
  };
  try {
    await store.db.transaction().execute(async (trx) => {
      await trx.insertInto('alerts').values(row).execute();
      await event(trx, row, now, 'opened', null, null, f.detail);
      await enqueue(trx, rule, row, 'opened', deliverAt(rule, f.timezone, now), now);
    });
  } catch (e) {
    // Another server node opened it first: the unique open_key decided; that one is the alert.
    if (/unique|duplicate/i.test(String(e))) {
      const other = await store.db.selectFrom('alerts').select('id').where('open_key', '=', key).executeTakeFirst();
      if (other) return { id: other.id, opened: false };
    }
    throw e;
  }
  return { id: row.id, opened: true };
}

/** A person's close keeps the key (with this suffix) until the figures recover, so the same breach does not reopen at once. */
const HELD = '|held';

/** Closes the rule's open alerts whose subject no longer meets the condition ("recovered"), and releases held keys. */
export async function recover(store: Store, rule: Rule, stillFiring: Set<string>, evaluated: Set<string>, now: number, timezoneOf: (a: AlertsTable) => string): Promise<string[]> {
  const open = await store.db.selectFrom('alerts').selectAll().where('rule_id', '=', rule.id).where('open_key', 'is not', null).execute();
  const closed: string[] = [];
  for (const a of open) {
    const subject = subjectOf({ locationId: a.location_id, deviceId: a.device_id });
    if (stillFiring.has(subject) || !evaluated.has(subject)) continue; // not judged this pass (e.g. too few votes): keep it open
    if (a.state === 'closed') {
      await store.db.updateTable('alerts').set({ open_key: null }).where('id', '=', a.id).execute();
      continue;
    }
    await store.db.transaction().execute(async (trx) => {
      const res = await trx.updateTable('alerts').set({ state: 'closed', open_key: null, closed_at: now, closed_by: null, close_reason: 'recovered' })
        .where('id', '=', a.id).where('state', '!=', 'closed').executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) return; // closed meanwhile (a person, another node)
      await event(trx, a, now, 'auto_closed', null, null, { reason: 'recovered' });
      await enqueue(trx, rule, a, 'closed', deliverAt(rule, timezoneOf(a), now), now);
      closed.push(a.id);
    });
  }
  return closed;
}

/** Notifications of an alert: email recipients on opening, webhooks on opening and closing. */
async function enqueue(db: Db, rule: Rule, a: { id: string; org_id: string }, what: 'opened' | 'closed', at: number, now: number): Promise<void> {
  const rows = [
    ...(what === 'opened' ? rule.channels.emails.map((e) => ({ channel: 'email', target: e.to, lang: e.lang })) : []),
    ...rule.channels.webhookIds.map((id) => ({ channel: 'webhook', target: id, lang: 'en' })),
  ];
  for (const r of rows) {
    await db.insertInto('alert_outbox').values({
      id: newId('alo'), org_id: a.org_id, alert_id: a.id, event: what, ...r, state: 'pending', attempts: 0, next_at: at, last_error: null, created_at: now, delivered_at: null,
    }).execute();
  }
}

// ---- People: list, acknowledge, comment, close

export async function listAlerts(store: Store, orgId: string, o: { state?: AlertState | 'active' | undefined; locationId?: string | undefined; onlyLocations: string[] | null; limit: number }): Promise<Alert[]> {
  let q = store.db.selectFrom('alerts').selectAll().where('org_id', '=', orgId);
  if (o.state === 'active') q = q.where('state', '!=', 'closed');
  else if (o.state) q = q.where('state', '=', o.state);
  if (o.locationId) q = q.where('location_id', '=', o.locationId);
  if (o.onlyLocations) q = o.onlyLocations.length ? q.where('location_id', 'in', o.onlyLocations) : q.where(({ lit }) => lit(false));
  const rows = await q.orderBy('opened_at', 'desc').orderBy('id', 'desc').limit(o.limit).execute();
  // Open first, then acknowledged, then closed; newest first within each.
  const rank = { open: 0, acknowledged: 1, closed: 2 } as Record<string, number>;
  return rows.sort((a, b) => rank[a.state]! - rank[b.state]! || b.opened_at - a.opened_at).map(alertOf);
}

async function visibleAlert(store: Store, orgId: string, id: string, onlyLocations: string[] | null): Promise<AlertsTable> {
  const a = await store.db.selectFrom('alerts').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
  if (!a || (onlyLocations && (a.location_id === null || !onlyLocations.includes(a.location_id)))) throw notFound('alert');
  return a;
}

export async function getAlert(store: Store, orgId: string, id: string, onlyLocations: string[] | null): Promise<Alert & { history: AlertEvent[] }> {
  const a = await visibleAlert(store, orgId, id, onlyLocations);
  const ev = await store.db.selectFrom('alert_events').selectAll().where('alert_id', '=', id).orderBy('at').orderBy('id').execute();
  return {
    ...alertOf(a),
    history: ev.map((e) => ({ id: e.id, at: iso(e.at)!, userId: e.user_id, action: e.action, comment: e.comment, detail: e.detail ? (JSON.parse(e.detail) as Record<string, unknown>) : null })),
  };
}

function commentOf(body: { comment?: unknown } | null | undefined, required: boolean): string | null {
  const c = body?.comment;
  if (c === undefined || c === null || (typeof c === 'string' && !c.trim())) {
    if (required) throw invalidField('comment', 'comment is required: say what was done or why');
    return null;
  }
  if (typeof c !== 'string') throw invalidField('comment', 'comment must be a string');
  if (c.length > 2000) throw invalidField('comment', 'comment must be at most 2000 characters');
  return c.trim();
}

export type Act = 'ack' | 'comment' | 'close';

/** A person acts on an alert: acknowledge (optional comment), comment, close (comment required). Viewers may not. */
export async function act(store: Store, orgId: string, id: string, user: { userId: string; role: string }, what: Act, body: { comment?: unknown } | null | undefined, onlyLocations: string[] | null, now = Date.now()): Promise<Alert & { history: AlertEvent[] }> {
  if (user.role === 'viewer') throw forbidden('a viewer cannot act on alerts');
  const comment = commentOf(body, what !== 'ack');
  const a = await visibleAlert(store, orgId, id, onlyLocations);
  await store.db.transaction().execute(async (trx) => {
    if (what === 'comment') {
      await event(trx, a, now, 'commented', user.userId, comment);
      return;
    }
    if (a.state === 'closed') throw conflict(`the alert is already closed`, 'state');
    if (what === 'ack') {
      if (a.state === 'acknowledged') throw conflict('the alert is already acknowledged', 'state');
      const res = await trx.updateTable('alerts').set({ state: 'acknowledged', acked_by: user.userId, acked_at: now }).where('id', '=', a.id).where('state', '=', 'open').executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) throw conflict('the alert changed meanwhile; reload it', 'state');
      await event(trx, a, now, 'acknowledged', user.userId, comment);
      return;
    }
    const res = await trx.updateTable('alerts').set({ state: 'closed', open_key: a.open_key === null ? null : `${a.open_key}${HELD}`, closed_by: user.userId, closed_at: now, close_reason: 'manual' })
      .where('id', '=', a.id).where('state', '!=', 'closed').executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) throw conflict('the alert changed meanwhile; reload it', 'state');
    await event(trx, a, now, 'closed', user.userId, comment);
    const rule = await trx.selectFrom('alert_rules').selectAll().where('id', '=', a.rule_id).executeTakeFirst();
    const loc = a.location_id ? await trx.selectFrom('locations').select('timezone').where('id', '=', a.location_id).executeTakeFirst() : undefined;
    if (rule) { const r = ruleOf(rule); await enqueue(trx, r, a, 'closed', deliverAt(r, loc?.timezone ?? 'UTC', now), now); }
  });
  return getAlert(store, orgId, id, onlyLocations);
}
