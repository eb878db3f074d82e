// Wires store, ingest and HTTP together; used by `loyalty start` and by tests.
import type { FastifyBaseLogger } from 'fastify';
import { openStore, migrateToLatest, type Store, type StoreOptions } from './store/db.ts';
import { Refs } from './store/refs.ts';
import { GroupCommitter } from './ingest/committer.ts';
import { LiveHub, type LiveOptions } from './live/hub.ts';
import { DeviceBus } from './devices/events.ts';
import { FleetMonitor, type FleetMonitorOptions } from './devices/fleet.ts';
import { buildApp } from './http/app.ts';
import type { App, AppContext } from './http/context.ts';
import { startMqtt, type MqttOptions, type MqttTransport } from './mqtt/index.ts';

/** `mqtt`: the devices' MQTT transport, null when off (or when the embedded broker's port was taken). `live`: the SSE fan-out. */
export type Server = { app: App; ctx: AppContext; url: string; mqtt: MqttTransport | null; fleet: FleetMonitor | null; live: LiveHub; close(): Promise<void> };

export async function startServer(o: {
  store?: Store; storeOptions?: StoreOptions; port?: number; host?: string; logger?: FastifyBaseLogger;
  /** Devices over MQTT (src/mqtt): `{ url }` consumes from an external broker, `{ port, host }` runs the embedded one; off by default. */
  mqtt?: MqttOptions | false;
  /** Fleet-health sweeps (src/devices/fleet.ts), on by default; false = none (tests drive their own). */
  fleet?: FleetMonitorOptions | false;
  /** The live stream's heartbeat and per-connection buffer limits (src/live/hub.ts). */
  live?: LiveOptions;
} = {}): Promise<Server> {
  const store = o.store ?? await openStore(o.storeOptions);
  if (!o.store) await migrateToLatest(store);
  const refs = new Refs(store);
  // Every durable commit is fanned out to the open live streams (PROTOCOL.md §5).
  const live = new LiveHub(o.live);
  const committer = new GroupCommitter(store, (votes) => live.publish(votes));
  const ctx: AppContext = { store, refs, committer, bus: new DeviceBus() };
  const app = await buildApp(ctx, { logger: o.logger, live });
  const address = await app.listen({ port: o.port ?? 0, host: o.host ?? '127.0.0.1' });
  let mqtt: MqttTransport | null = null;
  if (o.mqtt) {
    // The default MQTT client id must be the same on every start of this node and differ between nodes.
    const identity = `${store.sqlitePath ?? `${store.dialect}:${store.pgSchema ?? ''}`}|${o.port ?? 0}`;
    try {
      mqtt = await startMqtt(ctx, { ...o.mqtt, host: o.mqtt.host ?? o.host }, app.log, identity);
    } catch (e) {
      await app.close();
      if (!o.store) await store.close();
      throw e;
    }
  }
  const fleet = o.fleet === false ? null : new FleetMonitor(store, ctx.bus, { ...o.fleet, onError: (err) => app.log.error({ err }, 'fleet sweep failed') });
  fleet?.start();
  return {
    app, ctx, url: address.replace('[::1]', '127.0.0.1'), mqtt, fleet, live,
    async close() {
      await mqtt?.close(); // first: the messages being stored finish (and are acknowledged) while the store is open
      await app.close();
      await fleet?.stop();
      if (!o.store) await store.close();
    },
  };
}
