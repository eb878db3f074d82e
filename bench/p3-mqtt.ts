// P3: votes per second end to end over MQTT QoS 1 — the fleet simulator's devices publish batches
// of presses, the server stores them and acknowledges them by id on lb/v1/{id}/ack — through
// Mosquitto (MQTT_URL, shared subscriptions) and through the embedded broker, with zero loss and
// zero duplicates after the simulator's reconciliation against the scores API.
//
// Baseline, measured in the same run through the same broker: the very same simulated devices,
// payloads and flow control (window of unacknowledged messages, ack by id) against a bare echo
// consumer that parses each message's ids and publishes the ack at once, storing nothing: raw
// mqtt.js QoS 1 publish → receive → ack with no server work. For Mosquitto the echo uses as many
// shared-subscription connections as our server's consumers; for the embedded path it is a bare
// aedes broker answering inside authorizePublish, as ours does.
//
// Our server runs as `loyalty start` in its own process (SQLite store in a temporary DATA_DIR),
// the echo consumer in another (this file with --child), the load generator here.
//
//   node bench/p3-mqtt.ts [--votes=200000] [--devices=100] [--batch=50] [--window=4] [--rounds=1]
//                         [--broker=mosquitto|embedded|both] [--mqtt-url=mqtt://127.0.0.1:1883] [--faults]
// or p3(…) from bench/run.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { drive, planOf, resolveOptions, simulate, type SimulateOptions } from '../src/simulate/simulate.ts';
import { dropSession } from '../src/simulate/mqtt.ts';
import { cpuMeter, fmt, log, machine, markdownTable, ownCpuMs, type Figure } from './lib.ts';

export type Broker = 'mosquitto' | 'embedded';
export type P3Options = {
  votes: number; devices: number; batch: number; window: number; rounds: number;
  brokers: Broker[]; mosquittoUrl: string;
  /** Simulate outages, lost acks and re-sent batches too (default: a clean fleet, pure throughput). */
  faults: boolean;
};
export const P3_DEFAULTS: P3Options = {
  votes: 200_000, devices: 100, batch: 50, window: 4, rounds: 1, brokers: ['mosquitto', 'embedded'], mosquittoUrl: 'mqtt://127.0.0.1:1883', faults: false,
};

const GOAL = 20_000;
/** Our server's consumer connections on Mosquitto (MQTT_CONSUMERS), and the echo's. */
const CONSUMERS = 8;
const ROOT = new URL('..', import.meta.url).pathname;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address() as { port: number }; s.close(() => resolve(port)); });
  });
}

/** CPU milliseconds a process has used (Linux /proc; 0 elsewhere). */
function cpuMsOf(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, USER_HZ = 100
  } catch { return 0; }
}

/** A child process; resolves once its output matches `ready` (with the match). */
function startProcess(args: string[], env: NodeJS.ProcessEnv, ready: RegExp, execArgv: string[] = []): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  const child = spawn(process.execPath, [...execArgv, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${args.join(' ')} did not start within 60 s:\n${out}`)); }, 60_000);
    const seen = (c: Buffer): void => {
      out += c.toString();
      const m = ready.exec(out);
      if (m) { clearTimeout(timer); child.stdout!.off('data', seen); resolve({ child, match: m }); }
    };
    child.stdout!.on('data', seen);
    child.stderr!.on('data', (c: Buffer) => { out += c.toString(); if (out.length > 100_000) out = out.slice(-50_000); });
    child.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`${args.join(' ')} exited (${code ?? signal}):\n${out}`)); });
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.removeAllListeners('exit');
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

const fleetOptions = (o: P3Options, votes: number, seed: number): Omit<SimulateOptions, 'url' | 'token'> => ({
  transport: 'mqtt', devices: o.devices, counters: 0, votes, batch: o.batch, window: o.window, seed, days: 7,
  heartbeat: 3600, ackTimeout: 30, timeout: 120,
  ...(o.faults ? {} : { offline: 0, lostAcks: 0, duplicates: 0 }),
});

type Measured = { votesPerSecond: number; seconds: number; serverCores: number; otherCores: number; detail: string };

/** The same devices against the echo consumer: the broker's own QoS 1 round trip, nothing stored. */
async function baseline(broker: Broker, o: P3Options, tag: string): Promise<Measured> {
  const args = ['bench/p3-mqtt.ts', `--child=echo-${broker}`, `--mqtt-url=${o.mosquittoUrl}`, `--tag=${tag}`];
  const { child, match } = await startProcess(args, {}, /ECHO READY (\S+)/);
  try {
    const url = match[1]!;
    const r = resolveOptions({ url: 'http://unused.invalid', token: 'unused', mqttUrl: url, ...fleetOptions(o, o.votes, 2) });
    const plan = planOf(r);
    const credentials = plan.devices.map((_, i) => ({ id: `bench-${tag}-${i}`, token: 'echo' }));
    const cpu0 = cpuMsOf(child.pid);
    const own0 = ownCpuMs();
    const meter = cpuMeter();
    const { stats, elapsedMs } = await drive(plan, credentials, r);
    const childMs = cpuMsOf(child.pid) - cpu0;
    const { otherCores } = meter.stop(childMs + ownCpuMs() - own0);
    const serverCores = childMs / elapsedMs;
    if (stats.ackedUnique !== plan.timeline.length) throw new Error(`P3 baseline (${broker}): ${stats.ackedUnique} of ${plan.timeline.length} acknowledged`);
    const votesPerSecond = o.votes / (elapsedMs / 1000);
    return { votesPerSecond, seconds: elapsedMs / 1000, serverCores, otherCores, detail: `${stats.messages} messages` };
  } finally {
    await stopProcess(child);
  }
}

/** Our server (`loyalty start`) on a fresh SQLite store, fed through `broker`, reconciled. */
async function ours(broker: Broker, o: P3Options, tag: string): Promise<Measured & { ok: boolean; problems: string[] }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'lb-bench-p3-'));
  const clientId = `lb-bench-p3-${tag}`;
  const port = await freePort();
  const mqttPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    PORT: String(port), DATA_DIR: dataDir, DATABASE_URL: '', LOG_LEVEL: 'warn',
    ...(broker === 'mosquitto'
      ? { MQTT_URL: o.mosquittoUrl, MQTT_CLIENT_ID: clientId, MQTT_GROUP: `benchp3${tag}`, MQTT_CONSUMERS: String(CONSUMERS) }
      : { MQTT_URL: '', MQTT_PORT: String(mqttPort) }),
  };
  let child: ChildProcess | null = null;
  try {
    const token = await new Promise<string>((resolve, reject) => {
      const c = spawn(process.execPath, ['src/cli.ts', 'admin-token'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      c.once('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`admin-token exited ${code}`))));
    });
    // BENCH_CHILD_NODE_OPTIONS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the server, as for the other figures.
    const execArgv = (process.env['BENCH_CHILD_NODE_OPTIONS'] ?? '').split(/\s+/).filter(Boolean);
    ({ child } = await startProcess(['src/cli.ts', 'start'], env, /Loyalty Button is running/, execArgv));
    const url = `http://127.0.0.1:${port}`;
    const mqttUrl = broker === 'mosquitto' ? o.mosquittoUrl : `mqtt://127.0.0.1:${mqttPort}`;
    // Warm-up: a tenth of the load through its own fleet, so the measured run meets a warm server.
    const warm = await simulate({ url, token, mqttUrl, ...fleetOptions(o, Math.max(1000, Math.round(o.votes / 10)), 3) });
    if (!warm.ok) throw new Error(`P3 warm-up (${broker}) did not reconcile: ${warm.problems.join('; ')}`);
    const cpu0 = cpuMsOf(child.pid);
    const own0 = ownCpuMs();
    const meter = cpuMeter();
    const t0 = performance.now();
    const r = await simulate({ url, token, mqttUrl, ...fleetOptions(o, o.votes, 1) });
    const childMs = cpuMsOf(child.pid) - cpu0;
    const { otherCores } = meter.stop(childMs + ownCpuMs() - own0);
    const serverCores = childMs / (performance.now() - t0);
    return {
      votesPerSecond: r.votesPerSecond, seconds: r.elapsedMs / 1000, serverCores, otherCores, ok: r.ok, problems: r.problems,
      detail: `${fmt(r.stored.votes)} stored of ${fmt(r.sent.votes)} sent, ${fmt(r.server?.duplicates ?? 0)} duplicates answered, ${r.stats.messages} messages, ${fmt(r.stats.timeouts)} re-published`,
    };
  } finally {
    if (child) await stopProcess(child);
    if (broker === 'mosquitto') await Promise.all(Array.from({ length: CONSUMERS }, (_, i) => dropSession(o.mosquittoUrl, { clientId: `${clientId}-${i}`, protocolVersion: 5 })));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function p3(options: Partial<P3Options> = {}): Promise<{ figures: Figure[]; notes: string[]; reconciled: boolean }> {
  const o = { ...P3_DEFAULTS, ...options };
  const figures: Figure[] = [];
  const notes: string[] = [];
  let reconciled = true;
  for (const broker of o.brokers) {
    const name = broker === 'mosquitto' ? 'Mosquitto (MQTT_URL)' : 'the embedded broker';
    let best: Awaited<ReturnType<typeof ours>> | null = null;
    let base: Measured | null = null;
    for (let round = 1; round <= o.rounds; round++) {
      const tag = `${process.pid.toString(36)}${Date.now().toString(36)}`;
      log(`P3 ${broker} round ${round}/${o.rounds}: baseline (echo consumer), ${fmt(o.votes)} votes from ${o.devices} devices in batches of ≤ ${o.batch}`);
      const b = await baseline(broker, o, tag);
      log(`P3 ${broker}: baseline ${fmt(b.votesPerSecond)} votes/s in ${b.seconds.toFixed(1)} s (echo ${fmt(b.serverCores * 100)} % CPU, rest of the machine ${fmt(b.otherCores * 100)} %)`);
      log(`P3 ${broker} round ${round}/${o.rounds}: our server`);
      const m = await ours(broker, o, tag);
      log(`P3 ${broker}: ours ${fmt(m.votesPerSecond)} votes/s in ${m.seconds.toFixed(1)} s (server ${fmt(m.serverCores * 100)} % CPU, rest of the machine ${fmt(m.otherCores * 100)} %), ${m.ok ? 'reconciled' : `NOT reconciled: ${m.problems.join('; ')}`}`);
      if (!base || b.votesPerSecond > base.votesPerSecond) base = b;
      // A round that does not reconcile always counts: loss or doubling is never hidden by a better round.
      if (!best || (best.ok && (!m.ok || m.votesPerSecond > best.votesPerSecond))) best = m;
      reconciled &&= m.ok;
    }
    figures.push({
      figure: `P3 MQTT QoS 1 via ${name}: votes/s stored and acknowledged, end to end`,
      ours: `${fmt(best!.votesPerSecond)} votes/s${best!.ok ? ', 0 lost, 0 doubled' : ' — NOT reconciled'}`,
      baseline: `${fmt(base!.votesPerSecond)} votes/s (echo consumer, nothing stored)`,
      ratio: best!.votesPerSecond / base!.votesPerSecond,
      goal: `≥ ${fmt(GOAL)} votes/s, zero loss and duplicates`,
      met: best!.ok && best!.votesPerSecond >= GOAL,
    });
    notes.push(
      `P3 ${broker}: ${fmt(o.votes)} votes, ${o.devices} simulated devices (loyalty simulate), batches of ≤ ${o.batch} events, ≤ ${o.window} unacknowledged messages per device${o.faults ? ', with outages, lost acks and re-sent batches' : ''}; ` +
      `ours ${best!.detail}, server ${fmt(best!.serverCores * 100)} % CPU (${fmt((best!.serverCores / best!.votesPerSecond) * 1e6, 1)} µs of server CPU per vote), rest of the machine ${fmt(best!.otherCores * 100)} % CPU; ` +
      `baseline ${base!.detail}, echo ${fmt(base!.serverCores * 100)} % CPU, rest of the machine ${fmt(base!.otherCores * 100)} % CPU` +
      (best!.ok ? '' : `; reconciliation: ${best!.problems.join('; ')}`),
    );
  }
  return { figures, notes, reconciled };
}

// --- the echo consumer (child process)

async function echoMosquitto(url: string, tag: string): Promise<void> {
  const clients = await Promise.all(Array.from({ length: CONSUMERS }, async (_, i) => {
    const c = mqtt.connect(url, { clientId: `lb-bench-echo-${tag}-${i}`, protocolVersion: 5, clean: true, reconnectPeriod: 1000 });
    c.on('message', (topic, payload) => {
      const ids = (JSON.parse(payload.toString('utf8')) as { events: Array<{ id: string }> }).events.map((e) => e.id);
      c.publish(topic.replace(/\/[^/]+$/, '/ack'), JSON.stringify({ ids, accepted: ids.length, duplicates: 0 }), { qos: 1 });
    });
    await new Promise<void>((resolve) => c.once('connect', () => resolve()));
    await c.subscribeAsync([`$share/echo${tag}/lb/v1/+/votes`, `$share/echo${tag}/lb/v1/+/visitors`], { qos: 1 });
    return c;
  }));
  process.stdout.write(`ECHO READY ${url}\n`);
  process.once('SIGTERM', () => { void Promise.all(clients.map((c) => c.endAsync())).then(() => process.exit(0)); });
}

async function echoEmbedded(): Promise<void> {
  const { Aedes } = await import('aedes');
  const broker = new Aedes({
    authorizePublish(_client, packet, callback) {
      const m = /^lb\/v1\/([^/]+)\/(votes|visitors)$/.exec(packet.topic);
      if (!m) return callback(null);
      const ids = (JSON.parse(Buffer.from(packet.payload).toString('utf8')) as { events: Array<{ id: string }> }).events.map((e) => e.id);
      const ack = { cmd: 'publish' as const, topic: `lb/v1/${m[1]}/ack`, payload: Buffer.from(JSON.stringify({ ids, accepted: ids.length, duplicates: 0 })), qos: 1 as const, retain: false, dup: false };
      broker.publish(ack, () => callback(null));
    },
  });
  await broker.listen();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  process.stdout.write(`ECHO READY mqtt://127.0.0.1:${(server.address() as { port: number }).port}\n`);
  process.once('SIGTERM', () => { server.close(); broker.close(() => process.exit(0)); });
}

// --- standalone

function flags(argv: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const a of argv) {
    const x = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!x) throw new Error(`unknown argument "${a}"`);
    m.set(x[1]!, x[2] ?? 'true');
  }
  return m;
}

if (import.meta.main) {
  const f = flags(process.argv.slice(2));
  const child = f.get('child');
  if (child === 'echo-mosquitto') await echoMosquitto(f.get('mqtt-url') ?? P3_DEFAULTS.mosquittoUrl, f.get('tag') ?? String(process.pid));
  else if (child === 'echo-embedded') await echoEmbedded();
  else {
    const int = (name: keyof P3Options): number => {
      const v = f.get(name);
      const n = v === undefined ? (P3_DEFAULTS[name] as number) : Number(v.replace(/_/g, ''));
      if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`);
      return n;
    };
    const broker = f.get('broker') ?? 'both';
    if (!['mosquitto', 'embedded', 'both'].includes(broker)) throw new Error('--broker is mosquitto, embedded or both');
    for (const h of machine()) log(h);
    const r = await p3({
      votes: int('votes'), devices: int('devices'), batch: int('batch'), window: int('window'), rounds: int('rounds'),
      brokers: broker === 'both' ? ['mosquitto', 'embedded'] : [broker as Broker],
      mosquittoUrl: f.get('mqtt-url') ?? P3_DEFAULTS.mosquittoUrl, faults: f.has('faults'),
    });
    process.stdout.write(['', markdownTable(r.figures), '', ...r.notes.map((n) => `- ${n}`), ''].join('\n'));
    process.exit(r.reconciled ? 0 : 1); // a missed goal is a figure; loss or doubling is a failure
  }
}
