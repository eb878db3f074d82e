// Shared pieces of the benchmarks: figures and their table, the server child process, scratch
// stores (a temporary SQLite directory or a throwaway PostgreSQL schema), small statistics.
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import http from 'node:http';
import pg from 'pg';

export const PG_URL = process.env['BENCH_DATABASE_URL'] ?? process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
export type Backend = 'sqlite' | 'postgres';

/** One line of the results table. `ratio` is oriented so that higher is better. */
export type Figure = {
  figure: string; ours: string; baseline: string; ratio: number; goal: string; met: boolean | null;
};

export const log = (m: string): void => { process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`); };

export const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
export const fmtMs = (ms: number): string => (ms >= 100 ? `${fmt(ms)} ms` : ms >= 10 ? `${fmt(ms, 1)} ms` : `${fmt(ms, 2)} ms`);
export const fmtRatio = (r: number): string => (r >= 100 ? `${fmt(r)}×` : r >= 10 ? `${fmt(r, 1)}×` : `${fmt(r, 2)}×`);

export function markdownTable(rows: Figure[]): string {
  const lines = ['| figure | ours | baseline | ratio | goal | met? |', '|---|---:|---:|---:|---|---|'];
  for (const r of rows) {
    lines.push(`| ${r.figure} | ${r.ours} | ${r.baseline} | ${fmtRatio(r.ratio)} | ${r.goal} | ${r.met === null ? '—' : r.met ? 'yes' : '**no**'} |`);
  }
  return lines.join('\n');
}

/** Nearest-rank percentile of `values` (0 < p ≤ 100). */
export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function machine(): string[] {
  const sh = (cmd: string, args: string[]): string => {
    try { return execFileSync(cmd, args, { encoding: 'utf8' }).trim(); } catch { return '?'; }
  };
  const model = sh('lscpu', []).split('\n').find((l) => l.startsWith('Model name'))?.replace(/^Model name:\s*/, '') ?? '?';
  const sqlite = new DatabaseSync(':memory:');
  const sqliteVersion = String((sqlite.prepare('select sqlite_version() as v').get() as { v: string }).v);
  sqlite.close();
  return [
    `cores: ${sh('nproc', [])} (availableParallelism ${availableParallelism()}), CPU: ${model}`,
    `node ${process.version}, SQLite ${sqliteVersion}, date ${new Date().toISOString()}`,
  ];
}

export async function pgVersion(): Promise<string> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    const r = await c.query<{ v: string }>("select current_setting('server_version') as v");
    return r.rows[0]?.v ?? '?';
  } finally { await c.end(); }
}

export async function pgReachable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try { await c.connect(); await c.end(); return true; } catch { return false; }
}

/**
 * Machine-wide CPU time (from /proc/stat) while a measurement runs, so a busy neighbour shows up
 * in the notes: `stop(ownMs)` returns the cores used by everything except `ownMs` of our own CPU
 * (the load generator and the server child), and the stolen share (a noisy VM host).
 */
export function cpuMeter(): { stop(ownMs: number): { otherCores: number; stealPct: number } } {
  const read = (): { busy: number; steal: number; total: number } => {
    try {
      const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
      const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
      return { busy: user + nice + system + irq + softirq, steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
    } catch { return { busy: 0, steal: 0, total: 0 }; }
  };
  const a = read();
  const t0 = performance.now();
  return {
    stop(ownMs) {
      const b = read();
      const seconds = (performance.now() - t0) / 1000;
      const hz = 100; // USER_HZ on Linux
      const busyS = (b.busy - a.busy) / hz;
      return {
        otherCores: Math.max(0, (busyS - ownMs / 1000) / seconds),
        stealPct: b.total > a.total ? ((b.steal - a.steal) / (b.total - a.total)) * 100 : 0,
      };
    },
  };
}

/**
 * Waits (at most `maxSeconds`) until the rest of the machine is quiet: under `cores` of CPU busy
 * over a one-second sample, while our own processes are idle. A shared machine (someone running a
 * test suite) would otherwise skew a measurement; what was seen goes to the log.
 */
export async function waitQuiet(what: string, maxSeconds = Number(process.env['BENCH_QUIET_WAIT'] ?? 90), cores = 0.25): Promise<number> {
  const t0 = performance.now();
  let busy = 0;
  for (;;) {
    const own0 = ownCpuMs();
    const m = cpuMeter();
    await new Promise((r) => setTimeout(r, 1000));
    busy = m.stop(ownCpuMs() - own0).otherCores;
    if (busy <= cores) break;
    if ((performance.now() - t0) / 1000 >= maxSeconds) {
      log(`  ${what}: the machine is still busy (${fmt(busy * 100)} % of a core used by other processes) after ${maxSeconds} s; measuring anyway`);
      return busy;
    }
  }
  const waited = (performance.now() - t0) / 1000;
  if (waited > 1.5) log(`  ${what}: waited ${fmt(waited)} s for other processes to quiet down`);
  return busy;
}

/** CPU milliseconds this process has used. */
export const ownCpuMs = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

/** A scratch place for a store: a temporary directory (SQLite) or a schema name (PostgreSQL). */
export type Scratch = { backend: Backend; dataDir: string | null; pgSchema: string | null; dispose(): Promise<void> };

/** application_name of the benchmark's own PostgreSQL connections to a scratch schema. */
export const pgAppName = (schema: string): string => `lb-bench ${schema}`.slice(0, 63);

/** Scratch places not yet disposed of: an interrupted run (Ctrl-C) still removes them. */
const live = new Set<Scratch>();
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    // Connections we cut while cleaning up report errors of their own: they no longer matter.
    process.on('uncaughtException', () => {});
    process.on('unhandledRejection', () => {});
    log(`${signal}: removing ${live.size} scratch store(s)`);
    void Promise.allSettled([...live].map((s) => s.dispose())).then(() => process.exit(130));
  });
}

export function scratch(backend: Backend, tag: string): Scratch {
  let place: Scratch;
  if (backend === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), `lb-bench-${tag}-`));
    place = { backend, dataDir: dir, pgSchema: null, async dispose() { live.delete(place); rmSync(dir, { recursive: true, force: true }); } };
  } else {
    const schema = `bench_${tag}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    place = {
      backend, dataDir: null, pgSchema: schema,
      async dispose() {
        live.delete(place);
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        // Our own connections still open on it (an interrupted bulk load) would block the drop.
        try {
          await c.query('select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1', [pgAppName(schema)]);
          await c.query(`drop schema if exists "${schema}" cascade`);
        } finally { await c.end(); }
      },
    };
  }
  live.add(place);
  return place;
}

export const storeOptionsOf = (s: Scratch): { dataDir?: string; databaseUrl?: string; pgSchema?: string } =>
  s.backend === 'sqlite' ? { dataDir: s.dataDir! } : { databaseUrl: PG_URL, pgSchema: s.pgSchema! };

// --- The server child process (bench/server.ts): the load generator never shares its event loop.

export type ChildConfig = {
  mode: 'ours' | 'bare';
  /** Our server: where its store lives, and how many devices (each at its own location) to register. */
  store?: { dataDir?: string; databaseUrl?: string; pgSchema?: string };
  devices?: number;
};
export type BenchDevice = { id: string; token: string; locationId: string; timezone: string };
export type ChildReady = { type: 'ready'; url: string; orgId: string | null; devices: BenchDevice[] };
export type ChildStopped = { type: 'stopped'; stats: { groups: number; requests: number } | null; cpuMs: number };

export type ChildCpu = { type: 'cpu'; cpuMs: number };

export type ServerChild = {
  url: string; orgId: string | null; devices: BenchDevice[];
  /** CPU milliseconds the child has used so far. */
  cpuMs(): Promise<number>;
  stop(): Promise<ChildStopped>;
};

/**
 * Starts bench/server.ts in its own Node process. BENCH_CHILD_NODE_OPTIONS passes flags to it
 * (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the server under load).
 */
export async function startChild(cfg: ChildConfig): Promise<ServerChild> {
  const execArgv = (process.env['BENCH_CHILD_NODE_OPTIONS'] ?? '').split(/\s+/).filter(Boolean);
  const child: ChildProcess = fork(new URL('./server.ts', import.meta.url), [JSON.stringify(cfg)], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await new Promise<ChildReady>((resolve, reject) => {
    child.once('message', (m) => resolve(m as ChildReady));
    void exited.then((code) => reject(new Error(`bench server (${cfg.mode}) exited with ${code} before it was ready`)));
  });
  const ask = <T>(type: 'cpu' | 'stop'): Promise<T> => new Promise<T>((resolve) => {
    child.once('message', (m) => resolve(m as T));
    child.send({ type });
  });
  return {
    url: ready.url, orgId: ready.orgId, devices: ready.devices,
    async cpuMs() { return (await ask<ChildCpu>('cpu')).cpuMs; },
    async stop() {
      const r = await ask<ChildStopped>('stop');
      const code = await exited;
      if (code !== 0) throw new Error(`bench server (${cfg.mode}) exited with ${code}`);
      return r;
    },
  };
}

/** Runs `f` (a load on `child`) and reports how busy the rest of the machine was meanwhile. */
export async function withCpu<T>(child: ServerChild, f: () => Promise<T>): Promise<{ result: T; serverCores: number; otherCores: number; stealPct: number }> {
  const c0 = await child.cpuMs();
  const own0 = ownCpuMs();
  const meter = cpuMeter();
  const t0 = performance.now();
  const result = await f();
  const seconds = (performance.now() - t0) / 1000;
  const c1 = await child.cpuMs();
  const { otherCores, stealPct } = meter.stop(c1 - c0 + ownCpuMs() - own0);
  return { result, serverCores: (c1 - c0) / 1000 / seconds, otherCores, stealPct };
}

/** Time zones the benchmark locations cycle through: DST and non-DST, half- and quarter-hour offsets. */
export const ZONES = [
  'Europe/Moscow', 'Asia/Yekaterinburg', 'Asia/Novosibirsk', 'Europe/Berlin', 'Europe/London', 'America/New_York',
  'America/Los_Angeles', 'Asia/Kolkata', 'Asia/Tokyo', 'Australia/Sydney', 'America/Sao_Paulo', 'Asia/Kathmandu',
];

/** An open live stream (PROTOCOL §5) read with node:http (lighter than fetch's web streams). */
export type LiveStream = { arrivals: Map<string, number>; dropped: number; close(): void };

/** Opens `url` as an event stream: vote id → arrival time, and the `dropped` notices counted (and logged). */
export function openStream(url: string, token: string): Promise<LiveStream> {
  return new Promise((resolve, reject) => {
    const s: LiveStream = { arrivals: new Map(), dropped: 0, close: () => req.destroy() };
    const req = http.get(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) { reject(new Error(`live stream: HTTP ${res.statusCode}`)); res.resume(); return; }
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk: string) => {
        const at = performance.now();
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (block.startsWith('event: dropped')) {
            s.dropped++;
            log(`live stream dropped votes: ${block}`);
          }
          if (!block.startsWith('event: vote\n')) continue;
          // The device's event id is the first field: {"id":"…",…
          const m = /"id":"([^"]+)"/.exec(block);
          if (m) s.arrivals.set(m[1]!, at);
        }
      });
      resolve(s);
    });
    req.on('error', (e) => { if (!req.destroyed) reject(e); });
  });
}
