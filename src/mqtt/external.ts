// External broker (MQTT_URL): the server consumes device messages from e.g. Mosquitto with mqtt.js,
// MQTT 5, persistent sessions (clean start off, a session expiry, stable client ids) and QoS 1
// shared subscriptions `$share/{group}/lb/v1/+/{leaf}`, so several server nodes split the load and
// messages published while every node is down wait in the broker.
//
// PUBACK only after storage: with protocolVersion 5, mqtt.js hands each QoS 1 PUBLISH to
// `customHandleAcks(topic, message, packet, cb)` and writes the PUBACK only when `cb(code)` is
// called (node_modules/mqtt/build/lib/handlers/publish.js); we call it once the message is durably
// stored. `cb(error)` sends no PUBACK at all: the broker delivers the message again when this
// session reconnects.
//
// Throughput: mqtt.js hands over one packet at a time per connection, the next only after the
// previous PUBACK (which also keeps PUBACKs in order, MQTT-4.6.0-2), so storing inside
// customHandleAcks alone would store one message per commit. So the bytes the broker sends are also
// scanned as they arrive (scan.ts) and each QoS 1 message starts being stored at once; when mqtt.js
// then hands it over, its store is awaited (if it is byte for byte the same message) and acknowledged.
// Up to `receiveMaximum` messages per connection are in flight (the broker sends no more unacknowledged),
// so they share group commits. A stored message whose PUBACK is lost (crash, reconnect) comes again
// and is counted as a duplicate, as any retry is.
//
// Devices are authenticated by the broker, not here: its ACL must confine each device to its own
// `lb/v1/{deviceId}/…` (README: "Devices over MQTT"); the server trusts the topic's device id and
// checks that the device exists and may still send.
import { PassThrough, Duplex } from 'node:stream';
import { connect, type MqttClient } from 'mqtt';
import { sql } from 'kysely';
import { AppError } from '../domain/errors.ts';
import type { IngestContext } from '../ingest/service.ts';
import { DeviceDirectory } from './devices.ts';
import { encode, InFlight, processMessage, type Log, type Outcome } from './process.ts';
import { PublishScanner, type ScannedPublish } from './scan.ts';
import { isInbound, parseTopic, sharedSubscriptions, topicOf, type OutboundLeaf } from './topics.ts';

export type ExternalOptions = {
  url: string;
  /** Stable per node: the broker keeps this node's sessions (and their share of messages) under it. */
  clientId: string;
  /** Shared subscription group: every node of one deployment uses the same one. */
  group: string;
  /** Connections (shared-group members) per node. */
  consumers: number;
  /** Seconds the broker keeps a disconnected node's sessions and queued messages. */
  sessionExpiry: number;
  /** Unacknowledged messages the broker may send each connection (MQTT 5 Receive Maximum). */
  receiveMaximum: number;
  /** How long start() waits for the broker before going on (mqtt.js keeps reconnecting). */
  readyTimeoutMs: number;
};

// PUBACK reason codes (MQTT 5 §3.4.2.1) for messages that are acknowledged without being stored.
const REASON = { payloadFormatInvalid: 0x99, notAuthorized: 0x87, implementationSpecific: 0x83 } as const;
function reasonFor(e: AppError): number {
  if (e.code === 'invalid_json' || e.code === 'invalid_field' || e.code === 'body_too_large') return REASON.payloadFormatInvalid;
  if (e.code === 'unauthorized' || e.code === 'forbidden') return REASON.notAuthorized;
  return REASON.implementationSpecific;
}

/** Retry a failed store with backoff: 0.2 s, doubling, at most 10 s. */
const backoff = (attempt: number): number => Math.min(200 * 2 ** attempt, 10_000);
/** Failures after which a message that keeps failing while the store answers is given up on. */
const POISON_AFTER = 5;

/** A stored message and whether to answer the device (not for devices of another deployment). */
type Stored = { deviceId: string; outcome: Outcome; reply: boolean };
type Prefetched = { topic: string; payload: Buffer; stored: Promise<Stored> };
type Consumer = {
  client: MqttClient; gen: number; subscribed: Promise<void>;
  /** Messages of the current connection being stored ahead of mqtt.js, by packet id. */
  prefetched: Map<number, Prefetched>;
};
type Result = { outcome: Outcome } | { abandoned: true };

export class ExternalConsumer {
  readonly url: string;
  readonly #ctx: IngestContext;
  readonly #o: ExternalOptions;
  readonly #log: Log;
  readonly #devices: DeviceDirectory;
  readonly #inflight = new InFlight();
  #consumers: Consumer[] = [];
  #closing = false;
  #wake = new Set<() => void>();

  private constructor(ctx: IngestContext, o: ExternalOptions, log: Log) {
    this.#ctx = ctx; this.#o = o; this.#log = log; this.#devices = new DeviceDirectory(ctx.store);
    this.url = o.url.replace(/\/\/[^@/]*@/, '//'); // never log credentials
  }

  /** Connects every consumer; resolves once all are subscribed, or after readyTimeoutMs with a warning. */
  static async start(ctx: IngestContext, o: ExternalOptions, log: Log): Promise<ExternalConsumer> {
    const self = new ExternalConsumer(ctx, o, log);
    for (let i = 0; i < Math.max(1, o.consumers); i++) self.#consumers.push(self.#connect(i));
    let timer: NodeJS.Timeout | undefined;
    const ready = await Promise.race([
      Promise.all(self.#consumers.map((c) => c.subscribed)).then(() => true),
      new Promise<false>((r) => { timer = setTimeout(() => r(false), o.readyTimeoutMs); }),
    ]);
    clearTimeout(timer);
    if (ready) log.info({ url: self.url, clientId: o.clientId, group: o.group, consumers: self.#consumers.length }, 'mqtt: consuming device messages from the external broker');
    else log.warn({ url: self.url }, `mqtt: the external broker did not answer within ${o.readyTimeoutMs} ms; still trying in the background`);
    return self;
  }

  #connect(index: number): Consumer {
    const o = this.#o;
    let subscribedResolve!: () => void;
    const c: Consumer = { client: undefined as unknown as MqttClient, gen: 0, subscribed: new Promise((r) => { subscribedResolve = r; }), prefetched: new Map() };
    let lastError = '';
    let lastErrorAt = 0;
    c.client = connect(o.url, {
      protocolVersion: 5,
      clientId: `${o.clientId}-${index}`,
      clean: false,
      properties: { sessionExpiryInterval: o.sessionExpiry, receiveMaximum: o.receiveMaximum },
      reconnectPeriod: 1_000,
      connectTimeout: 10_000,
      resubscribe: false, // subscribed below on every connect
      manualConnect: true, // the stream is tapped first, see #tap
      customHandleAcks: (topic, message, packet: { messageId?: number }, cb) => {
        const gen = c.gen;
        const pre = packet.messageId === undefined ? undefined : c.prefetched.get(packet.messageId);
        if (pre) c.prefetched.delete(packet.messageId!);
        const first = pre && pre.topic === topic && pre.payload.equals(message) ? pre.stored : undefined;
        void this.#inflight.track(this.#handle(c, topic, message, first)).then((r) => {
          // Acknowledge only on the connection the message came on: after a reconnect the broker
          // sends it again (same packet id), and a stale PUBACK could acknowledge another message.
          if (gen !== c.gen) return;
          if ('abandoned' in r) return cb(new Error('left unacknowledged: the broker will deliver it again'));
          cb(r.outcome.status === 'stored' ? 0 : reasonFor(r.outcome.error)); // a number: the PUBACK reason code
        });
      },
    });
    this.#tap(c);
    c.client.on('connect', (connack) => {
      c.gen++;
      this.#log.debug({ consumer: c.client.options.clientId, sessionPresent: connack.sessionPresent }, 'mqtt: connected to the external broker');
      c.client.subscribe(sharedSubscriptions(o.group), { qos: 1 }, (err, granted) => {
        const refused = granted?.filter((g) => g.qos > 1);
        if (err || refused?.length) {
          this.#log.error({ err, refused: refused?.map((g) => g.topic) }, 'mqtt: the external broker refused our subscriptions (check its ACL for the server user)');
          return;
        }
        subscribedResolve();
      });
    });
    c.client.on('close', () => { c.gen++; });
    c.client.on('error', (err) => {
      if (err.message.startsWith('left unacknowledged')) return;
      const now = Date.now();
      if (err.message !== lastError || now - lastErrorAt > 60_000) this.#log.warn({ url: this.url, err: err.message }, 'mqtt: external broker connection problem');
      lastError = err.message; lastErrorAt = now;
    });
    // QoS 0 publishes are delivered at QoS 0: no PUBACK to hold back, stored once, best effort.
    c.client.on('message', (topic, message, packet) => {
      if (packet.qos !== 0) return; // QoS 1 went through customHandleAcks
      void this.#inflight.track(this.#handle(c, topic, message, undefined, false));
    });
    c.client.connect();
    return c;
  }

  /**
   * Wraps each connection's stream (mqtt.js builds one per (re)connect): the broker's bytes are
   * read at once and scanned for QoS 1 messages, which start being stored, then passed on to mqtt.js
   * unchanged. Without the (internal) stream builder, messages are simply stored one at a time.
   */
  #tap(c: Consumer): void {
    const client = c.client as unknown as { streamBuilder?: (cl: MqttClient) => Duplex };
    const build = client.streamBuilder;
    if (typeof build !== 'function') {
      this.#log.warn({}, 'mqtt: this mqtt.js has no stream builder to tap; messages are stored one at a time per connection');
      return;
    }
    client.streamBuilder = (cl) => {
      const socket = build(cl);
      const prefetched = new Map<number, Prefetched>();
      c.prefetched = prefetched;
      const scanner = new PublishScanner((p) => this.#prefetch(prefetched, p));
      const inbound = new PassThrough();
      // Read eagerly (the broker sends at most receiveMaximum unacknowledged messages) so the
      // messages mqtt.js has not reached yet are being stored meanwhile.
      socket.on('data', (chunk: Buffer) => { scanner.push(chunk); inbound.write(chunk); });
      socket.on('end', () => inbound.end());
      const stream = Duplex.from({ readable: inbound, writable: socket });
      socket.on('error', (err) => stream.destroy(err));
      socket.on('close', () => { if (!stream.destroyed) stream.destroy(); });
      stream.on('close', () => socket.destroy());
      return stream;
    };
  }

  #prefetch(into: Map<number, Prefetched>, p: ScannedPublish): void {
    if (this.#closing) return;
    const stored = this.#inflight.track(this.#store(p.topic, p.payload));
    stored.catch(() => {}); // a failure is handled (retried) when mqtt.js hands the message over
    into.set(p.messageId, { topic: p.topic, payload: p.payload, stored });
  }

  /** Stores one message: what to tell the device; throws when it could not be stored through no fault of its own. */
  async #store(topic: string, payload: Buffer): Promise<Stored> {
    const t = parseTopic(topic);
    if (!t || !isInbound(t.leaf)) return { deviceId: '', outcome: { status: 'rejected', error: new AppError('not_found', `unexpected topic ${topic}`) }, reply: false };
    const found = await this.#devices.byId(t.deviceId);
    // Not a device of this deployment (another one may share the broker): no reply on its topics.
    if (found.status === 'unknown') return { deviceId: t.deviceId, outcome: { status: 'rejected', error: new AppError('unauthorized', `unknown device ${t.deviceId}`) }, reply: false };
    if (found.status === 'revoked') return { deviceId: t.deviceId, outcome: { status: 'rejected', error: new AppError('unauthorized', 'this device is retired or its token was revoked') }, reply: true };
    return { deviceId: t.deviceId, outcome: await processMessage(this.#ctx, found.device, t.leaf, payload), reply: true };
  }

  /** One message handed over by mqtt.js: its store (`first`, if prefetched), retried while it fails; then the device's ack or error. */
  async #handle(c: Consumer, topic: string, payload: Buffer, first: Promise<Stored> | undefined, retry = true): Promise<Result> {
    const gen = c.gen;
    let suspect = false;
    for (let attempt = 0; ; attempt++) {
      const prefetched = attempt === 0 && first;
      // Stopping: a message not yet being stored is left for the broker to deliver again.
      if (this.#closing && !prefetched) return { abandoned: true };
      try {
        const s = prefetched ? await first : await this.#store(topic, payload);
        if (!s.reply) this.#log.debug({ topic, error: s.outcome.status === 'rejected' ? s.outcome.error.message : undefined }, 'mqtt: message acknowledged and dropped');
        else if (s.outcome.status === 'stored') {
          if (s.outcome.ack) this.#send(c, s.deviceId, 'ack', s.outcome.ack);
        } else {
          this.#log.info({ deviceId: s.deviceId, topic, error: s.outcome.error.toJSON().error }, 'mqtt: message rejected');
          this.#send(c, s.deviceId, 'error', s.outcome.error.toJSON());
        }
        return { outcome: s.outcome };
      } catch (e) {
        if (!retry || gen !== c.gen || this.#closing) {
          this.#log.error({ err: e, topic }, 'mqtt: message not stored; left unacknowledged for the broker to deliver again');
          return { abandoned: true };
        }
        // A message that keeps failing while the store answers is the message's problem (a bug it
        // triggers): give up on it so it cannot block this connection forever, and tell the device.
        if (attempt + 1 >= POISON_AFTER && (await this.#storeAnswers())) {
          if (suspect) {
            this.#log.error({ err: e, topic }, 'mqtt: message keeps failing although the store works; acknowledged with an internal error');
            const error = new AppError('internal', 'the message could not be stored; it has been logged');
            const t = parseTopic(topic);
            if (t) this.#send(c, t.deviceId, 'error', error.toJSON());
            return { outcome: { status: 'rejected', error } };
          }
          suspect = true;
        }
        this.#log.error({ err: e, topic, attempt: attempt + 1 }, 'mqtt: message not stored yet, not acknowledged; retrying');
        await this.#sleep(backoff(attempt));
      }
    }
  }

  async #storeAnswers(): Promise<boolean> {
    try { await sql`select 1`.execute(this.#ctx.store.db); return true; } catch { return false; }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => { clearTimeout(timer); this.#wake.delete(done); resolve(); };
      const timer = setTimeout(done, ms);
      this.#wake.add(done);
    });
  }

  /** Fire and forget (never awaited while holding a PUBACK back: its own PUBACK arrives on this very connection). */
  #send(c: Consumer, deviceId: string, leaf: OutboundLeaf, body: unknown, retain = false): void {
    c.client.publish(topicOf(deviceId, leaf), encode(body), { qos: 1, retain }, (err) => {
      if (err) this.#log.warn({ deviceId, leaf, err: err.message }, 'mqtt: could not publish to the device');
    });
  }

  /** The device's token or status changed: look it up again on its next message. */
  forgetDevice(deviceId: string): void { this.#devices.forget(deviceId); }

  /** Publishes to a device's ack/error/settings topic (QoS 1); resolves once the broker has it. */
  publish(deviceId: string, leaf: OutboundLeaf, body: unknown, retain = false): Promise<void> {
    const c = this.#consumers[0]!;
    return c.client.publishAsync(topicOf(deviceId, leaf), encode(body), { qos: 1, retain }).then(() => {});
  }

  /**
   * Waits for the messages being stored (acknowledged as they finish), leaves the rest
   * unacknowledged for redelivery, then disconnects. The sessions stay on the broker, so messages
   * keep queueing for this node until it is back (or until sessionExpiry).
   */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const wake of [...this.#wake]) wake();
    await this.#inflight.drain();
    await Promise.all(this.#consumers.map(async (c) => {
      let timer: NodeJS.Timeout | undefined;
      const graceful = c.client.endAsync(false).then(() => true, () => false);
      const timedOut = new Promise<false>((r) => { timer = setTimeout(() => r(false), 3_000); });
      if (!(await Promise.race([graceful, timedOut]))) await c.client.endAsync(true).catch(() => {});
      clearTimeout(timer);
    }));
    this.#log.debug({}, 'mqtt: disconnected from the external broker');
  }
}
