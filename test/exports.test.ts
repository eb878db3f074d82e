// Raw votes API, CSV and xlsx exports (PROTOCOL.md §6): paging is complete and ordered, the CSV
// equals the API, and the xlsx opened by LibreOffice shows the same votes and summary figures.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { Api, eachBackend, PG_URL } from './harness.ts';
import { officeAvailable, xlsxSheets } from './office.ts';

const fmts = new Map<string, Intl.DateTimeFormat>();
function localText(tz: string, iso: string): string {
  if (!fmts.has(tz)) fmts.set(tz, new Intl.DateTimeFormat('sv-SE', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }));
  return fmts.get(tz)!.format(new Date(iso));
}
const utcText = (iso: string): string => iso.slice(0, 19).replace('T', ' ');

type Row = { id: string; deviceId: string; ts: string; button: string; reason: string | null; locationId: string; touchpointId: string | null; employeeId: string | null; flagged: string[] };

eachBackend('raw votes and exports', (ctx) => {
  let api: Api;
  let org: string;
  let otherToken: string;
  let managerToken: string;
  const ids: Record<string, string> = {};
  const tz: Record<string, string> = {};
  const dir = mkdtempSync(join(tmpdir(), 'lb-exports-'));
  const SENT = 1300;

  before(async () => {
    api = await Api.start(ctx().store);
    org = (await api.ok('POST', '/api/v1/orgs', { name: 'Export Café' }, 201)).id;
    for (const [k, zone] of [['moscow', 'Europe/Moscow'], ['newyork', 'America/New_York']] as const) {
      ids[k] = (await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name: k === 'moscow' ? 'Тверская, 1' : 'Broadway "7"', timezone: zone }, 201)).id;
      tz[ids[k]!] = zone;
    }
    ids['desk'] = (await api.ok('POST', `/api/v1/orgs/${org}/touchpoints`, { name: 'Desk', locationId: ids['moscow'] }, 201)).id;
    ids['anna'] = (await api.ok('POST', `/api/v1/orgs/${org}/employees`, { name: 'Anna, senior' }, 201)).id;
    const devs = [
      await api.ok('POST', `/api/v1/orgs/${org}/devices`, { kind: 'panel', locationId: ids['moscow'], touchpointId: ids['desk'], employeeId: ids['anna'] }, 201),
      await api.ok('POST', `/api/v1/orgs/${org}/devices`, { kind: 'panel', locationId: ids['newyork'] }, 201),
    ];
    const start = Date.parse('2026-11-01T00:00:00Z');
    for (const [d, dev] of devs.entries()) {
      const events = [];
      for (let i = 0; i < SENT / 2; i++) {
        // whole seconds; several votes share a timestamp so the keyset must break ties
        const ts = start + Math.floor(i / 3) * 3_517_000 + d * 1000;
        events.push({ id: `v${i}`, ts, button: (i * 7 + d) % 5 < 4 ? 'satisfied' : 'dissatisfied', ...(i % 11 === 0 ? { reason: 'queue' } : {}) });
      }
      for (let i = 0; i < events.length; i += 500) assert.equal((await api.votes(dev.token, events.slice(i, i + 500))).status, 200);
    }
    // Mark some votes as held back, as the misuse filter does (only the raw votes are read here).
    // Moscow only: New York's counted figures are then compared with the scores API's rollups.
    await ctx().store.db.updateTable('votes').set({ flags: '["burst","repeat"]' }).where('device_id', '=', devs[0].id).where('event_id', 'in', ['v5', 'v6', 'v50', 'v51', 'v400']).execute();

    const other = (await api.ok('POST', '/api/v1/orgs', { name: 'Other' }, 201)).id;
    await api.ok('POST', `/api/v1/orgs/${other}/users`, { email: `x${Math.random()}@other.test`, name: 'X', role: 'org-admin', password: 'password123' }, 201);
    const email = `m${Math.random()}@export.test`;
    await api.ok('POST', `/api/v1/orgs/${org}/users`, { email, name: 'Manager', role: 'manager', password: 'password123', locationIds: [ids['newyork']] }, 201);
    managerToken = (await api.ok('POST', '/api/v1/auth/token', { email, password: 'password123' }, 200, null)).token;
    const otherEmail = `o${Math.random()}@other.test`;
    await api.ok('POST', `/api/v1/orgs/${other}/users`, { email: otherEmail, name: 'O', role: 'org-admin', password: 'password123' }, 201);
    otherToken = (await api.ok('POST', '/api/v1/auth/token', { email: otherEmail, password: 'password123' }, 200, null)).token;
  });
  after(async () => { await api?.close(); rmSync(dir, { recursive: true, force: true }); });

  const apiUrl = (): string => api.url;
  const token = (): string => api.adminToken;

  async function allVotes(query: Record<string, string>, limit = 137, token = api.adminToken): Promise<Row[]> {
    const rows: Row[] = [];
    let cursor: string | null = null;
    do {
      const r: { rows: Row[]; next: string | null } = await api.ok('GET', `/api/v1/orgs/${org}/votes?${new URLSearchParams({ ...query, limit: String(limit), ...(cursor ? { cursor } : {}) })}`, undefined, 200, token);
      assert.ok(r.rows.length <= limit);
      rows.push(...r.rows);
      cursor = r.next;
    } while (cursor);
    return rows;
  }

  it('pages through every vote once, ordered by time, local days deciding the range', async () => {
    const rows = await allVotes({ from: '2026-10-01', to: '2026-12-31' });
    assert.equal(rows.length, SENT);
    assert.equal(new Set(rows.map((r) => `${r.deviceId}/${r.id}`)).size, SENT);
    for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1]!.ts <= rows[i]!.ts);
    // Flagged: the five marked above, and whatever the misuse filter held back at ingest.
    const flagged = await allVotes({ from: '2026-10-01', to: '2026-12-31', flagged: 'true' }, 1000);
    assert.deepEqual(flagged, rows.filter((r) => r.flagged.length > 0));
    assert.deepEqual(flagged.filter((r) => r.deviceId === rows.find((x) => x.locationId === ids['moscow'])!.deviceId && ['v5', 'v6', 'v50', 'v51', 'v400'].includes(r.id)).map((r) => r.flagged), Array(5).fill(['burst', 'repeat']));
    assert.deepEqual(await allVotes({ from: '2026-10-01', to: '2026-12-31', flagged: 'false' }, 1000), rows.filter((r) => r.flagged.length === 0));
    // One local day: exactly the votes whose local date (in their location's zone) is that day.
    const day = await allVotes({ from: '2026-11-03', to: '2026-11-03' }, 50);
    const expected = rows.filter((r) => localText(tz[r.locationId]!, r.ts).slice(0, 10) === '2026-11-03');
    assert.ok(expected.length > 0);
    assert.deepEqual(day, expected);
    const mine = await allVotes({ from: '2026-10-01', to: '2026-12-31' }, 1000, managerToken);
    assert.ok(mine.length > 0 && mine.every((r) => r.locationId === ids['newyork']), 'a manager sees only granted locations');
  });

  it('the CSV export equals the votes API', async () => {
    const q = { from: '2026-11-02', to: '2026-11-20' };
    const res = await fetch(`${api.url}/api/v1/orgs/${org}/exports/votes.csv?${new URLSearchParams(q)}`, { headers: { authorization: `Bearer ${api.adminToken}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/csv/);
    assert.match(res.headers.get('content-disposition') ?? '', /attachment; filename=".*votes-2026-11-02-2026-11-20\.csv"/);
    const records = parse(await res.text(), { columns: true, bom: true }) as Array<Record<string, string>>;
    const rows = await allVotes(q, 1000);
    assert.equal(records.length, rows.length);
    records.forEach((c, i) => {
      const r = rows[i]!;
      assert.deepEqual({ id: c['id'], deviceId: c['deviceId'], ts: c['ts'], button: c['button'], reason: c['reason'] || null, locationId: c['locationId'], touchpointId: c['touchpointId'] || null, employeeId: c['employeeId'] || null, flagged: c['flagged'] ? c['flagged'].split(' ') : [] }, r);
      assert.equal(c['localTime'], localText(tz[r.locationId]!, r.ts));
      assert.equal(c['timezone'], tz[r.locationId]);
    });
    assert.equal(records.find((c) => c['locationId'] === ids['moscow'])?.['location'], 'Тверская, 1');
    assert.equal(records.find((c) => c['employeeId'] === ids['anna'])?.['employee'], 'Anna, senior');
  });

  it('the xlsx export opened by LibreOffice shows the same votes, and its summary formulas the same counts', { skip: !officeAvailable() && !process.env['CI'] ? 'soffice is not installed' : false }, async () => {
    const q = { from: '2026-11-01', to: '2026-11-30' };
    const res = await fetch(`${api.url}/api/v1/orgs/${org}/exports/votes.xlsx?${new URLSearchParams(q)}`, { headers: { authorization: `Bearer ${api.adminToken}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    const file = join(dir, `votes-${ctx().backend}.xlsx`);
    writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    const sheets = xlsxSheets([file]).get(file)!;
    const rows = await allVotes(q, 1000);
    const votes = sheets.get('Votes')!;
    assert.equal(votes[0]![0], 'Export Café: raw votes');
    assert.match(votes[1]![0]!, /2026-11-01 – 2026-11-30/);
    assert.equal(votes[3]![0], 'Vote id');
    const data = votes.slice(4).filter((r) => r[0] !== '');
    assert.equal(data.length, rows.length);
    data.forEach((c, i) => {
      const r = rows[i]!;
      assert.deepEqual(c.slice(0, 7), [r.id, r.deviceId, localText(tz[r.locationId]!, r.ts), tz[r.locationId], utcText(r.ts), r.button, r.reason ?? '']);
      assert.deepEqual([c[10], c[11], c[12], c[13], c[14]], [r.flagged.join(' '), r.flagged.length ? '0' : '1', r.locationId, r.touchpointId ?? '', r.employeeId ?? '']);
    });
    const summary = sheets.get('Summary')!;
    const fig = (loc: string): string[] => {
      const mine = rows.filter((r) => r.locationId === loc);
      const s = mine.filter((r) => !r.flagged.length && r.button === 'satisfied').length;
      const d = mine.filter((r) => !r.flagged.length && r.button === 'dissatisfied').length;
      const f = mine.filter((r) => r.flagged.length).length;
      return [String(s), String(d), String(s + d), `${((100 * s) / (s + d)).toFixed(1)}%`, String(f), String(mine.length)].map((x) => x.replace(/\B(?=(\d{3})+(?!\d))/g, ','));
    };
    const byId = new Map(summary.slice(4).map((r) => [r[1], r]));
    assert.deepEqual(byId.get(ids['moscow'])!.slice(2, 8), fig(ids['moscow']!));
    assert.deepEqual(byId.get(ids['newyork'])!.slice(2, 8), fig(ids['newyork']!));
    const total = summary.find((r) => r[0] === 'Total')!;
    assert.equal(total[7], String(rows.length).replace(/\B(?=(\d{3})+(?!\d))/g, ','));
    // Counted figures agree with the scores API for New York, where no vote was flagged by hand.
    const sc = (await api.scores(org, { ...q, by: 'location' })).find((r: any) => r.key === ids['newyork']);
    assert.deepEqual([byId.get(ids['newyork'])![2], byId.get(ids['newyork'])![3]], [String(sc.satisfied), String(sc.dissatisfied)]);
  });

  it('a client that goes away after the first bytes leaves the server serving whole downloads', async () => {
    const q = new URLSearchParams({ from: '2026-11-01', to: '2026-11-30' });
    for (const ext of ['xlsx', 'csv']) {
      const ac = new AbortController();
      const res = await fetch(`${api.url}/api/v1/orgs/${org}/exports/votes.${ext}?${q}`, { headers: { authorization: `Bearer ${api.adminToken}` }, signal: ac.signal });
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      await reader.read(); // the first bytes arrived
      ac.abort();
      await reader.cancel().catch(() => {});
    }
    const again = await fetch(`${api.url}/api/v1/orgs/${org}/exports/votes.xlsx?${q}`, { headers: { authorization: `Bearer ${api.adminToken}` } });
    const body = Buffer.from(await again.arrayBuffer());
    // A whole zip: it ends with the end-of-central-directory record.
    assert.equal(body.readUInt32LE(body.length - 22), 0x06054b50);
  });

  it('loyalty export writes the same CSV as the API, with a progress bar on stderr', async () => {
    // The CLI opens the same store the server uses: the SQLite file, or the PostgreSQL schema.
    const { store } = ctx();
    const storeEnv: Record<string, string> = store.sqlitePath
      ? { DATA_DIR: dirname(store.sqlitePath), DATABASE_URL: '' }
      : { DATABASE_URL: PG_URL, DATABASE_SCHEMA: store.pgSchema! };
    const q = { from: '2026-11-02', to: '2026-11-20' };
    const out = join(dir, 'cli.csv');
    const r = spawnSync(process.execPath, ['src/cli.ts', 'export', '--org', org, '--from', q.from, '--to', q.to, '--format', 'csv', '--out', out],
      { env: { ...process.env, ...storeEnv }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /100% \| (\d+)\/\1 votes/);
    const api = await fetch(`${apiUrl()}/api/v1/orgs/${org}/exports/votes.csv?${new URLSearchParams(q)}`, { headers: { authorization: `Bearer ${token()}` } });
    assert.ok(readFileSync(out).equals(Buffer.from(await api.arrayBuffer())), 'byte for byte, BOM included');
    const bad = spawnSync(process.execPath, ['src/cli.ts', 'export', '--org', org, '--from', '2026-02-30', '--to', q.to, '--out', out], { env: { ...process.env, ...storeEnv }, encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--from/);
  });

  it('another organisation gets 403 on every route; unknown org 404 for the admin', async () => {
    const paths = ['votes', 'exports/votes.xlsx', 'exports/votes.csv'].map((p) => `/api/v1/orgs/${org}/${p}?from=2026-11-01&to=2026-11-30`);
    for (const p of paths) {
      const r = await api.call('GET', p, undefined, otherToken);
      assert.equal(r.status, 403, p);
      assert.equal(r.body.error.code, 'forbidden');
      assert.equal((await api.call('GET', p, undefined, null)).status, 401, p);
      assert.equal((await api.call('GET', p.replace(org, 'no-such-org'))).status, 404, p);
    }
  });

  it('malformed input is a 400 naming the field', async () => {
    const base = `/api/v1/orgs/${org}`;
    const cases: Array<[string, string]> = [];
    for (const p of ['votes', 'exports/votes.xlsx', 'exports/votes.csv']) {
      cases.push([`${base}/${p}?from=2026-13-01&to=2026-11-30`, 'from'], [`${base}/${p}?from=2026-11-01&to=tomorrow`, 'to'],
        [`${base}/${p}?to=2026-11-30`, 'from'], [`${base}/${p}?from=2026-11-05&to=2026-11-01`, 'from'], [`${base}/${p}?from=2026-11-01&to=2026-11-30&flagged=maybe`, 'flagged']);
    }
    cases.push([`${base}/votes?from=2026-11-01&to=2026-11-30&limit=0`, 'limit'], [`${base}/votes?from=2026-11-01&to=2026-11-30&limit=1001`, 'limit'],
      [`${base}/votes?from=2026-11-01&to=2026-11-30&limit=ten`, 'limit'], [`${base}/votes?from=2026-11-01&to=2026-11-30&cursor=garbage`, 'cursor'],
      [`${base}/votes?from=2026-11-01&to=2026-11-30&cursor=${Buffer.from('[1,2]').toString('base64url')}`, 'cursor']);
    for (const [p, field] of cases) {
      const r = await api.call('GET', p);
      assert.equal(r.status, 400, p);
      assert.equal(r.body.error.code, 'invalid_field', p);
      assert.match(r.body.error.field, new RegExp(`(^|\\.)${field}$`), p);
    }
  });
});
