// Scheduled email reports: run times in a zone across DST and month ends (expected instants written
// out by hand), catch-up after downtime sends once, an SMTP outage keeps the run due until a real
// SMTP listener comes back, the reader's language, and the schedules API (own / org admin, other
// tenants, malformed input), and the daily operational mail checked against the operational API.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { type AddressObject } from 'mailparser';
import { SmtpListener } from './smtp.ts';
import ExcelJS from 'exceljs';
import { Api, eachBackend } from './harness.ts';
import { Mailer } from '../src/mail/mailer.ts';
import { FIRST_DATA_ROW } from '../src/exports/xlsx.ts';
import { latestDue, nextRun, periodOf, ReportScheduler, zonedInstant } from '../src/reports/schedules.ts';

const Z = (s: string): number => Date.parse(s);

it('run times: daily across both DST changes, DST gap, weekly Mondays, monthly in the zone\'s month', () => {
  // Berlin: CET (+1) until 2026-03-29 01:00Z, CEST (+2) until 2026-10-25 01:00Z.
  assert.equal(nextRun('daily', 'Europe/Berlin', 8, Z('2026-03-28T12:00:00Z')), Z('2026-03-29T06:00:00Z'));
  assert.equal(nextRun('daily', 'Europe/Berlin', 8, Z('2026-03-27T12:00:00Z')), Z('2026-03-28T07:00:00Z'));
  assert.equal(nextRun('daily', 'Europe/Berlin', 8, Z('2026-10-24T12:00:00Z')), Z('2026-10-25T07:00:00Z'));
  assert.equal(nextRun('daily', 'Europe/Berlin', 8, Z('2026-10-24T05:00:00Z')), Z('2026-10-24T06:00:00Z'));
  // New York, 2026-03-08: 02:00 local does not exist; the run is at 03:00 EDT, the first valid instant.
  assert.equal(zonedInstant('America/New_York', '2026-03-08', 2), Z('2026-03-08T07:00:00Z'));
  // ... and 01:00 on 2026-11-01 happens twice: the first one (EDT).
  assert.equal(zonedInstant('America/New_York', '2026-11-01', 1), Z('2026-11-01T05:00:00Z'));
  // Weekly: Mondays. 2026-11-23 is a Monday.
  assert.equal(nextRun('weekly', 'Europe/Moscow', 9, Z('2026-11-23T06:00:00Z')), Z('2026-11-30T06:00:00Z'));
  assert.equal(nextRun('weekly', 'Europe/Moscow', 9, Z('2026-11-23T05:59:59Z')), Z('2026-11-23T06:00:00Z'));
  assert.deepEqual(periodOf('weekly', 'Europe/Moscow', Z('2026-11-30T06:00:00Z')), { from: '2026-11-23', to: '2026-11-29' });
  // Monthly: the 1st in the zone. Tokyo's 1 December 00:00 is 30 November 15:00Z.
  assert.equal(nextRun('monthly', 'Asia/Tokyo', 0, Z('2026-11-15T00:00:00Z')), Z('2026-11-30T15:00:00Z'));
  assert.deepEqual(periodOf('monthly', 'Asia/Tokyo', Z('2026-11-30T15:00:00Z')), { from: '2026-11-01', to: '2026-11-30' });
  assert.equal(nextRun('monthly', 'Europe/Moscow', 9, Z('2026-01-31T10:00:00Z')), Z('2026-02-01T06:00:00Z'));
  assert.equal(nextRun('monthly', 'Europe/Moscow', 9, Z('2026-02-01T06:00:00Z')), Z('2026-03-01T06:00:00Z'));
  assert.deepEqual(periodOf('monthly', 'Europe/Moscow', Z('2026-03-01T06:00:00Z')), { from: '2026-02-01', to: '2026-02-28' });
  assert.deepEqual(periodOf('monthly', 'Europe/Moscow', Z('2028-03-01T06:00:00Z')), { from: '2028-02-01', to: '2028-02-29' });
  assert.deepEqual(periodOf('daily', 'America/Chicago', Z('2026-11-01T14:00:00Z')), { from: '2026-10-31', to: '2026-10-31' });
  // Missed runs collapse into the latest one.
  assert.equal(latestDue('daily', 'Europe/Moscow', 9, Z('2026-11-10T06:00:00Z'), Z('2026-11-15T07:00:00Z')), Z('2026-11-15T06:00:00Z'));
  assert.equal(latestDue('daily', 'Europe/Moscow', 9, Z('2026-11-10T06:00:00Z'), Z('2026-11-15T05:00:00Z')), Z('2026-11-14T06:00:00Z'));
});

eachBackend('scheduled email reports', (ctx) => {
  let api: Api;
  let org: string;
  let loc: string;
  let otherToken: string;
  let otherLoc: string;
  let viewerToken: string;
  let viewerId: string;
  const smtp = new SmtpListener();

  before(async () => {
    api = await Api.start(ctx().store);
    org = (await api.ok('POST', '/api/v1/orgs', { name: 'Schedule Bakery' }, 201)).id;
    loc = (await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name: 'Old town', timezone: 'Europe/Moscow' }, 201)).id;
    const dev = await api.ok('POST', `/api/v1/orgs/${org}/devices`, { kind: 'panel', locationId: loc }, 201);
    const events = Array.from({ length: 30 }, (_, i) => ({ id: `s${i}`, ts: Z('2026-11-14T07:00:00Z') + i * 600_000, button: i % 3 ? 'satisfied' : 'dissatisfied' }));
    assert.equal((await api.votes(dev.token, events)).status, 200);
    const email = `v${Math.random()}@bakery.test`;
    viewerId = (await api.ok('POST', `/api/v1/orgs/${org}/users`, { email, name: 'Vera', role: 'viewer', password: 'password123' }, 201)).id;
    viewerToken = (await api.ok('POST', '/api/v1/auth/token', { email, password: 'password123' }, 200, null)).token;
    const other = (await api.ok('POST', '/api/v1/orgs', { name: 'Other' }, 201)).id;
    otherLoc = (await api.ok('POST', `/api/v1/orgs/${other}/locations`, { name: 'Theirs', timezone: 'UTC' }, 201)).id;
    const oe = `x${Math.random()}@other.test`;
    await api.ok('POST', `/api/v1/orgs/${other}/users`, { email: oe, name: 'X', role: 'org-admin', password: 'password123' }, 201);
    otherToken = (await api.ok('POST', '/api/v1/auth/token', { email: oe, password: 'password123' }, 200, null)).token;
  });
  after(async () => { await api?.close(); await smtp.stop(); });

  const base = `/api/v1/orgs/`;
  const schedules = async (token = api.adminToken): Promise<any[]> => (await api.ok('GET', `${base}${org}/report-schedules`, undefined, 200, token)).rows;

  it('API: a user manages their own, an org admin everyone\'s; other tenants are refused; bad input names the field', async () => {
    const mine = await api.ok('POST', `${base}${org}/report-schedules`, { frequency: 'weekly', timezone: 'Europe/Moscow', sendHour: 9, lang: 'ru', locations: [loc] }, 201, viewerToken);
    assert.equal(mine.userId, viewerId);
    assert.equal(mine.report, 'tactical');
    assert.equal(new Date(mine.nextRunAt).getUTCDay(), 1, 'a Monday');
    assert.equal(new Date(mine.nextRunAt).getUTCHours(), 6, '09:00 Moscow');
    // The viewer cannot make one for someone else; the admin can, and sees both.
    const adminSelf = (await api.call('GET', '/api/v1/me')).body;
    const forOther = await api.call('POST', `${base}${org}/report-schedules`, { frequency: 'daily', timezone: 'UTC', sendHour: 7, userId: adminSelf?.id ?? 'someone' }, viewerToken);
    assert.equal(forOther.status, 403);
    const byAdmin = await api.ok('POST', `${base}${org}/report-schedules`, { frequency: 'monthly', timezone: 'Asia/Tokyo', sendHour: 0, userId: viewerId, report: 'employees' }, 201);
    assert.equal(byAdmin.userId, viewerId);
    assert.deepEqual((await schedules(viewerToken)).map((s) => s.id).sort(), [mine.id, byAdmin.id].sort());
    assert.ok((await schedules()).length >= 2);
    // Other tenants: 403 on the org's routes, 404 for a schedule id of another org.
    for (const [method, path, body] of [['GET', `${base}${org}/report-schedules`, undefined], ['POST', `${base}${org}/report-schedules`, { frequency: 'daily', timezone: 'UTC', sendHour: 7 }],
      ['DELETE', `${base}${org}/report-schedules/${mine.id}`, undefined], ['GET', `${base}${org}/report-schedules/${mine.id}/deliveries`, undefined]] as const) {
      assert.equal((await api.call(method, path, body, otherToken)).status, 403, `${method} ${path}`);
      assert.equal((await api.call(method, path, body, null)).status, 401, `${method} ${path}`);
    }
    const otherOrg = (await api.call('GET', '/api/v1/orgs', undefined, otherToken)).body;
    const theirOrgId = (otherOrg.rows ?? otherOrg)[0]?.id;
    if (theirOrgId) assert.equal((await api.call('DELETE', `${base}${theirOrgId}/report-schedules/${mine.id}`, undefined, otherToken)).status, 404);
    // Malformed: 400 naming the field, nothing written.
    const before = (await schedules()).length;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ frequency: 'hourly', timezone: 'UTC', sendHour: 7 }, 'frequency'], [{ frequency: 'daily', timezone: 'UTC', sendHour: 24 }, 'sendHour'],
      [{ frequency: 'daily', timezone: 'Mars/Olympus', sendHour: 7 }, 'timezone'], [{ frequency: 'daily', timezone: 'UTC', sendHour: 7, locations: [otherLoc] }, 'locations'],
      [{ frequency: 'daily', timezone: 'UTC', sendHour: 7, lang: 'de' }, 'lang'], [{ frequency: 'daily', sendHour: 7 }, 'timezone'],
      [{ frequency: 'daily', timezone: 'UTC', sendHour: 7, userId: 'nobody' }, 'userId'], [{ frequency: 'daily', timezone: 'UTC', sendHour: 7, report: 'everything' }, 'report'],
    ];
    for (const [body, field] of cases) {
      const r = await api.call('POST', `${base}${org}/report-schedules`, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.error.field, new RegExp(`(^|[./])${field}$`), JSON.stringify(body));
    }
    assert.equal((await schedules()).length, before);
    // Delete: own (viewer), and the admin deletes the viewer's.
    assert.equal((await api.call('DELETE', `${base}${org}/report-schedules/${mine.id}`, undefined, viewerToken)).status, 204);
    assert.equal((await api.call('DELETE', `${base}${org}/report-schedules/${byAdmin.id}`)).status, 204);
    assert.equal((await api.call('DELETE', `${base}${org}/report-schedules/${byAdmin.id}`)).status, 404);
    assert.deepEqual(await schedules(viewerToken), []);
  });

  it('catch-up after downtime sends the missed period once; an SMTP outage keeps it due until SMTP is back; the mail is in Russian', async () => {
    const created = await api.ok('POST', `${base}${org}/report-schedules`, { frequency: 'daily', timezone: 'Europe/Moscow', sendHour: 9, lang: 'ru', locations: [loc] }, 201, viewerToken);
    // Pretend the schedule was made long ago: due since 2026-11-10 09:00 Moscow.
    await ctx().store.db.updateTable('report_schedules').set({ next_run_at: Z('2026-11-10T06:00:00Z') }).where('id', '=', created.id).execute();
    let now = Z('2026-11-15T08:00:00Z'); // five runs missed; the latest is 15 Nov 09:00, reporting 14 Nov
    await smtp.stop();
    const deadPort = smtp.port || 1;
    const mailer = new Mailer({ url: `smtp://127.0.0.1:${deadPort}`, attempts: 2, backoffMs: 5 });
    const sched = new ReportScheduler(ctx().store, mailer, { now: () => now, retryMs: 60_000 });
    // SMTP down: nothing sent, the delivery logged as failed with its attempts, the schedule still due.
    assert.equal(await sched.tick(), 0);
    let log = (await api.ok('GET', `${base}${org}/report-schedules/${created.id}/deliveries`, undefined, 200, viewerToken)).rows;
    assert.equal(log.length, 1);
    assert.deepEqual([log[0].from, log[0].to, log[0].status, log[0].attempts], ['2026-11-14', '2026-11-14', 'failed', 2]);
    assert.ok(log[0].lastError);
    let row = await ctx().store.db.selectFrom('report_schedules').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    assert.equal(Number(row.next_run_at), Z('2026-11-10T06:00:00Z'), 'still due');
    // Within the retry pause (60 s doubled per failed attempt: 2 attempts → 120 s) nothing is tried;
    // after it, still down: attempts add up, and the pause grows (4 attempts → 480 s).
    now += 60_000;
    assert.equal(await sched.tick(), 0);
    log = (await api.ok('GET', `${base}${org}/report-schedules/${created.id}/deliveries`, undefined, 200, viewerToken)).rows;
    assert.equal(log[0].attempts, 2, 'nothing tried within the pause');
    now += 61_000;
    assert.equal(await sched.tick(), 0);
    log = (await api.ok('GET', `${base}${org}/report-schedules/${created.id}/deliveries`, undefined, 200, viewerToken)).rows;
    assert.deepEqual([log.length, log[0].status, log[0].attempts], [1, 'failed', 4]);
    // SMTP back on the same port: after the pause the run goes out, once.
    await smtp.start(deadPort === 1 ? 0 : deadPort);
    const live = new ReportScheduler(ctx().store, new Mailer({ url: `smtp://127.0.0.1:${smtp.port}`, attempts: 2, backoffMs: 5 }), { now: () => now, retryMs: 60_000 });
    now += 300_000;
    assert.equal(await live.tick(), 0, 'still within the 480 s pause');
    now += 181_000;
    const countBefore = smtp.inbox.length;
    assert.equal(await live.tick(), 1);
    assert.equal(await live.tick(), 0, 'sent once');
    assert.equal(smtp.inbox.length, countBefore + 1);
    log = (await api.ok('GET', `${base}${org}/report-schedules/${created.id}/deliveries`, undefined, 200, viewerToken)).rows;
    assert.deepEqual([log.length, log[0].status, log[0].attempts], [1, 'sent', 5]);
    row = await ctx().store.db.selectFrom('report_schedules').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    assert.equal(Number(row.next_run_at), Z('2026-11-16T06:00:00Z'), 'next: tomorrow 09:00 Moscow');
    const mail = smtp.inbox.at(-1)!;
    const viewer = await ctx().store.db.selectFrom('users').select('email').where('id', '=', viewerId).executeTakeFirstOrThrow();
    assert.equal((mail.to as AddressObject).text, viewer.email);
    assert.equal(mail.subject, 'Schedule Bakery: удовлетворённость клиентов 2026-11-14 – 2026-11-14');
    assert.match(String(mail.html), /<html lang="ru">/);
    assert.equal(mail.attachments.length, 1);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(mail.attachments[0]!.content as unknown as ArrayBuffer);
    const counted = wb.getWorksheet('Summary')!.getRow(8).getCell(2).value as { result: number };
    assert.equal(counted.result, 30, 'the 30 votes of 14 November');
    // Two nodes at once on the next run: one mail.
    now = Z('2026-11-16T06:00:30Z');
    const other = new ReportScheduler(ctx().store, new Mailer({ url: `smtp://127.0.0.1:${smtp.port}`, attempts: 2, backoffMs: 5 }), { now: () => now });
    const n = await Promise.all([live.tick(), other.tick()]);
    assert.equal(n[0]! + n[1]!, 1);
    await api.ok('DELETE', `${base}${org}/report-schedules/${created.id}`, undefined, 204, viewerToken);
  });

  it('an employee-report schedule attaches the employee report, in English', async () => {
    const created = await api.ok('POST', `${base}${org}/report-schedules`, { frequency: 'monthly', report: 'employees', timezone: 'Europe/Moscow', sendHour: 9, lang: 'en' }, 201, viewerToken);
    await ctx().store.db.updateTable('report_schedules').set({ next_run_at: Z('2026-12-01T06:00:00Z') }).where('id', '=', created.id).execute();
    if (!smtp.running) await smtp.start(0);
    const sched = new ReportScheduler(ctx().store, new Mailer({ url: `smtp://127.0.0.1:${smtp.port}`, attempts: 2, backoffMs: 5 }), { now: () => Z('2026-12-01T06:05:00Z') });
    assert.equal(await sched.tick(), 1);
    const mail = smtp.inbox.at(-1)!;
    assert.equal(mail.subject, 'Schedule Bakery: customer satisfaction 2026-11-01 – 2026-11-30');
    assert.match(String(mail.html), /<html lang="en">/);
    assert.equal(mail.attachments[0]!.filename, 'employees-2026-11-01-2026-11-30.xlsx');
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(mail.attachments[0]!.content as unknown as ArrayBuffer);
    assert.deepEqual(wb.worksheets.map((w) => w.name), ['Employees', 'Summary']);
    await api.ok('DELETE', `${base}${org}/report-schedules/${created.id}`, undefined, 204, viewerToken);
  });

  it('an operational schedule is daily only; it mails yesterday hour by hour in Russian, worst location first, with the devices and an xlsx that matches the API', async () => {
    // A second, weaker location in another zone: 2 satisfied of 10 on its 14 November, and a panel that never reported.
    const weak = (await api.ok('POST', `${base}${org}/locations`, { name: 'Station kiosk', timezone: 'Asia/Yekaterinburg' }, 201)).id;
    const kiosk = await api.ok('POST', `${base}${org}/devices`, { kind: 'panel', locationId: weak }, 201);
    const events = Array.from({ length: 10 }, (_, i) => ({ id: `k${i}`, ts: Z('2026-11-14T04:00:00Z') + i * 1_200_000, button: i < 2 ? 'satisfied' : 'dissatisfied' }));
    assert.equal((await api.votes(kiosk.token, events)).status, 200);
    const mute = await api.ok('POST', `${base}${org}/devices`, { kind: 'panel', name: 'Back door panel', locationId: weak }, 201);
    // Weekly or monthly would show one day of the period: refused, naming the field, nothing written.
    const count = (await schedules()).length;
    for (const frequency of ['weekly', 'monthly']) {
      const r = await api.call('POST', `${base}${org}/report-schedules`, { frequency, report: 'operational', timezone: 'Europe/Moscow', sendHour: 9 }, viewerToken);
      assert.equal(r.status, 400, frequency);
      assert.equal(r.body.error.field, 'report', frequency);
    }
    assert.equal((await schedules()).length, count);

    const created = await api.ok('POST', `${base}${org}/report-schedules`, { frequency: 'daily', report: 'operational', timezone: 'Europe/Moscow', sendHour: 9, lang: 'ru', locations: [loc, weak] }, 201, viewerToken);
    assert.equal(created.report, 'operational');
    await ctx().store.db.updateTable('report_schedules').set({ next_run_at: Z('2026-11-15T06:00:00Z') }).where('id', '=', created.id).execute();
    if (!smtp.running) await smtp.start(0);
    const sched = new ReportScheduler(ctx().store, new Mailer({ url: `smtp://127.0.0.1:${smtp.port}`, attempts: 2, backoffMs: 5 }), { now: () => Z('2026-11-15T06:05:00Z') });
    assert.equal(await sched.tick(), 1);
    const mail = smtp.inbox.at(-1)!;
    assert.equal(mail.subject, 'Schedule Bakery: оперативный отчёт за 2026-11-14', 'yesterday in Moscow, in Russian');
    const html = String(mail.html);
    assert.match(html, /<html lang="ru">[\s\S]*Оперативный отчёт/);

    // What the API says of that day, for the same locations, as the viewer.
    const want = await api.ok('GET', `${base}${org}/reports/operational?day=2026-11-14&locations=${loc},${weak}`, undefined, 200, viewerToken);
    const sum = (hours: any[], k: 'satisfied' | 'dissatisfied' | 'flagged'): number => hours.reduce((a, c) => a + (c?.[k] ?? 0), 0);
    const byId = new Map<string, any>(want.locations.map((l: any) => [l.id, l]));
    assert.deepEqual([sum(byId.get(loc).hours, 'satisfied') + sum(byId.get(loc).hours, 'dissatisfied'), sum(byId.get(weak).hours, 'satisfied'), sum(byId.get(weak).hours, 'dissatisfied')], [30, 2, 8]);
    // Worst first, by the upper end of each location's interval as the API gives it: the kiosk, then Old town.
    const order = [...want.locations].sort((a: any, b: any) => a.total.wilson[1] - b.total.wilson[1]).map((l: any) => l.id);
    assert.deepEqual(order, [weak, loc]);
    const at = order.map((id) => html.indexOf(`data-location="${id}"`));
    assert.ok(at[0]! >= 0 && at[0]! < at[1]!, `worst first: ${at}`);
    for (const l of want.locations) assert.match(html, new RegExp(`data-location="${l.id}"><td>${l.label}</td><td align="right">${l.total.total}</td>`));
    // The devices the API says need someone are listed, the silent-from-the-start panel among them, in Russian.
    assert.ok(want.devices.some((d: any) => d.id === mute.id && d.problem === 'never_seen'), JSON.stringify(want.devices));
    for (const d of want.devices) assert.match(html, new RegExp(`data-device="${d.id}"`));
    assert.match(html, new RegExp(`data-device="${mute.id}"><td>Back door panel</td><td>Station kiosk</td><td>Ещё не выходило на связь</td>`));

    // The attachment opens, and its figures are the API's.
    assert.equal(mail.attachments.length, 1);
    assert.equal(mail.attachments[0]!.filename, 'operational-2026-11-14.xlsx');
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(mail.attachments[0]!.content as unknown as ArrayBuffer);
    const value = (v: ExcelJS.CellValue): unknown => (v && typeof v === 'object' && 'result' in v ? v.result : v);
    /** A sheet's data rows (below its title and header), every column. */
    const rows = (name: string): unknown[][] => {
      const sheet = wb.getWorksheet(name)!;
      const out: unknown[][] = [];
      sheet.eachRow((r, n) => { if (n >= FIRST_DATA_ROW) out.push(Array.from({ length: sheet.columnCount }, (_, i) => value(r.getCell(i + 1).value))); });
      return out;
    };
    const summary = rows('Summary');
    const byHour = rows('By hour');
    for (const l of want.locations) {
      const s = summary.find((r) => r[0] === l.label && r[1] === '2026-11-14');
      assert.ok(s, `a summary row for ${l.label}`);
      const sat = sum(l.hours, 'satisfied'), dis = sum(l.hours, 'dissatisfied');
      assert.deepEqual(s.slice(4, 11), [sat, dis, sat + dis, sat / (sat + dis), l.total.score, sum(l.hours, 'flagged'),
        want.devices.filter((d: any) => d.locationId === l.id).length], l.label);
      for (const slice of [{ ...l, name: '(all)' }, ...l.touchpoints.map((t: any) => ({ ...t, name: t.label }))]) {
        for (const button of ['satisfied', 'dissatisfied'] as const) {
          const r = byHour.find((x) => x[0] === l.label && x[1] === slice.name && x[3] === button);
          assert.ok(r, `${l.label} ${slice.name} ${button}`);
          const hours = slice.hours.map((c: any) => c?.[button] ?? null);
          assert.deepEqual(r.slice(4, 29), [...hours, hours.reduce((a: number, v: number | null) => a + (v ?? 0), 0)], `${l.label} ${slice.name} ${button}`);
        }
      }
    }
    assert.deepEqual(rows('Devices').map((r) => [r[6], r[3]]).sort(), want.devices.map((d: any) => [d.id, d.problem]).sort());
    await api.ok('DELETE', `${base}${org}/report-schedules/${created.id}`, undefined, 204, viewerToken);
  });
});
