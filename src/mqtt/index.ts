// Devices over MQTT (PROTOCOL.md §3): an external broker when a URL is given, else the embedded
// one; either way device settings from the DeviceBus are pushed retained to `…/settings`.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { DeviceBus, DeviceCredentialsEvent, DeviceSettingsEvent } from '../devices/events.ts';
import type { IngestContext } from '../ingest/service.ts';
import { EmbeddedBroker } from './embedded.ts';
import { ExternalConsumer } from './external.ts';
import type { Log } from './process.ts';
import type { OutboundLeaf } from './topics.ts';

export type MqttOptions = {
  /** External broker (`mqtt://user:pass@host:1883`, `mqtts://…`); absent: the embedded broker. */
  url?: string | undefined;
  /** Embedded broker's port (default 1883; 0 = any free port) and host (default 127.0.0.1). */
  port?: number | undefined;
  host?: string | undefined;
  /** External: this node's stable client id (default: from the host name and the store). */
  clientId?: string | undefined;
  /** External: shared subscription group (default `loyalty`). */
  group?: string | undefined;
  /** External: connections per node (default 2). */
  consumers?: number | undefined;
  /** External: unacknowledged messages the broker may send each connection, all stored concurrently (default 256). */
  receiveMaximum?: number | undefined;
  /** External: seconds the broker keeps this node's session while it is away (default 7 days). */
  sessionExpiry?: number | undefined;
  /** External: how long start waits for the broker before going on (default 10 s). */
  readyTimeoutMs?: number | undefined;
};

export type MqttTransport = {
  mode: 'embedded' | 'external';
  /** The embedded broker's address, or the external broker's without credentials. */
  url: string;
  publish(deviceId: string, leaf: OutboundLeaf, body: unknown, retain?: boolean): Promise<void>;
  close(): Promise<void>;
};

export const DEFAULT_GROUP = 'loyalty';
export const DEFAULT_CONSUMERS = 2;
const WEEK = 7 * 24 * 3600;

/** `lb-{host}-{hash}`: the same on every start of this node against this store, different between nodes. */
export function defaultClientId(storeIdentity: string): string {
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32) || 'node';
  return `lb-${host}-${createHash('sha256').update(`${hostname()}\n${storeIdentity}`).digest('hex').slice(0, 10)}`;
}

/**
 * Starts the MQTT transport. An embedded broker whose port cannot be bound (another broker already
 * listens there) is not fatal: HTTP keeps serving, the warning says what to do, and null is returned.
 */
export async function startMqtt(ctx: IngestContext & { bus: DeviceBus }, o: MqttOptions, log: Log, storeIdentity: string): Promise<MqttTransport | null> {
  let t: EmbeddedBroker | ExternalConsumer;
  let mode: MqttTransport['mode'];
  if (o.url) {
    mode = 'external';
    t = await ExternalConsumer.start(ctx, {
      url: o.url,
      clientId: o.clientId ?? defaultClientId(storeIdentity),
      group: o.group ?? DEFAULT_GROUP,
      consumers: o.consumers ?? DEFAULT_CONSUMERS,
      sessionExpiry: o.sessionExpiry ?? WEEK,
      receiveMaximum: o.receiveMaximum ?? 256,
      readyTimeoutMs: o.readyTimeoutMs ?? 10_000,
    }, log);
  } else {
    mode = 'embedded';
    const port = o.port ?? 1883;
    const host = o.host ?? '127.0.0.1';
    try {
      t = await EmbeddedBroker.start(ctx, { port, host }, log);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL') throw e;
      log.warn({ host, port, code }, `mqtt: the embedded broker cannot listen on ${host}:${port} (${code}); devices cannot connect over MQTT. ` +
        'Set MQTT_PORT to a free port, or MQTT_URL to consume from the broker already running there. HTTP is unaffected.');
      return null;
    }
    log.info({ url: t.url }, 'mqtt: embedded broker listening (username = device id, password = device token)');
  }

  // Retained: a device that connects later (or reconnects) gets its current settings at once.
  const onSettings = (ev: DeviceSettingsEvent): void => {
    t.publish(ev.deviceId, 'settings', { deviceId: ev.deviceId, settings: ev.settings, version: ev.version ?? null }, true).catch((err: unknown) =>
      log.warn({ deviceId: ev.deviceId, err: (err as Error).message }, 'mqtt: could not publish device settings'));
  };
  ctx.bus.on('settings', onSettings);
  // A device whose token stopped working loses its embedded-broker connections at once. (An
  // external broker holds the device credentials itself; this server refuses the device's messages
  // from now on, and other nodes within the lookup cache's 5 seconds.)
  const onCredentials = (ev: DeviceCredentialsEvent): void => {
    if (t instanceof ExternalConsumer) t.forgetDevice(ev.deviceId);
    else if (t.disconnectDevice(ev.deviceId)) log.info({ deviceId: ev.deviceId, reason: ev.reason }, 'mqtt: device disconnected: its token no longer works');
  };
  ctx.bus.on('credentials', onCredentials);
  const transport = t;
  return {
    mode,
    url: transport.url,
    publish: (deviceId, leaf, body, retain = false) => transport.publish(deviceId, leaf, body, retain),
    async close() {
      ctx.bus.off('settings', onSettings);
      ctx.bus.off('credentials', onCredentials);
      await transport.close();
    },
  };
}
