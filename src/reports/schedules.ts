// Scheduled email reports (issue 5): each user's schedules (daily / weekly / monthly, which report,
// which locations, language, time zone, send hour), and the scheduler that mails them.
//
// A schedule runs at `send_hour`:00 in its zone — daily every day, weekly on Mondays, monthly on the
// 1st — and reports the period that just ended: yesterday, the last Monday–Sunday, the last month.
// `next_run_at` is that instant in UTC. Each run:
// - claims the schedule with a lease (a conditional UPDATE: one node wins), so several nodes are safe;
// - after downtime, reports only the latest period that is due (catch-up sends once, not per missed tick);
// - logs a delivery row, unique per (schedule, period), so a period is never mailed twice;
// - on an SMTP failure (after the mailer's own retries) keeps the delivery failed and the schedule
//   due, retried with growing pauses until it goes through: a failed SMTP server never loses a run.
//
// The operational report is one local day hour by hour, so it is scheduled daily only (mailing
// yesterday); weekly or monthly is refused rather than silently showing one day of the week or month.
import type { Store } from '../store/db.ts';
import { newId } from '../domain/ids.ts';
import { addDays, isValidTimeZone, localParts, zoneOffset } from '../domain/time.ts';
import { forbidden, invalidField, notFound } from '../domain/errors.ts';
import type { UserPrincipal } from '../domain/types.ts';
import { scoringOf } from '../orgs/orgs.ts';
import type { Mailer, Message } from '../mail/mailer.ts';
import { tacticalReport } from './tactical.ts';
import { employeeReport } from './employees.ts';
import { employeeXlsx } from './files.ts';
import { LANGS, reportEmail, xlsxAttachment, type Lang } from './email.ts';
import { intersect, operationalReport } from './operational.ts';
import { operationalEmail } from './operational-email.ts';

export const FREQUENCIES = ['daily', 'weekly', 'monthly'] as const;
export type Frequency = (typeof FREQUENCIES)[number];
export const SCHEDULED_REPORTS = ['tactical', 'employees', 'operational'] as const;
export type ScheduledReport = (typeof SCHEDULED_REPORTS)[number];

export type Schedule = {
  id: string; orgId: string; userId: string; frequency: Frequency; report: ScheduledReport; locations: string[] | null;
  lang: Lang; timezone: string; sendHour: number; nextRunAt: string;
};

// ---- Time

/** The UTC instant of `hour`:00 local on `day` in `tz` (in a DST gap, the first valid instant after). */
export function zonedInstant(tz: string, day: string, hour: number): number {
  const wall = Date.parse(`${day}T${String(hour).padStart(2, '0')}:00:00Z`);
  const first = wall - zoneOffset(tz, wall);
  const second = wall - zoneOffset(tz, first); // the offset at the instant itself, not at the wall time read as UTC
  // Whichever shows `hour` locally (the earlier one when the hour happens twice); neither does in a
  // DST gap, where the later one is the first instant after it.
  const shows = (t: number): boolean => localParts(tz, t).hour === hour && localParts(tz, t).day === day;
  const ok = [first, second].filter(shows).sort((a, b) => a - b);
  return ok[0] ?? Math.max(first, second);
}

const runsOn = (f: Frequency, day: string): boolean =>
  f === 'daily' || (f === 'weekly' ? new Date(`${day}T00:00:00Z`).getUTCDay() === 1 : day.endsWith('-01'));

/** The first run strictly after instant `after`. */
export function nextRun(f: Frequency, tz: string, hour: number, after: number): number {
  let day = localParts(tz, after).day;
  for (let i = 0; i < 400; i++, day = addDays(day, 1)) {
    if (!runsOn(f, day)) continue;
    const t = zonedInstant(tz, day, hour);
    if (t > after) return t;
  }
  throw new Error('no run within 400 days');
}

/** The period a run at instant `runAt` reports: the day, Monday–Sunday or month that ended before it. */
export function periodOf(f: Frequency, tz: string, runAt: number): { from: string; to: string } {
  const day = localParts(tz, runAt).day;
  const to = addDays(day, -1);
  if (f === 'daily') return { from: to, to };
  if (f === 'weekly') return { from: addDays(day, -7), to };
  return { from: `${to.slice(0, 7)}-01`, to };
}

/** The latest run instant ≤ now, starting from a due `nextRunAt` (missed runs collapse into it). */
export function latestDue(f: Frequency, tz: string, hour: number, nextRunAt: number, now: number): number {
  let t = nextRunAt;
  for (let n = nextRun(f, tz, hour, t); n <= now; n = nextRun(f, tz, hour, t)) t = n;
  return t;
}

// ---- CRUD

type Row = { id: string; org_id: string; user_id: string; frequency: string; report: string; location_ids: string | null; lang: string; timezone: string; send_hour: number; next_run_at: number };
const toSchedule = (r: Row): Schedule => ({
  id: r.id, orgId: r.org_id, userId: r.user_id, frequency: r.frequency as Frequency, report: r.report as ScheduledReport,
  locations: r.location_ids ? (JSON.parse(r.location_ids) as string[]) : null, lang: r.lang as Lang, timezone: r.timezone,
  sendHour: Number(r.send_hour), nextRunAt: new Date(Number(r.next_run_at)).toISOString(),
});

export type NewSchedule = {
  frequency: Frequency; report?: ScheduledReport | undefined; locations?: string[] | null | undefined; lang?: Lang | undefined;
  timezone: string; sendHour: number; userId?: string | undefined;
};

const isOrgAdmin = (p: UserPrincipal): boolean => p.role === 'admin' || p.role === 'org-admin' || p.role === 'partner-admin';

export async function createSchedule(store: Store, p: UserPrincipal, orgId: string, b: NewSchedule, now = Date.now()): Promise<Schedule> {
  const userId = b.userId ?? p.userId;
  if (userId !== p.userId && !isOrgAdmin(p)) throw forbidden('only an org admin manages the schedules of other users');
  const user = await store.db.selectFrom('users').select(['id', 'org_id', 'role', 'location_ids']).where('id', '=', userId).executeTakeFirst();
  // The admin creating their own schedule may have no org of their own; anyone else must belong to it.
  if (!user || (user.org_id !== orgId && !(userId === p.userId && isOrgAdmin(p)))) throw invalidField('userId', `userId ${userId} is not a user of this organisation`);
  if (!isValidTimeZone(b.timezone)) throw invalidField('timezone', 'timezone must be an IANA zone such as Europe/Moscow');
  if (!Number.isInteger(b.sendHour) || b.sendHour < 0 || b.sendHour > 23) throw invalidField('sendHour', 'sendHour must be an hour 0–23');
  if (b.report === 'operational' && b.frequency !== 'daily') {
    throw invalidField('report', 'the operational report covers one day hour by hour: schedule it daily (weekly and monthly mails carry the tactical or the employee report)');
  }
  let locations: string[] | null = null;
  if (b.locations) {
    if (!b.locations.length) throw invalidField('locations', 'locations must name at least one location (or be left out for all)');
    const found = await store.db.selectFrom('locations').select('id').where('org_id', '=', orgId).where('id', 'in', b.locations).execute();
    const missing = b.locations.find((id) => !found.some((f) => f.id === id));
    if (missing) throw invalidField('locations', `location ${missing} is not a location of this organisation`);
    const granted = user.role === 'manager' ? (user.location_ids ? (JSON.parse(user.location_ids) as string[]) : []) : null;
    const notGranted = granted && b.locations.find((id) => !granted.includes(id));
    if (notGranted) throw invalidField('locations', `location ${notGranted} is not granted to this user`);
    locations = [...new Set(b.locations)];
  }
  const row: Row & { created_at: number; lease_until: null; lease_owner: null } = {
    id: newId('sch'), org_id: orgId, user_id: userId, frequency: b.frequency, report: b.report ?? 'tactical',
    location_ids: locations ? JSON.stringify(locations) : null, lang: b.lang ?? 'en', timezone: b.timezone, send_hour: b.sendHour,
    next_run_at: nextRun(b.frequency, b.timezone, b.sendHour, now), lease_until: null, lease_owner: null, created_at: now,
  };
  await store.db.insertInto('report_schedules').values(row).execute();
  return toSchedule(row);
}

/** A user's own schedules; an org admin sees every schedule of the org. */
export async function listSchedules(store: Store, p: UserPrincipal, orgId: string): Promise<Schedule[]> {
  let q = store.db.selectFrom('report_schedules').select(['id', 'org_id', 'user_id', 'frequency', 'report', 'location_ids', 'lang', 'timezone', 'send_hour', 'next_run_at'])
    .where('org_id', '=', orgId);
  if (!isOrgAdmin(p)) q = q.where('user_id', '=', p.userId);
  return (await q.orderBy('created_at').orderBy('id').execute()).map(toSchedule);
}

async function ownSchedule(store: Store, p: UserPrincipal, orgId: string, id: string): Promise<Row> {
  const r = await store.db.selectFrom('report_schedules').select(['id', 'org_id', 'user_id', 'frequency', 'report', 'location_ids', 'lang', 'timezone', 'send_hour', 'next_run_at'])
    .where('id', '=', id).where('org_id', '=', orgId).executeTakeFirst();
  if (!r || (r.user_id !== p.userId && !isOrgAdmin(p))) throw notFound('schedule');
  return r;
}

export async function deleteSchedule(store: Store, p: UserPrincipal, orgId: string, id: string): Promise<void> {
  await ownSchedule(store, p, orgId, id);
  await store.db.deleteFrom('report_deliveries').where('schedule_id', '=', id).execute();
  await store.db.deleteFrom('report_schedules').where('id', '=', id).execute();
}

export type DeliveryOut = { id: string; from: string; to: string; status: string; attempts: number; lastError: string | null; sentAt: string | null; createdAt: string };

export async function listDeliveries(store: Store, p: UserPrincipal, orgId: string, id: string): Promise<DeliveryOut[]> {
  await ownSchedule(store, p, orgId, id);
  const rows = await store.db.selectFrom('report_deliveries').selectAll().where('schedule_id', '=', id).orderBy('period_from', 'desc').limit(200).execute();
  return rows.map((r) => ({ id: r.id, from: r.period_from, to: r.period_to, status: r.status, attempts: Number(r.attempts), lastError: r.last_error,
    sentAt: r.sent_at === null ? null : new Date(Number(r.sent_at)).toISOString(), createdAt: new Date(Number(r.created_at)).toISOString() }));
}

// ---- Scheduler

export type SchedulerOptions = {
  /** How often to look for due schedules (default 60 s). */
  intervalMs?: number | undefined;
  /** How long a claim holds (default 10 min): a node that dies mid-run frees the schedule after it. */
  leaseMs?: number | undefined;
  /** Pause after a failed delivery (default 5 min), doubled per failed SMTP attempt so far, at most 6 h. */
  retryMs?: number | undefined;
  now?: (() => number) | undefined;
  onError?: ((err: unknown) => void) | undefined;
};

export class ReportScheduler {
  #store: Store;
  #mailer: Mailer;
  #o: { intervalMs: number; leaseMs: number; retryMs: number; now: () => number; onError: (err: unknown) => void };
  #owner = newId('node');
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<unknown> = Promise.resolve();

  constructor(store: Store, mailer: Mailer, o: SchedulerOptions = {}) {
    this.#store = store;
    this.#mailer = mailer;
    this.#o = { intervalMs: o.intervalMs ?? 60_000, leaseMs: o.leaseMs ?? 600_000, retryMs: o.retryMs ?? 300_000, now: o.now ?? Date.now, onError: o.onError ?? (() => {}) };
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => { this.#running = this.tick().catch(this.#o.onError); }, this.#o.intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  /** Runs every schedule due now; returns how many mails went out. */
  async tick(): Promise<number> {
    const now = this.#o.now();
    const due = await this.#store.db.selectFrom('report_schedules').select('id').where('next_run_at', '<=', now)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)])).orderBy('next_run_at').limit(100).execute();
    let sent = 0;
    for (const { id } of due) {
      const claimed = await this.#store.db.updateTable('report_schedules').set({ lease_until: now + this.#o.leaseMs, lease_owner: this.#owner })
        .where('id', '=', id).where('next_run_at', '<=', now).where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)])).executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) continue; // another node has it
      try {
        sent += await this.#run(id, now);
      } catch (err) {
        this.#o.onError(err);
      }
    }
    return sent;
  }

  async #run(id: string, now: number): Promise<number> {
    const db = this.#store.db;
    const s = await db.selectFrom('report_schedules').selectAll().where('id', '=', id).executeTakeFirst();
    if (!s) return 0;
    const f = s.frequency as Frequency;
    const hour = Number(s.send_hour);
    const runAt = latestDue(f, s.timezone, hour, Number(s.next_run_at), now);
    const period = periodOf(f, s.timezone, runAt);
    // The delivery row of the latest due period; a unique key, so a second node's insert fails harmlessly.
    const existing = await db.selectFrom('report_deliveries').select('id').where('schedule_id', '=', id).where('period_from', '=', period.from).executeTakeFirst();
    if (!existing) {
      try {
        await db.insertInto('report_deliveries').values({ id: newId('dlv'), schedule_id: id, period_from: period.from, period_to: period.to, status: 'pending', attempts: 0, last_error: null, sent_at: null, created_at: now }).execute();
      } catch { /* inserted by another node meanwhile */ }
    }
    // Every delivery of this schedule not yet sent, oldest first: a failed one is retried, never dropped.
    const open = await db.selectFrom('report_deliveries').selectAll().where('schedule_id', '=', id).where('status', '!=', 'sent').orderBy('period_from').execute();
    let sent = 0;
    let failures = 0;
    for (const d of open) {
      const r = await this.#deliver(s, { from: d.period_from, to: d.period_to });
      const attempts = Number(d.attempts) + r.attempts;
      if (r.ok) {
        await db.updateTable('report_deliveries').set({ status: 'sent', attempts, sent_at: this.#o.now(), last_error: null }).where('id', '=', d.id).execute();
        sent++;
      } else {
        await db.updateTable('report_deliveries').set({ status: 'failed', attempts, last_error: r.error }).where('id', '=', d.id).execute();
        failures = Math.max(failures, attempts);
      }
    }
    if (failures) {
      // Stays due; the lease is the pause before the next try (doubling, at most 6 h).
      const pause = Math.min(this.#o.retryMs * 2 ** Math.min(failures - 1, 10), 6 * 3_600_000);
      await db.updateTable('report_schedules').set({ lease_until: now + pause, lease_owner: null }).where('id', '=', id).execute();
    } else {
      await db.updateTable('report_schedules').set({ next_run_at: nextRun(f, s.timezone, hour, runAt), lease_until: null, lease_owner: null }).where('id', '=', id).execute();
    }
    return sent;
  }

  async #deliver(s: { org_id: string; user_id: string; report: string; location_ids: string | null; lang: string }, period: { from: string; to: string }): Promise<{ ok: boolean; attempts: number; error: string }> {
    const db = this.#store.db;
    const [org, user] = await Promise.all([
      db.selectFrom('orgs').selectAll().where('id', '=', s.org_id).executeTakeFirst(),
      db.selectFrom('users').select(['email', 'role', 'location_ids']).where('id', '=', s.user_id).executeTakeFirst(),
    ]);
    if (!org || !user) return { ok: false, attempts: 1, error: 'the organisation or the user no longer exists' };
    const granted = user.role === 'manager' ? (user.location_ids ? (JSON.parse(user.location_ids) as string[]) : []) : null;
    const locs = intersect(s.location_ids ? (JSON.parse(s.location_ids) as string[]) : null, granted);
    const lang: Lang = (LANGS as readonly string[]).includes(s.lang) ? (s.lang as Lang) : 'en';
    const msg = await this.#message(s.report, org, user.email, lang, locs, period);
    const r = await this.#mailer.send(msg);
    return r.ok ? { ok: true, attempts: r.attempts, error: '' } : { ok: false, attempts: r.attempts, error: r.error };
  }

  /** The mail of one period: the report's own builders and files, as the report routes serve them. */
  async #message(report: string, org: { id: string; name: string; settings: string }, to: string, lang: Lang, locs: string[] | null, period: { from: string; to: string }): Promise<Message> {
    const scoring = scoringOf(org.settings);
    if (report === 'operational') {
      // A daily schedule's period is one day; the devices needing someone are those of the moment it is sent.
      const rep = await operationalReport(this.#store, org.id, scoring, { day: period.from, onlyLocations: locs, now: this.#o.now() });
      return operationalEmail(rep, period.from, org.name, to, lang);
    }
    const rep = await tacticalReport(this.#store, org.id, scoring, { ...period, trend: 'day', onlyLocations: locs });
    const msg = await reportEmail(rep, org.name, to, lang);
    if (report === 'employees') {
      const emp = await employeeReport(this.#store, org.id, scoring, { ...period, onlyLocations: locs });
      msg.attachments = [await xlsxAttachment(`employees-${period.from}-${period.to}.xlsx`, (out) => employeeXlsx(emp, org.name, out))];
    }
    return msg;
  }
}
