// The embedded broker (no MQTT_URL): aedes (MQTT 3.1.1) on MQTT_PORT. It authenticates devices
// itself (username = device id, password = device token), enforces the topic ACL of PROTOCOL §3,
// and stores device messages in-process.
//
// PUBACK only after storage: aedes handles an incoming PUBLISH as authorizePublish → (QoS 1) write
// PUBACK → route the message (node_modules/aedes/lib/handlers/publish.js, enqueuePublish). The
// message is therefore stored INSIDE authorizePublish, and its callback is called only once the
// votes are durably committed; an error there closes the connection without any PUBACK (aedes
// never acknowledges a refused publish, MQTT-3.3.5-2), so the device sends the message again.
// Packets of one socket read are handled concurrently (aedes lib/client.js enqueue), so a device
// streaming many messages still fills the group commit.
import { createServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { Duplex } from 'node:stream';
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import { hashSecret } from '../domain/ids.ts';
import type { DevicePrincipal } from '../domain/types.ts';
import type { IngestContext } from '../ingest/service.ts';
import { encode, InFlight, processMessage, type Log } from './process.ts';
import { PacketSizeGuard } from './scan.ts';
import { INGEST_BODY_LIMIT } from '../ingest/schemas.ts';
import { ownInbound, ownOutbound, topicOf, type OutboundLeaf } from './topics.ts';

export type EmbeddedOptions = { port: number; host: string };

/** What authenticate learned about a connection; checked again on every publish (token rotated → out). */
type Session = DevicePrincipal & { tokenHash: string };

// CONNACK return codes of MQTT 3.1.1 (aedes types them as a const enum, which erasable TS cannot read).
const BAD_CREDENTIALS = 4;
const SERVER_UNAVAILABLE = 3;
/** Largest MQTT packet taken: a full ingest body plus room for its topic and properties. */
const MAX_PACKET = INGEST_BODY_LIMIT + 64 * 1024;
const authError = (message: string, returnCode: number): AuthenticateError =>
  Object.assign(new Error(message), { returnCode }) as unknown as AuthenticateError;

export class EmbeddedBroker {
  readonly url: string;
  readonly #broker: Aedes;
  readonly #server: NetServer;
  readonly #inflight: InFlight;
  readonly #log: Log;
  /** Open connections of each device, to close them when its token stops working. */
  readonly #byDevice: Map<string, Set<Client>>;
  #closing = false;

  private constructor(url: string, broker: Aedes, server: NetServer, inflight: InFlight, byDevice: Map<string, Set<Client>>, log: Log) {
    this.url = url; this.#broker = broker; this.#server = server; this.#inflight = inflight; this.#byDevice = byDevice; this.#log = log;
  }

  /** Listens on host:port; rejects (nothing left open) when the port cannot be bound. */
  static async start(ctx: IngestContext, o: EmbeddedOptions, log: Log): Promise<EmbeddedBroker> {
    const sessions = new WeakMap<Client, Session>();
    const byDevice = new Map<string, Set<Client>>();
    const inflight = new InFlight();
    let self: EmbeddedBroker | undefined;
    const closing = (): boolean => (self ? self.#closing : false);
    const forget = (client: Client): void => {
      const session = sessions.get(client);
      const mine = session && byDevice.get(session.deviceId);
      if (!mine) return;
      mine.delete(client);
      if (!mine.size) byDevice.delete(session.deviceId);
    };

    const broker = new Aedes({
      // Unbounded routing concurrency: with a bound, messages queue in mqemitter, and a long queue of
      // messages nobody subscribes to (every device's votes) is drained by synchronous recursion
      // that overflows the stack under load. Back-pressure comes from the devices' in-flight
      // windows and from drainTimeout (a client that stops reading is disconnected).
      concurrency: 0,
      // lb/v1/{device}/{leaf} has four levels; a few spare, far below the default 100.
      maxTopicLevels: 8,
      // Devices may not take over each other's sessions by picking the same client id: see authenticate.
      authenticate(client, username, password, done) {
        void (async () => {
          if (!username || !password?.length) return done(authError('username (device id) and password (device token) are required', BAD_CREDENTIALS), false);
          const tokenHash = hashSecret(password.toString('utf8'));
          const d = await ctx.refs.deviceByTokenHash(tokenHash);
          if (!d || d.id !== username) {
            log.info({ deviceId: username }, 'mqtt: refused a connection: unknown device or wrong token');
            return done(authError('bad device id or token', BAD_CREDENTIALS), false);
          }
          sessions.set(client, { kind: 'device', deviceId: d.id, orgId: d.orgId, deviceKind: d.kind, tokenHash });
          let mine = byDevice.get(d.id);
          if (!mine) byDevice.set(d.id, mine = new Set());
          mine.add(client);
          client.conn.once('close', () => forget(client));
          // Session state (subscriptions, queued acks) is keyed by client id: namespace it by the
          // authenticated device, so one device's client id can never reach another's session.
          (client as { id: string }).id = `${d.id}/${client.id}`;
          done(null, true);
        })().catch((e: unknown) => {
          log.error({ err: e }, 'mqtt: authentication failed on the server side');
          done(authError('server unavailable', SERVER_UNAVAILABLE), false);
        });
      },

      authorizePublish(client, packet, callback) {
        const session = client ? sessions.get(client) : undefined;
        if (!client || !session) return callback(new Error('not authenticated'));
        // A will is published by the broker when the connection drops, outside this flow: not accepted.
        if ((client as unknown as { will?: unknown }).will === packet) return callback(new Error('wills are not accepted'));
        const leaf = ownInbound(session.deviceId, packet.topic);
        if (!leaf) {
          log.warn({ deviceId: session.deviceId, topic: packet.topic }, 'mqtt: refused a publish outside the device\'s own inbound topics; connection closed');
          return callback(new Error(`not allowed to publish to ${packet.topic}`));
        }
        // Shutting down: no PUBACK, the connection closes and the device sends it again later.
        if (closing()) return callback(new Error('server is shutting down'));
        packet.retain = false; // device messages are never kept by the broker
        void inflight.track((async () => {
          const d = await ctx.refs.deviceByTokenHash(session.tokenHash);
          if (!d || d.id !== session.deviceId) throw Object.assign(new Error('device token revoked'), { revoked: true });
          const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
          const out = await processMessage(ctx, session, leaf, payload);
          if (out.status === 'stored') {
            if (out.ack) await publish(broker, session.deviceId, 'ack', out.ack);
          } else {
            log.info({ deviceId: session.deviceId, topic: packet.topic, error: out.error.toJSON().error }, 'mqtt: message rejected');
            await publish(broker, session.deviceId, 'error', out.error.toJSON());
          }
        })()).then(() => callback(null), (e: unknown) => {
          if ((e as { revoked?: boolean }).revoked) log.info({ deviceId: session.deviceId }, 'mqtt: device token revoked; connection closed');
          else log.error({ err: e, deviceId: session.deviceId, topic: packet.topic }, 'mqtt: message not stored; connection closed without PUBACK so the device sends it again');
          callback(e instanceof Error ? e : new Error(String(e)));
        });
      },

      authorizeSubscribe(client, sub, callback) {
        const session = sessions.get(client);
        if (!session || !ownOutbound(session.deviceId, sub.topic)) {
          log.info({ deviceId: session?.deviceId, topic: sub.topic }, 'mqtt: refused a subscription');
          return callback(null, null); // SUBACK failure (0x80) for this topic; the connection stays
        }
        callback(null, { ...sub, qos: sub.qos > 1 ? 1 : sub.qos });
      },

      // Defence in depth: whatever the subscriptions, a device receives only its own ack/error/settings.
      authorizeForward(client, packet) {
        const session = sessions.get(client);
        return session && ownOutbound(session.deviceId, packet.topic) ? packet : null;
      },
    });
    broker.on('clientError', (client, err) => log.debug({ clientId: client.id, err: err.message }, 'mqtt: client error'));
    broker.on('connectionError', (_client, err) => log.debug({ err: err.message }, 'mqtt: connection error'));

    await broker.listen();
    const server = createServer((socket) => {
      // Every byte passes a size guard first: aedes itself would buffer a packet of any size.
      const guard = new PacketSizeGuard(MAX_PACKET);
      const conn = Duplex.from({ readable: socket.pipe(guard), writable: socket });
      guard.on('error', (err) => { log.info({ remote: socket.remoteAddress, err: err.message }, 'mqtt: connection closed'); conn.destroy(); });
      socket.on('error', (err) => conn.destroy(err));
      socket.on('close', () => { if (!conn.destroyed) conn.destroy(); });
      conn.on('close', () => socket.destroy());
      broker.handle(conn);
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(o.port, o.host, () => { server.off('error', reject); resolve(); });
      });
    } catch (e) {
      await new Promise<void>((r) => broker.close(() => r()));
      throw e;
    }
    server.on('error', (err) => log.error({ err }, 'mqtt: listener error'));
    const addr = server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    self = new EmbeddedBroker(`mqtt://${host}:${addr.port}`, broker, server, inflight, byDevice, log);
    return self;
  }

  /** Publishes to a device's ack/error/settings topic (QoS 1). */
  publish(deviceId: string, leaf: OutboundLeaf, body: unknown, retain = false): Promise<void> {
    return publish(this.#broker, deviceId, leaf, body, retain);
  }

  /** Closes the device's connections (its token was rotated or revoked, or it was retired); it must reconnect with a valid token. */
  disconnectDevice(deviceId: string): number {
    const mine = this.#byDevice.get(deviceId);
    if (!mine) return 0;
    this.#byDevice.delete(deviceId);
    for (const client of mine) client.close();
    return mine.size;
  }

  /** Stops taking messages, waits for those being stored (their PUBACKs go out), then closes every connection. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const stopped = new Promise<void>((r) => this.#server.close(() => r()));
    await this.#inflight.drain();
    await new Promise<void>((r) => this.#broker.close(() => r()));
    await stopped;
    this.#log.debug({}, 'mqtt: embedded broker closed');
  }
}

function publish(broker: Aedes, deviceId: string, leaf: OutboundLeaf, body: unknown, retain = false): Promise<void> {
  const packet: PublishPacket = { cmd: 'publish', topic: topicOf(deviceId, leaf), payload: encode(body), qos: 1, retain, dup: false };
  return new Promise((resolve, reject) => broker.publish(packet, (err) => (err ? reject(err) : resolve())));
}

