// PROTOCOL.md §3, devices over MQTT, with real clients: Debian's mosquitto_pub/mosquitto_sub and
// mqtt.js against the embedded broker (aedes, on a free port), and the Mosquitto running on
// 127.0.0.1:1883 (TEST_MQTT_URL) as the external broker. Counts are checked through the scores API.
// Nothing sleeps for a fixed time: every wait is for a condition, with a deadline.
import { it, before, after, afterEach, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect as tcpConnect, createServer } from 'node:net';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import pino from 'pino';
import { Api, eachBackend, type Fixture } from './harness.ts';
import { startServer, type Server } from '../src/server.ts';
import type { MqttOptions } from '../src/mqtt/index.ts';
import { PublishScanner, type ScannedPublish } from '../src/mqtt/scan.ts';
import { ownInbound, ownOutbound, parseTopic, sharedSubscriptions } from '../src/mqtt/topics.ts';
import { revokeToken } from '../src/devices/devices.ts';

const TZ = 'Europe/Moscow';
const DAY = '2026-11-20';
const BASE = Date.parse(`${DAY}T06:00:00Z`); // 09:00 in Moscow
const GAP = 20 * 60_000; // presses spread out as real customers make them: no misuse rule applies
const EXTERNAL_URL = process.env['TEST_MQTT_URL'] ?? 'mqtt://127.0.0.1:1883';

let seq = 0;
const uid = (): string => randomBytes(5).toString('hex');
/** A valid press with a fresh id, at its own time of the test day. */
function press(button: 'satisfied' | 'dissatisfied' = 'satisfied'): { id: string; ts: number; button: string } {
  seq++;
  return { id: `m-${uid()}-${seq}`, ts: BASE + (seq % 30) * GAP, button };
}
const votes = (...events: unknown[]): string => JSON.stringify({ events });
const topic = (deviceId: string, leaf: string): string => `lb/v1/${deviceId}/${leaf}`;

/** Waits for `cond` to hold, polling; fails with `what` after `ms`. */
async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Presses of the org stored on the test day: counted plus flagged (and the satisfied among the counted). */
async function stored(api: Api, orgId: string): Promise<{ all: number; satisfied: number }> {
  const rows = await api.scores(orgId, { from: DAY, to: DAY, by: 'total' });
  return { all: rows.reduce((s: number, r: any) => s + r.total + r.flagged, 0), satisfied: rows.reduce((s: number, r: any) => s + r.satisfied, 0) };
}

// --- real command-line clients

type Run = { code: number | null; stdout: string; stderr: string };
function run(cmd: string, args: string[], ms = 15_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d; });
    p.stderr.on('data', (d: Buffer) => { stderr += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), ms);
    p.on('error', (e) => { clearTimeout(timer); reject(new Error(`${cmd} could not run (Debian package mosquitto-clients): ${e.message}`)); });
    p.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

const auth = (f: { deviceId: string; deviceToken: string }): string[] => ['-u', f.deviceId, '-P', f.deviceToken];
/** mosquitto_pub at QoS 1: it exits 0 only once the broker has sent the PUBACK. */
const mosquittoPub = (port: number, args: string[], message: string): Promise<Run> =>
  run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv311', '-q', '1', ...args, '-m', message]);

/** mosquitto_sub for `count` messages; resolves once its subscription is acknowledged. */
async function mosquittoSub(port: number, f: Fixture, t: string, count: number): Promise<{ granted: number; messages: Promise<unknown[]> }> {
  // stdbuf: line-buffered stdout, so "Subscribed" is seen when it happens, not at exit.
  const p = spawn('stdbuf', ['-oL', 'mosquitto_sub', '-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv311', '-q', '1', '-d', '-C', String(count), '-W', '15', ...auth(f), '-t', t],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => { out += d; });
  const exited = new Promise<number | null>((r) => p.on('close', r));
  let done = false;
  void exited.then(() => { done = true; });
  await waitFor(() => /Subscribed \(mid: \d+\): \d+/.test(out) || done, 'mosquitto_sub to subscribe');
  const granted = Number(/Subscribed \(mid: \d+\): (\d+)/.exec(out)?.[1] ?? -1);
  const messages = exited.then(() => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as unknown));
  return { granted, messages };
}

// --- mqtt.js clients and what they receive

type Msg = { topic: string; body: any };
class Inbox {
  readonly list: Msg[] = [];
  constructor(client: MqttClient) {
    client.on('message', (t, payload) => {
      let body: unknown = payload.toString();
      try { body = JSON.parse(payload.toString()); } catch { /* kept as text */ }
      this.list.push({ topic: t, body });
    });
  }
  async next(pred: (m: Msg) => boolean, what: string, ms = 10_000): Promise<Msg> {
    await waitFor(() => this.list.some(pred), what, ms);
    return this.list.find(pred)!;
  }
  count(pred: (m: Msg) => boolean): number { return this.list.filter(pred).length; }
}

const clients: MqttClient[] = [];
async function client(url: string, o: IClientOptions): Promise<{ c: MqttClient; inbox: Inbox }> {
  const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5_000, ...o });
  c.on('error', () => {}); // a server closing the connection is what some tests expect
  clients.push(c);
  return { c, inbox: new Inbox(c) };
}
const deviceClient = (url: string, f: Fixture, o: IClientOptions = {}): Promise<{ c: MqttClient; inbox: Inbox }> =>
  client(url, { protocolVersion: 4, username: f.deviceId, password: f.deviceToken, ...o });
after(async () => { await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {}))); });

/** A logger whose lines the test can read. */
function captureLog(): { logger: any; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  return { logger: pino({ level: 'info' }, stream), lines };
}

/** Makes the next `n` group commits of this server fail as a broken store would; returns how many failed so far. */
function breakStore(server: Server, n: number): { failed: () => number; restore(): void } {
  const committer = server.ctx.committer;
  const original = committer.submit.bind(committer);
  let failed = 0;
  committer.submit = (v) => {
    if (failed < n) { failed++; return Promise.reject(new Error('simulated store failure')); }
    return original(v);
  };
  return { failed: () => failed, restore() { committer.submit = original; } };
}

// --- pure parts

/** An MQTT 5 PUBLISH packet, encoded by hand (MQTT 5 §3.3), with `props` bytes of properties. */
function publishPacket(topic: string, messageId: number, payload: Buffer, qos = 1, props: Buffer = Buffer.alloc(0)): Buffer {
  const varint = (n: number): Buffer => {
    const out: number[] = [];
    do { let b = n % 128; n = Math.floor(n / 128); if (n > 0) b |= 0x80; out.push(b); } while (n > 0);
    return Buffer.from(out);
  };
  const t = Buffer.from(topic);
  const id = qos > 0 ? Buffer.from([messageId >> 8, messageId & 0xff]) : Buffer.alloc(0);
  const body = Buffer.concat([Buffer.from([t.length >> 8, t.length & 0xff]), t, id, varint(props.length), props, payload]);
  return Buffer.concat([Buffer.from([0x30 | (qos << 1)]), varint(body.length), body]);
}

describe('MQTT topics and the PUBLISH scanner', () => {
  it('topics: only lb/v1/{id}/{leaf}, own inbound to publish, own outbound to subscribe', () => {
    assert.deepEqual(parseTopic('lb/v1/dev_a/votes'), { deviceId: 'dev_a', leaf: 'votes' });
    for (const t of ['lb/v1/dev_a', 'lb/v1/dev_a/votes/x', 'lb/v1//votes', 'lb/v2/dev_a/votes', 'lb/v1/+/votes', 'lb/v1/dev_a/#', '/lb/v1/dev_a/votes']) assert.equal(parseTopic(t), null, t);
    assert.equal(ownInbound('dev_a', 'lb/v1/dev_a/votes'), 'votes');
    assert.equal(ownInbound('dev_a', 'lb/v1/dev_b/votes'), null);
    assert.equal(ownInbound('dev_a', 'lb/v1/dev_a/ack'), null);
    assert.equal(ownOutbound('dev_a', 'lb/v1/dev_a/settings'), true);
    assert.equal(ownOutbound('dev_a', 'lb/v1/dev_a/votes'), false);
    assert.deepEqual(sharedSubscriptions('g'), ['$share/g/lb/v1/+/votes', '$share/g/lb/v1/+/heartbeat', '$share/g/lb/v1/+/visitors', '$share/g/lb/v1/+/camera']);
  });

  it('the scanner finds QoS 1 PUBLISH packets however the bytes are split, skipping everything else', () => {
    const big = Buffer.alloc(200_000, 'x'); // a remaining length of three bytes
    const props = Buffer.from([0x01, 0x01, 0x0b, 0x05]); // payload format indicator, subscription identifier
    const stream = Buffer.concat([
      Buffer.from([0x20, 0x03, 0x00, 0x00, 0x00]), // CONNACK
      publishPacket('lb/v1/dev_a/votes', 1, Buffer.from('{"a":1}')),
      publishPacket('lb/v1/dev_a/heartbeat', 0, Buffer.from('{}'), 0), // QoS 0: not a hint
      Buffer.from([0x40, 0x02, 0x00, 0x07]), // PUBACK
      publishPacket('lb/v1/dev_b/votes', 65535, big, 1, props),
      Buffer.from([0xd0, 0x00]), // PINGRESP
      publishPacket('lb/v1/dev_c/votes', 2, Buffer.alloc(0)),
    ]);
    for (const step of [1, 2, 3, 7, 1000, stream.length]) {
      const found: ScannedPublish[] = [];
      const s = new PublishScanner((p) => found.push(p));
      for (let i = 0; i < stream.length; i += step) s.push(stream.subarray(i, i + step));
      assert.equal(s.stopped, false);
      assert.deepEqual(found.map((p) => [p.messageId, p.topic, p.payload.length]), [[1, 'lb/v1/dev_a/votes', 7], [65535, 'lb/v1/dev_b/votes', big.length], [2, 'lb/v1/dev_c/votes', 0]], `chunks of ${step}`);
      assert.equal(found[0]!.payload.toString(), '{"a":1}');
      assert.ok(found[1]!.payload.equals(big));
    }
  });

  it('the scanner stops at bytes that are not MQTT', () => {
    const found: ScannedPublish[] = [];
    const s = new PublishScanner((p) => found.push(p));
    s.push(Buffer.from([0x32, 0xff, 0xff, 0xff, 0xff, 0x01])); // a remaining length of five bytes
    assert.equal(s.stopped, true);
    s.push(publishPacket('lb/v1/dev_a/votes', 1, Buffer.from('{}')));
    assert.equal(found.length, 0);
  });
});

eachBackend('MQTT, embedded broker', (ctx) => {
  let api: Api;
  let node: Server;
  let url: string;
  let port: number;
  before(async () => {
    api = await Api.start(ctx().store);
    // A second server on the same store, as a second node would be: it runs the broker, on a free port.
    node = await startServer({ store: ctx().store, mqtt: { port: 0 } });
    assert.ok(node.mqtt, 'the embedded broker runs');
    url = node.mqtt.url;
    port = Number(new URL(url).port);
  });
  after(async () => { await node?.close(); await api?.close(); });

  it('mosquitto_pub at QoS 1: the vote is stored before the PUBACK, scored, and acknowledged on …/ack with its id', async () => {
    const f = await api.fixture(TZ);
    const sub = await mosquittoSub(port, f, topic(f.deviceId, 'ack'), 1);
    assert.equal(sub.granted, 1, 'the device may subscribe to its own ack');
    const ev = press();
    const r = await mosquittoPub(port, [...auth(f), '-t', topic(f.deviceId, 'votes')], votes(ev));
    assert.equal(r.code, 0, r.stderr);
    // mosquitto_pub has exited, so it had its PUBACK: the vote must be counted already, without waiting.
    assert.deepEqual(await stored(api, f.orgId), { all: 1, satisfied: 1 });
    assert.deepEqual(await sub.messages, [{ ids: [ev.id], accepted: 1, duplicates: 0 }]);
  });

  it('a device publishing under another device\'s topic, or to a server topic, is refused and nothing is stored', async () => {
    const a = await api.fixture(TZ);
    const b = await api.fixture(TZ);
    for (const t of [topic(b.deviceId, 'votes'), topic(a.deviceId, 'ack'), topic(a.deviceId, 'settings'), topic(a.deviceId, 'error'), `lb/v1/${a.deviceId}/votes/extra`, 'elsewhere']) {
      const r = await mosquittoPub(port, [...auth(a), '-t', t], votes(press()));
      assert.notEqual(r.code, 0, `publishing to ${t} must fail (no PUBACK, connection closed)`);
    }
    assert.equal((await stored(api, a.orgId)).all, 0);
    assert.equal((await stored(api, b.orgId)).all, 0);
    // Still fine on its own topic afterwards.
    const ok = await mosquittoPub(port, [...auth(a), '-t', topic(a.deviceId, 'votes')], votes(press()));
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((await stored(api, a.orgId)).all, 1);
  });

  it('subscriptions: only the device\'s own ack, error and settings', async () => {
    const a = await api.fixture(TZ);
    const b = await api.fixture(TZ);
    const { c } = await deviceClient(url, a);
    // mqtt.js rejects a subscription refused by the broker; the SUBACK's code is in the error.
    const granted = (t: string): Promise<number> => c.subscribeAsync(t, { qos: 1 }).then((g) => g[0]!.qos, (e: any) => {
      if (!e.packet?.granted) throw e;
      return e.packet.granted[0] as number;
    });
    for (const leaf of ['ack', 'error', 'settings']) assert.equal(await granted(topic(a.deviceId, leaf)), 1, leaf);
    for (const t of [topic(b.deviceId, 'ack'), topic(a.deviceId, 'votes'), 'lb/v1/+/ack', `lb/v1/${a.deviceId}/#`, '#', '$SYS/#']) {
      assert.equal(await granted(t), 128, `${t} must be refused`);
    }
    const other = await mosquittoSub(port, a, topic(b.deviceId, 'ack'), 1);
    assert.equal(other.granted, 128);
  });

  it('a client id is private to its device: the same one on another device takes nothing over', async () => {
    const a = await api.fixture(TZ);
    const b = await api.fixture(TZ);
    const clientId = `shared-${uid()}`;
    const first = await deviceClient(url, a, { clientId, clean: false });
    const closedA = new Promise<void>((r) => first.c.once('close', () => r()));
    await deviceClient(url, b, { clientId, clean: false });
    // A's connection lives on: prove it with a round trip.
    await first.c.subscribeAsync(topic(a.deviceId, 'ack'), { qos: 1 });
    await first.c.publishAsync(topic(a.deviceId, 'votes'), votes(press()), { qos: 1 });
    await first.inbox.next((m) => m.topic.endsWith('/ack'), 'the ack of A');
    assert.equal(first.c.connected, true);
    // The same device connecting again with that id does take its own session over (MQTT-3.1.4-2).
    await deviceClient(url, a, { clientId, clean: false });
    await closedA;
  });

  it('a wrong password, another device\'s token or no credentials are refused at CONNECT', async () => {
    const a = await api.fixture(TZ);
    const b = await api.fixture(TZ);
    for (const creds of [['-u', a.deviceId, '-P', `${a.deviceToken}x`], ['-u', a.deviceId, '-P', b.deviceToken], ['-u', 'dev_nobody', '-P', a.deviceToken], []]) {
      const r = await mosquittoPub(port, [...creds, '-t', topic(a.deviceId, 'votes')], votes(press()));
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /bad user name or password/i, r.stderr);
    }
    await assert.rejects(deviceClient(url, { ...a, deviceToken: 'lbd_wrong' }), (e: any) => e.code === 4, 'CONNACK 4: bad user name or password');
    assert.equal((await stored(api, a.orgId)).all, 0);
  });

  it('a message sent again is counted once; the second ack reports it as a duplicate', async () => {
    const f = await api.fixture(TZ);
    const sub = await mosquittoSub(port, f, topic(f.deviceId, 'ack'), 3);
    const [e1, e2] = [press(), press('dissatisfied')];
    for (const body of [votes(e1), votes(e1), votes(e1, e2)]) {
      const r = await mosquittoPub(port, [...auth(f), '-t', topic(f.deviceId, 'votes')], body);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.deepEqual(await sub.messages, [
      { ids: [e1.id], accepted: 1, duplicates: 0 },
      { ids: [e1.id], accepted: 0, duplicates: 1 },
      { ids: [e1.id, e2.id], accepted: 1, duplicates: 1 },
    ]);
    assert.deepEqual(await stored(api, f.orgId), { all: 2, satisfied: 1 });
  });

  it('a bad payload is acknowledged, answered on …/error naming the field, and stores nothing', async () => {
    const f = await api.fixture(TZ);
    const sub = await mosquittoSub(port, f, topic(f.deviceId, 'error'), 3);
    const bodies = [
      votes(press(), { ...press(), button: 'maybe' }), // one bad event rejects the whole message
      'not json',
      JSON.stringify({ events: [] }),
    ];
    for (const body of bodies) {
      const r = await mosquittoPub(port, [...auth(f), '-t', topic(f.deviceId, 'votes')], body);
      assert.equal(r.code, 0, `a bad message still gets its PUBACK, or it would come back forever: ${r.stderr}`);
    }
    const [bad, json, empty] = (await sub.messages) as any[];
    assert.equal(bad.error.code, 'invalid_field');
    assert.equal(bad.error.field, 'events[1].button');
    assert.equal(typeof bad.error.message, 'string');
    assert.equal(json.error.code, 'invalid_json');
    assert.equal(empty.error.code, 'invalid_field');
    assert.equal(empty.error.field, 'events');
    assert.equal((await stored(api, f.orgId)).all, 0);
  });

  it('oversized packets: a body over the limit gets body_too_large, a huge packet closes the connection at its header', async () => {
    const f = await api.fixture(TZ);
    const { c, inbox } = await deviceClient(url, f);
    await c.subscribeAsync(topic(f.deviceId, 'error'), { qos: 1 });
    const padded = JSON.stringify({ events: [press()], pad: 'x'.repeat(1024 * 1024 + 10) }); // over the 1 MiB ingest limit
    await c.publishAsync(topic(f.deviceId, 'votes'), padded, { qos: 1 });
    assert.equal((await inbox.next((m) => m.topic.endsWith('/error'), 'the error')).body.error.code, 'body_too_large');
    // A stranger announcing a 100 MB CONNECT is cut off at the header, not after buffering it.
    const sock = tcpConnect(port, '127.0.0.1');
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.on('error', () => {});
    sock.write(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x30])); // CONNECT, remaining length 100,663,296
    sock.write(Buffer.alloc(1000));
    await closed;
    assert.equal((await stored(api, f.orgId)).all, 0);
  });

  it('a panel sending visitor counts gets the same error as over HTTP; a heartbeat is stored', async () => {
    const f = await api.fixture(TZ);
    const { c, inbox } = await deviceClient(url, f);
    await c.subscribeAsync(topic(f.deviceId, 'error'), { qos: 1 });
    await c.publishAsync(topic(f.deviceId, 'visitors'), JSON.stringify({ events: [{ id: 'v1', ts: BASE, in: 3 }] }), { qos: 1 });
    const m = await inbox.next((x) => x.topic.endsWith('/error'), 'the error');
    assert.equal(m.body.error.code, 'forbidden');
    await c.publishAsync(topic(f.deviceId, 'heartbeat'), JSON.stringify({ battery: 77, firmware: '1.2.3' }), { qos: 1 });
    const dev = await ctx().store.db.selectFrom('devices').select(['battery', 'firmware', 'last_seen_at']).where('id', '=', f.deviceId).executeTakeFirstOrThrow();
    assert.deepEqual([dev.battery, dev.firmware, typeof dev.last_seen_at], [77, '1.2.3', 'number'], 'stored before the PUBACK');
  });

  it('a camera publishes sightings on …/camera: stored before the PUBACK, acknowledged with their ids, and they judge the presses (nobody there)', async () => {
    const f = await api.fixture(TZ);
    const cam = await api.ok('POST', `/api/v1/orgs/${f.orgId}/devices`, { kind: 'camera', locationId: f.locationId }, 201);
    const camF = { ...f, deviceId: cam.id, deviceToken: cam.token };
    const { c, inbox } = await deviceClient(url, camF);
    await c.subscribeAsync([topic(cam.id, 'ack'), topic(cam.id, 'error')], { qos: 1 });
    const body = { events: [{ id: 'c1', ts: BASE - 60_000, people: 0 }, { id: 'c2', ts: BASE + 60_000, people: 0, clip: 'https://cams.example/c2.mp4' }] };
    await c.publishAsync(topic(cam.id, 'camera'), JSON.stringify(body), { qos: 1 });
    const n = await ctx().store.db.selectFrom('camera_events').select('event_id').where('device_id', '=', cam.id).execute();
    assert.deepEqual(n.map((x) => x.event_id).sort(), ['c1', 'c2'], 'stored before the PUBACK');
    const ack = await inbox.next((m) => m.topic.endsWith('/ack'), 'the ack');
    assert.deepEqual(ack.body, { ids: ['c1', 'c2'], accepted: 2, duplicates: 0 });
    // A press between two sightings of nobody is held back by the camera rule.
    const p = await deviceClient(url, f);
    await p.c.publishAsync(topic(f.deviceId, 'votes'), votes({ id: 'p1', ts: BASE, button: 'satisfied' }), { qos: 1 });
    const [row] = await api.scores(f.orgId, { from: DAY, to: DAY, by: 'total' });
    assert.deepEqual([row.total, row.flagged], [0, 1]);
    // A bad sighting is answered on …/error naming the field; a panel may not publish sightings.
    await c.publishAsync(topic(cam.id, 'camera'), JSON.stringify({ events: [{ id: 'c3', ts: BASE, people: -2 }] }), { qos: 1 });
    const err = await inbox.next((m) => m.topic.endsWith('/error'), 'the error');
    assert.equal(err.body.error.field, 'events[0].people');
    await p.c.subscribeAsync(topic(f.deviceId, 'error'), { qos: 1 });
    await p.c.publishAsync(topic(f.deviceId, 'camera'), JSON.stringify(body), { qos: 1 });
    assert.equal((await p.inbox.next((m) => m.topic.endsWith('/error'), 'the panel\'s error')).body.error.code, 'forbidden');
  });

  it('a store failure leaves the message unacknowledged: the device sends it again and it is stored once', async () => {
    const f = await api.fixture(TZ);
    const broken = breakStore(node, 1);
    try {
      const { c, inbox } = await deviceClient(url, f, { clean: false, clientId: `dev-${uid()}`, reconnectPeriod: 50 });
      await c.subscribeAsync(topic(f.deviceId, 'ack'), { qos: 1 });
      const ev = press();
      // Resolves on the PUBACK, which the first attempt never gets (its connection is closed instead).
      await c.publishAsync(topic(f.deviceId, 'votes'), votes(ev), { qos: 1 });
      assert.equal(broken.failed(), 1, 'the first attempt failed');
      assert.equal((await stored(api, f.orgId)).all, 1);
      const ack = await inbox.next((m) => m.topic.endsWith('/ack'), 'the ack');
      assert.deepEqual(ack.body.ids, [ev.id]);
    } finally {
      broken.restore();
    }
  });

  it('settings are pushed retained to …/settings; a revoked token ends the device\'s connection', async () => {
    const f = await api.fixture(TZ);
    const first = await deviceClient(url, f);
    await first.c.subscribeAsync(topic(f.deviceId, 'settings'), { qos: 1 });
    node.ctx.bus.emit('settings', { deviceId: f.deviceId, orgId: f.orgId, settings: { repeatWindowSeconds: 30 }, version: 2 });
    const m = await first.inbox.next((x) => x.topic.endsWith('/settings'), 'the settings');
    assert.deepEqual(m.body, { deviceId: f.deviceId, settings: { repeatWindowSeconds: 30 }, version: 2 });
    // A device connecting later gets them at once (retained).
    const later = await deviceClient(url, f);
    await later.c.subscribeAsync(topic(f.deviceId, 'settings'), { qos: 1 });
    assert.equal((await later.inbox.next((x) => x.topic.endsWith('/settings'), 'the retained settings')).body.version, 2);

    const closed = new Promise<void>((r) => later.c.once('close', () => r()));
    await revokeToken(node.ctx.store, node.ctx.refs, node.ctx.bus, f.orgId, f.deviceId);
    await closed;
    await assert.rejects(deviceClient(url, f), (e: any) => e.code === 4, 'the revoked token no longer connects');
  });

  it('every acknowledged message is stored, also when the server stops while messages are in flight', async () => {
    const f = await api.fixture(TZ);
    const node2 = await startServer({ store: ctx().store, mqtt: { port: 0 } });
    const { c } = await deviceClient(node2.mqtt!.url, f, { clientId: `dev-${uid()}` });
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    const sent = Array.from({ length: 300 }, () => press());
    const acked: string[] = [];
    const all = sent.map((ev) => c.publishAsync(topic(f.deviceId, 'votes'), votes(ev), { qos: 1 }).then(() => { acked.push(ev.id); }, () => {}));
    await waitFor(() => acked.length >= 5, 'the first acknowledgements');
    await node2.close();
    await Promise.race([Promise.all(all), closed]);
    const rows = await ctx().store.db.selectFrom('votes').select('event_id').where('device_id', '=', f.deviceId).execute();
    const have = new Set(rows.map((r) => r.event_id));
    for (const id of acked) assert.ok(have.has(id), `acknowledged ${id} is stored`);
    assert.ok(acked.length >= 5);
  });

  it('a taken port is a warning, not a crash: HTTP keeps serving', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const taken = (blocker.address() as { port: number }).port;
    const { logger, lines } = captureLog();
    const s = await startServer({ store: ctx().store, logger, mqtt: { port: taken } });
    try {
      assert.equal(s.mqtt, null);
      assert.equal((await fetch(`${s.url}/health`)).status, 200);
      assert.ok(lines.some((l) => l.includes('"level":40') && l.includes(`:${taken}`) && l.includes('EADDRINUSE')), lines.join('\n'));
    } finally {
      await s.close();
      await new Promise((r) => blocker.close(r));
    }
  });
});

// --- the external broker

let brokerUp: Promise<boolean> | undefined;
function externalBrokerUp(): Promise<boolean> {
  brokerUp ??= mqtt.connectAsync(EXTERNAL_URL, { reconnectPeriod: 0, connectTimeout: 3_000 }).then((c) => c.endAsync().then(() => true), () => false);
  return brokerUp;
}

eachBackend('MQTT, external broker', (ctx) => {
  let api: Api;
  const nodes = new Set<Server>();
  const clientIds = new Set<string>();
  const retained: string[] = [];

  before(async () => {
    if (!(await externalBrokerUp())) throw new Error(`no MQTT broker at ${EXTERNAL_URL} (Mosquitto; set TEST_MQTT_URL): these tests did not run`);
    api = await Api.start(ctx().store);
  });
  // Every node consumes every device's messages into this store (another group gets its own copy):
  // none may outlive its test.
  afterEach(async () => {
    for (const n of [...nodes]) await stopNode(n).catch(() => {});
  });
  after(async () => {
    // Leave the shared broker as we found it: no sessions, no retained messages of ours.
    for (const id of clientIds) {
      for (let i = 0; i < 2; i++) {
        const c = await mqtt.connectAsync(EXTERNAL_URL, { protocolVersion: 5, clientId: `${id}-${i}`, clean: true, properties: { sessionExpiryInterval: 0 }, reconnectPeriod: 0 }).catch(() => null);
        await c?.endAsync();
      }
    }
    if (retained.length) {
      const c = await mqtt.connectAsync(EXTERNAL_URL, { reconnectPeriod: 0 });
      for (const t of retained) await c.publishAsync(t, '', { qos: 1, retain: true });
      await c.endAsync();
    }
    await api?.close();
  });

  /** A server node consuming from the external broker; the same clientId resumes the same session. */
  async function startNode(o: { clientId: string; group: string; consumers?: number }): Promise<Server> {
    clientIds.add(o.clientId);
    const m: MqttOptions = { url: EXTERNAL_URL, clientId: o.clientId, group: o.group, consumers: o.consumers ?? 2, sessionExpiry: 300 };
    const n = await startServer({ store: ctx().store, mqtt: m });
    nodes.add(n);
    return n;
  }
  async function stopNode(n: Server): Promise<void> { nodes.delete(n); await n.close(); }
  /** A device on the external broker (anonymous there), listening to its ack and error topics. */
  async function device(f: Fixture): Promise<{ c: MqttClient; inbox: Inbox }> {
    const d = await client(EXTERNAL_URL, { protocolVersion: 5, clientId: `dev-${uid()}` });
    await d.c.subscribeAsync([topic(f.deviceId, 'ack'), topic(f.deviceId, 'error')], { qos: 1 });
    return d;
  }
  const isAck = (m: Msg): boolean => m.topic.endsWith('/ack');
  const isError = (m: Msg): boolean => m.topic.endsWith('/error');

  it('a vote published to Mosquitto is stored and acknowledged', async () => {
    await startNode({ clientId: `t-${uid()}`, group: `g${uid()}` });
    const f = await api.fixture(TZ);
    const { c, inbox } = await device(f);
    const ev = press();
    await c.publishAsync(topic(f.deviceId, 'votes'), votes(ev), { qos: 1 });
    const ack = await inbox.next(isAck, 'the ack');
    assert.deepEqual(ack.body, { ids: [ev.id], accepted: 1, duplicates: 0 });
    assert.deepEqual(await stored(api, f.orgId), { all: 1, satisfied: 1 }, 'stored before the ack');
  });

  it('camera sightings published to Mosquitto are stored and acknowledged', async () => {
    await startNode({ clientId: `t-${uid()}`, group: `g${uid()}` });
    const f = await api.fixture(TZ);
    const cam = await api.ok('POST', `/api/v1/orgs/${f.orgId}/devices`, { kind: 'camera', locationId: f.locationId }, 201);
    const { c, inbox } = await device({ ...f, deviceId: cam.id, deviceToken: cam.token });
    await c.publishAsync(topic(cam.id, 'camera'), JSON.stringify({ events: [{ id: 'c1', ts: BASE, people: 1, clip: 'https://cams.example/1.mp4' }] }), { qos: 1 });
    const ack = await inbox.next(isAck, 'the ack');
    assert.deepEqual(ack.body, { ids: ['c1'], accepted: 1, duplicates: 0 });
    const rows = await ctx().store.db.selectFrom('camera_events').select(['people', 'clip', 'location_id']).where('device_id', '=', cam.id).execute();
    assert.deepEqual(rows.map((r) => [Number(r.people), r.clip, r.location_id]), [[1, 'https://cams.example/1.mp4', f.locationId]]);
  });

  it('a message published while the server is down is stored once it is back (persistent session)', async () => {
    const ids = { clientId: `t-${uid()}`, group: `g${uid()}` };
    await stopNode(await startNode(ids)); // the broker now holds this node's session and subscriptions
    const f = await api.fixture(TZ);
    const { c, inbox } = await device(f);
    const ev = press();
    await c.publishAsync(topic(f.deviceId, 'votes'), votes(ev), { qos: 1 }); // Mosquitto has it
    assert.equal((await stored(api, f.orgId)).all, 0, 'nobody consumed it yet');
    await startNode(ids);
    assert.deepEqual((await inbox.next(isAck, 'the ack after the restart')).body.ids, [ev.id]);
    assert.deepEqual(await stored(api, f.orgId), { all: 1, satisfied: 1 });
  });

  it('a bad payload gets an error naming the field, stores nothing, and is not delivered again', async () => {
    const ids = { clientId: `t-${uid()}`, group: `g${uid()}`, consumers: 1 };
    const n = await startNode(ids);
    const f = await api.fixture(TZ);
    const { c, inbox } = await device(f);
    await c.publishAsync(topic(f.deviceId, 'votes'), votes({ ...press(), ts: 'yesterday-ish' }), { qos: 1 });
    const err = await inbox.next(isError, 'the error');
    assert.equal(err.body.error.code, 'invalid_field');
    assert.equal(err.body.error.field, 'events[0].ts');
    // Restart the node on its session: had the bad message not been acknowledged, it would come
    // back before this good one (one consumer, one session, in order).
    await stopNode(n);
    await startNode(ids);
    const ev = press();
    await c.publishAsync(topic(f.deviceId, 'votes'), votes(ev), { qos: 1 });
    assert.deepEqual((await inbox.next(isAck, 'the ack')).body.ids, [ev.id]);
    assert.equal(inbox.count(isError), 1, 'the bad message was not delivered again');
    assert.equal((await stored(api, f.orgId)).all, 1);
  });

  it('a store failure is not acknowledged: retried in place, and after a stop delivered again by the broker', async () => {
    const ids = { clientId: `t-${uid()}`, group: `g${uid()}`, consumers: 1 };
    const n = await startNode(ids);
    const f = await api.fixture(TZ);
    const { c, inbox } = await device(f);
    // A short failure: retried in place, stored once.
    const once = breakStore(n, 1);
    const e1 = press();
    await c.publishAsync(topic(f.deviceId, 'votes'), votes(e1), { qos: 1 });
    assert.deepEqual((await inbox.next(isAck, 'the ack after a retry')).body.ids, [e1.id]);
    assert.equal(once.failed(), 1);
    once.restore();
    // A long failure: the node stops without acknowledging; the next start gets it from the broker.
    const down = breakStore(n, Infinity);
    const e2 = press();
    await c.publishAsync(topic(f.deviceId, 'votes'), votes(e2), { qos: 1 });
    await waitFor(() => down.failed() >= 1, 'the store to fail');
    await stopNode(n);
    assert.equal((await stored(api, f.orgId)).all, 1, 'the second vote is not stored');
    await startNode(ids);
    await inbox.next((m) => isAck(m) && m.body.ids[0] === e2.id, 'the ack of the redelivered message');
    assert.deepEqual(await stored(api, f.orgId), { all: 2, satisfied: 2 });
  });

  it('two nodes in one shared group split the messages; each is stored exactly once', async () => {
    const group = `g${uid()}`;
    const a = await startNode({ clientId: `t-${uid()}`, group, consumers: 1 });
    const b = await startNode({ clientId: `t-${uid()}`, group, consumers: 1 });
    const f = await api.fixture(TZ);
    const { c, inbox } = await device(f);
    const sent = Array.from({ length: 20 }, () => press());
    for (const ev of sent) await c.publishAsync(topic(f.deviceId, 'votes'), votes(ev), { qos: 1 });
    await waitFor(() => inbox.count(isAck) >= sent.length, 'every ack');
    assert.deepEqual(new Set(inbox.list.filter(isAck).flatMap((m) => m.body.ids)), new Set(sent.map((e) => e.id)));
    assert.equal(inbox.list.filter(isAck).reduce((s, m) => s + m.body.duplicates, 0), 0, 'no message went to both nodes');
    assert.equal((await stored(api, f.orgId)).all, sent.length);
    assert.ok(a.ctx.committer.stats.requests > 0 && b.ctx.committer.stats.requests > 0, 'both nodes took a share');
  });

  it('a revoked device is refused with an error at once; settings are published retained', async () => {
    const n = await startNode({ clientId: `t-${uid()}`, group: `g${uid()}` });
    const f = await api.fixture(TZ);
    const { c, inbox } = await device(f);
    await c.publishAsync(topic(f.deviceId, 'votes'), votes(press()), { qos: 1 });
    await inbox.next(isAck, 'the ack while the device is in service');
    await revokeToken(n.ctx.store, n.ctx.refs, n.ctx.bus, f.orgId, f.deviceId);
    await c.publishAsync(topic(f.deviceId, 'votes'), votes(press()), { qos: 1 });
    const err = await inbox.next(isError, 'the error');
    assert.equal(err.body.error.code, 'unauthorized');
    assert.equal((await stored(api, f.orgId)).all, 1, 'only the vote sent before the revocation');

    const g = await api.fixture(TZ);
    retained.push(topic(g.deviceId, 'settings'));
    n.ctx.bus.emit('settings', { deviceId: g.deviceId, orgId: g.orgId, settings: { brightness: 40 }, version: 1 });
    // A device subscribing afterwards gets them from the broker (retained). The push is
    // asynchronous, so subscribe again until the broker has it.
    const later = await client(EXTERNAL_URL, { protocolVersion: 4, clientId: `dev-${uid()}` });
    const settingsTopic = topic(g.deviceId, 'settings');
    const deadline = Date.now() + 10_000;
    let got: Msg | undefined;
    while (!got && Date.now() < deadline) {
      await later.c.subscribeAsync(settingsTopic, { qos: 1 });
      got = await later.inbox.next((m) => m.topic === settingsTopic, 'the retained settings', 500).catch(() => undefined);
      if (!got) await later.c.unsubscribeAsync(settingsTopic);
    }
    assert.ok(got, 'the retained settings arrived');
    assert.deepEqual(got.body, { deviceId: g.deviceId, settings: { brightness: 40 }, version: 1 });
  });
});
