// Wires store, ingest and HTTP together; used by `loyalty start` and by tests.
import type { FastifyBaseLogger } from 'fastify';
import { openStore, migrateToLatest, type Store, type StoreOptions } from './store/db.ts';
import { Refs } from './store/refs.ts';
import { GroupCommitter } from './ingest/committer.ts';
import { LiveHub, type LiveOptions } from './live/hub.ts';
import { PgRelay, type PgRelayOptions } from './live/pg-relay.ts';
import { DeviceBus } from './devices/events.ts';
import { FleetMonitor, type FleetMonitorOptions } from './devices/fleet.ts';
import { buildApp } from './http/app.ts';
import type { App, AppContext } from './http/context.ts';
import { startMqtt, type MqttOptions, type MqttTransport } from './mqtt/index.ts';
import { loadConfig, webhookOptionsOf } from './config.ts';
import { AlertEvaluator } from './alerts/evaluate.ts';
import { AlertDelivery } from './alerts/delivery.ts';
import { DestinationPolicy, type DestinationOptions } from './alerts/destination.ts';

/** The alert loops (src/alerts): evaluation every intervalMs, delivery of the outbox every deliveryIntervalMs. */
export type AlertsOptions = { publicUrl?: string | undefined; intervalMs?: number | undefined; deliveryIntervalMs?: number | undefined; mailer?: Mailer | null | undefined };
import { ReportScheduler, type SchedulerOptions } from './reports/schedules.ts';
import { mailerFromEnv, type Mailer } from './mail/mailer.ts';

/** `mqtt`: the devices' MQTT transport, null when off (or when the embedded broker's port was taken). `live`: the SSE fan-out; `relay`: its link to the other nodes (PostgreSQL only). */
export type Server = {
  app: App; ctx: AppContext; url: string; mqtt: MqttTransport | null; fleet: FleetMonitor | null; live: LiveHub; relay: PgRelay | null;
  alerts: { evaluator: AlertEvaluator; delivery: AlertDelivery } | null; close(): Promise<void>;
};

export async function startServer(o: {
  store?: Store; storeOptions?: StoreOptions; port?: number; host?: string; logger?: FastifyBaseLogger;
  /** Devices over MQTT (src/mqtt): `{ url }` consumes from an external broker, `{ port, host }` runs the embedded one; off by default. */
  mqtt?: MqttOptions | false;
  /** Fleet-health sweeps (src/devices/fleet.ts), on by default; false = none (tests drive their own). */
  fleet?: FleetMonitorOptions | false;
  /** The live stream's heartbeat and per-connection buffer limits (src/live/hub.ts). */
  live?: LiveOptions;
  /** PostgreSQL: the live stream across server nodes (src/live/pg-relay.ts), on by default; false = this node's votes only. */
  relay?: Partial<Omit<PgRelayOptions, 'connection' | 'schema' | 'onError'>> | false;
  /** Alert evaluation and delivery, on by default from the environment (PUBLIC_URL, ALERTS_INTERVAL_SECONDS, SMTP_URL); false = none. */
  alerts?: AlertsOptions | false;
  /** Where alert webhooks may connect (src/alerts/destination.ts); default from WEBHOOK_ALLOW_PRIVATE and WEBHOOK_ALLOWED_NETWORKS: internal addresses refused. */
  webhooks?: DestinationOptions;
  /** Scheduled email reports (src/reports/schedules.ts): on when a mailer is given or SMTP_URL is set; false = off. */
  reports?: (SchedulerOptions & { mailer?: Mailer | undefined }) | false;
} = {}): Promise<Server> {
  const store = o.store ?? await openStore(o.storeOptions);
  if (!o.store) await migrateToLatest(store);
  const refs = new Refs(store);
  // Every durable commit is fanned out to the open live streams (PROTOCOL.md §5).
  const live = new LiveHub(o.live);
  // On PostgreSQL the other nodes get them too, and this node's streams get theirs.
  let relay: PgRelay | null = null;
  const committer = new GroupCommitter(store, (votes) => { live.publish(votes); relay?.publish(votes); });
  const env = loadConfig(); // what the options leave out comes from the environment
  const webhooks = new DestinationPolicy(o.webhooks ?? webhookOptionsOf(env));
  const ctx: AppContext = { store, refs, committer, bus: new DeviceBus(), webhooks };
  const app = await buildApp(ctx, { logger: o.logger, live });
  if (store.pgConnection && o.relay !== false) {
    relay = new PgRelay(live, { ...o.relay, connection: store.pgConnection, schema: store.pgSchema, onError: (err, msg) => app.log.warn({ err }, msg) });
    await relay.start(); // listening before the first request is served
  }
  const address = await app.listen({ port: o.port ?? 0, host: o.host ?? '127.0.0.1' });
  let mqtt: MqttTransport | null = null;
  if (o.mqtt) {
    // The default MQTT client id must be the same on every start of this node and differ between nodes.
    const identity = `${store.sqlitePath ?? `${store.dialect}:${store.pgSchema ?? ''}`}|${o.port ?? 0}`;
    try {
      mqtt = await startMqtt(ctx, { ...o.mqtt, host: o.mqtt.host ?? o.host }, app.log, identity);
    } catch (e) {
      await app.close();
      await relay?.close();
      if (!o.store) await store.close();
      throw e;
    }
  }
  const fleet = o.fleet === false ? null : new FleetMonitor(store, ctx.bus, { ...o.fleet, onError: (err) => app.log.error({ err }, 'fleet sweep failed') });
  fleet?.start();
  let alerts: Server['alerts'] = null;
  if (o.alerts !== false) {
    // One attempt per pass: the outbox does the retrying, with backoff that survives a restart.
    const mailer = o.alerts?.mailer !== undefined ? o.alerts.mailer : mailerFromEnv(process.env, undefined, { attempts: 1 });
    const onError = (err: unknown): void => app.log.error({ err }, 'alerts pass failed');
    alerts = {
      evaluator: new AlertEvaluator(store, { publicUrl: o.alerts?.publicUrl ?? env.publicUrl, intervalMs: o.alerts?.intervalMs ?? env.alertsIntervalSeconds * 1000, onError }),
      delivery: new AlertDelivery(store, { mailer, webhooks, intervalMs: o.alerts?.deliveryIntervalMs ?? 10_000, onError }),
    };
    alerts.evaluator.start();
    alerts.delivery.start();
  }
  const mailer = o.reports === false ? null : o.reports?.mailer ?? mailerFromEnv(process.env, (level, msg, detail) => app.log[level](detail ?? {}, msg));
  const reports = mailer && o.reports !== false ? new ReportScheduler(store, mailer, { ...o.reports, onError: (err) => app.log.error({ err }, 'scheduled report failed') }) : null;
  reports?.start();
  return {
    app, ctx, url: address.replace('[::1]', '127.0.0.1'), mqtt, fleet, live, relay, alerts,
    async close() {
      await mqtt?.close(); // first: the messages being stored finish (and are acknowledged) while the store is open
      await app.close();
      await relay?.close(); // after the last commits: their votes still reach the other nodes
      await fleet?.stop();
      await alerts?.evaluator.stop();
      await alerts?.delivery.stop();
      await reports?.stop();
      if (mailer && !(o.reports && o.reports.mailer)) mailer.close();
      if (!o.store) await store.close();
    },
  };
}
