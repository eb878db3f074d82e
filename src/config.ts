// Configuration comes from the environment only (PROTOCOL.md §0); defaults give a working local system.
import { parseNetwork } from './alerts/destination.ts';
export type Config = {
  port: number; host: string; dataDir: string; databaseUrl: string | undefined; logLevel: string;
  /** PostgreSQL schema to keep the tables in (several instances can share one database); default: the search path's. */
  databaseSchema: string | undefined;
  /** Devices over MQTT (README "Devices over MQTT"): an external broker's URL, else the embedded broker on mqttPort. */
  mqttUrl: string | undefined; mqttPort: number;
  mqttClientId: string | undefined; mqttGroup: string | undefined; mqttConsumers: number | undefined;
  /** The server's public address (claim URLs, alert links); unset = relative links / the request's origin. */
  publicUrl: string | undefined;
  /** How often the alert evaluator runs (README "Alerts"). */
  alertsIntervalSeconds: number;
  /** Where alert webhooks may connect (src/alerts/destination.ts): internal addresses are refused unless allowed here. */
  webhookAllowPrivate: boolean; webhookAllowedNetworks: string[];
};

function int(env: NodeJS.ProcessEnv, name: string, min: number, max: number, what: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be ${what}, not "${raw}"`);
  return n;
}

function bool(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new Error(`${name} must be true or false, not "${raw}"`);
}

function networks(env: NodeJS.ProcessEnv, name: string): string[] {
  const list = (env[name] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of list) {
    try { parseNetwork(n); } catch (e) { throw new Error(`${name}: ${(e as Error).message}`); }
  }
  return list;
}

/** How the configured store is opened: every command goes through this one place. */
export function storeOptionsOf(c: Config): { databaseUrl: string | undefined; pgSchema: string | undefined; dataDir: string } {
  return { databaseUrl: c.databaseUrl, pgSchema: c.databaseSchema, dataDir: c.dataDir };
}

/** Where alert webhooks may connect, for src/alerts/destination.ts. */
export function webhookOptionsOf(c: Config): { allowPrivate: boolean; allowedNetworks: string[] } {
  return { allowPrivate: c.webhookAllowPrivate, allowedNetworks: c.webhookAllowedNetworks };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = Number(env['PORT'] ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, not "${env['PORT']}"`);
  return {
    port,
    host: env['HOST'] ?? '127.0.0.1',
    dataDir: env['DATA_DIR'] ?? './data',
    databaseUrl: env['DATABASE_URL'] || undefined,
    databaseSchema: env['DATABASE_SCHEMA'] || undefined,
    logLevel: env['LOG_LEVEL'] ?? 'info',
    mqttUrl: env['MQTT_URL'] || undefined,
    mqttPort: int(env, 'MQTT_PORT', 0, 65535, 'a port number') ?? 1883,
    mqttClientId: env['MQTT_CLIENT_ID'] || undefined,
    mqttGroup: env['MQTT_GROUP'] || undefined,
    mqttConsumers: int(env, 'MQTT_CONSUMERS', 1, 256, 'a number of connections from 1 to 256'),
    publicUrl: env['PUBLIC_URL'] || undefined,
    alertsIntervalSeconds: int(env, 'ALERTS_INTERVAL_SECONDS', 5, 3600, 'a number of seconds from 5 to 3600') ?? 60,
    webhookAllowPrivate: bool(env, 'WEBHOOK_ALLOW_PRIVATE') ?? false,
    webhookAllowedNetworks: networks(env, 'WEBHOOK_ALLOWED_NETWORKS'),
  };
}
