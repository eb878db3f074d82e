// The employee and operational reports (issue 5): figures computed here from the votes and shifts
// the test itself planned, the xlsx opened by LibreOffice, CSV, malformed input and other tenants.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { Api, eachBackend } from './harness.ts';
import { officeAvailable, xlsxSheets } from './office.ts';
import { orgFleet } from '../src/devices/fleet.ts';

const H = 3_600_000;
/** The 1–5 score of a share as PROTOCOL §4 defines it with the default settings (10 votes, 50/65/80/90 %). */
function expectedScore(s: number, n: number): number | null {
  if (n < 10) return null;
  const p = s / n;
  return p >= 0.9 ? 5 : p >= 0.8 ? 4 : p >= 0.65 ? 3 : p >= 0.5 ? 2 : 1;
}

eachBackend('employee and operational reports', (ctx) => {
  let api: Api;
  let org: string;
  let otherToken: string;
  const dir = mkdtempSync(join(tmpdir(), 'lb-reports-ops-'));
  const ids: Record<string, string> = {};
  // Shifts (UTC instants); Moscow is UTC+3 all year, so 06:00Z is 09:00 local.
  const shifts: Array<{ emp: string; tp: string; start: number; end: number }> = [];
  // Every vote sent: instant, touchpoint, button, and who the test expects it to be attributed to.
  const sent: Array<{ ts: number; tp: string; button: string; emp: string | null }> = [];

  before(async () => {
    api = await Api.start(ctx().store);
    org = (await api.ok('POST', '/api/v1/orgs', { name: 'Ops Café' }, 201)).id;
    ids['moscow'] = (await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name: 'Moscow', timezone: 'Europe/Moscow' }, 201)).id;
    ids['ny'] = (await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name: 'New York', timezone: 'America/New_York' }, 201)).id;
    ids['cash'] = (await api.ok('POST', `/api/v1/orgs/${org}/touchpoints`, { name: 'Cash desk', locationId: ids['moscow'] }, 201)).id;
    ids['hall'] = (await api.ok('POST', `/api/v1/orgs/${org}/touchpoints`, { name: 'Hall', locationId: ids['moscow'] }, 201)).id;
    ids['nydesk'] = (await api.ok('POST', `/api/v1/orgs/${org}/touchpoints`, { name: 'NY desk', locationId: ids['ny'] }, 201)).id;
    for (const e of ['anna', 'boris', 'carl', 'dana']) ids[e] = (await api.ok('POST', `/api/v1/orgs/${org}/employees`, { name: e[0]!.toUpperCase() + e.slice(1) }, 201)).id;
    const plan: Array<[string, string, string, string]> = [
      ['anna', 'cash', '2026-11-10T06:00:00Z', '2026-11-10T10:00:00Z'], ['boris', 'cash', '2026-11-10T10:00:00Z', '2026-11-10T14:00:00Z'],
      ['anna', 'cash', '2026-11-11T06:00:00Z', '2026-11-11T10:00:00Z'], ['carl', 'cash', '2026-11-11T10:00:00Z', '2026-11-11T11:00:00Z'],
      ['dana', 'nydesk', '2026-11-10T14:00:00Z', '2026-11-10T20:00:00Z'],
      // outside the period (local 2026-11-12 in Moscow): must not count
      ['anna', 'cash', '2026-11-12T06:00:00Z', '2026-11-12T08:00:00Z'],
    ];
    for (const [emp, tp, s, e] of plan) {
      await api.ok('POST', `/api/v1/orgs/${org}/shifts`, { employeeId: ids[emp], touchpointId: ids[tp], start: s, end: e }, 201);
      shifts.push({ emp: emp, tp, start: Date.parse(s), end: Date.parse(e) });
    }
    const cash = await api.ok('POST', `/api/v1/orgs/${org}/devices`, { kind: 'panel', locationId: ids['moscow'], touchpointId: ids['cash'] }, 201);
    const hall = await api.ok('POST', `/api/v1/orgs/${org}/devices`, { kind: 'panel', locationId: ids['moscow'], touchpointId: ids['hall'] }, 201);
    const ny = await api.ok('POST', `/api/v1/orgs/${org}/devices`, { kind: 'panel', locationId: ids['ny'], touchpointId: ids['nydesk'] }, 201);
    // A device that never made contact: a problem the operational report lists.
    ids['silent'] = (await api.ok('POST', `/api/v1/orgs/${org}/devices`, { kind: 'panel', name: 'Never seen', locationId: ids['moscow'] }, 201)).id;
    const who = (tp: string, ts: number): string | null => shifts.find((s) => s.tp === tp && s.start <= ts && ts < s.end)?.emp ?? null;
    const batches = new Map<string, unknown[]>([[cash.token, []], [hall.token, []], [ny.token, []]]);
    let i = 0;
    const add = (token: string, tp: string, ts: number, button: string): void => {
      batches.get(token)!.push({ id: `v${i++}`, ts, button });
      sent.push({ ts, tp, button, emp: who(tp, ts) });
    };
    // Cash desk: every 7 minutes from 05:00Z on the 10th to 12:00Z on the 11th, a pattern per employee.
    for (let ts = Date.parse('2026-11-10T05:00:00Z'), k = 0; ts < Date.parse('2026-11-11T12:00:00Z'); ts += 7 * 60_000, k++) {
      const emp = who('cash', ts);
      const bad = emp === 'anna' ? k % 10 === 0 : emp === 'boris' ? k % 3 === 0 : emp === 'carl' ? k % 2 === 0 : k % 4 === 0;
      add(cash.token, 'cash', ts, bad ? 'dissatisfied' : 'satisfied');
    }
    for (let ts = Date.parse('2026-11-10T07:30:00Z'), k = 0; ts < Date.parse('2026-11-10T12:00:00Z'); ts += 20 * 60_000, k++) add(hall.token, 'hall', ts, k % 5 === 0 ? 'dissatisfied' : 'satisfied');
    for (let ts = Date.parse('2026-11-10T14:00:00Z'), k = 0; ts < Date.parse('2026-11-10T20:00:00Z'); ts += 15 * 60_000, k++) add(ny.token, 'nydesk', ts, k % 6 === 0 ? 'dissatisfied' : 'satisfied');
    for (const [token, events] of batches) assert.equal((await api.votes(token, events)).status, 200);
    const email = `o${Math.random()}@other.test`;
    const other = (await api.ok('POST', '/api/v1/orgs', { name: 'Other' }, 201)).id;
    ids['otherLoc'] = (await api.ok('POST', `/api/v1/orgs/${other}/locations`, { name: 'Theirs', timezone: 'UTC' }, 201)).id;
    await api.ok('POST', `/api/v1/orgs/${other}/users`, { email, name: 'O', role: 'org-admin', password: 'password123' }, 201);
    otherToken = (await api.ok('POST', '/api/v1/auth/token', { email, password: 'password123' }, 200, null)).token;
  });
  after(async () => { await api?.close(); rmSync(dir, { recursive: true, force: true }); });

  const P = { from: '2026-11-10', to: '2026-11-11' };
  const get = (path: string, q: Record<string, string>): Promise<any> => api.ok('GET', `/api/v1/orgs/${org}/reports/${path}?${new URLSearchParams(q)}`, undefined);
  const localDay = (ts: number, offsetH: number): string => new Date(ts + offsetH * H).toISOString().slice(0, 10);

  it('employee report: votes on their shifts, shift hours, no score under the minimum sample', async () => {
    const rep = await get('employees', P);
    assert.equal(rep.minSample, 10);
    const inPeriod = sent.filter((v) => { const d = localDay(v.ts, v.tp === 'nydesk' ? -5 : 3); return d >= P.from && d <= P.to; });
    for (const emp of ['anna', 'boris', 'carl', 'dana']) {
      const mine = inPeriod.filter((v) => v.emp === emp);
      const s = mine.filter((v) => v.button === 'satisfied').length;
      const n = mine.length;
      const myShifts = shifts.filter((x) => x.emp === emp && localDay(x.start, x.tp === 'nydesk' ? -5 : 3) <= P.to);
      const hours = myShifts.reduce((a, x) => a + (x.end - x.start) / H, 0);
      const row = rep.employees.find((r: any) => r.key === ids[emp]);
      assert.ok(row, emp);
      assert.deepEqual([row.satisfied, row.dissatisfied, row.total, row.shifts, row.shiftHours], [s, n - s, n, myShifts.length, hours], emp);
      assert.equal(row.score, expectedScore(s, n), `${emp} score`);
      assert.equal(row.belowMinimum, n < 10, emp);
      assert.ok(row.wilson[0] <= s / n && s / n <= row.wilson[1], `${emp} interval holds the share`);
      assert.equal(row.votesPerShiftHour, Math.round((n / hours) * 10_000) / 10_000);
    }
    assert.equal(rep.employees.find((r: any) => r.key === ids['carl']).score, null, 'carl: 9 votes, under the minimum');
    const none = inPeriod.filter((v) => v.emp === null);
    assert.deepEqual(rep.unattributed, { satisfied: none.filter((v) => v.button === 'satisfied').length, dissatisfied: none.filter((v) => v.button === 'dissatisfied').length, total: none.length });
    // A set of locations: New York alone holds only Dana.
    const ny = await get('employees', { ...P, locations: ids['ny']! });
    assert.deepEqual(ny.employees.map((r: any) => r.key), [ids['dana']]);
  });

  it('operational report: the day hour by hour per location and touchpoint; devices with problems', async () => {
    const rep = await get('operational', { day: '2026-11-10' });
    assert.equal(rep.day, '2026-11-10');
    const moscow = rep.locations.find((l: any) => l.id === ids['moscow']);
    assert.equal(moscow.live, false);
    assert.equal(moscow.hours.length, 24);
    for (const tp of ['cash', 'hall']) {
      const t = moscow.touchpoints.find((x: any) => x.id === ids[tp]);
      for (let h = 0; h < 24; h++) {
        const votes = sent.filter((v) => v.tp === tp && localDay(v.ts, 3) === '2026-11-10' && new Date(v.ts + 3 * H).getUTCHours() === h);
        assert.deepEqual([t.hours[h].satisfied, t.hours[h].dissatisfied], [votes.filter((v) => v.button === 'satisfied').length, votes.filter((v) => v.button === 'dissatisfied').length], `${tp} ${h}:00`);
      }
    }
    const all = sent.filter((v) => v.tp !== 'nydesk' && localDay(v.ts, 3) === '2026-11-10');
    assert.equal(moscow.total.total, all.length);
    assert.equal(moscow.total.satisfied, all.filter((v) => v.button === 'satisfied').length);
    const nyHours = rep.locations.find((l: any) => l.id === ids['ny']).hours;
    assert.equal(nyHours[9].satisfied + nyHours[9].dissatisfied, 4, 'New York 09:00 local = 14:00Z, four votes 15 minutes apart');
    const fleet = await orgFleet(ctx().store, org, null);
    const expected = fleet.devices.filter((d) => ['offline', 'stale', 'low_battery', 'never_seen'].includes(d.state)).map((d) => d.id).sort();
    assert.deepEqual(rep.devices.filter((d: any) => d.problem !== 'silent').map((d: any) => d.id).sort(), expected);
    assert.ok(rep.devices.every((d: any) => d.problem === 'silent' || d.problem === d.state));
    assert.ok(expected.length >= 1, 'at least the device that was never seen');
    // Only Moscow
    const one = await get('operational', { day: '2026-11-10', locations: ids['moscow']! });
    assert.deepEqual(one.locations.map((l: any) => l.id), [ids['moscow']]);
  });

  it('the live day: today in each location\'s zone, hours still to come are null', async () => {
    const rep = await get('operational', {});
    assert.equal(rep.day, null);
    for (const l of rep.locations) {
      const offset = l.timezone === 'Europe/Moscow' ? 3 : -5;
      const now = Date.parse(rep.asOf);
      assert.equal(l.day, localDay(now, offset));
      assert.equal(l.live, true);
      const hour = new Date(now + offset * H).getUTCHours();
      l.hours.forEach((c: any, h: number) => assert.equal(c === null, h > hour, `${l.label} ${h}:00`));
    }
  });

  it('CSV and xlsx (opened by LibreOffice) show the API figures', { skip: !officeAvailable() && !process.env['CI'] ? 'soffice is not installed' : false }, async () => {
    const emp = await get('employees', P);
    const op = await get('operational', { day: '2026-11-10' });
    const tac = await get('tactical', P);
    const fetchFile = async (path: string, q: Record<string, string>): Promise<Buffer> => {
      const res = await fetch(`${api.url}/api/v1/orgs/${org}/reports/${path}?${new URLSearchParams(q)}`, { headers: { authorization: `Bearer ${api.adminToken}` } });
      assert.equal(res.status, 200, path);
      return Buffer.from(await res.arrayBuffer());
    };
    // CSV
    const csv = (b: Buffer): Array<Record<string, string>> => parse(b, { columns: true, bom: true });
    const ec = csv(await fetchFile('employees.csv', P));
    assert.deepEqual(ec.map((r) => [r['employeeId'], r['votes'], r['score']]), emp.employees.map((r: any) => [r.key, String(r.total), r.score === null ? '' : String(r.score)]));
    const oc = csv(await fetchFile('operational.csv', { day: '2026-11-10' }));
    const cashTp = op.locations.find((l: any) => l.id === ids['moscow']).touchpoints.find((t: any) => t.id === ids['cash']);
    const cashRows = oc.filter((r) => r['touchpointId'] === ids['cash']);
    assert.deepEqual(cashRows.map((r) => Number(r['votes'])), cashTp.hours.map((c: any) => c.satisfied + c.dissatisfied));
    const tc = csv(await fetchFile('tactical.csv', P));
    assert.deepEqual(tc.filter((r) => r['slice'] === 'location').map((r) => [r['key'], r['votes']]), tac.locations.map((r: any) => [r.key, String(r.total)]));
    // xlsx through LibreOffice
    const ef = join(dir, `employees-${ctx().backend}.xlsx`);
    const of = join(dir, `operational-${ctx().backend}.xlsx`);
    writeFileSync(ef, await fetchFile('employees.xlsx', P));
    writeFileSync(of, await fetchFile('operational.xlsx', { day: '2026-11-10' }));
    const books = xlsxSheets([ef, of]);
    const eb = books.get(ef)!;
    assert.deepEqual([...eb.keys()].sort(), ['Employees', 'Summary']);
    const rows = eb.get('Employees')!.slice(4).filter((r) => r[0] !== '');
    const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
    assert.deepEqual(rows.map((r) => [r[0], r[1], r[3], r[4], r[5], r[6], r[9], r[11]]), emp.employees.map((e: any) =>
      [e.label, String(e.shifts), String(e.satisfied), String(e.dissatisfied), String(e.total), pct(e.satisfied / e.total), e.score === null ? '' : String(e.score), e.belowMinimum ? 'yes' : 'no']));
    const summary = new Map(eb.get('Summary')!.map((r) => [r[0], r[1]]));
    assert.equal(summary.get('Shifts'), String(emp.employees.reduce((a: number, e: any) => a + e.shifts, 0)));
    const ob = books.get(of)!;
    assert.deepEqual([...ob.keys()].sort(), ['By hour', 'Devices', 'Summary']);
    const byHour = ob.get('By hour')!.slice(4).filter((r) => r[0] !== '');
    for (const l of op.locations) {
      for (const button of ['satisfied', 'dissatisfied']) {
        const r = byHour.find((x) => x[0] === l.label && x[1] === '(all)' && x[3] === button)!;
        assert.deepEqual(r.slice(4, 29), [...l.hours.map((c: any) => String(c[button])), String(l.total[button])], `${l.label} ${button}`);
      }
    }
    const os = ob.get('Summary')!.slice(4).filter((r) => r[0] !== '');
    assert.deepEqual(os.map((r) => [r[0], r[6], r[8]]), op.locations.map((l: any) => [l.label, String(l.total.total), l.total.score === null ? '' : String(l.total.score)]));
    assert.equal(ob.get('Devices')!.slice(4).filter((r) => r[0] !== '').length, op.devices.length);
  });

  it('another organisation gets 403 on every new route; bad input a 400 naming the field', async () => {
    const routes: Array<[string, string]> = [
      ['employees', 'from=2026-11-10&to=2026-11-11'], ['employees.xlsx', 'from=2026-11-10&to=2026-11-11'], ['employees.csv', 'from=2026-11-10&to=2026-11-11'],
      ['operational', 'day=2026-11-10'], ['operational.xlsx', 'day=2026-11-10'], ['operational.csv', 'day=2026-11-10'], ['tactical.csv', 'from=2026-11-10&to=2026-11-11'],
    ];
    for (const [p, qs] of routes) {
      const url = `/api/v1/orgs/${org}/reports/${p}?${qs}`;
      assert.equal((await api.call('GET', url, undefined, otherToken)).status, 403, p);
      assert.equal((await api.call('GET', url, undefined, null)).status, 401, p);
      assert.equal((await api.call('GET', url.replace(org, 'nope'))).status, 404, p);
      const cases: Array<[string, string]> = p.startsWith('operational')
        ? [['day=2026-02-30', 'day'], ['day=x', 'day'], [`locations=${ids['otherLoc']}`, 'locations'], ['locations=nope', 'locations'], [`locations=${'x'.repeat(4001)}`, 'locations']]
        : [['from=2026-02-30&to=2026-11-30', 'from'], ['from=2026-11-01', 'to'], ['from=2026-11-02&to=2026-11-01', 'from'],
          [`from=2026-11-01&to=2026-11-30&locations=${ids['otherLoc']}`, 'locations'], ['from=2026-11-01&to=2026-11-30&locations=,', 'locations']];
      for (const [q, field] of cases) {
        const r = await api.call('GET', `/api/v1/orgs/${org}/reports/${p}?${q}`);
        assert.equal(r.status, 400, `${p} ${q}`);
        assert.match(r.body.error.field, new RegExp(`(^|\\.)${field}$`), `${p} ${q}`);
      }
    }
  });

  it('operational report: an online panel with no vote for 2 hours while its location was open is listed as silent', async () => {
    const always = Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [['00:00', '24:00']]]));
    const shop = (await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name: 'Always open', timezone: 'Europe/Moscow', openingHours: always }, 201)).id;
    const quiet = await api.ok('POST', `/api/v1/orgs/${org}/devices`, { kind: 'panel', name: 'Quiet panel', locationId: shop }, 201);
    const busy = await api.ok('POST', `/api/v1/orgs/${org}/devices`, { kind: 'panel', name: 'Busy panel', locationId: shop }, 201);
    const now = Date.now();
    // Both were in contact just now (so online); the quiet one's last vote is 3 hours old.
    assert.equal((await api.votes(quiet.token, [{ id: 'q1', ts: now - 3 * H, button: 'satisfied' }])).status, 200);
    assert.equal((await api.votes(busy.token, [{ id: 'b1', ts: now - 10 * 60_000, button: 'satisfied' }])).status, 200);
    const rep = await get('operational', { locations: shop });
    assert.deepEqual(rep.devices.map((d: any) => [d.id, d.problem]), [[quiet.id, 'silent']]);
    // Without opening hours nobody can be called silent (the Moscow branch has none).
    const moscow = await get('operational', { locations: ids['moscow']! });
    assert.ok(moscow.devices.every((d: any) => d.problem !== 'silent'));
  });
});
