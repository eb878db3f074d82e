// PROTOCOL.md §2 (devices over HTTP) through a real server on both backends: what a device and
// its owner rely on. Expected counts come from the events the test sent and from local days
// computed here with Intl's sv-SE formatting, never from the server's own arithmetic.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Api, eachBackend, type Fixture, assertError } from './harness.ts';

const MIN = 60_000;
// Presses are spread out as real customers make them, so no misuse rule (repeat, burst) has cause to hold one back.
const GAP = 20 * MIN;
const DAY = 86_400_000;
const TZ = 'Europe/Moscow';

const dayFmts = new Map<string, Intl.DateTimeFormat>();
/** The local calendar date of instant `ts` in `tz`, by a different path than the server's. */
function localDay(tz: string, ts: number): string {
  if (!dayFmts.has(tz)) dayFmts.set(tz, new Intl.DateTimeFormat('sv-SE', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }));
  return dayFmts.get(tz)!.format(new Date(ts));
}
const plusDays = (day: string, n: number): string => new Date(Date.parse(`${day}T12:00:00Z`) + n * DAY).toISOString().slice(0, 10);

type Ev = { id?: unknown; ts?: unknown; button?: unknown; reason?: unknown; [k: string]: unknown };
let seq = 0;
/** A valid press with a fresh id. */
const press = (ts: number | string, button: 'satisfied' | 'dissatisfied' = 'satisfied', extra: Ev = {}): Ev => ({ id: `p-${++seq}`, ts, button, ...extra });

/** Asserts the protocol's error object: status, code and the field it names. */

eachBackend('ingest over HTTP', (ctx) => {
  let api: Api;
  before(async () => { api = await Api.start(ctx().store); });
  after(async () => { await api?.close(); });

  /** [satisfied, dissatisfied] of the org between two local dates, summed over every row (0,0 when none). */
  async function counted(orgId: string, from: string, to: string, q: Record<string, string> = {}): Promise<[number, number]> {
    const rows = await api.scores(orgId, { from, to, by: 'total', ...q });
    return [rows.reduce((s: number, r: any) => s + r.satisfied, 0), rows.reduce((s: number, r: any) => s + r.dissatisfied, 0)];
  }
  const byKey = (rows: any[]): Map<string, [number, number]> => new Map(rows.map((r) => [r.key, [r.satisfied, r.dissatisfied]]));

  it('a vote is acknowledged, then counted on its local day at its location', async () => {
    const f = await api.fixture(TZ);
    const a = Date.parse('2026-11-20T09:03:55Z');
    const b = Date.parse('2026-11-21T04:30:00Z'); // 23:30 on the 20th in New York, 07:30 on the 21st in Moscow
    const events = [
      press('2026-11-20T12:03:55+03:00', 'satisfied'), // = a
      press(a + GAP, 'satisfied'),
      press(a + 2 * GAP, 'dissatisfied', { reason: 'queue' }),
      press('2026-11-20T23:30:00-05:00', 'dissatisfied'), // = b
    ];
    const r = await api.votes(f.deviceToken, events);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { accepted: 4, duplicates: 0 });

    const dayA = localDay(TZ, a);
    const dayB = localDay(TZ, b);
    assert.equal(dayA, '2026-11-20');
    assert.equal(dayB, '2026-11-21');
    const days = byKey(await api.scores(f.orgId, { from: '2026-11-19', to: '2026-11-22', by: 'day' }));
    assert.deepEqual(days, new Map([[dayA, [2, 1]], [dayB, [0, 1]]]));
    const locs = await api.scores(f.orgId, { from: '2026-11-19', to: '2026-11-22', by: 'location' });
    assert.deepEqual(locs.map((x: any) => [x.key, x.satisfied, x.dissatisfied, x.total]), [[f.locationId, 2, 2, 4]]);
  });

  it('a retried batch changes nothing and is answered as duplicates', async () => {
    const f = await api.fixture(TZ);
    const t = Date.parse('2026-10-05T08:00:00Z');
    const batch = [press(t, 'satisfied'), press(t + GAP, 'dissatisfied'), press(t + 2 * GAP, 'satisfied')];
    assert.deepEqual((await api.votes(f.deviceToken, batch)).body, { accepted: 3, duplicates: 0 });
    // The device got no answer and sends the very same batch again, twice.
    assert.deepEqual((await api.votes(f.deviceToken, batch)).body, { accepted: 0, duplicates: 3 });
    assert.deepEqual((await api.votes(f.deviceToken, batch)).body, { accepted: 0, duplicates: 3 });
    // A retry that overlaps with new presses: only the new one is accepted.
    const fresh = press(t + 3 * GAP, 'dissatisfied');
    assert.deepEqual((await api.votes(f.deviceToken, [batch[0]!, fresh, batch[2]!])).body, { accepted: 1, duplicates: 2 });
    // A stored id sent again with a different button changes nothing either.
    assert.deepEqual((await api.votes(f.deviceToken, [{ ...batch[0]!, button: 'dissatisfied' }])).body, { accepted: 0, duplicates: 1 });
    assert.deepEqual(await counted(f.orgId, '2026-10-01', '2026-10-31'), [2, 2]);
  });

  it('an event repeated inside one batch is stored once', async () => {
    const f = await api.fixture(TZ);
    const e = press(Date.parse('2026-09-01T10:00:00Z'), 'satisfied');
    const r = await api.votes(f.deviceToken, [e, e]);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { accepted: 1, duplicates: 1 });
    assert.deepEqual(await counted(f.orgId, '2026-09-01', '2026-09-01'), [1, 0]);
  });

  it('event ids are unique per device: two devices may use the same id', async () => {
    const f = await api.fixture(TZ);
    const other = await api.ok('POST', `/api/v1/orgs/${f.orgId}/devices`, { kind: 'fob', locationId: f.locationId }, 201);
    const ts = Date.parse('2026-09-02T10:00:00Z');
    assert.deepEqual((await api.votes(f.deviceToken, [{ id: 'same-id', ts, button: 'satisfied' }])).body, { accepted: 1, duplicates: 0 });
    assert.deepEqual((await api.votes(other.token, [{ id: 'same-id', ts, button: 'dissatisfied' }])).body, { accepted: 1, duplicates: 0 });
    const devs = byKey(await api.scores(f.orgId, { from: '2026-09-02', to: '2026-09-02', by: 'device' }));
    assert.deepEqual(devs, new Map([[f.deviceId, [1, 0]], [other.id, [0, 1]]]));
  });

  it('one invalid event rejects the whole batch, names the field, and stores nothing', async () => {
    const f = await api.fixture(TZ);
    const t = Date.parse('2026-08-10T09:00:00Z');
    const good = [press(t, 'satisfied'), press(t + GAP, 'dissatisfied'), press(t + 2 * GAP, 'satisfied'), press(t + 3 * GAP, 'satisfied')];
    const { id: _dropId, ...noId } = good[3]!;
    const { ts: _dropTs, ...noTs } = good[0]!;
    const { button: _dropButton, ...noButton } = good[1]!;
    const cases: Array<[string, Ev[], string]> = [
      ['unknown button', [good[0]!, good[1]!, good[2]!, { ...good[3]!, button: 'neutral' }], 'events[3].button'],
      ['button missing', [good[0]!, noButton, good[2]!], 'events[1].button'],
      ['ts not a date', [good[0]!, { ...good[1]!, ts: 'yesterday' }], 'events[1].ts'],
      ['ts without offset', [{ ...good[0]!, ts: '2026-08-10T12:00:00' }, good[1]!], 'events[0].ts'],
      ['ts on a day that does not exist', [good[0]!, good[1]!, { ...good[2]!, ts: '2026-02-30T10:00:00Z' }], 'events[2].ts'],
      ['ts hour 24', [good[0]!, { ...good[1]!, ts: '2026-08-10T24:30:00+03:00' }], 'events[1].ts'],
      ['ts fractional milliseconds', [good[0]!, { ...good[1]!, ts: t + 0.5 }], 'events[1].ts'],
      ['ts before 2000', [good[0]!, { ...good[1]!, ts: Date.parse('1999-12-31T23:59:59Z') }], 'events[1].ts'],
      ['ts negative', [{ ...good[0]!, ts: -1 }], 'events[0].ts'],
      ['ts boolean', [good[0]!, good[1]!, { ...good[2]!, ts: true }], 'events[2].ts'],
      ['ts missing', [noTs, good[1]!], 'events[0].ts'],
      ['id missing', [good[0]!, good[1]!, good[2]!, noId], 'events[3].id'],
      ['id empty', [{ ...good[0]!, id: '' }], 'events[0].id'],
      ['id longer than 64', [good[0]!, { ...good[1]!, id: 'x'.repeat(65) }], 'events[1].id'],
      ['id not printable ASCII', [good[0]!, { ...good[1]!, id: 'нажатие-1' }], 'events[1].id'],
      ['id with a control character', [{ ...good[0]!, id: 'p\u0000x' }], 'events[0].id'],
      ['id a number', [{ ...good[0]!, id: 17 }], 'events[0].id'],
    ];
    for (const [what, events, field] of cases) {
      assertError(await api.votes(f.deviceToken, events), 400, field, 'invalid_field', what);
    }
    // Nothing of any rejected batch was stored: the valid events are all new, and nothing is counted.
    assert.deepEqual(await counted(f.orgId, '2026-08-01', '2026-08-31'), [0, 0]);
    assert.deepEqual((await api.votes(f.deviceToken, good)).body, { accepted: 4, duplicates: 0 });
    assert.deepEqual(await counted(f.orgId, '2026-08-01', '2026-08-31'), [3, 1]);
  });

  it('a body that is not a batch of 1 to 1000 events is refused naming the field', async () => {
    const f = await api.fixture(TZ);
    assertError(await api.call('POST', '/api/v1/ingest/votes', {}, f.deviceToken), 400, 'events');
    assertError(await api.call('POST', '/api/v1/ingest/votes', { events: [] }, f.deviceToken), 400, 'events');
    assertError(await api.call('POST', '/api/v1/ingest/votes', { events: 'many' }, f.deviceToken), 400, 'events');
    assertError(await api.call('POST', '/api/v1/ingest/votes', '{"events": [', f.deviceToken), 400);
    assertError(await api.call('POST', '/api/v1/ingest/votes', '[]', f.deviceToken), 400);
    // A panel that was offline for two weeks uploads its buffer.
    const t = Date.parse('2026-07-01T00:00:00Z');
    const tooMany = Array.from({ length: 1001 }, (_, i) => press(t + i * GAP, i % 3 ? 'satisfied' : 'dissatisfied'));
    const span = { from: localDay(TZ, t), to: localDay(TZ, t + 1001 * GAP) };
    assertError(await api.votes(f.deviceToken, tooMany), 400, 'events');
    assert.deepEqual(await counted(f.orgId, span.from, span.to), [0, 0]);
    // Exactly 1000 is allowed, and every one of them counts.
    const thousand = tooMany.slice(0, 1000);
    assert.deepEqual((await api.votes(f.deviceToken, thousand)).body, { accepted: 1000, duplicates: 0 });
    const sat = thousand.filter((e) => e.button === 'satisfied').length;
    assert.deepEqual(await counted(f.orgId, span.from, span.to), [sat, 1000 - sat]);
  });

  it('a body over the size limit gets 413 and stores nothing', async () => {
    const f = await api.fixture(TZ);
    const e = press(Date.parse('2026-07-05T10:00:00Z'));
    const body = JSON.stringify({ events: [e], padding: 'x'.repeat(2 * 1024 * 1024) });
    assertError(await api.call('POST', '/api/v1/ingest/votes', body, f.deviceToken), 413, undefined, 'body_too_large');
    assert.deepEqual((await api.votes(f.deviceToken, [e])).body, { accepted: 1, duplicates: 0 });
  });

  it('a body that is not JSON by its content type gets 415 and stores nothing', async () => {
    const f = await api.fixture(TZ);
    const e = press(Date.parse('2026-07-06T10:00:00Z'));
    const json = JSON.stringify({ events: [e] });
    for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded']) {
      const r = await api.call('POST', '/api/v1/ingest/votes', json, f.deviceToken, { 'content-type': type });
      assertError(r, 415, undefined, 'unsupported_media_type');
    }
    assert.deepEqual(await counted(f.orgId, '2026-07-06', '2026-07-06'), [0, 0]);
    // JSON with an explicit charset is JSON.
    const ok = await api.call('POST', '/api/v1/ingest/votes', json, f.deviceToken, { 'content-type': 'application/json; charset=utf-8' });
    assert.deepEqual(ok.body, { accepted: 1, duplicates: 0 });
  });

  it('missing, unknown or malformed credentials get 401 and store nothing', async () => {
    const f = await api.fixture(TZ);
    const e = press(Date.parse('2026-07-07T10:00:00Z'));
    const body = { events: [e] };
    assertError(await api.call('POST', '/api/v1/ingest/votes', body, null), 401);
    assertError(await api.call('POST', '/api/v1/ingest/votes', body, 'lbd_not-a-real-device-token'), 401);
    assertError(await api.call('POST', '/api/v1/ingest/votes', body, f.deviceToken.slice(0, -2)), 401);
    assertError(await api.call('POST', '/api/v1/ingest/votes', body, 'garbage'), 401);
    assertError(await api.call('POST', '/api/v1/ingest/votes', body, null, { authorization: `Basic ${Buffer.from(`x:${f.deviceToken}`).toString('base64')}` }), 401);
    assertError(await api.call('POST', '/api/v1/ingest/votes', body, null, { authorization: f.deviceToken }), 401);
    assertError(await api.call('POST', '/api/v1/ingest/heartbeat', { battery: 50 }, null), 401);
    assertError(await api.call('POST', '/api/v1/ingest/heartbeat', { battery: 50 }, 'lbd_not-a-real-device-token'), 401);
    assert.deepEqual(await counted(f.orgId, '2026-07-07', '2026-07-07'), [0, 0]);
  });

  it('valid credentials of the wrong kind get 403: a user token, or a device that does not press buttons', async () => {
    const f = await api.fixture(TZ);
    const e = press(Date.parse('2026-07-08T10:00:00Z'));
    assertError(await api.votes(api.adminToken, [e]), 403);
    const counter = await api.ok('POST', `/api/v1/orgs/${f.orgId}/devices`, { kind: 'counter', locationId: f.locationId }, 201);
    const camera = await api.ok('POST', `/api/v1/orgs/${f.orgId}/devices`, { kind: 'camera', locationId: f.locationId }, 201);
    assertError(await api.votes(counter.token, [e]), 403);
    assertError(await api.votes(camera.token, [e]), 403);
    assertError(await api.call('POST', '/api/v1/ingest/heartbeat', {}, api.adminToken), 403);
    assert.deepEqual(await counted(f.orgId, '2026-07-08', '2026-07-08'), [0, 0]);
    // The counter may still report a heartbeat, and the panel may still vote.
    assert.equal((await api.call('POST', '/api/v1/ingest/heartbeat', { firmware: 'c-1' }, counter.token)).status, 200);
    assert.deepEqual((await api.votes(f.deviceToken, [e])).body, { accepted: 1, duplicates: 0 });
  });

  it('a device token is refused on admin and score routes', async () => {
    const f = await api.fixture(TZ);
    const tok = f.deviceToken;
    const calls: Array<[string, string, unknown?]> = [
      ['GET', '/api/v1/orgs'],
      ['POST', '/api/v1/orgs', { name: 'Device-made org' }],
      ['GET', `/api/v1/orgs/${f.orgId}`],
      ['GET', `/api/v1/orgs/${f.orgId}/locations`],
      ['POST', `/api/v1/orgs/${f.orgId}/locations`, { name: 'Rogue', timezone: TZ }],
      ['GET', `/api/v1/orgs/${f.orgId}/devices`],
      ['POST', `/api/v1/orgs/${f.orgId}/devices`, { kind: 'panel', locationId: f.locationId }],
      ['POST', `/api/v1/orgs/${f.orgId}/devices/${f.deviceId}/assignment`, { locationId: f.locationId }],
      ['PUT', `/api/v1/orgs/${f.orgId}/scoring`, { minSample: 1 }],
      ['POST', `/api/v1/orgs/${f.orgId}/users`, { email: 'dev@x.test', name: 'Dev', role: 'org-admin', password: 'long-enough-1' }],
      ['GET', `/api/v1/orgs/${f.orgId}/scores?from=2026-01-01&to=2026-01-31`],
    ];
    for (const [method, path, body] of calls) {
      const r = await api.call(method, path, body, tok);
      assertError(r, 403);
    }
    // Nothing was created by those calls.
    assert.equal((await api.ok('GET', `/api/v1/orgs/${f.orgId}/locations`, undefined)).rows.length, 1);
    assert.equal((await api.ok('GET', `/api/v1/orgs/${f.orgId}/devices`, undefined)).rows.length, 1);
  });

  it('a ts more than 5 minutes ahead is clamped to the receive time and marked; a slightly fast clock is kept', async () => {
    const f = await api.fixture(TZ);
    const before = Date.now();
    const ahead = press(before + 3 * DAY, 'dissatisfied');
    const slightlyFast = press(before + 2 * MIN, 'satisfied');
    const r = await api.votes(f.deviceToken, [ahead, slightlyFast]);
    const afterAck = Date.now();
    assert.deepEqual(r.body, { accepted: 2, duplicates: 0 });

    // Counted on the local day it was received, not three days later.
    const today = localDay(TZ, before);
    const days = byKey(await api.scores(f.orgId, { from: plusDays(today, -1), to: plusDays(today, 4), by: 'day' }));
    assert.equal(days.get(localDay(TZ, before + 3 * DAY)), undefined, 'nothing lands on the future day');
    const slightDay = localDay(TZ, before + 2 * MIN);
    const exp = new Map<string, [number, number]>([[today, [0, 1]]]);
    exp.set(slightDay, [(exp.get(slightDay)?.[0] ?? 0) + 1, exp.get(slightDay)?.[1] ?? 0]);
    assert.deepEqual(days, exp);

    // Stored with the receive time and marked; the device's own time is kept beside it.
    const rows = await ctx().store.db.selectFrom('votes').select(['event_id', 'ts', 'device_ts', 'clamped'])
      .where('device_id', '=', f.deviceId).execute();
    const got = new Map(rows.map((x) => [x.event_id, { ts: Number(x.ts), deviceTs: Number(x.device_ts), clamped: Number(x.clamped) }]));
    const a = got.get(ahead.id as string)!;
    assert.ok(a.ts >= before && a.ts <= afterAck, `clamped ts ${a.ts} within the request ${before}..${afterAck}`);
    assert.equal(a.deviceTs, ahead.ts);
    assert.equal(a.clamped, 1);
    assert.deepEqual(got.get(slightlyFast.id as string), { ts: slightlyFast.ts, deviceTs: slightlyFast.ts, clamped: 0 });
  });

  it('absurd timestamps are refused with 400 naming the field, never 500', async () => {
    const f = await api.fixture(TZ);
    const ok = press(Date.parse('2026-06-01T10:00:00Z'));
    const absurd: Array<[unknown, string]> = [
      [1e19, 'beyond 64-bit milliseconds'],
      [2 ** 63, 'just above int8 max'],
      [8.64e15 + 1, 'after the last representable date'],
      ['10000-01-01T00:00:00Z', 'year 10000'],
      ['+010000-01-01T00:00:00Z', 'extended year 10000'],
      ['275760-09-13T00:00:00Z', 'JS date limit'],
    ];
    for (const [ts, what] of absurd) {
      const r = await api.votes(f.deviceToken, [ok, press(ts as number)]);
      assert.notEqual(r.status, 500, `${what}: ${JSON.stringify(r.body)}`);
      assertError(r, 400, 'events[1].ts', 'invalid_field', what);
    }
    // JSON's 1e400 is Infinity once parsed: refused too.
    const raw = `{"events":[{"id":"inf-1","ts":1e400,"button":"satisfied"}]}`;
    assertError(await api.call('POST', '/api/v1/ingest/votes', raw, f.deviceToken), 400, 'events[0].ts');
    assert.deepEqual(await counted(f.orgId, '2026-06-01', '2026-06-01'), [0, 0]);
  });

  it('a reason with unusual characters is stored or refused by name, never 500', async () => {
    const f = await api.fixture(TZ);
    const t = Date.parse('2026-06-02T10:00:00Z');
    for (const reason of ['очередь', 'slow 🐢', 'nul\u0000byte', '\ud800 lone surrogate']) {
      const r = await api.votes(f.deviceToken, [press(t, 'dissatisfied', { reason })]);
      assert.notEqual(r.status, 500, `${JSON.stringify(reason)}: ${JSON.stringify(r.body)}`);
      if (r.status !== 200) assertError(r, 400, 'events[0].reason');
    }
  });

  it('a heartbeat is stored and shown with the device; fractional readings and big counts are never a 500', async () => {
    const f = await api.fixture(TZ);
    const t0 = Date.now();
    const r = await api.call('POST', '/api/v1/ingest/heartbeat', { battery: 87, rssi: -67, firmware: '1.4.2', buffered: 12 }, f.deviceToken);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.ok, true);
    assert.ok(Math.abs(Date.parse(r.body.serverTime) - t0) < MIN, 'serverTime is the server clock, ISO UTC');
    assert.match(r.body.serverTime, /Z$/);
    const device = async (): Promise<any> => (await api.ok('GET', `/api/v1/orgs/${f.orgId}/devices`, undefined)).rows.find((d: any) => d.id === f.deviceId);
    let d = await device();
    assert.deepEqual([d.battery, d.rssi, d.firmware, d.buffered], [87, -67, '1.4.2', 12]);
    assert.ok(Math.abs(Date.parse(d.lastSeenAt) - t0) < MIN);

    // Fractional readings: accepted and stored (to within rounding), or refused naming the field.
    const frac = await api.call('POST', '/api/v1/ingest/heartbeat', { battery: 55.5, rssi: -71.25 }, f.deviceToken);
    assert.notEqual(frac.status, 500, JSON.stringify(frac.body));
    if (frac.status === 200) {
      d = await device();
      assert.ok(Math.abs(d.battery - 55.5) <= 0.5, `battery ${d.battery}`);
      assert.ok(Math.abs(d.rssi - -71.25) <= 0.5, `rssi ${d.rssi}`);
      assert.deepEqual([d.firmware, d.buffered], ['1.4.2', 12], 'fields not sent are kept');
    } else {
      assertError(frac, 400);
      assert.ok(['battery', 'rssi'].includes(frac.body.error.field), JSON.stringify(frac.body));
    }

    // A device that was offline for long buffers a lot.
    for (const buffered of [5_000_000_000, Number.MAX_SAFE_INTEGER]) {
      const big = await api.call('POST', '/api/v1/ingest/heartbeat', { buffered }, f.deviceToken);
      assert.notEqual(big.status, 500, `buffered ${buffered}: ${JSON.stringify(big.body)}`);
      if (big.status === 200) assert.equal((await device()).buffered, buffered);
      else assertError(big, 400, 'buffered');
    }

    // Readings outside their range are refused by name.
    assertError(await api.call('POST', '/api/v1/ingest/heartbeat', { battery: 101 }, f.deviceToken), 400, 'battery');
    assertError(await api.call('POST', '/api/v1/ingest/heartbeat', { battery: -1 }, f.deviceToken), 400, 'battery');
    assertError(await api.call('POST', '/api/v1/ingest/heartbeat', { rssi: 5 }, f.deviceToken), 400, 'rssi');
    assertError(await api.call('POST', '/api/v1/ingest/heartbeat', { buffered: -3 }, f.deviceToken), 400, 'buffered');
    assertError(await api.call('POST', '/api/v1/ingest/heartbeat', { buffered: 2.5 }, f.deviceToken), 400, 'buffered');
    assertError(await api.call('POST', '/api/v1/ingest/heartbeat', { firmware: 'v'.repeat(65) }, f.deviceToken), 400, 'firmware');
  });

  it('a device moved during the day: presses before the move stay where it stood, later ones go to the new place', async () => {
    const f = await api.fixture(TZ);
    const desk = await api.ok('POST', `/api/v1/orgs/${f.orgId}/touchpoints`, { name: 'Desk', locationId: f.locationId }, 201);
    const loc2 = await api.ok('POST', `/api/v1/orgs/${f.orgId}/locations`, { name: 'Airport', timezone: TZ }, 201);
    const gate = await api.ok('POST', `/api/v1/orgs/${f.orgId}/touchpoints`, { name: 'Gate 4', locationId: loc2.id }, 201);
    const dev = await api.ok('POST', `/api/v1/orgs/${f.orgId}/devices`, { kind: 'panel', locationId: f.locationId, touchpointId: desk.id }, 201);

    const now = Date.now();
    const from = now + MIN; // a move scheduled a minute from now
    const moved = await api.ok('POST', `/api/v1/orgs/${f.orgId}/devices/${dev.id}/assignment`, { locationId: loc2.id, touchpointId: gate.id, from }, 200);
    assert.equal(Date.parse(moved.validFrom), from);

    const beforeMove = [press(now - 2 * 3_600_000, 'satisfied'), press(now - 5 * MIN, 'dissatisfied'), press(from - 1, 'satisfied')];
    const afterMove = [press(from, 'dissatisfied'), press(from + MIN, 'dissatisfied'), press(from + 2 * MIN, 'satisfied')];
    assert.deepEqual((await api.votes(dev.token, [...beforeMove, ...afterMove])).body, { accepted: 6, duplicates: 0 });

    const days = [...new Set([...beforeMove, ...afterMove].map((e) => localDay(TZ, e.ts as number)))].sort();
    const range = { from: days[0]!, to: days.at(-1)! };
    assert.deepEqual(byKey(await api.scores(f.orgId, { ...range, by: 'location' })), new Map([[f.locationId, [2, 1]], [loc2.id, [1, 2]]]));
    assert.deepEqual(byKey(await api.scores(f.orgId, { ...range, by: 'touchpoint' })), new Map([[desk.id, [2, 1]], [gate.id, [1, 2]]]));
    // A press buffered offline before the move, delivered after it, still counts where the device stood.
    assert.deepEqual((await api.votes(dev.token, [press(now - 30 * MIN, 'satisfied')])).body, { accepted: 1, duplicates: 0 });
    assert.deepEqual(byKey(await api.scores(f.orgId, { ...range, by: 'location', locationId: f.locationId })), new Map([[f.locationId, [3, 1]]]));
  });

  it('a move cannot start in the past, and a bad `from` is a 400 naming it, never 500', async () => {
    const f = await api.fixture(TZ);
    const loc2 = await api.ok('POST', `/api/v1/orgs/${f.orgId}/locations`, { name: 'Second', timezone: TZ }, 201);
    const path = `/api/v1/orgs/${f.orgId}/devices/${f.deviceId}/assignment`;
    for (const from of [Date.now() - DAY, '2020-01-01T00:00:00Z', 1e16, 8.64e15 + 1, 1e19, 'soon', '10000-01-01T00:00:00Z', 1.5]) {
      const r = await api.call('POST', path, { locationId: loc2.id, from });
      assert.notEqual(r.status, 500, `from ${from}: ${JSON.stringify(r.body)}`);
      assertError(r, 400, 'from');
    }
    // The device has not moved.
    const d = (await api.ok('GET', `/api/v1/orgs/${f.orgId}/devices`, undefined)).rows.find((x: any) => x.id === f.deviceId);
    assert.equal(d.locationId, f.locationId);
    const now = Date.now();
    assert.deepEqual((await api.votes(f.deviceToken, [press(now, 'satisfied')])).body, { accepted: 1, duplicates: 0 });
    const today = localDay(TZ, now);
    assert.deepEqual(byKey(await api.scores(f.orgId, { from: plusDays(today, -1), to: plusDays(today, 1), by: 'location' })), new Map([[f.locationId, [1, 0]]]));
  });

  it('the device list shows where a device stands now, not where it is scheduled to go', async () => {
    const f = await api.fixture(TZ);
    const loc2 = await api.ok('POST', `/api/v1/orgs/${f.orgId}/locations`, { name: 'Later', timezone: TZ }, 201);
    const loc3 = await api.ok('POST', `/api/v1/orgs/${f.orgId}/locations`, { name: 'Now', timezone: TZ }, 201);
    const other = await api.ok('POST', `/api/v1/orgs/${f.orgId}/devices`, { kind: 'fob', locationId: f.locationId }, 201);
    const list = async (): Promise<Map<string, string>> =>
      new Map((await api.ok('GET', `/api/v1/orgs/${f.orgId}/devices`, undefined)).rows.map((d: any) => [d.id, d.locationId]));

    // Scheduled for tomorrow: today it still stands at the first location.
    await api.ok('POST', `/api/v1/orgs/${f.orgId}/devices/${f.deviceId}/assignment`, { locationId: loc2.id, from: Date.now() + DAY }, 200);
    // Moved now: the list shows the new location at once.
    await api.ok('POST', `/api/v1/orgs/${f.orgId}/devices/${other.id}/assignment`, { locationId: loc3.id }, 200);
    const devices = await list();
    assert.equal(devices.get(other.id), loc3.id, 'moved now');
    assert.equal(devices.get(f.deviceId), f.locationId, 'a move scheduled for tomorrow is not the current placement');
    // And a press now still goes to where the list says.
    const now = Date.now();
    assert.deepEqual((await api.votes(f.deviceToken, [press(now)])).body, { accepted: 1, duplicates: 0 });
    const today = localDay(TZ, now);
    assert.deepEqual(byKey(await api.scores(f.orgId, { from: plusDays(today, -1), to: plusDays(today, 1), by: 'location' })), new Map([[f.locationId, [1, 0]]]));
  });

  it('50 concurrent single-vote requests are all acknowledged and counted exactly once', async () => {
    const f: Fixture = await api.fixture(TZ);
    const devices = [{ id: f.deviceId, token: f.deviceToken }];
    for (let i = 0; i < 9; i++) {
      const d = await api.ok('POST', `/api/v1/orgs/${f.orgId}/devices`, { kind: i % 2 ? 'fob' : 'panel', locationId: f.locationId }, 201);
      devices.push({ id: d.id, token: d.token });
    }
    // Ten devices, five presses each, half an hour apart on one local day.
    const t = Date.parse('2026-05-12T05:00:00Z');
    const sent = Array.from({ length: 50 }, (_, i) => ({ device: devices[i % 10]!, e: press(t + Math.floor(i / 10) * 30 * MIN + (i % 10) * MIN, i % 4 === 0 ? 'dissatisfied' : 'satisfied') }));
    const answers = await Promise.all(sent.map((s) => api.votes(s.device.token, [s.e])));
    for (const a of answers) {
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.deepEqual(a.body, { accepted: 1, duplicates: 0 });
    }
    const sat = sent.filter((s) => s.e.button === 'satisfied').length;
    assert.deepEqual(await counted(f.orgId, '2026-05-12', '2026-05-12'), [sat, 50 - sat]);
    const exp = new Map<string, [number, number]>();
    for (const s of sent) {
      const c = exp.get(s.device.id) ?? [0, 0];
      c[s.e.button === 'satisfied' ? 0 : 1]++;
      exp.set(s.device.id, c);
    }
    assert.deepEqual(byKey(await api.scores(f.orgId, { from: '2026-05-12', to: '2026-05-12', by: 'device' })), exp);
    // Every one of them was stored: retrying all 50 finds only duplicates.
    const again = await Promise.all(sent.map((s) => api.votes(s.device.token, [s.e])));
    for (const a of again) assert.deepEqual(a.body, { accepted: 0, duplicates: 1 });
  });

  it('the same press retried concurrently is stored once', async () => {
    const f = await api.fixture(TZ);
    const e = press(Date.parse('2026-05-13T09:00:00Z'), 'dissatisfied');
    const answers = await Promise.all(Array.from({ length: 20 }, () => api.votes(f.deviceToken, [e])));
    for (const a of answers) assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(answers.reduce((s, a) => s + a.body.accepted, 0), 1);
    assert.equal(answers.reduce((s, a) => s + a.body.duplicates, 0), 19);
    assert.deepEqual(await counted(f.orgId, '2026-05-13', '2026-05-13'), [0, 1]);
  });
});
