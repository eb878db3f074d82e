// Delivery of alert notifications from the outbox (README "Alerts"): email through the mailer and
// signed webhooks. Each row is claimed by compare-and-set (several server nodes never send one
// twice at once), retried with exponential backoff, and after maxAttempts kept as a dead letter
// that a person can re-drive. The outbox is a table, so pending deliveries survive a restart.
// Webhooks connect only to addresses the destination policy allows (./destination.ts); a refused
// one is a dead letter at once.
import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Store } from '../store/db.ts';
import type { AlertOutboxTable } from '../store/schema.ts';
import type { Mailer } from '../mail/mailer.ts';
import { newId } from '../domain/ids.ts';
import { conflict, notFound } from '../domain/errors.ts';
import { alertOf } from './alerts.ts';
import { alertEmail } from './email.ts';
import type { AlertLang } from './rules.ts';
import { DestinationPolicy, DestinationRefused, type Resolve } from './destination.ts';

export type DeliveryOptions = {
  mailer?: Mailer | null | undefined;
  /** Attempts before a row becomes a dead letter (default 8). */
  maxAttempts?: number | undefined;
  /** First retry delay (default 30 s), doubled per attempt up to maxBackoffMs (default 1 h). */
  backoffMs?: number | undefined;
  maxBackoffMs?: number | undefined;
  /** How long a claim holds a row while it is being sent (default 2 min). */
  claimMs?: number | undefined;
  timeoutMs?: number | undefined;
  /** Where webhooks may connect (default: internal addresses refused). */
  webhooks?: DestinationPolicy | undefined;
  /** The DNS lookup behind the policy's check (default dns.lookup); tests map names to chosen addresses. */
  resolve?: Resolve | undefined;
};

const DEFAULT_POLICY = new DestinationPolicy();

/** The signature header's value: HMAC-SHA256 over "{timestamp}.{body}" with the webhook's secret, hex. */
export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export const backoff = (attempts: number, o: { backoffMs: number; maxBackoffMs: number }): number => Math.min(o.maxBackoffMs, o.backoffMs * 2 ** (attempts - 1));

/** Sends every due row once; returns how many were delivered and failed. */
export async function deliverDue(store: Store, now: number, opts: DeliveryOptions = {}): Promise<{ delivered: number; failed: number; dead: number }> {
  const o = { maxAttempts: opts.maxAttempts ?? 8, backoffMs: opts.backoffMs ?? 30_000, maxBackoffMs: opts.maxBackoffMs ?? 3_600_000, claimMs: opts.claimMs ?? 120_000, timeoutMs: opts.timeoutMs ?? 10_000 };
  const due = await store.db.selectFrom('alert_outbox').selectAll().where('state', '=', 'pending').where('next_at', '<=', now).orderBy('next_at').limit(100).execute();
  const result = { delivered: 0, failed: 0, dead: 0 };
  for (const row of due) {
    const claim = await store.db.updateTable('alert_outbox').set({ next_at: now + o.claimMs })
      .where('id', '=', row.id).where('state', '=', 'pending').where('next_at', '=', row.next_at).executeTakeFirst();
    if (Number(claim.numUpdatedRows) !== 1) continue; // another node has it
    const attempts = row.attempts + 1;
    let error: string | null = null;
    let permanent = false;
    try {
      await send(store, row, now, { mailer: opts.mailer ?? null, timeoutMs: o.timeoutMs, webhooks: opts.webhooks ?? DEFAULT_POLICY, resolve: opts.resolve });
    } catch (e) {
      error = (e instanceof Error ? e.message : String(e)).slice(0, 500);
      // A refused destination stays refused until the webhook or the configuration changes: no
      // retries (which would only probe the address again); a re-drive sends it after the fix.
      permanent = e instanceof DestinationRefused;
    }
    if (error === null) {
      await store.db.updateTable('alert_outbox').set({ state: 'delivered', attempts, delivered_at: now, last_error: null }).where('id', '=', row.id).execute();
      result.delivered++;
    } else {
      const dead = permanent || attempts >= o.maxAttempts;
      await store.db.updateTable('alert_outbox').set({ state: dead ? 'dead' : 'pending', attempts, last_error: error, next_at: dead ? now : now + backoff(attempts, o) }).where('id', '=', row.id).execute();
      if (dead) result.dead++; else result.failed++;
    }
  }
  return result;
}

type SendOptions = { mailer: Mailer | null; timeoutMs: number; webhooks: DestinationPolicy; resolve: Resolve | undefined };

async function send(store: Store, row: AlertOutboxTable, now: number, { mailer, ...o }: SendOptions): Promise<void> {
  const a = await store.db.selectFrom('alerts').selectAll().where('id', '=', row.alert_id).executeTakeFirstOrThrow();
  const alert = alertOf(a);
  const rule = await store.db.selectFrom('alert_rules').select(['name']).where('id', '=', a.rule_id).executeTakeFirstOrThrow();
  const loc = a.location_id ? await store.db.selectFrom('locations').select(['name', 'timezone']).where('id', '=', a.location_id).executeTakeFirst() : undefined;
  if (row.channel === 'email') {
    if (!mailer) throw new Error('mail is not configured (SMTP_URL is unset)');
    let to = row.target;
    if (!to.includes('@')) {
      const u = await store.db.selectFrom('users').select('email').where('id', '=', to).executeTakeFirst();
      if (!u) throw new Error(`user ${to} no longer exists`);
      to = u.email;
    }
    const r = await mailer.send(alertEmail(alert, rule.name, loc?.timezone ?? 'UTC', to, row.lang as AlertLang));
    if (!r.ok) throw new Error(r.error);
    return;
  }
  const hook = await store.db.selectFrom('alert_webhooks').selectAll().where('id', '=', row.target).executeTakeFirst();
  if (!hook) throw new Error(`webhook ${row.target} no longer exists`);
  if (!hook.enabled) throw new Error('webhook is disabled');
  const body = JSON.stringify({ event: `alert.${row.event}`, deliveryId: row.id, sentAt: new Date(now).toISOString(), rule: { id: a.rule_id, name: rule.name }, location: loc && a.location_id ? { id: a.location_id, name: loc.name, timezone: loc.timezone } : null, alert });
  const timestamp = String(Math.floor(now / 1000));
  const status = await post(new URL(hook.url), body, {
    'content-type': 'application/json', 'user-agent': 'LoyaltyButton-Alerts/1', 'x-loyalty-event': `alert.${row.event}`, 'x-loyalty-delivery': row.id, 'x-loyalty-timestamp': timestamp, 'x-loyalty-signature': signature(hook.secret, timestamp, body),
  }, o);
  if (status < 200 || status >= 300) throw new Error(`webhook answered ${status}`);
}

/**
 * POSTs through node:http(s) rather than fetch: its `lookup` option lets the destination policy
 * check the very addresses the socket connects to. Redirects are not followed (a 3xx is a failure);
 * one connection per delivery (no pooled socket outlives its check).
 */
function post(url: URL, body: string, headers: Record<string, string>, o: Omit<SendOptions, 'mailer'>): Promise<number> {
  o.webhooks.checkTarget(url); // a literal address never reaches `lookup`
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
      method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent: false,
      lookup: o.webhooks.lookup(o.resolve), signal: AbortSignal.timeout(o.timeoutMs),
    }, (res) => {
      res.resume(); // the answer's body is not needed
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (e) => reject(e.name === 'AbortError' ? new Error(`webhook did not answer within ${o.timeoutMs} ms`) : e));
    req.end(body);
  });
}

export type OutboxRow = { id: string; alertId: string; event: string; channel: string; target: string; state: string; attempts: number; nextAt: string; lastError: string | null; createdAt: string; deliveredAt: string | null };
const rowOf = (r: AlertOutboxTable): OutboxRow => ({
  id: r.id, alertId: r.alert_id, event: r.event, channel: r.channel, target: r.target, state: r.state, attempts: r.attempts,
  nextAt: new Date(Number(r.next_at)).toISOString(), lastError: r.last_error, createdAt: new Date(Number(r.created_at)).toISOString(),
  deliveredAt: r.delivered_at === null ? null : new Date(Number(r.delivered_at)).toISOString(),
});

export async function listDeliveries(store: Store, orgId: string, state: 'pending' | 'delivered' | 'dead', limit: number): Promise<OutboxRow[]> {
  return (await store.db.selectFrom('alert_outbox').selectAll().where('org_id', '=', orgId).where('state', '=', state).orderBy('created_at', 'desc').limit(limit).execute()).map(rowOf);
}

/** Puts a dead letter back in the queue, due now with a fresh count of attempts; recorded in the alert's history. */
export async function redrive(store: Store, orgId: string, id: string, userId: string, now = Date.now()): Promise<OutboxRow> {
  const row = await store.db.selectFrom('alert_outbox').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('delivery');
  if (row.state !== 'dead') throw conflict(`only dead letters can be re-driven; this one is ${row.state}`, 'state');
  await store.db.transaction().execute(async (trx) => {
    await trx.updateTable('alert_outbox').set({ state: 'pending', attempts: 0, next_at: now }).where('id', '=', id).where('state', '=', 'dead').execute();
    await trx.insertInto('alert_events').values({ id: newId('ale'), alert_id: row.alert_id, org_id: orgId, at: now, user_id: userId, action: 'redriven', comment: null, detail: JSON.stringify({ delivery: id, channel: row.channel, lastError: row.last_error }) }).execute();
  });
  return rowOf((await store.db.selectFrom('alert_outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow()));
}

/** Runs deliverDue every intervalMs (one pass at a time). */
export class AlertDelivery {
  readonly #store: Store;
  readonly #o: DeliveryOptions & { intervalMs: number; onError: (e: unknown) => void };
  clock: () => number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | null = null;
  constructor(store: Store, o: DeliveryOptions & { intervalMs?: number | undefined; clock?: (() => number) | undefined; onError?: ((e: unknown) => void) | undefined } = {}) {
    this.#store = store;
    this.#o = { ...o, intervalMs: o.intervalMs ?? 10_000, onError: o.onError ?? (() => {}) };
    this.clock = o.clock ?? Date.now;
  }
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      if (!this.#running) this.#running = deliverDue(this.#store, this.clock(), this.#o).catch(this.#o.onError).finally(() => { this.#running = null; });
    }, this.#o.intervalMs);
    this.#timer.unref();
  }
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
    this.#o.mailer?.close();
  }
}
