// The tactical report: its figures equal the scores API's, the period-over-period test is the
// textbook two-proportion z-test, trends add up, and the xlsx opened by LibreOffice shows the same.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { Api, eachBackend } from './harness.ts';
import { officeAvailable, xlsxSheets } from './office.ts';
import { normalCdf, twoProportionTest } from '../src/reports/stats.ts';
import { SCORE_FILLS } from '../src/reports/tactical-xlsx.ts';
import { type AddressObject } from 'mailparser';
import { SmtpListener } from './smtp.ts';
import { Mailer } from '../src/mail/mailer.ts';
import { reportEmail } from '../src/reports/email.ts';
import { lastYearPeriod, tacticalReport } from '../src/reports/tactical.ts';
import { scoringOf } from '../src/orgs/orgs.ts';

// Φ by Simpson integration of the density: a different path from the erf approximation.
function phi(x: number): number {
  const n = 2000;
  const a = 0;
  const h = (x - a) / n;
  const f = (t: number): number => Math.exp(-t * t / 2) / Math.sqrt(2 * Math.PI);
  let s = f(a) + f(x);
  for (let i = 1; i < n; i++) s += f(a + i * h) * (i % 2 ? 4 : 2);
  return 0.5 + (s * h) / 3;
}

it('the same period last year keeps the dates; 29 February falls back to the 28th', () => {
  assert.deepEqual(lastYearPeriod('2026-11-01', '2026-11-30'), { from: '2025-11-01', to: '2025-11-30' });
  assert.deepEqual(lastYearPeriod('2028-02-01', '2028-02-29'), { from: '2027-02-01', to: '2027-02-28' });
  assert.deepEqual(lastYearPeriod('2027-01-01', '2027-12-31'), { from: '2026-01-01', to: '2026-12-31' });
});

it('normal CDF and two-proportion z-test match independent values', () => {
  for (const x of [-3, -1.96, -0.5, 0, 0.3, 1, 1.959963984540054, 2.5, 4]) assert.ok(Math.abs(normalCdf(x) - phi(x)) < 2e-7, String(x));
  // 45/50 vs 30/50: pooled 0.75, se = sqrt(.75*.25*(2/50)) = 0.0866, z = 0.3/0.0866 = 3.4641
  const c = twoProportionTest(45, 50, 30, 50)!;
  assert.ok(Math.abs(c.z - 3.4641016) < 1e-6);
  assert.ok(Math.abs(c.p - 2 * (1 - phi(3.4641016))) < 1e-6);
  assert.equal(c.significant, true);
  assert.equal(twoProportionTest(5, 10, 0, 0), null);
  assert.equal(twoProportionTest(10, 10, 20, 20), null, 'no variance, no test');
  assert.equal(twoProportionTest(41, 50, 40, 50)!.significant, false);
});

eachBackend('tactical report', (ctx) => {
  let api: Api;
  let org: string;
  let otherToken: string;
  const dir = mkdtempSync(join(tmpdir(), 'lb-reports-'));
  const ids: Record<string, string> = {};

  before(async () => {
    api = await Api.start(ctx().store);
    org = (await api.ok('POST', '/api/v1/orgs', { name: 'Report Bank' }, 201)).id;
    for (const [k, zone] of [['north', 'Europe/Moscow'], ['south', 'Asia/Kolkata'], ['west', 'America/Chicago']] as const) {
      ids[k] = (await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name: `Branch ${k}`, timezone: zone }, 201)).id;
    }
    ids['cash'] = (await api.ok('POST', `/api/v1/orgs/${org}/touchpoints`, { name: 'Cash desk' }, 201)).id;
    ids['ivan'] = (await api.ok('POST', `/api/v1/orgs/${org}/employees`, { name: 'Ivan' }, 201)).id;
    ids['olga'] = (await api.ok('POST', `/api/v1/orgs/${org}/employees`, { name: 'Olga' }, 201)).id;
    // north improves strongly, south stays, west is small (below the minimum sample).
    // [location, employee, share in Oct 2026, share in Nov 2026, votes a month, share in Nov 2025]
    const plan: Array<[string, string | null, number, number, number, number]> = [
      ['north', 'ivan', 0.55, 0.9, 160, 0.6], ['south', 'olga', 0.8, 0.8, 120, 0.8], ['west', null, 0.5, 0.6, 6, 0.5],
    ];
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (const [loc, emp, before_, now, n, lastYear] of plan) {
      const dev = await api.ok('POST', `/api/v1/orgs/${org}/devices`, { kind: 'panel', locationId: ids[loc], touchpointId: ids['cash'], ...(emp ? { employeeId: ids[emp] } : {}) }, 201);
      const events = [];
      for (let i = 0; i < n; i++) {
        // October (previous) and November (this period), spread over days, ~one every 4 hours 40 min
        const oct = Date.parse('2026-10-01T09:00:00Z') + i * Math.floor((30 * 86_400_000) / n);
        const nov = Date.parse('2026-11-01T09:00:00Z') + i * Math.floor((30 * 86_400_000) / n);
        events.push({ id: `o${i}`, ts: oct, button: rnd() < before_ ? 'satisfied' : 'dissatisfied' });
        events.push({ id: `n${i}`, ts: nov, button: rnd() < now ? 'satisfied' : 'dissatisfied' });
        // the same month a year before, for "same period last year"
        const nov25 = Date.parse('2025-11-01T09:00:00Z') + i * Math.floor((30 * 86_400_000) / n);
        events.push({ id: `y${i}`, ts: nov25, button: rnd() < lastYear ? 'satisfied' : 'dissatisfied' });
      }
      assert.equal((await api.votes(dev.token, events)).status, 200);
    }
    const email = `r${Math.random()}@other.test`;
    const other = (await api.ok('POST', '/api/v1/orgs', { name: 'Other' }, 201)).id;
    await api.ok('POST', `/api/v1/orgs/${other}/users`, { email, name: 'O', role: 'org-admin', password: 'password123' }, 201);
    otherToken = (await api.ok('POST', '/api/v1/auth/token', { email, password: 'password123' }, 200, null)).token;
  });
  after(async () => { await api?.close(); rmSync(dir, { recursive: true, force: true }); });

  const Q = { from: '2026-11-01', to: '2026-11-30' };
  const report = (q: Record<string, string> = {}): Promise<any> => api.ok('GET', `/api/v1/orgs/${org}/reports/tactical?${new URLSearchParams({ ...Q, ...q })}`, undefined);

  it('slices equal the scores API for the period and the previous one, with the z-test of the change', async () => {
    const rep = await report();
    assert.deepEqual(rep.period, Q);
    assert.deepEqual(rep.previousPeriod, { from: '2026-10-02', to: '2026-10-31' });
    assert.deepEqual(rep.lastYearPeriod, { from: '2025-11-01', to: '2025-11-30' });
    for (const [slice, by] of [['locations', 'location'], ['touchpoints', 'touchpoint'], ['employees', 'employee']] as const) {
      const now = await api.scores(org, { ...Q, by });
      const prev = await api.scores(org, { ...rep.previousPeriod, by });
      const ly = await api.scores(org, { from: '2025-11-01', to: '2025-11-30', by });
      assert.equal(rep[slice].length, now.length, slice);
      for (const r of rep[slice]) {
        const n = now.find((x: any) => x.key === r.key);
        const { previous, change, lastYear, changeVsLastYear, ...rest } = r;
        assert.deepEqual(rest, n, `${slice} ${r.label}`);
        const p = prev.find((x: any) => x.key === r.key);
        assert.deepEqual(previous, p ? { satisfied: p.satisfied, dissatisfied: p.dissatisfied, total: p.total, share: p.share } : null);
        if (p && change) {
          const p1 = n.satisfied / n.total; const p2 = p.satisfied / p.total;
          const pool = (n.satisfied + p.satisfied) / (n.total + p.total);
          const z = (p1 - p2) / Math.sqrt(pool * (1 - pool) * (1 / n.total + 1 / p.total));
          assert.ok(Math.abs(change.z - z) < 1e-4);
          assert.ok(Math.abs(change.p - 2 * (1 - phi(Math.abs(z)))) < 1e-4);
        }
        // same period last year: the scores API over November 2025, and the z-test computed here
        const y = ly.find((x: any) => x.key === r.key);
        assert.deepEqual(lastYear, y ? { satisfied: y.satisfied, dissatisfied: y.dissatisfied, total: y.total, share: y.share } : null, `${slice} ${r.label} last year`);
        if (y) {
          const p1 = n.satisfied / n.total; const p2 = y.satisfied / y.total;
          const pool = (n.satisfied + y.satisfied) / (n.total + y.total);
          const z = (p1 - p2) / Math.sqrt(pool * (1 - pool) * (1 / n.total + 1 / y.total));
          assert.ok(Math.abs(changeVsLastYear.z - z) < 1e-4);
          assert.ok(Math.abs(changeVsLastYear.p - 2 * (1 - phi(Math.abs(z)))) < 1e-4);
          assert.equal(changeVsLastYear.significant, 2 * (1 - phi(Math.abs(z))) < 0.05);
        }
      }
      // ranked by the lower end of the interval, best first
      const lows = rep[slice].map((r: any) => r.wilson?.[0] ?? -1);
      assert.deepEqual(lows, [...lows].sort((a: number, b: number) => b - a));
    }
    const north = rep.locations.find((r: any) => r.key === ids['north']);
    assert.equal(north.change.significant, true, 'north improved from ~55 % to ~90 %');
    assert.equal(rep.locations.find((r: any) => r.key === ids['west']).score, null, 'below the minimum sample');
    const total = (await api.scores(org, { ...Q, by: 'total' }))[0];
    const { previous: _p, change: _c, lastYear: _l, changeVsLastYear: _cl, ...t } = rep.total;
    assert.deepEqual(t, total);
  });

  it('trends by day, week and month add up to the total', async () => {
    const total = (await report()).total;
    for (const trend of ['day', 'week', 'month']) {
      const rep = await report({ trend });
      const sum = rep.trend.reduce((a: number[], r: any) => [a[0]! + r.satisfied, a[1]! + r.dissatisfied], [0, 0]);
      assert.deepEqual(sum, [total.satisfied, total.dissatisfied], trend);
      if (trend === 'week') assert.ok(rep.trend.every((r: any) => new Date(`${r.key}T00:00:00Z`).getUTCDay() === 1), 'weeks start on Monday');
      if (trend === 'month') assert.deepEqual(rep.trend.map((r: any) => r.key), ['2026-11']);
    }
    const days = (await report({ trend: 'day' })).trend;
    const byDay = await api.scores(org, { ...Q, by: 'day' });
    assert.deepEqual(days.map((r: any) => [r.key, r.satisfied, r.dissatisfied, r.score]), byDay.map((r: any) => [r.key, r.satisfied, r.dissatisfied, r.score]));
  });

  it('the xlsx opened by LibreOffice shows the API figures; scores are coloured', { skip: !officeAvailable() && !process.env['CI'] ? 'soffice is not installed' : false }, async () => {
    const rep = await report({ trend: 'week' });
    const res = await fetch(`${api.url}/api/v1/orgs/${org}/reports/tactical.xlsx?${new URLSearchParams({ ...Q, trend: 'week' })}`, { headers: { authorization: `Bearer ${api.adminToken}` } });
    assert.equal(res.status, 200);
    const file = join(dir, `tactical-${ctx().backend}.xlsx`);
    writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    const sheets = xlsxSheets([file]).get(file)!;
    assert.deepEqual([...sheets.keys()].sort(), ['Employees', 'Locations', 'Summary', 'Touchpoints', 'Trend']);
    const pct = (k: number, n: number): string => (n ? `${((100 * k) / n).toFixed(1)}%` : '');
    for (const [sheet, rows] of [['Locations', rep.locations], ['Touchpoints', rep.touchpoints], ['Employees', rep.employees], ['Trend', rep.trend]] as const) {
      const data = sheets.get(sheet)!.slice(4).filter((r) => r[0] !== '');
      assert.equal(data.length, rows.length, sheet);
      rows.forEach((r: any, i: number) => {
        const c = data[i]!;
        assert.deepEqual(c.slice(0, 8), [r.label, String(r.satisfied), String(r.dissatisfied), String(r.total), pct(r.satisfied, r.total),
          r.wilson ? `${(r.wilson[0] * 100).toFixed(1)}%` : '', r.wilson ? `${(r.wilson[1] * 100).toFixed(1)}%` : '', r.score === null ? '' : String(r.score)], `${sheet} ${r.label}`);
        if (sheet !== 'Trend') {
          assert.equal(c[11], r.previous ? String(r.previous.total) : '');
          assert.equal(c[14], r.change ? r.change.p.toFixed(4) : '');
          assert.equal(c[15], r.change ? (r.change.significant ? 'yes' : 'no') : '');
          assert.equal(c[16], r.lastYear ? String(r.lastYear.total) : '');
          assert.equal(c[19], r.changeVsLastYear ? r.changeVsLastYear.p.toFixed(4) : '');
        }
      });
    }
    const summary = new Map(sheets.get('Summary')!.map((r) => [r[0], r.slice(1)]));
    const t = rep.total;
    assert.deepEqual(summary.get('Counted votes'), [String(t.total), String(t.previous.total), String(t.lastYear.total)]);
    assert.deepEqual(summary.get('Satisfied share'), [pct(t.satisfied, t.total), pct(t.previous.satisfied, t.previous.total), pct(t.lastYear.satisfied, t.lastYear.total)]);
    assert.deepEqual(summary.get('p-value')!.slice(1, 3), [t.change.p.toFixed(4), t.changeVsLastYear.p.toFixed(4)]);
    // Fills: every score cell carries its colour.
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(file);
    const ws = wb.getWorksheet('Locations')!;
    rep.locations.forEach((r: any, i: number) => {
      const fill = ws.getRow(5 + i).getCell(8).fill;
      if (r.score === null) assert.ok(!fill || fill.type !== 'pattern' || !(fill as ExcelJS.FillPattern).fgColor);
      else assert.equal((fill as ExcelJS.FillPattern).fgColor?.argb, SCORE_FILLS[r.score]);
    });
    assert.deepEqual([ws.views[0]?.state, (ws.views[0] as ExcelJS.WorksheetViewFrozen).ySplit], ['frozen', 4], 'title, period, blank and header rows stay frozen');
    assert.equal(ws.getColumn(1).width, 28);
  });

  it('another organisation gets 403; bad input a 400 naming the field', async () => {
    for (const p of ['reports/tactical', 'reports/tactical.xlsx']) {
      const url = `/api/v1/orgs/${org}/${p}?from=2026-11-01&to=2026-11-30`;
      assert.equal((await api.call('GET', url, undefined, otherToken)).status, 403);
      assert.equal((await api.call('GET', url, undefined, null)).status, 401);
      assert.equal((await api.call('GET', url.replace(org, 'nope'))).status, 404);
      const cases: Array<[string, string]> = [['from=2026-02-30&to=2026-11-30', 'from'], ['from=2026-11-01&to=x', 'to'], ['from=2026-11-02&to=2026-11-01', 'from'],
        ['from=2026-11-01&to=2026-11-30&trend=year', 'trend'], ['to=2026-11-30', 'from'], [`from=2026-11-01&to=2026-11-30&locationId=${'x'.repeat(65)}`, 'locationId']];
      for (const [qs, field] of cases) {
        const r = await api.call('GET', `/api/v1/orgs/${org}/${p}?${qs}`);
        assert.equal(r.status, 400, `${p} ${qs}`);
        assert.match(r.body.error.field, new RegExp(`(^|\\.)${field}$`), `${p} ${qs}`);
      }
    }
  });
});

// The emailed report: delivered to a real SMTP listener (smtp-server) started here, in the
// reader's language, with the xlsx attached; an SMTP outage is retried until it is back.
eachBackend('emailed report', (ctx) => {
  let api: Api;
  let org: string;
  const smtp = new SmtpListener();

  before(async () => {
    api = await Api.start(ctx().store);
    org = (await api.ok('POST', '/api/v1/orgs', { name: 'Почта и Ко' }, 201)).id;
    const loc = (await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name: 'Невский, 10', timezone: 'Europe/Moscow' }, 201)).id;
    const dev = await api.ok('POST', `/api/v1/orgs/${org}/devices`, { kind: 'panel', locationId: loc }, 201);
    const events = Array.from({ length: 40 }, (_, i) => ({ id: `m${i}`, ts: Date.parse('2026-11-10T09:00:00Z') + i * 600_000, button: i % 4 ? 'satisfied' : 'dissatisfied' }));
    assert.equal((await api.votes(dev.token, events)).status, 200);
    await smtp.start();
  });
  after(async () => { await api?.close(); await smtp.stop(); });

  const build = async (lang: 'en' | 'ru', to: string) => {
    const o = await ctx().store.db.selectFrom('orgs').selectAll().where('id', '=', org).executeTakeFirstOrThrow();
    const rep = await tacticalReport(ctx().store, org, scoringOf(o.settings), { from: '2026-11-01', to: '2026-11-30', trend: 'week' });
    return { rep, msg: await reportEmail(rep, o.name, to, lang) };
  };

  it('arrives in the reader\'s language with the xlsx attached', async () => {
    const mailer = new Mailer({ url: `smtp://127.0.0.1:${smtp.port}`, backoffMs: 10 });
    for (const lang of ['ru', 'en'] as const) {
      const { rep, msg } = await build(lang, `${lang}@example.test`);
      const d = await mailer.send(msg);
      assert.equal(d.ok, true);
      const got = smtp.inbox.find((m) => (m.to as AddressObject).text === `${lang}@example.test`)!;
      assert.equal(got.subject, lang === 'ru' ? 'Почта и Ко: удовлетворённость клиентов 2026-11-01 – 2026-11-30' : 'Почта и Ко: customer satisfaction 2026-11-01 – 2026-11-30');
      assert.match(String(got.html), new RegExp(`<html lang="${lang}">`));
      assert.match(String(got.html), lang === 'ru' ? /Точки, начиная с худших/ : /Locations, worst first/);
      assert.match(String(got.html), /Невский, 10/);
      assert.match(got.text ?? '', new RegExp(`${rep.total.total} `));
      assert.equal(got.attachments.length, 1);
      const a = got.attachments[0]!;
      assert.equal(a.contentType, 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
      const wb = new ExcelJS.Workbook();
      await wb.xlsx.load(a.content as unknown as ArrayBuffer);
      assert.deepEqual(wb.worksheets.map((w) => w.name), ['Summary', 'Locations', 'Touchpoints', 'Employees', 'Trend']);
      assert.equal(wb.getWorksheet('Locations')!.getRow(5).getCell(2).value, rep.locations[0]!.satisfied);
    }
    mailer.close();
  });

  it('an SMTP outage is retried: refused connections, then a temporary 451, then delivered', async () => {
    const { msg } = await build('en', 'retry@example.test');
    await smtp.stop();
    const down = smtp.port;
    const mailer = new Mailer({ url: `smtp://127.0.0.1:${down}`, backoffMs: 150, attempts: 6 });
    smtp.failNext = 1;
    const sending = mailer.send(msg);
    await new Promise((r) => setTimeout(r, 250)); // the first attempts hit a closed port
    await smtp.start(down);
    const d = await sending;
    assert.equal(d.ok, true);
    assert.ok(d.attempts >= 3, `attempts ${d.attempts}: refused, 451, delivered`);
    assert.equal(smtp.failNext, 0);
    assert.ok(smtp.inbox.some((m) => (m.to as AddressObject).text === 'retry@example.test'));
    const never = await new Mailer({ url: 'smtp://127.0.0.1:1', backoffMs: 1, attempts: 2 }).send(msg);
    assert.deepEqual([never.ok, never.attempts], [false, 2], 'a dead server is reported, not swallowed');
    mailer.close();
  });
});
