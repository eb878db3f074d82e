// `loyalty simulate [options]`: flags → simulate() → the reconciliation table; exit 1 when stored ≠ sent.
import { parseArgs } from 'node:util';
import { simulate, type SimulateOptions } from './simulate.ts';
import { formatReconciliation } from './reconcile.ts';

export const SIMULATE_USAGE = `usage: loyalty simulate --token TOKEN [options]
  Builds a fleet on a running server through its admin API and drives it like real devices: a
  seeded history of presses (the demo's daily and weekly rhythm over the last --days, replayed
  time-compressed), outages with buffered re-upload, lost acknowledgements and re-sent batches,
  low batteries in heartbeats, people counters; then reconciles sent vs stored vs duplicates.
  --url URL            server HTTP base URL (default http://127.0.0.1:$PORT, PORT default 3000)
  --token TOKEN        admin API token (or LOYALTY_TOKEN; \`loyalty admin-token\` prints one)
  --org ID             add the fleet to this organisation instead of creating one
  --devices N          voting devices: panels and fobs (default 10)
  --counters N         people counters, in addition (default 0)
  --locations N        locations, copies of the demo's cafés (default one per 4 devices)
  --votes N            presses in total (default rate × duration, or 1000)
  --rate R             presses per second over the fleet (default: as fast as acknowledged)
  --duration S         seconds to spread the presses over (with --rate or --votes)
  --days D             timestamps over the last D local days, today included (default 7)
  --end ISO            end of the simulated history (default now)
  --transport T        http (default) or mqtt
  --mqtt-url URL       broker the devices publish to (default mqtt://127.0.0.1:$MQTT_PORT, 1883)
  --offline F          share of devices that go offline once and re-upload their buffer (default 0.2)
  --lost-acks F        share of messages whose acknowledgement is lost, so they are re-sent (default 0.02)
  --duplicates F       share of acknowledged messages sent again anyway (default 0.02)
  --low-battery F      share of devices with a low battery (default 0.1)
  --batch N            most events per message (default 50)
  --window N           most unanswered messages per device (default 1 over HTTP, 4 over MQTT)
  --heartbeat S        seconds between heartbeats (default 10)
  --ack-timeout S      MQTT: re-publish events not acknowledged within S seconds (default 5)
  --timeout S          give up after S seconds without a new acknowledgement (default 120)
  --seed N             the same seed gives the same fleet, presses and faults (default 1)
  --json               print the reconciliation as JSON instead of a table
  --no-progress        no progress bar (it is shown only when stderr is a terminal)
exit status: 0 when stored = unique sent, 1 when not, 2 for bad usage`;

const num = (v: string | undefined, name: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, not "${v}"`);
  return n;
};

class UsageError extends Error {}

export function parseSimulateArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): SimulateOptions & { json: boolean } {
  const str = { type: 'string' } as const;
  const { values: v } = parseArgs({
    args: argv, allowPositionals: false, strict: true,
    options: {
      url: str, token: str, org: str, devices: str, counters: str, locations: str, votes: str, rate: str, duration: str, days: str, end: str,
      transport: str, 'mqtt-url': str, offline: str, 'lost-acks': str, duplicates: str, 'low-battery': str, batch: str, window: str,
      heartbeat: str, 'ack-timeout': str, timeout: str, seed: str, json: { type: 'boolean', default: false }, 'no-progress': { type: 'boolean', default: false },
    },
  });
  const transport = v.transport ?? 'http';
  if (transport !== 'http' && transport !== 'mqtt') throw new UsageError(`--transport is http or mqtt, not "${transport}"`);
  const token = v.token ?? env['LOYALTY_TOKEN'];
  if (!token) throw new UsageError('--token is required (an admin API token: `loyalty admin-token` prints one)');
  return {
    url: v.url ?? `http://127.0.0.1:${env['PORT'] || 3000}`, token, org: v.org,
    devices: num(v.devices, 'devices'), counters: num(v.counters, 'counters'), locations: num(v.locations, 'locations'),
    votes: num(v.votes, 'votes'), rate: num(v.rate, 'rate'), duration: num(v.duration, 'duration'), days: num(v.days, 'days'), end: v.end,
    transport, mqttUrl: v['mqtt-url'] ?? `mqtt://127.0.0.1:${env['MQTT_PORT'] || 1883}`,
    offline: num(v.offline, 'offline'), lostAcks: num(v['lost-acks'], 'lost-acks'), duplicates: num(v.duplicates, 'duplicates'),
    lowBattery: num(v['low-battery'], 'low-battery'), batch: num(v.batch, 'batch'), window: num(v.window, 'window'),
    heartbeat: num(v.heartbeat, 'heartbeat'), ackTimeout: num(v['ack-timeout'], 'ack-timeout'), timeout: num(v.timeout, 'timeout'),
    seed: num(v.seed, 'seed'), progress: !v['no-progress'], json: v.json,
  };
}

/** Runs the command; resolves to the exit status. */
export async function simulateCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) { console.log(SIMULATE_USAGE); return 0; }
  let options: SimulateOptions & { json: boolean };
  try {
    options = parseSimulateArgs(argv);
  } catch (e) {
    console.error(`${e instanceof Error ? e.message : String(e)}\n\n${SIMULATE_USAGE}`);
    return 2;
  }
  const stop = new AbortController();
  const onSigint = (): void => { console.error('\nsimulate: stopping; reconciling what was sent…'); stop.abort(); };
  process.once('SIGINT', onSigint);
  try {
    const r = await simulate({ ...options, signal: stop.signal, log: (m) => console.error(m) });
    if (options.json) {
      const { stats, ...rest } = r;
      console.log(JSON.stringify({ ...rest, stats: { ...stats } }, null, 2));
    } else console.log(formatReconciliation(r));
    return r.ok ? 0 : 1;
  } catch (e) {
    const cause = (e as { cause?: { message?: string } }).cause?.message;
    console.error(`simulate: ${e instanceof Error ? e.message : String(e)}${cause ? ` (${cause})` : ''}`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
