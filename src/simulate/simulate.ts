// `loyalty simulate` as a library: builds a fleet on a running server through its admin API,
// replays a seeded history of presses through it over HTTP or MQTT with the faults real devices
// have, and reconciles what was sent with what the server stored. Tests and benchmarks call
// simulate(); the CLI (cli.ts) parses flags into the same options.
import { SingleBar } from 'cli-progress';
import { makePlan, type Plan } from './plan.ts';
import { SimDevice, newStats, type Link, type Settings, type Stats } from './device.ts';
import { httpLink } from './http.ts';
import { mqttLink } from './mqtt.ts';
import { ApiClient, createFleet, mapLimit, type Fetch, type FleetDevice } from './setup.ts';
import { reconcile, type Reconciliation } from './reconcile.ts';

export type SimulateOptions = {
  /** The server's HTTP base URL (admin API, scores, and ingest over HTTP). */
  url: string;
  /** An admin (or partner) API token: the fleet is created with it and the scores read back. */
  token: string;
  /** Put the fleet into this existing organisation instead of a new one. */
  org?: string | undefined;
  /** Voting devices (panels and fobs, like the demo's cafés); default 10. */
  devices?: number | undefined;
  /** People counters, in addition; default 0. */
  counters?: number | undefined;
  /** Locations (copies of the demo's four cafés); default one per four devices. */
  locations?: number | undefined;
  /** Total presses. Default: rate × duration, or 1000. */
  votes?: number | undefined;
  /** Presses per second over the fleet; default: as fast as the server acknowledges. */
  rate?: number | undefined;
  /** Seconds: with rate, votes = rate × duration; with votes, rate = votes / duration. */
  duration?: number | undefined;
  /** The presses' timestamps lie in the last `days` local days, today included (default 7). */
  days?: number | undefined;
  /** The end of the simulated history (default now). */
  end?: number | string | Date | undefined;
  transport?: 'http' | 'mqtt' | undefined;
  /** The broker devices publish to (default mqtt://127.0.0.1:1883). */
  mqttUrl?: string | undefined;
  /** Share of devices that go offline once and come back with their buffer (default 0.2). */
  offline?: number | undefined;
  /** Share of messages whose acknowledgement the device loses, so it sends them again (default 0.02). */
  lostAcks?: number | undefined;
  /** Share of acknowledged messages the device sends again anyway (default 0.02). */
  duplicates?: number | undefined;
  /** Share of devices with a low battery (default 0.1). */
  lowBattery?: number | undefined;
  /** Most events per message (default 50, protocol maximum 1000). */
  batch?: number | undefined;
  /** Most unanswered messages per device (default 1 over HTTP, 4 over MQTT). */
  window?: number | undefined;
  /** Seconds between heartbeats (default 10). */
  heartbeat?: number | undefined;
  /** MQTT: seconds before an unacknowledged event is published again (default 5). */
  ackTimeout?: number | undefined;
  /** Once every press is released, give up after this many seconds without a new acknowledgement (default 120). */
  timeout?: number | undefined;
  seed?: number | undefined;
  /** A progress bar on stderr (only when stderr is a terminal). */
  progress?: boolean | undefined;
  /** Replaces fetch for every HTTP call (tests record traffic with it). */
  fetch?: Fetch | undefined;
  /** Called about every 100 ms while sending (tests kill the server mid-run with it). */
  onProgress?: ((p: Progress) => void) | undefined;
  log?: ((message: string) => void) | undefined;
  /** Stops sending early (Ctrl-C): what was sent is still reconciled. */
  signal?: AbortSignal | undefined;
};

export type Progress = { released: number; acked: number; total: number; elapsedMs: number; stats: Stats };

export type Resolved = Required<Omit<SimulateOptions, 'org' | 'fetch' | 'onProgress' | 'log' | 'end' | 'rate' | 'signal'>> & {
  org: string | undefined; signal: AbortSignal | undefined; end: number; rate: number; fetch: Fetch; onProgress: ((p: Progress) => void) | undefined; log: (m: string) => void;
};

const share = (x: number, name: string): number => {
  if (!(x >= 0 && x <= 1)) throw new Error(`${name} must be a share between 0 and 1, not ${x}`);
  return x;
};
const positive = (x: number, name: string, integer = true): number => {
  if (!(x > 0) || (integer && !Number.isInteger(x))) throw new Error(`${name} must be a positive ${integer ? 'integer' : 'number'}, not ${x}`);
  return x;
};

export function resolveOptions(o: SimulateOptions): Resolved {
  if (!o.url) throw new Error('url is required (the server\'s HTTP base URL)');
  if (!o.token) throw new Error('token is required (an admin API token: `loyalty admin-token`)');
  if (o.votes !== undefined && o.rate !== undefined && o.duration !== undefined) throw new Error('give at most two of votes, rate and duration');
  if (o.duration !== undefined && o.votes === undefined && o.rate === undefined) throw new Error('duration needs rate or votes');
  const rate = o.rate !== undefined ? positive(o.rate, 'rate', false) : o.duration !== undefined ? positive(o.votes!, 'votes') / positive(o.duration, 'duration', false) : Infinity;
  const votes = o.votes ?? (o.rate !== undefined && o.duration !== undefined ? Math.max(1, Math.round(o.rate * o.duration)) : 1000);
  const devices = positive(o.devices ?? 10, 'devices');
  const transport = o.transport ?? 'http';
  if (transport !== 'http' && transport !== 'mqtt') throw new Error(`transport is http or mqtt, not "${String(transport)}"`);
  const end = o.end === undefined ? Date.now() : new Date(o.end).getTime();
  if (!Number.isFinite(end)) throw new Error(`end is not a date: ${String(o.end)}`);
  const batch = positive(o.batch ?? 50, 'batch');
  if (batch > 1000) throw new Error('batch may be at most 1000 events (PROTOCOL.md §2)');
  return {
    url: o.url, token: o.token, org: o.org, devices, counters: o.counters === undefined || o.counters === 0 ? 0 : positive(o.counters, 'counters'),
    locations: positive(o.locations ?? Math.max(1, Math.min(devices, Math.ceil(devices / 4))), 'locations'),
    votes: positive(votes, 'votes'), rate, duration: o.duration ?? (rate === Infinity ? 0 : votes / rate),
    days: positive(o.days ?? 7, 'days'), end, transport, mqttUrl: o.mqttUrl ?? 'mqtt://127.0.0.1:1883',
    offline: share(o.offline ?? 0.2, 'offline'), lostAcks: share(o.lostAcks ?? 0.02, 'lostAcks'),
    duplicates: share(o.duplicates ?? 0.02, 'duplicates'), lowBattery: share(o.lowBattery ?? 0.1, 'lowBattery'),
    batch, window: positive(o.window ?? (transport === 'mqtt' ? 4 : 1), 'window'),
    heartbeat: positive(o.heartbeat ?? 10, 'heartbeat', false), ackTimeout: positive(o.ackTimeout ?? 5, 'ackTimeout', false),
    timeout: positive(o.timeout ?? 120, 'timeout', false), seed: o.seed ?? 1, progress: o.progress ?? false,
    fetch: o.fetch ?? fetch, onProgress: o.onProgress, log: o.log ?? (() => {}), signal: o.signal,
  };
}

/** The plan a resolved set of options describes. */
export const planOf = (o: Resolved): Plan => makePlan({
  seed: o.seed, devices: o.devices, counters: o.counters, locations: o.locations, votes: o.votes, days: o.days, end: o.end,
  offline: o.offline, lostAcks: o.lostAcks, duplicates: o.duplicates, lowBattery: o.lowBattery,
});

/** Runs a simulation end to end and returns its reconciliation (`ok` false when stored ≠ sent). */
export async function simulate(options: SimulateOptions): Promise<Reconciliation> {
  const o = resolveOptions(options);
  const plan = planOf(o);
  const api = new ApiClient(o.url, o.token, o.fetch);
  o.log(`simulate: creating ${o.devices} voting device(s)${o.counters ? ` and ${o.counters} counter(s)` : ''} at ${o.locations} location(s)…`);
  const fleet = await createFleet(api, plan, { orgId: o.org, name: `Simulated fleet (seed ${o.seed})` });
  const { devices, stats, elapsedMs } = await drive(plan, fleet.devices, o);
  return reconcile(api, { orgId: fleet.orgId, plan, devices, stats, transport: o.transport, seed: o.seed, elapsedMs });
}

/**
 * Drives the plan's devices (with these credentials) until every event is acknowledged, without
 * the admin API: the benchmarks run the very same devices against a bare echo consumer with it.
 */
export async function drive(plan: Plan, credentials: FleetDevice[], o: Resolved): Promise<{ devices: SimDevice[]; stats: Stats; elapsedMs: number }> {
  const stats = newStats();
  const settings: Settings = { maxBatch: o.batch, window: o.window, heartbeatMs: o.heartbeat * 1000, ackTimeoutMs: o.ackTimeout * 1000, retryMs: 100 };
  const now = (): number => performance.now();
  const fleetLink = (d: SimDevice): Link => o.transport === 'http'
    ? httpLink(d, { url: o.url, fetch: o.fetch, timeoutMs: 30_000 })
    : mqttLink(d, { url: o.mqttUrl, stats, connectTimeoutMs: 15_000 });
  const devices = plan.devices.map((p, i) => new SimDevice(p, credentials[i]!, { settings, stats, now, fleetLink }));
  try {
    await mapLimit(devices, 32, (d) => d.start());
    o.log(`simulate: ${plan.timeline.length} events from ${new Date(plan.from).toISOString()} to ${new Date(plan.to).toISOString()}, over ${o.transport.toUpperCase()}${o.rate === Infinity ? ', as fast as acknowledged' : `, ${o.rate} votes/s`}`);
    const elapsedMs = await run(plan, devices, stats, o);
    // A last heartbeat each, so the server's view of the batteries is the final one.
    for (const d of devices) if (d.state === 'online') d.heartbeat();
    return { devices, stats, elapsedMs };
  } finally {
    await Promise.allSettled(devices.map((d) => d.close()));
  }
}

/** Releases the presses at the chosen rate and waits until every event is acknowledged (or the timeout). */
function run(plan: Plan, devices: SimDevice[], stats: Stats, o: Resolved): Promise<number> {
  const total = plan.timeline.length;
  const bar = o.progress && process.stderr.isTTY
    ? new SingleBar({
      stream: process.stderr, hideCursor: true, etaBuffer: 50,
      format: 'simulate |{bar}| {percentage}% {value}/{total} acknowledged | {rate}/s | {offline} offline | {resent} re-sent | ETA {eta_formatted}',
    })
    : null;
  bar?.start(total, 0, { rate: 0, offline: 0, resent: 0 });
  const t0 = performance.now();
  let cursor = 0;
  let votes = 0;
  let lastAckAt = t0;
  let lastAcked = 0;
  let lastReport = 0;
  return new Promise<number>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      const allowed = o.rate === Infinity ? Infinity : Math.floor(((now - t0) / 1000) * o.rate);
      // Bounded per tick so acknowledgements keep flowing while a large history is released.
      for (let budget = 20_000; cursor < total && budget > 0; budget--) {
        const e = plan.timeline[cursor]!;
        if (e.button !== null) {
          if (votes >= allowed) break;
          votes++;
        }
        devices[e.device]!.press(e);
        cursor++;
      }
      for (const d of devices) d.tick(now);
      if (stats.ackedUnique !== lastAcked) { lastAcked = stats.ackedUnique; lastAckAt = now; }
      const settled = cursor === total && stats.ackedUnique + stats.rejected >= total && devices.every((d) => d.idle);
      const stalled = cursor === total && now - lastAckAt > o.timeout * 1000;
      const done = settled || stalled || o.signal?.aborted === true;
      if (stalled && !settled) o.log(`simulate: nothing acknowledged for ${o.timeout} s; giving up`);
      if (now - lastReport >= 100 || done) {
        lastReport = now;
        bar?.update(stats.ackedUnique, {
          rate: Math.round(stats.ackedUnique / Math.max(0.001, (now - t0) / 1000)),
          offline: devices.filter((d) => d.state !== 'online').length, resent: stats.transmissions - stats.sent,
        });
        o.onProgress?.({ released: cursor, acked: stats.ackedUnique, total, elapsedMs: now - t0, stats });
      }
      if (done) {
        clearInterval(timer);
        bar?.stop();
        resolve((settled ? lastAckAt : now) - t0);
      }
    }, 5);
  });
}
