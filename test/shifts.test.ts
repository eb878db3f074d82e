// Shifts (issue 3, part 5) on both backends: presses at a panel without its own employee go to
// whoever is on shift at the touchpoint at the press's time; a fob keeps its waiter. Every vote
// carries an explicit timestamp, and the one test where the receive time matters calls the
// pipeline with a fixed receive time (a fake clock). Expected employees are written out by hand
// from the schedule, never computed with the server's code.
import { it, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Api, eachBackend, assertError, unique } from './harness.ts';
import { prepareVotes } from '../src/ingest/pipeline.ts';
import { instantOfLocal } from '../src/shifts/time.ts';
import { storeShifts } from '../src/shifts/shifts.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const TZ = 'Europe/Berlin';



describe('local wall time to instant', () => {
  it('follows the zone, including the hour skipped and the hour repeated by DST', () => {
    assert.equal(instantOfLocal(TZ, '2026-03-10', 9 * 60), Date.parse('2026-03-10T08:00:00Z'));
    assert.equal(instantOfLocal('Asia/Kolkata', '2026-03-10', 22 * 60), Date.parse('2026-03-10T16:30:00Z'));
    assert.equal(instantOfLocal(TZ, '2026-03-10', 24 * 60), Date.parse('2026-03-10T23:00:00Z'), '24:00 is the next midnight');
    // 29 March 2026, Berlin: 02:00 CET jumps to 03:00 CEST. 02:30 does not exist: moved forward by the gap.
    assert.equal(instantOfLocal(TZ, '2026-03-29', 150), Date.parse('2026-03-29T01:30:00Z'));
    assert.equal(instantOfLocal(TZ, '2026-03-29', 180), Date.parse('2026-03-29T01:00:00Z'));
    // 25 October 2026, Berlin: 02:30 happens twice; the first one (CEST) is taken.
    assert.equal(instantOfLocal(TZ, '2026-10-25', 150), Date.parse('2026-10-25T00:30:00Z'));
    assert.equal(instantOfLocal('America/New_York', '2026-11-01', 90), Date.parse('2026-11-01T05:30:00Z'));
  });
});

eachBackend('shifts', (ctx) => {
  let api: Api;
  let org: string;
  const ids: Record<string, string> = {};
  let panel: { id: string; token: string };
  let fob: { id: string; token: string };
  let kolkataPanel: { id: string; token: string };
  let loosePanel: { id: string; token: string };

  const P = (): string => `/api/v1/orgs/${org}`;
  const shift = (body: Record<string, unknown>, status = 201): Promise<any> => api.ok('POST', `${P()}/shifts`, body, status);
  let n = 0;
  /** Sends votes at the given instants, one batch; returns their event ids in order. */
  async function press(token: string, instants: number[]): Promise<string[]> {
    const events = instants.map((ts) => ({ id: `v${++n}`, ts, button: 'satisfied' }));
    const r = await api.votes(token, events);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.accepted, events.length);
    return events.map((e) => e.id);
  }
  /** The employee each stored vote was given, straight from the store. */
  async function employeesOf(deviceId: string, eventIds: string[]): Promise<Array<string | null>> {
    const rows = await ctx().store.db.selectFrom('votes').select(['event_id', 'employee_id']).where('device_id', '=', deviceId).where('event_id', 'in', eventIds).execute();
    const m = new Map(rows.map((r) => [r.event_id, r.employee_id]));
    return eventIds.map((id) => {
      assert.ok(m.has(id), `vote ${id} is stored`);
      return m.get(id)!;
    });
  }
  const name = (id: string | null): string => (id === null ? 'nobody' : Object.entries(ids).find(([, v]) => v === id)?.[0] ?? id);

  before(async () => {
    api = await Api.start(ctx().store);
    org = (await api.ok('POST', '/api/v1/orgs', { name: unique('Shift café') }, 201)).id;
    // Presses milliseconds apart test the handover instants; the misuse filter (src/misuse) would hold them back as repeats.
    await api.ok('PUT', `/api/v1/orgs/${org}/misuse/settings`, { enabled: false });
    ids['main'] = (await api.ok('POST', `${P()}/locations`, { name: 'Main street', timezone: TZ }, 201)).id;
    ids['airport'] = (await api.ok('POST', `${P()}/locations`, { name: 'Airport', timezone: TZ }, 201)).id;
    ids['kolkata'] = (await api.ok('POST', `${P()}/locations`, { name: 'Kolkata', timezone: 'Asia/Kolkata' }, 201)).id;
    ids['desk'] = (await api.ok('POST', `${P()}/touchpoints`, { name: 'Cash desk', locationId: ids['main'], channel: 'counter' }, 201)).id;
    ids['bar'] = (await api.ok('POST', `${P()}/touchpoints`, { name: 'Bar', locationId: ids['main'] }, 201)).id;
    ids['airportDesk'] = (await api.ok('POST', `${P()}/touchpoints`, { name: 'Cash desk', locationId: ids['airport'] }, 201)).id;
    ids['kolkataDesk'] = (await api.ok('POST', `${P()}/touchpoints`, { name: 'Counter', locationId: ids['kolkata'] }, 201)).id;
    ids['web'] = (await api.ok('POST', `${P()}/touchpoints`, { name: 'Web widget', channel: 'web' }, 201)).id;
    for (const e of ['Anna', 'Boris', 'Chris', 'Vera', 'Dmitri', 'Elena']) ids[e] = (await api.ok('POST', `${P()}/employees`, { name: e }, 201)).id;
    const dev = async (body: Record<string, unknown>): Promise<{ id: string; token: string }> => {
      const d = await api.ok('POST', `${P()}/devices`, body, 201);
      return { id: d.id, token: d.token };
    };
    panel = await dev({ kind: 'panel', name: 'Desk panel', locationId: ids['main'], touchpointId: ids['desk'] });
    fob = await dev({ kind: 'fob', name: "Vera's fob", locationId: ids['main'], touchpointId: ids['desk'], employeeId: ids['Vera'] });
    kolkataPanel = await dev({ kind: 'panel', locationId: ids['kolkata'], touchpointId: ids['kolkataDesk'] });
    loosePanel = await dev({ kind: 'panel', locationId: ids['main'] });
  });
  after(async () => { await api?.close(); });

  it('presses at the cash-desk panel go to Anna during her shift and to Boris after the handover; start inclusive, end exclusive', async () => {
    // Anna 09:00–15:00 given as local wall time, Boris 15:00–21:00 given with an offset: both Berlin (CET, +01:00).
    const anna = await shift({ employeeId: ids['Anna'], touchpointId: ids['desk'], start: '2026-03-10T09:00', end: '2026-03-10T15:00' });
    assert.equal(anna.start, '2026-03-10T08:00:00.000Z');
    assert.equal(anna.end, '2026-03-10T14:00:00.000Z');
    assert.deepEqual([anna.localStart, anna.localEnd, anna.timezone, anna.employeeName, anna.touchpointName], ['2026-03-10T09:00', '2026-03-10T15:00', TZ, 'Anna', 'Cash desk']);
    const boris = await shift({ employeeId: ids['Boris'], touchpointId: ids['desk'], start: '2026-03-10T15:00:00+01:00', end: Date.parse('2026-03-10T20:00:00Z') });
    assert.equal(boris.localEnd, '2026-03-10T21:00');

    const handover = Date.parse('2026-03-10T14:00:00Z');
    const cases: Array<[number, string | null]> = [
      [Date.parse('2026-03-10T07:59:59.999Z'), null], // 08:59:59.999 local: nobody on shift yet
      [Date.parse('2026-03-10T08:00:00Z'), 'Anna'], // her start: inclusive
      [Date.parse('2026-03-10T11:00:00Z'), 'Anna'],
      [handover - 1, 'Anna'],
      [handover, 'Boris'], // the handover instant belongs to who starts
      [handover + 1, 'Boris'],
      [Date.parse('2026-03-10T19:59:59.999Z'), 'Boris'],
      [Date.parse('2026-03-10T20:00:00Z'), null], // his end: exclusive
    ];
    const events = await press(panel.token, cases.map(([ts]) => ts));
    assert.deepEqual((await employeesOf(panel.id, events)).map(name), cases.map(([, who]) => who ?? 'nobody'));

    const rows = await api.scores(org, { from: '2026-03-10', to: '2026-03-10', by: 'employee', touchpointId: ids['desk']! });
    assert.deepEqual(new Map(rows.map((r: any) => [r.key, r.total])), new Map([[ids['Anna']!, 3], [ids['Boris']!, 3], ['none', 2]]));
  });

  it("a fob with its own employee ignores the schedule; a panel placed without a touchpoint rates nobody", async () => {
    await shift({ employeeId: ids['Anna'], touchpointId: ids['desk'], start: '2026-03-11T09:00', end: '2026-03-11T17:00' });
    const during = Date.parse('2026-03-11T10:00:00Z');
    const fobVotes = await press(fob.token, [during, during + HOUR]);
    assert.deepEqual((await employeesOf(fob.id, fobVotes)).map(name), ['Vera', 'Vera']);
    const panelVotes = await press(panel.token, [during]);
    assert.deepEqual((await employeesOf(panel.id, panelVotes)).map(name), ['Anna']);
    const loose = await press(loosePanel.token, [during]);
    assert.deepEqual((await employeesOf(loosePanel.id, loose)).map(name), ['nobody']);
  });

  it("a night shift crosses midnight in the location's zone, also on the night the clocks go forward", async () => {
    // Kolkata (+05:30): Dmitri 22:00 on 10 March to 06:00 on 11 March, local times through the API.
    const night = await shift({ employeeId: ids['Dmitri'], touchpointId: ids['kolkataDesk'], start: '2026-03-10T22:00', end: '2026-03-11T06:00' });
    assert.deepEqual([night.start, night.end], ['2026-03-10T16:30:00.000Z', '2026-03-11T00:30:00.000Z']);
    const k = await press(kolkataPanel.token, [
      Date.parse('2026-03-10T16:29:59Z'), Date.parse('2026-03-10T16:30:00Z'), Date.parse('2026-03-10T18:30:00Z') /* local midnight */,
      Date.parse('2026-03-10T23:00:00Z') /* 04:30 next day */, Date.parse('2026-03-11T00:30:00Z'),
    ]);
    assert.deepEqual((await employeesOf(kolkataPanel.id, k)).map(name), ['nobody', 'Dmitri', 'Dmitri', 'Dmitri', 'nobody']);
    const days = await api.scores(org, { from: '2026-03-10', to: '2026-03-11', by: 'day', employeeId: ids['Dmitri']! });
    assert.deepEqual(days.map((r: any) => [r.key, r.total]), [['2026-03-10', 1], ['2026-03-11', 2]], 'the shift\'s presses fall on both local days');

    // Berlin, 28→29 March 2026: 22:00 CET to 06:00 CEST is 7 hours, imported from CSV with local times.
    const csv = 'employee,touchpoint,location,date,start,end\nElena,Cash desk,Main street,2026-03-28,22:00,06:00\n';
    const imported = await api.ok('POST', `${P()}/shifts/import`, { csv }, 201);
    assert.equal(imported.count, 1);
    assert.deepEqual([imported.shifts[0].start, imported.shifts[0].end], ['2026-03-28T21:00:00.000Z', '2026-03-29T04:00:00.000Z']);
    assert.deepEqual([imported.shifts[0].localStart, imported.shifts[0].localEnd], ['2026-03-28T22:00', '2026-03-29T06:00']);
    const b = await press(panel.token, [
      Date.parse('2026-03-28T20:59:00Z'), Date.parse('2026-03-28T23:30:00Z') /* 00:30 CET */, Date.parse('2026-03-29T01:00:00Z') /* 03:00 CEST */,
      Date.parse('2026-03-29T03:59:59Z'), Date.parse('2026-03-29T04:00:00Z') /* 06:00 CEST: over */,
    ]);
    assert.deepEqual((await employeesOf(panel.id, b)).map(name), ['nobody', 'Elena', 'Elena', 'Elena', 'nobody']);
  });

  it('changing shifts later never rewrites stored votes; presses stored afterwards follow the new schedule at once', async () => {
    const s = await shift({ employeeId: ids['Chris'], touchpointId: ids['bar'], start: '2026-03-12T10:00', end: '2026-03-12T18:00' });
    const bar = await api.ok('POST', `${P()}/devices`, { kind: 'panel', locationId: ids['main'], touchpointId: ids['bar'] }, 201);
    const t = Date.parse('2026-03-12T12:00:00Z');
    const first = await press(bar.token, [t]);
    assert.deepEqual((await employeesOf(bar.id, first)).map(name), ['Chris']);

    const del = await api.call('DELETE', `${P()}/shifts/${s.id}`);
    assert.equal(del.status, 204);
    assert.deepEqual((await employeesOf(bar.id, first)).map(name), ['Chris'], 'the stored vote keeps Chris');
    // A press buffered offline at the same moment, delivered after the deletion: the schedule at ingest has nobody.
    const buffered = await press(bar.token, [t + MIN]);
    assert.deepEqual((await employeesOf(bar.id, buffered)).map(name), ['nobody'], 'the ingest cache forgot the deleted shift at once');

    await shift({ employeeId: ids['Boris'], touchpointId: ids['bar'], start: '2026-03-12T10:00', end: '2026-03-12T18:00' });
    const later = await press(bar.token, [t + 2 * MIN]);
    assert.deepEqual((await employeesOf(bar.id, later)).map(name), ['Boris']);
    assert.deepEqual((await employeesOf(bar.id, [...first, ...buffered])).map(name), ['Chris', 'nobody']);
    const rows = await api.scores(org, { from: '2026-03-12', to: '2026-03-12', by: 'employee', touchpointId: ids['bar']! });
    assert.deepEqual(new Map(rows.map((r: any) => [r.key, r.total])), new Map([[ids['Chris']!, 1], ['none', 1], [ids['Boris']!, 1]]));
  });

  it('an offline buffer spanning many days is attributed shift by shift', async () => {
    const bar2 = await api.ok('POST', `${P()}/touchpoints`, { name: 'Terrace', locationId: ids['main'] }, 201);
    const dev = await api.ok('POST', `${P()}/devices`, { kind: 'panel', locationId: ids['main'], touchpointId: bar2.id }, 201);
    const rows = ['employee,touchpoint,date,start,end'];
    const expected: string[] = [];
    const instants: number[] = [];
    for (let d = 1; d <= 12; d++) {
      const day = `2026-04-${String(d).padStart(2, '0')}`;
      const who = d % 2 ? 'Anna' : 'Boris';
      rows.push(`${who},${bar2.id},${day},10:00,14:00`);
      // 12:00 local (CEST, +02:00) is on shift; 15:00 local is not.
      instants.push(Date.parse(`${day}T10:00:00Z`), Date.parse(`${day}T13:00:00Z`));
      expected.push(who, 'nobody');
    }
    assert.equal((await api.ok('POST', `${P()}/shifts/import`, { csv: rows.join('\n') }, 201)).count, 12);
    const events = await press(dev.token, instants);
    assert.deepEqual((await employeesOf(dev.id, events)).map(name), expected);
  });

  it("the effective time decides: a press from a clock far ahead goes to whoever is on shift when it was received (fake clock)", async () => {
    const tp = await api.ok('POST', `${P()}/touchpoints`, { name: 'Clock desk', locationId: ids['airport'] }, 201);
    const dev = await api.ok('POST', `${P()}/devices`, { kind: 'panel', locationId: ids['airport'], touchpointId: tp.id }, 201);
    await shift({ employeeId: ids['Anna'], touchpointId: tp.id, start: '2026-05-04T08:00', end: '2026-05-04T12:00' });
    await shift({ employeeId: ids['Boris'], touchpointId: tp.id, start: '2026-05-04T12:00', end: '2026-05-04T16:00' });
    const receivedAt = Date.parse('2026-05-04T07:00:00Z'); // 09:00 CEST, Anna's shift
    const votes = await prepareVotes(
      [{ id: 'ahead', ts: 0, button: 'satisfied', parsedTs: receivedAt + 4 * HOUR }, { id: 'fine', ts: 0, button: 'satisfied', parsedTs: receivedAt + 4 * MIN }],
      { device: { id: dev.id, orgId: org, kind: 'panel' }, refs: api.server.ctx.refs, receivedAt },
    );
    assert.deepEqual(votes.map((v) => [v.eventId, v.clamped, v.ts, name(v.employeeId)]), [
      ['ahead', true, receivedAt, 'Anna'], // the device said 13:00 (Boris), but it was received at 09:00
      ['fine', false, receivedAt + 4 * MIN, 'Anna'],
    ]);
  });

  it('overlaps are refused: one employee at a time per touchpoint, nobody in two places at once; back to back is fine', async () => {
    const base = { touchpointId: ids['desk'] };
    await shift({ ...base, employeeId: ids['Anna'], start: '2026-06-01T09:00', end: '2026-06-01T17:00' });
    const clashTp = await api.call('POST', `${P()}/shifts`, { ...base, employeeId: ids['Boris'], start: '2026-06-01T16:59', end: '2026-06-01T20:00' });
    assertError(clashTp, 409, 'touchpointId');
    assert.match(clashTp.body.error.message, /Anna/);
    assertError(await api.call('POST', `${P()}/shifts`, { ...base, employeeId: ids['Boris'], start: '2026-06-01T06:00', end: '2026-06-01T22:00' }), 409, 'touchpointId');
    assertError(await api.call('POST', `${P()}/shifts`, { touchpointId: ids['bar'], employeeId: ids['Anna'], start: '2026-06-01T12:00', end: '2026-06-01T13:00' }), 409, 'employeeId');
    assertError(await api.call('POST', `${P()}/shifts`, { touchpointId: ids['airportDesk'], employeeId: ids['Anna'], start: '2026-06-01T08:00', end: '2026-06-01T09:01' }), 409, 'employeeId');
    await shift({ ...base, employeeId: ids['Boris'], start: '2026-06-01T17:00', end: '2026-06-01T23:00' });
    await shift({ touchpointId: ids['bar'], employeeId: ids['Anna'], start: '2026-06-01T17:00', end: '2026-06-01T18:00' });
    const day = await api.ok('GET', `${P()}/shifts?from=2026-06-01T00:00:00%2B02:00&to=2026-06-02T00:00:00%2B02:00`, undefined);
    // Ordered by start; two shifts starting together in no particular order.
    assert.deepEqual(day.rows.map((r: any) => [r.localStart, r.localEnd, r.employeeName, r.touchpointName]).sort(), [
      ['2026-06-01T09:00', '2026-06-01T17:00', 'Anna', 'Cash desk'],
      ['2026-06-01T17:00', '2026-06-01T18:00', 'Anna', 'Bar'],
      ['2026-06-01T17:00', '2026-06-01T23:00', 'Boris', 'Cash desk'],
    ]);
    assert.deepEqual(day.rows.map((r: any) => r.localStart), ['2026-06-01T09:00', '2026-06-01T17:00', '2026-06-01T17:00']);
  });

  it('concurrent overlapping requests: exactly one is stored', async () => {
    const who = ['Anna', 'Boris', 'Chris', 'Dmitri', 'Elena', 'Vera'];
    const results = await Promise.all(who.flatMap((e, i) => [0, 1].map((k) => api.call('POST', `${P()}/shifts`, {
      employeeId: ids[e], touchpointId: ids['desk'], start: `2026-06-02T${String(9 + k).padStart(2, '0')}:${String(i * 5).padStart(2, '0')}`, end: '2026-06-02T18:00',
    }))));
    assert.deepEqual(results.map((r) => r.status).sort(), [201, ...Array(11).fill(409)], JSON.stringify(results.map((r) => r.body)));
    const stored = await api.ok('GET', `${P()}/shifts?touchpointId=${ids['desk']}&from=2026-06-02T00:00:00Z&to=2026-06-03T00:00:00Z`, undefined);
    assert.equal(stored.rows.length, 1);
    // Straight at the store, without the request handling that staggers HTTP calls: 24 transactions at once.
    const t0 = Date.parse('2026-06-03T07:00:00Z');
    const direct = await Promise.allSettled(Array.from({ length: 24 }, (_, i) => storeShifts(ctx().store, api.server.ctx.refs, org, [{
      employeeId: ids[who[i % who.length]!]!, employeeName: 'x', touchpointId: ids['bar']!, touchpointName: 'Bar', locationId: ids['main']!, timezone: TZ,
      start: t0 + i * MIN, end: t0 + 8 * HOUR,
    }], { field: () => 'touchpointId', label: () => 'the shift' })));
    assert.equal(direct.filter((r) => r.status === 'fulfilled').length, 1);
    assert.ok(direct.every((r) => r.status === 'fulfilled' || (r.reason as { code?: string }).code === 'conflict'));
  });

  it('a CSV import with a bad row stores nothing and names the row and column; a dry run stores nothing either', async () => {
    const countIn = async (from: string, to: string): Promise<number> => (await api.ok('GET', `${P()}/shifts?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`, undefined)).rows.length;
    const range: [string, string] = ['2026-07-01T00:00:00Z', '2026-07-10T00:00:00Z'];
    const good = [
      'employee,touchpoint,location,date,start,end',
      'Anna,Cash desk,Main street,2026-07-01,09:00,17:00',
      `${ids['Boris']},Cash desk,Main street,2026-07-01,17:00,01:00`,
      'chris ,Cash desk,Airport,2026-07-01,9:00,24:00',
    ];
    const bad = [...good, 'Boris,Cash desk,Main street,2026-07-02,25:00,09:00', 'Anna,Bar,,2026-07-02,10:00,12:00'];
    const r = await api.call('POST', `${P()}/shifts/import`, bad.join('\n'), api.adminToken, { 'content-type': 'text/csv' });
    assertError(r, 400, 'rows[3].start');
    assert.match(r.body.error.message, /line 5/);
    assert.equal(await countIn(...range), 0, 'nothing of the file is stored');

    const several = [good[0], 'Anna,Cash desk,Main street,2026-07-03,09:00', 'Nobody,Cash desk,Main street,2026-07-03,09:00,10:00', 'Anna,Cash desk,,2026-07-03,09:00,10:00', 'Anna,Bar,Main street,2026-02-30,09:00,10:00', 'Anna,Bar,Main street,2026-07-04,09:00,09:00:00'];
    const r2 = await api.call('POST', `${P()}/shifts/import`, several.join('\r\n'), api.adminToken, { 'content-type': 'text/csv; charset=utf-8' });
    assertError(r2, 400, 'rows[0].end');
    assert.deepEqual(r2.body.error.problems.map((p: any) => p.field), ['rows[0].end', 'rows[1].employee', 'rows[2].touchpoint', 'rows[3].date', 'rows[4].end']);
    assert.match(r2.body.error.problems[2].message, /"Cash desk" names 2 touchpoints \(at Airport, Main street\): add a location column/);

    const dry = await api.call('POST', `${P()}/shifts/import?dryRun=true`, good.join('\n'), api.adminToken, { 'content-type': 'text/csv' });
    assert.equal(dry.status, 200, JSON.stringify(dry.body));
    assert.equal(dry.body.dryRun, true);
    assert.deepEqual(dry.body.shifts.map((s: any) => [s.id, s.employeeName, s.touchpointId, s.start, s.end]), [
      [null, 'Anna', ids['desk'], '2026-07-01T07:00:00.000Z', '2026-07-01T15:00:00.000Z'],
      [null, 'Boris', ids['desk'], '2026-07-01T15:00:00.000Z', '2026-07-01T23:00:00.000Z'],
      [null, 'Chris', ids['airportDesk'], '2026-07-01T07:00:00.000Z', '2026-07-01T22:00:00.000Z'],
    ]);
    assert.equal(await countIn(...range), 0, 'a dry run stores nothing');

    // The same file as Excel saves it in much of Europe: BOM, semicolons, an extra column; JSON form with dryRun false.
    const excel = '\uFEFF' + good.map((l, i) => `${l.replace(/,/g, ';')};${i ? 'note' : 'Comment'}`).join('\r\n') + '\r\n';
    const stored = await api.ok('POST', `${P()}/shifts/import`, { csv: excel, dryRun: false }, 201);
    assert.equal(stored.count, 3);
    assert.deepEqual(stored.ignoredColumns, ['Comment']);
    assert.ok(stored.shifts.every((s: any) => typeof s.id === 'string'));
    assert.equal(await countIn(...range), 3);

    // Importing it again overlaps itself: 409 naming the row, and still three shifts.
    const again = await api.call('POST', `${P()}/shifts/import`, good.join('\n'), api.adminToken, { 'content-type': 'text/csv' });
    assertError(again, 409, 'rows[0].touchpoint');
    assert.equal(again.body.error.problems.length, 3);
    assert.equal(await countIn(...range), 3);
    // Rows overlapping each other inside one file.
    const selfClash = [good[0], 'Dmitri,Bar,Main street,2026-07-05,09:00,12:00', 'Elena,Bar,Main street,2026-07-05,11:00,13:00', 'Dmitri,Cash desk,Main street,2026-07-05,11:59,13:00'];
    const r3 = await api.call('POST', `${P()}/shifts/import`, selfClash.join('\n'), api.adminToken, { 'content-type': 'text/csv' });
    assertError(r3, 409, 'rows[1].touchpoint');
    assert.deepEqual(r3.body.error.problems.map((p: any) => p.field), ['rows[1].touchpoint', 'rows[2].employee']);
    assert.equal(await countIn(...range), 3);

    // A week cleared and imported again.
    assert.deepEqual(await api.ok('DELETE', `${P()}/shifts?from=2026-07-01T00:00:00Z&to=2026-07-02T00:00:00Z&touchpointId=${ids['desk']}`, undefined), { deleted: 2 });
    assert.equal(await countIn(...range), 1);
  });

  it('malformed input is a 400 naming the field', async () => {
    const ok = { employeeId: ids['Anna'], touchpointId: ids['desk'], start: '2026-08-01T09:00', end: '2026-08-01T17:00' };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...ok, end: '2026-08-01T08:00' }, 'end'],
      [{ ...ok, end: '2026-08-01T09:00' }, 'end'],
      [{ ...ok, end: '2026-08-02T09:01' }, 'end'], // longer than 24 h
      [{ ...ok, start: 'tomorrow' }, 'start'],
      [{ ...ok, start: '2026-08-01T25:00' }, 'start'],
      [{ ...ok, start: '2026-02-30T09:00' }, 'start'],
      [{ ...ok, start: 1.5 }, 'start'],
      [{ ...ok, start: null }, 'start'],
      [{ ...ok, end: '1999-12-31T09:00+01:00' }, 'end'],
      [{ touchpointId: ids['desk'], start: ok.start, end: ok.end }, 'employeeId'],
      [{ ...ok, employeeId: 'emp_nope' }, 'employeeId'],
      [{ ...ok, touchpointId: ids['Anna'] }, 'touchpointId'],
      [{ ...ok, touchpointId: ids['web'] }, 'start'], // a touchpoint without a location has no zone for local times
      [{ ...ok, colour: 'red' }, 'colour'],
    ];
    for (const [body, field] of cases) assertError(await api.call('POST', `${P()}/shifts`, body), 400, field);
    // With offsets a touchpoint without a location takes shifts.
    await shift({ ...ok, touchpointId: ids['web'], employeeId: ids['Elena'], start: '2026-08-01T09:00:00+02:00', end: '2026-08-01T17:00:00+02:00' });

    const q = async (query: string, field: string): Promise<void> => assertError(await api.call('GET', `${P()}/shifts?${query}`), 400, field);
    await q('from=yesterday', 'from');
    await q('from=2026-08-02T00:00:00Z&to=2026-08-01T00:00:00Z', 'from');
    await q('limit=0', 'limit');
    await q('limit=lots', 'limit');
    await q('cursor=bm9uc2Vuc2U', 'cursor');
    assertError(await api.call('DELETE', `${P()}/shifts?from=2026-08-01T00:00:00Z`), 400, 'to');
    assertError(await api.call('DELETE', `${P()}/shifts/shf_nope`), 404);

    const imp = (body: string, type = 'text/csv') => api.call('POST', `${P()}/shifts/import`, body, api.adminToken, { 'content-type': type });
    assertError(await imp('employee,touchpoint,date,start\nAnna,Bar,2026-08-03,09:00'), 400, 'header.end');
    assertError(await imp('employee,touchpoint,date,start,end\n'), 400, 'csv');
    assertError(await imp('employee,touchpoint,date,start,end,start\nAnna,Bar,2026-08-03,09:00,10:00,11:00'), 400, 'header.start');
    assertError(await imp('employee,touchpoint,date,start,end\n"Anna,Bar,2026-08-03,09:00,10:00'), 400, 'csv');
    assertError(await imp('employee,touchpoint,date,start,end\nAnna,Bar,2026-08-03,09:00,10:00,extra'), 400, 'rows[0]');
    assertError(await imp('employee,touchpoint,date,start,end\nAnna,Web widget,2026-08-03,09:00,10:00'), 400, 'rows[0].touchpoint');
    assertError(await api.call('POST', `${P()}/shifts/import`, { csv: '' }), 400, 'csv');
    assertError(await api.call('POST', `${P()}/shifts/import`, { file: 'a,b' }), 400);
    assertError(await imp('employee,touchpoint,date,start,end\nAnna,Bar,2026-08-03,09:00,10:00', 'text/plain'), 415);
    // text/csv is understood by the import only.
    assertError(await api.call('POST', `${P()}/shifts`, 'employee,touchpoint', api.adminToken, { 'content-type': 'text/csv' }), 415);
  });

  it('lists filter by touchpoint, employee, location and range, and page with a cursor', async () => {
    const rows = ['employee,touchpoint,location,date,start,end'];
    for (let d = 1; d <= 5; d++) {
      rows.push(`Anna,Cash desk,Airport,2026-09-0${d},08:00,12:00`, `Boris,Cash desk,Airport,2026-09-0${d},12:00,16:00`, `Chris,Bar,Main street,2026-09-0${d},08:00,16:00`);
    }
    await api.ok('POST', `${P()}/shifts/import`, { csv: rows.join('\n') }, 201);
    const get = async (query: string): Promise<any> => api.ok('GET', `${P()}/shifts?from=2026-09-01T00:00:00Z&to=2026-09-10T00:00:00Z&${query}`, undefined);
    assert.equal((await get('')).rows.length, 15);
    assert.deepEqual([...new Set((await get(`touchpointId=${ids['airportDesk']}`)).rows.map((r: any) => r.employeeName))].sort(), ['Anna', 'Boris']);
    assert.deepEqual((await get(`employeeId=${ids['Chris']}`)).rows.map((r: any) => r.localStart.slice(0, 10)), ['2026-09-01', '2026-09-02', '2026-09-03', '2026-09-04', '2026-09-05']);
    assert.equal((await get(`locationId=${ids['airport']}`)).rows.length, 10);
    // [from, to) overlap: a shift ending exactly at `from` is out, one starting before `to` is in.
    const narrow = await api.ok('GET', `${P()}/shifts?from=2026-09-02T10:00:00Z&to=2026-09-02T10:00:00.001Z&locationId=${ids['airport']}`, undefined);
    assert.deepEqual(narrow.rows.map((r: any) => r.employeeName), ['Boris'], '12:00 CEST is Boris\'s start, Anna\'s end');
    const seen: string[] = [];
    let cursor: string | null = '';
    let pages = 0;
    while (cursor !== null) {
      const page: any = await get(`limit=4${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.rows.map((r: any) => r.id));
      cursor = page.next;
      pages++;
    }
    assert.equal(pages, 4);
    assert.deepEqual(seen, (await get('')).rows.map((r: any) => r.id));
    assert.equal(new Set(seen).size, 15);
  });

  describe('tenancy', () => {
    let other: string;
    let otherAdmin: string;
    let viewer: string;
    let manager: string;
    let oEmp: string;
    let oTp: string;
    let aShift: any;
    const mkUser = async (orgId: string, role: string, extra: Record<string, unknown> = {}): Promise<string> => {
      const email = `${unique(role)}@example.test`;
      await api.ok('POST', `/api/v1/orgs/${orgId}/users`, { email, name: role, role, password: 'shift password', ...extra }, 201);
      return (await api.ok('POST', '/api/v1/auth/token', { email, password: 'shift password' }, 200, null)).token;
    };
    before(async () => {
      other = (await api.ok('POST', '/api/v1/orgs', { name: unique('Other') }, 201)).id;
      const oLoc = (await api.ok('POST', `/api/v1/orgs/${other}/locations`, { name: 'Elsewhere', timezone: TZ }, 201)).id;
      oTp = (await api.ok('POST', `/api/v1/orgs/${other}/touchpoints`, { name: 'Cash desk', locationId: oLoc }, 201)).id;
      oEmp = (await api.ok('POST', `/api/v1/orgs/${other}/employees`, { name: 'Anna' }, 201)).id;
      otherAdmin = await mkUser(other, 'org-admin');
      viewer = await mkUser(org, 'viewer');
      manager = await mkUser(org, 'manager', { locationIds: [ids['airport']] });
      aShift = await shift({ employeeId: ids['Anna'], touchpointId: ids['desk'], start: '2026-10-05T09:00', end: '2026-10-05T17:00' });
      await shift({ employeeId: ids['Boris'], touchpointId: ids['airportDesk'], start: '2026-10-05T09:00', end: '2026-10-05T17:00' });
    });

    it("another organisation's user gets 403 or 404 on every shifts route, and nothing changes", async () => {
      const before = await api.ok('GET', `${P()}/shifts?limit=10000`, undefined);
      const csv = 'employee,touchpoint,date,start,end\nAnna,Cash desk,2026-10-06,09:00,10:00';
      const calls: Array<[string, string, unknown?, Record<string, string>?]> = [
        ['GET', `${P()}/shifts`],
        ['GET', `${P()}/shifts?employeeId=${ids['Anna']}`],
        ['POST', `${P()}/shifts`, { employeeId: ids['Anna'], touchpointId: ids['desk'], start: '2026-10-06T09:00', end: '2026-10-06T10:00' }],
        ['POST', `${P()}/shifts`, { employeeId: oEmp, touchpointId: oTp, start: '2026-10-06T09:00', end: '2026-10-06T10:00' }],
        ['DELETE', `${P()}/shifts/${aShift.id}`],
        ['DELETE', `${P()}/shifts?from=2026-01-01T00:00:00Z&to=2026-12-31T00:00:00Z`],
        ['POST', `${P()}/shifts/import`, csv, { 'content-type': 'text/csv' }],
        ['POST', `${P()}/shifts/import?dryRun=true`, { csv }],
        // Its own org's path with the other org's shift id.
        ['DELETE', `/api/v1/orgs/${other}/shifts/${aShift.id}`],
      ];
      for (const [method, path, body, headers] of calls) {
        const r = await api.call(method, path, body, otherAdmin, headers);
        assert.ok(r.status === 403 || r.status === 404, `${method} ${path} → ${r.status} ${JSON.stringify(r.body)}`);
        assert.ok(!JSON.stringify(r.body).includes(ids['desk']!), 'reveals nothing');
      }
      assert.deepEqual((await api.ok('GET', `/api/v1/orgs/${other}/shifts`, undefined, 200, otherAdmin)).rows, [], 'the other org sees none of these shifts');
      // Device tokens are refused too.
      assertError(await api.call('GET', `${P()}/shifts`, undefined, panel.token), 403);
      assertError(await api.call('POST', `${P()}/shifts`, { employeeId: ids['Anna'], touchpointId: ids['desk'], start: '2026-10-06T09:00', end: '2026-10-06T10:00' }, panel.token), 403);
      assert.deepEqual(await api.ok('GET', `${P()}/shifts?limit=10000`, undefined), before);
    });

    it("another organisation's employee or touchpoint is refused by id, and its names are not found", async () => {
      const body = { employeeId: ids['Anna'], touchpointId: ids['desk'], start: '2026-10-07T09:00', end: '2026-10-07T10:00' };
      assertError(await api.call('POST', `${P()}/shifts`, { ...body, employeeId: oEmp }), 400, 'employeeId');
      assertError(await api.call('POST', `${P()}/shifts`, { ...body, touchpointId: oTp }), 400, 'touchpointId');
      const csv = (emp: string, tp: string, loc = ''): string => `employee,touchpoint,location,date,start,end\n${emp},${tp},${loc},2026-10-07,09:00,10:00`;
      assertError(await api.call('POST', `${P()}/shifts/import`, { csv: csv(oEmp, ids['bar']!) }), 400, 'rows[0].employee');
      assertError(await api.call('POST', `${P()}/shifts/import`, { csv: csv('Anna', oTp) }), 400, 'rows[0].touchpoint');
      assertError(await api.call('POST', `${P()}/shifts/import`, { csv: csv('Anna', 'Cash desk', 'Elsewhere') }), 400, 'rows[0].location');
      assertError(await api.call('GET', `${P()}/shifts?locationId=${ids['main']}`, undefined, manager), 400, 'locationId');
      assert.deepEqual((await api.ok('GET', `${P()}/shifts?employeeId=${oEmp}`, undefined)).rows, []);
    });

    it('inside the organisation: a viewer reads but cannot write; a manager reads the granted locations only', async () => {
      const range = 'from=2026-10-05T00:00:00Z&to=2026-10-06T00:00:00Z';
      assert.equal((await api.ok('GET', `${P()}/shifts?${range}`, undefined, 200, viewer)).rows.length, 2);
      assertError(await api.call('POST', `${P()}/shifts`, { employeeId: ids['Anna'], touchpointId: ids['desk'], start: '2026-10-08T09:00', end: '2026-10-08T10:00' }, viewer), 403);
      assertError(await api.call('DELETE', `${P()}/shifts/${aShift.id}`, undefined, viewer), 403);
      assertError(await api.call('POST', `${P()}/shifts/import`, { csv: 'employee,touchpoint,date,start,end\nAnna,Bar,2026-10-08,09:00,10:00' }, viewer), 403);
      const mine = (await api.ok('GET', `${P()}/shifts?${range}`, undefined, 200, manager)).rows;
      assert.deepEqual(mine.map((r: any) => [r.employeeName, r.locationId]), [['Boris', ids['airport']]]);
      assertError(await api.call('DELETE', `${P()}/shifts/${aShift.id}`, undefined, manager), 403);
    });
  });
});
