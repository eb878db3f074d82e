// The live stream across server nodes (README "### Live stream", src/live/pg-relay.ts): two servers
// on the same PostgreSQL schema; a press stored by node B reaches streams opened on node A exactly
// once with the body a local stream sends, big batches whole and in order, grants still applied,
// a killed listener reconnects and tells its streams about the gap. PostgreSQL only: the relay is
// a PostgreSQL feature (SQLite is one embedded node), so an unreachable PostgreSQL fails this file.
import { it, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { Api, freshStore, postgresReachable, PG_URL } from './harness.ts';
import { SseStream as Stream } from './sse.ts';
import { openStore, type Store } from '../src/store/db.ts';
import { decodePayload, encodePayloads, liveChannel, MAX_PAYLOAD_BYTES } from '../src/live/pg-relay.ts';
import type { HubVote } from '../src/live/hub.ts';
import type { PgRelay } from '../src/live/pg-relay.ts';

const waitFor = async (cond: () => boolean, what: string, ms = 5000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('live stream across server nodes [postgres]', () => {
  let store: Store;
  let storeB: Store;
  let dispose: () => Promise<void>;
  let a: Api;
  let b: Api;
  let org: string;
  let loc1: string;
  let loc2: string;
  let tp: string;
  let emp: string;
  let fob: { id: string; token: string };
  let panel2: { id: string; token: string };
  const streams: Stream[] = [];
  const open = async (api: Api, path: string, token: string | null = api.adminToken): Promise<Stream> => {
    const s = await Stream.open(`${api.url}${path}`, token);
    streams.push(s);
    return s;
  };
  const relayOf = (api: Api): PgRelay => api.server.relay!;
  const ok = (r: { status: number; body: any }, n: number): void => { assert.equal(r.status, 200); assert.deepEqual(r.body, { accepted: n, duplicates: 0 }); };

  before(async () => {
    if (!(await postgresReachable())) throw new Error(`PostgreSQL is not reachable at ${PG_URL} (set TEST_DATABASE_URL); the multi-node live stream is a PostgreSQL feature and was not tested`);
    ({ store, dispose } = await freshStore('postgres'));
    // Node B: its own process-like pieces (pool, committer, hub, relay) over the same schema.
    storeB = await openStore({ databaseUrl: PG_URL, pgSchema: store.pgSchema! });
    a = await Api.start(store);
    b = await Api.start(storeB);
    const f = await a.fixture('Europe/Moscow');
    org = f.orgId;
    loc1 = f.locationId;
    loc2 = (await a.ok('POST', `/api/v1/orgs/${org}/locations`, { name: 'Second street', timezone: 'Asia/Novosibirsk' }, 201)).id;
    tp = (await a.ok('POST', `/api/v1/orgs/${org}/touchpoints`, { name: 'Counter', locationId: loc1 }, 201)).id;
    emp = (await a.ok('POST', `/api/v1/orgs/${org}/employees`, { name: 'Anna' }, 201)).id;
    fob = await a.ok('POST', `/api/v1/orgs/${org}/devices`, { kind: 'fob', locationId: loc1, touchpointId: tp, employeeId: emp }, 201);
    panel2 = await a.ok('POST', `/api/v1/orgs/${org}/devices`, { kind: 'panel', locationId: loc2 }, 201);
  });
  after(async () => {
    for (const s of streams) s.close();
    await a?.close();
    await b?.close();
    await storeB?.close();
    await dispose?.();
  });

  it('a press stored through node B reaches streams on node A exactly once, with the body a local stream sends', async () => {
    const onA = await open(a, `/api/v1/orgs/${org}/live`);
    const onB = await open(b, `/api/v1/orgs/${org}/live`);
    const link = await a.ok('POST', `/api/v1/orgs/${org}/wall-links`, { label: 'Window' }, 201);
    const wallA = await open(a, `/api/v1/wall/${link.url.split('/')[2]}/live`, null);
    ok(await b.votes(fob.token, [{ id: 'x-1', ts: '2026-11-20T12:03:55+03:00', button: 'dissatisfied', reason: 'очередь' }]), 1);
    const remote = await onA.vote('x-1');
    const local = await onB.vote('x-1');
    assert.equal(remote.data, local.data, 'node A sends the very bytes node B sends');
    assert.deepEqual(JSON.parse(remote.data), {
      id: 'x-1', deviceId: fob.id, locationId: loc1, touchpointId: tp, employeeId: emp,
      button: 'dissatisfied', ts: '2026-11-20T09:03:55.000Z', flagged: [], reason: 'очередь',
    });
    // The wall stream on A strips who and which device, as it does for A's own presses.
    assert.deepEqual(JSON.parse((await wallA.vote('x-1')).data), { id: 'x-1', locationId: loc1, button: 'dissatisfied', ts: '2026-11-20T09:03:55.000Z', flagged: [] });
    // Markers: each node's notifications arrive in order, so once a later one is seen, a duplicate
    // (B's own echo on B, or a second copy on A) would already have been seen too.
    ok(await a.votes(fob.token, [{ id: 'x-2', ts: '2026-11-20T12:04:55+03:00', button: 'satisfied' }]), 1);
    await onB.vote('x-2');
    ok(await b.votes(fob.token, [{ id: 'x-3', ts: '2026-11-20T12:05:55+03:00', button: 'satisfied' }]), 1);
    await onA.vote('x-3');
    await onB.vote('x-3');
    await wallA.vote('x-3');
    for (const s of [onA, onB]) assert.deepEqual(s.votes().map((x) => x.v.id), ['x-1', 'x-2', 'x-3']);
    assert.deepEqual(wallA.votes().map((x) => x.v.id), ['x-1', 'x-2', 'x-3']);
    assert.deepEqual(onA.votes().map((x) => x.raw), onB.votes().map((x) => x.raw));
  });

  it('a 500-vote request through B arrives on A complete and in the order B streams it, in several notifications', async () => {
    const onA = await open(a, `/api/v1/orgs/${org}/live`);
    const onB = await open(b, `/api/v1/orgs/${org}/live`);
    const chunks0 = relayOf(b).stats.sentChunks;
    const t0 = Date.parse('2026-11-21T08:00:00Z');
    // 64-character reasons, 60 of them Cyrillic (2 bytes each in UTF-8): ~260-byte votes, ~30 per notification.
    const events = Array.from({ length: 500 }, (_, i) => ({
      id: `big-${String(i).padStart(3, '0')}`, ts: t0 + i * 60_000, button: i % 3 ? 'satisfied' : 'dissatisfied',
      reason: `${'я'.repeat(60)}${String(i).padStart(4, '0')}`,
    }));
    ok(await b.votes(panel2.token, events), 500);
    await onB.vote('big-499');
    await onA.vote('big-499');
    const got = onA.votes().filter((x) => x.v.id.startsWith('big-'));
    assert.equal(got.length, 500);
    assert.deepEqual(got.map((x) => x.raw), onB.votes().filter((x) => x.v.id.startsWith('big-')).map((x) => x.raw));
    assert.deepEqual(new Set(got.map((x) => x.v.id)), new Set(events.map((e) => e.id)));
    for (const x of got) {
      const e = events.find((ev) => ev.id === x.v.id)!;
      assert.equal(x.v.reason, e.reason);
      assert.equal(x.v.ts, new Date(e.ts).toISOString());
      assert.equal(x.v.locationId, loc2);
    }
    // The reasons alone are 500 × 124 bytes of UTF-8: at least 500·124/7,900 → 8 payloads of < 8,000 bytes.
    assert.ok(relayOf(b).stats.sentChunks - chunks0 >= 8, `${relayOf(b).stats.sentChunks - chunks0} notifications`);
  });

  it("a manager's stream on A gets only the granted location's votes from B; another organisation's stream gets none", async () => {
    const manager = await a.orgUser(org, 'manager', [loc1]);
    const other = await a.ok('POST', '/api/v1/orgs', { name: 'Other org' }, 201);
    const otherLoc = (await a.ok('POST', `/api/v1/orgs/${other.id}/locations`, { name: 'Elsewhere', timezone: 'Europe/Berlin' }, 201)).id;
    const otherDev = await a.ok('POST', `/api/v1/orgs/${other.id}/devices`, { kind: 'panel', locationId: otherLoc }, 201);
    const otherViewer = await a.orgUser(other.id, 'viewer');
    const mgr = await open(a, `/api/v1/orgs/${org}/live`, manager.token);
    const foreign = await open(a, `/api/v1/orgs/${other.id}/live`, otherViewer.token);
    assert.equal((await Stream.open(`${a.url}/api/v1/orgs/${org}/live`, otherViewer.token)).status, 403);
    ok(await b.votes(panel2.token, [{ id: 'm-1', ts: Date.now() - 60_000, button: 'satisfied' }]), 1);
    ok(await b.votes(fob.token, [{ id: 'm-2', ts: Date.now() - 30_000, button: 'dissatisfied' }]), 1);
    ok(await b.votes(otherDev.token, [{ id: 'o-1', ts: Date.now(), button: 'satisfied' }]), 1);
    await mgr.vote('m-2');
    await foreign.vote('o-1'); // after m-1 and m-2 in B's order: they would have arrived by now
    assert.deepEqual(mgr.votes().map((x) => x.v.locationId), [loc1]);
    assert.deepEqual(mgr.votes().map((x) => x.v.id), ['m-2']);
    assert.deepEqual(foreign.votes().map((x) => x.v.id), ['o-1']);
  });

  it('a killed listener connection reconnects and its streams get a gap notice; votes committed while it was down still go out', async () => {
    const onA = await open(a, `/api/v1/orgs/${org}/live`);
    const onB = await open(b, `/api/v1/orgs/${org}/live`);
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      const pidA = relayOf(a).pid!;
      assert.ok(pidA > 0);
      const reconnects = relayOf(a).stats.reconnects;
      assert.equal((await admin.query('select pg_terminate_backend($1) as ok', [pidA])).rows[0].ok, true);
      const gap = await onA.next((e) => e.event === 'dropped');
      assert.deepEqual(JSON.parse(gap.data), { count: null, cause: 'cluster' });
      assert.equal(relayOf(a).stats.reconnects, reconnects + 1);
      assert.notEqual(relayOf(a).pid, pidA);
      ok(await b.votes(fob.token, [{ id: 'k-1', ts: Date.now(), button: 'satisfied' }]), 1);
      await onA.vote('k-1');
      assert.equal(onB.events.filter((e) => e.event === 'dropped').length, 0, "B's feed was not interrupted");

      // Now B's connection: a press stored while B is reconnecting waits and is sent afterwards.
      await admin.query('select pg_terminate_backend($1)', [relayOf(b).pid]);
      await waitFor(() => !relayOf(b).connected, "B's relay to notice");
      ok(await b.votes(fob.token, [{ id: 'k-2', ts: Date.now(), button: 'dissatisfied' }]), 1);
      await onA.vote('k-2');
      await onB.next((e) => e.event === 'dropped');
      assert.equal(onA.count('k-2'), 1);
      assert.equal(onA.events.filter((e) => e.event === 'dropped').length, 1, 'nothing of B was lost: A was not told of another gap');
    } finally {
      await admin.end();
    }
  });

  it("closing a node sends its last votes, then ends its listening connection", async () => {
    const onA = await open(a, `/api/v1/orgs/${org}/live`);
    const c = await Api.start(store);
    const pid = relayOf(c).pid;
    ok(await c.votes(fob.token, [{ id: 'c-1', ts: Date.now(), button: 'satisfied' }]), 1);
    const closing = c.close(); // at once: the vote's notification may still be under way
    assert.ok(pid);
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      const alive = async (): Promise<boolean> => (await admin.query('select 1 from pg_stat_activity where pid = $1', [pid])).rowCount === 1;
      await closing;
      assert.equal(relayOf(c).connected, false);
      await onA.vote('c-1');
      const deadline = Date.now() + 3000;
      while (await alive()) {
        assert.ok(Date.now() < deadline, 'the relay connection outlived the server');
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await admin.end();
    }
  });

  it("stays within its schema: another schema's channel hears nothing of these votes", async () => {
    const listener = new pg.Client({ connectionString: PG_URL });
    await listener.connect();
    const heard = new Map<string, string[]>();
    listener.on('notification', (m) => heard.set(m.channel, [...(heard.get(m.channel) ?? []), m.payload ?? '']));
    const mine = liveChannel(store.pgSchema);
    const otherSchema = `${store.pgSchema}_other`;
    try {
      await listener.query(`listen "${mine}"`);
      await listener.query(`listen "${liveChannel(otherSchema)}"`);
      ok(await b.votes(fob.token, [{ id: 's-1', ts: Date.now(), button: 'satisfied' }]), 1);
      await waitFor(() => (heard.get(mine) ?? []).some((p) => decodePayload(p)?.votes.some((v) => v.eventId === 's-1')), 'the notification');
      assert.equal(heard.get(liveChannel(otherSchema)), undefined);
      assert.notEqual(mine, liveChannel(otherSchema));
    } finally {
      await listener.end();
    }
  });
});

describe('live relay payloads', () => {
  const vote = (i: number, reason: string | null): HubVote => ({
    eventId: `e-"${i}"\\`, orgId: 'org_x', deviceId: 'dev_y', locationId: `loc_${i % 7}`, touchpointId: i % 2 ? 'tp_z' : null,
    employeeId: null, button: i % 5 ? 'satisfied' : 'dissatisfied', ts: 1_700_000_000_000 + i, flags: i % 3 ? [] : ['repeat', 'burst'], reason,
  });

  it('splits a commit into payloads under 8,000 bytes that read back to the same votes in order; the gap flag rides on the first', () => {
    // The worst case the ingest schema allows for a reason: 64 four-byte characters.
    const votes = Array.from({ length: 1000 }, (_, i) => vote(i, i % 2 ? '𝄞'.repeat(64) : null));
    const payloads = encodePayloads('node-1', votes, true);
    assert.ok(payloads.length > 1);
    for (const p of payloads) assert.ok(Buffer.byteLength(p.text) <= MAX_PAYLOAD_BYTES && MAX_PAYLOAD_BYTES < 8000);
    const back = payloads.map((p) => decodePayload(p.text)!);
    assert.deepEqual(back.flatMap((p) => p.votes), votes);
    assert.deepEqual(back.map((p) => p.votes.length), payloads.map((p) => p.votes));
    assert.deepEqual(back.map((p) => p.gap), payloads.map((_, i) => i === 0));
    assert.ok(back.every((p) => p.node === 'node-1'));
    // At most maxChunks, covering a prefix of the votes.
    const first = encodePayloads('node-1', votes, false, 3);
    assert.equal(first.length, 3);
    assert.deepEqual(first.map((p) => p.text), encodePayloads('node-1', votes).slice(0, 3).map((p) => p.text));
    // A gap alone (nothing else to send) is still one payload.
    assert.deepEqual(decodePayload(encodePayloads('n', [], true)[0]!.text), { node: 'n', gap: true, votes: [] });
  });

  it('refuses payloads of another format instead of misreading them', () => {
    assert.equal(decodePayload('not json'), null);
    assert.equal(decodePayload('{"f":2,"n":"x","v":[]}'), null);
    assert.equal(decodePayload('{"f":1,"n":"x","v":[[1,2]]}'), null);
  });

  it('names a channel per schema within the 63-byte limit', () => {
    assert.equal(liveChannel(null), 'lb_live');
    assert.equal(liveChannel('tenant_a'), 'lb_live:tenant_a');
    const long1 = `${'s'.repeat(60)}_one`;
    const long2 = `${'s'.repeat(60)}_two`;
    assert.ok(Buffer.byteLength(liveChannel(long1)) <= 63);
    assert.notEqual(liveChannel(long1), liveChannel(long2));
  });
});

describe('live hub: a commit larger than the socket buffer', () => {
  it("keeps writing when the socket drains during uncork (an HTTP response does), so the commit's tail is not left queued", async () => {
    const { EventEmitter } = await import('node:events');
    const { LiveHub } = await import('../src/live/hub.ts');
    // Like a ServerResponse on a socket the kernel empties at once: writes while corked are
    // buffered (write() says false past 4 KiB, the data still taken); uncork() flushes them and
    // emits 'drain' before returning.
    const got: string[] = [];
    const events = new EventEmitter();
    let corked = 0;
    let buffered = 0;
    let needDrain = false;
    const sink = {
      write(chunk: string) {
        got.push(chunk);
        if (!corked) return true;
        buffered += chunk.length;
        if (buffered <= 4096) return true;
        needDrain = true;
        return false;
      },
      cork() { corked++; },
      uncork() { if (--corked) return; buffered = 0; if (needDrain) { needDrain = false; events.emit('drain'); } },
      once(e: string, l: () => void) { events.once(e, l); return sink; },
      removeListener(e: string, l: () => void) { events.removeListener(e, l); return sink; },
      end() { return sink; }, destroy() { return sink; }, writableEnded: false, destroyed: false,
    } as unknown as import('../src/live/hub.ts').LiveSink;
    const hub = new LiveHub();
    const sub = hub.subscribe(sink, { orgId: 'org_x', locations: null });
    const votes: HubVote[] = Array.from({ length: 500 }, (_, i) => ({
      eventId: `v-${i}`, orgId: 'org_x', deviceId: 'dev_y', locationId: 'loc_z', touchpointId: null, employeeId: null,
      button: 'satisfied', ts: 1_700_000_000_000 + i, flags: [], reason: null,
    }));
    hub.publish(votes);
    assert.equal(got.length, 500);
    assert.deepEqual(got.map((f) => JSON.parse(f.split('data: ')[1]!).id), votes.map((v) => v.eventId));
    assert.equal(sub.queuedBytes, 0);
    sub.close();
  });
});
