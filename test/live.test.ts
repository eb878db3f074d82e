// The live stream (PROTOCOL.md §5): a vote sent through the ingest API arrives on the org's event
// stream within a second with the protocol's fields; tenancy and manager location grants hold;
// heartbeats flow; a slow reader costs bounded memory.
import { it, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Api, eachBackend } from './harness.ts';
import { SseStream as Stream } from './sse.ts';
import { startServer } from '../src/server.ts';
import { LiveHub } from '../src/live/hub.ts';
import type { PreparedVote } from '../src/ingest/vote.ts';

eachBackend('live stream', (ctx) => {
  let api: Api;
  let org: string;
  let loc1: string;
  let loc2: string;
  let tp: string;
  let emp: string;
  let dev1: { id: string; token: string };
  let dev2: { id: string; token: string };
  const streams: Stream[] = [];
  const open = async (token: string, orgId = org): Promise<Stream> => {
    const s = await Stream.open(`${api.url}/api/v1/orgs/${orgId}/live`, token);
    streams.push(s);
    return s;
  };
  const signIn = async (email: string, password: string): Promise<string> =>
    (await api.ok('POST', '/api/v1/auth/token', { email, password }, 200, null)).token;

  before(async () => {
    api = await Api.start(ctx().store);
    const f = await api.fixture('Europe/Moscow');
    org = f.orgId;
    loc1 = f.locationId;
    loc2 = (await api.ok('POST', `/api/v1/orgs/${org}/locations`, { name: 'Second street', timezone: 'Asia/Novosibirsk' }, 201)).id;
    tp = (await api.ok('POST', `/api/v1/orgs/${org}/touchpoints`, { name: 'Counter', locationId: loc1 }, 201)).id;
    emp = (await api.ok('POST', `/api/v1/orgs/${org}/employees`, { name: 'Anna' }, 201)).id;
    dev1 = await api.ok('POST', `/api/v1/orgs/${org}/devices`, { kind: 'fob', locationId: loc1, touchpointId: tp, employeeId: emp }, 201);
    dev2 = await api.ok('POST', `/api/v1/orgs/${org}/devices`, { kind: 'panel', locationId: loc2 }, 201);
  });
  after(async () => {
    for (const s of streams) s.close();
    await api?.close();
  });

  it('delivers a vote posted through the ingest API within a second, with the PROTOCOL §5 fields', async () => {
    const s = await open(api.adminToken);
    assert.equal(s.res.status, 200);
    assert.match(s.res.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.match(s.res.headers.get('cache-control') ?? '', /no-cache/);
    await s.next((e) => e.event === ':'); // the opening comment: subscribed
    const ts = '2026-11-20T12:03:55+03:00';
    const sent = performance.now();
    const r = await api.votes(dev1.token, [{ id: 'live-1', ts, button: 'dissatisfied', reason: 'queue' }]);
    const acked = performance.now();
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { accepted: 1, duplicates: 0 });
    const e = await s.next((x) => x.event === 'vote', 1000);
    assert.ok(e.at - acked < 1000, `arrived ${Math.round(e.at - acked)} ms after the ack`);
    assert.ok(e.at >= sent);
    assert.deepEqual(JSON.parse(e.data), {
      id: 'live-1', deviceId: dev1.id, locationId: loc1, touchpointId: tp, employeeId: emp,
      button: 'dissatisfied', ts: '2026-11-20T09:03:55.000Z', flagged: [], reason: 'queue',
    });
  });

  it('sends a retried vote once: duplicates are not stored again, so not streamed again', async () => {
    const s = await open(api.adminToken);
    await s.next((e) => e.event === ':');
    await api.votes(dev1.token, [{ id: 'live-1', ts: Date.now(), button: 'dissatisfied' }, { id: 'live-2', ts: Date.now(), button: 'satisfied' }]);
    await s.next((e) => e.event === 'vote');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(s.votes().map((x) => x.v.id), ['live-2']);
  });

  it('answers 401 without a token, 403 to a device token and to a user of another organisation', async () => {
    const anon = await fetch(`${api.url}/api/v1/orgs/${org}/live`);
    assert.equal(anon.status, 401);
    const dev = await Stream.open(`${api.url}/api/v1/orgs/${org}/live`, dev1.token);
    assert.equal(dev.res.status, 403);
    const other = (await api.ok('POST', '/api/v1/orgs', { name: 'Other org' }, 201)).id;
    await api.ok('POST', `/api/v1/orgs/${other}/users`, { email: 'stranger@other.test', name: 'Stranger', role: 'org-admin', password: 'stranger-password' }, 201);
    const token = await signIn('stranger@other.test', 'stranger-password');
    const s = await Stream.open(`${api.url}/api/v1/orgs/${org}/live`, token);
    assert.equal(s.res.status, 403);
    const body = await s.res.json() as { error: { code: string } };
    assert.equal(body.error.code, 'forbidden');
    // Their own org's stream opens, and carries nothing of this org.
    const own = await open(token, other);
    assert.equal(own.res.status, 200);
    await api.votes(dev2.token, [{ id: 'tenant-1', ts: Date.now(), button: 'satisfied' }]);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(own.votes(), []);
  });

  it('gives a manager only the votes of the granted locations', async () => {
    await api.ok('POST', `/api/v1/orgs/${org}/users`, { email: 'manager@live.test', name: 'Manager', role: 'manager', password: 'manager-password', locationIds: [loc1] }, 201);
    const manager = await open(await signIn('manager@live.test', 'manager-password'));
    const admin = await open(api.adminToken);
    await manager.next((e) => e.event === ':');
    await admin.next((e) => e.event === ':');
    // Not granted first, then granted: the manager's first vote must be the granted one.
    await api.votes(dev2.token, [{ id: 'mgr-other', ts: Date.now(), button: 'dissatisfied' }]);
    await api.votes(dev1.token, [{ id: 'mgr-mine', ts: Date.now(), button: 'satisfied' }]);
    await admin.next((e) => e.event === 'vote' && JSON.parse(e.data).id === 'mgr-mine', 1000);
    await manager.next((e) => e.event === 'vote', 1000);
    assert.deepEqual(admin.votes().map((x) => x.v.id), ['mgr-other', 'mgr-mine']);
    assert.deepEqual(manager.votes().map((x) => [x.v.id, x.v.locationId]), [['mgr-mine', loc1]]);
    // And the manager cannot open a stream of another org either.
    const other = (await api.ok('GET', '/api/v1/orgs', undefined)).rows.find((o: { id: string }) => o.id !== org).id;
    const denied = await Stream.open(`${api.url}/api/v1/orgs/${other}/live`, await signIn('manager@live.test', 'manager-password'));
    assert.equal(denied.res.status, 403);
  });

  it('sends heartbeat comments and ends open streams when the server closes', async () => {
    const server = await startServer({ store: ctx().store, fleet: false, live: { heartbeatMs: 50 } });
    const s = await Stream.open(`${server.url}/api/v1/orgs/${org}/live`, api.adminToken);
    try {
      await s.next((e) => e.event === ':' && s.events.filter((x) => x.event === ':').length >= 3, 2000);
      assert.equal(server.live.stats.connections, 1);
    } finally {
      const t = performance.now();
      await server.close(); // must not wait for the open stream
      assert.ok(performance.now() - t < 3000, 'close() ended the stream');
      s.close();
    }
    assert.equal(server.live.stats.connections, 0);
  });
});

describe('live hub', () => {
  const vote = (i: number, orgId = 'org_a', locationId = 'loc_1'): PreparedVote => ({
    deviceId: 'dev_1', eventId: `e-${i}`, orgId, ts: Date.UTC(2026, 10, 20, 12), deviceTs: 0, receivedAt: 0, clamped: false,
    locationId, touchpointId: null, employeeId: null, localDay: '2026-11-20', localHour: 15, button: 'satisfied', reason: null, flags: [],
  });

  /** A writable that accepts nothing until released: a client that stopped reading. */
  function stuckSink(): { sink: Writable; written: string[]; release(): void } {
    const written: string[] = [];
    let pending: Array<() => void> = [];
    let released = false;
    const sink = new Writable({
      highWaterMark: 1024, decodeStrings: false,
      write(chunk: string, _enc, cb) {
        written.push(String(chunk));
        if (released) cb(); else pending.push(cb);
      },
    });
    return { sink, written, release() { released = true; for (const cb of pending.splice(0)) cb(); pending = []; } };
  }

  it('bounds the memory of a client that stops reading, and tells it how many votes it missed', async () => {
    const hub = new LiveHub({ maxQueuedBytes: 4096, heartbeatMs: 60_000 });
    const { sink, written, release } = stuckSink();
    const sub = hub.subscribe(sink, { orgId: 'org_a', locations: null });
    for (let i = 0; i < 2000; i++) hub.publish([vote(i)]);
    assert.ok(sub.queuedBytes <= 4096, `queued ${sub.queuedBytes} bytes`);
    assert.ok(sink.writableLength < 2048, `socket buffer ${sink.writableLength} bytes`);
    assert.ok(sub.dropped > 1900, `dropped ${sub.dropped}`);
    const dropped = sub.dropped;
    release();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const text = written.join('');
    const delivered = (text.match(/event: vote/g) ?? []).length;
    assert.equal(delivered + dropped, 2000, 'every vote was either delivered or counted as dropped');
    assert.match(text, new RegExp(`event: dropped\\ndata: \\{"count":${dropped}\\}\\n\\n`));
    // Once it reads again, it gets everything.
    hub.publish([vote(5000)]);
    await new Promise((r) => setImmediate(r));
    assert.match(written.join(''), /"id":"e-5000"/);
    sub.close();
    assert.equal(hub.stats.connections, 0);
  });

  it('closes a connection blocked for longer than the stall limit', async () => {
    const hub = new LiveHub({ maxQueuedBytes: 1024, heartbeatMs: 20, stallMs: 60 });
    const { sink } = stuckSink();
    hub.subscribe(sink, { orgId: 'org_a', locations: null });
    for (let i = 0; i < 100; i++) hub.publish([vote(i)]);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(sink.destroyed, 'the stalled connection was closed');
    assert.equal(hub.stats.connections, 0);
    assert.equal(hub.stats.stalled, 1);
  });

  it('routes by organisation and location', () => {
    const hub = new LiveHub();
    const a = stuckSink(); a.release();
    const b = stuckSink(); b.release();
    hub.subscribe(a.sink, { orgId: 'org_a', locations: ['loc_2'] });
    hub.subscribe(b.sink, { orgId: 'org_b', locations: null });
    hub.publish([vote(1, 'org_a', 'loc_1'), vote(2, 'org_a', 'loc_2'), vote(3, 'org_b', 'loc_9')]);
    assert.deepEqual(a.written.join('').match(/"id":"[^"]+"/g), ['"id":"e-2"']);
    assert.deepEqual(b.written.join('').match(/"id":"[^"]+"/g), ['"id":"e-3"']);
    hub.closeAll();
  });
});
