// npm run bench [-- p1 p2 p3 p4 p5] [--backend=sqlite|postgres] [--duration=10] [--connections=50] [--rounds=2]
//   [--batch-connections=10] [--votes=10000000] [--pg-votes=N] [--locations=1000]
// Prints each figure as a ratio against a baseline measured in the same run, then a Markdown
// table for BENCHMARKS.md. Environment: BENCH_P4_VOTES / BENCH_P4_PG_VOTES (P4 scale),
// BENCH_DATABASE_URL (else TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test),
// BENCH_CHILD_NODE_OPTIONS (flags for the server child processes, e.g. --cpu-prof),
// BENCH_SQLITE_PRAGMAS (diagnostics: pragmas for the server's SQLite store, e.g. synchronous=normal),
// BENCH_QUIET_WAIT (seconds to wait for other processes to go quiet before a measurement, default 90),
// BENCH_P4_EXPLAIN=1 (P4: log the plan of every statement scores() runs, EXPLAIN ANALYZE on PostgreSQL).
import { fmt, log, machine, markdownTable, pgReachable, pgVersion, PG_URL, type Backend, type Figure } from './lib.ts';
import { p1 } from './p1.ts';
import { p2 } from './p2.ts';
import { p4 } from './p4.ts';
import { p3 } from './p3-mqtt.ts';
import { firstLoad, LIVE_DEFAULTS, p5Live } from './p5-live.ts';

// P6 (the 1 M-row xlsx export) runs alone: `npm run bench:export` (bench/p6-export.ts).
const FIGURES = ['p1', 'p2', 'p3', 'p4', 'p5'] as const;

function parseArgs(argv: string[]): { figures: Set<string>; flags: Map<string, string> } {
  const figures = new Set<string>();
  const flags = new Map<string, string>();
  for (const a of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (m) flags.set(m[1]!, m[2] ?? 'true');
    else if ((FIGURES as readonly string[]).includes(a.toLowerCase())) figures.add(a.toLowerCase());
    else throw new Error(`unknown argument "${a}"; usage: npm run bench -- [p1] [p2] [p3] [p4] [p5] [--backend=sqlite|postgres] [--duration=s] [--connections=n] [--votes=n] [--pg-votes=n]`);
  }
  if (!figures.size) for (const f of FIGURES) figures.add(f);
  return { figures, flags };
}

function int(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, not "${value}"`);
  return n;
}

async function main(): Promise<void> {
  const { figures, flags } = parseArgs(process.argv.slice(2));
  const duration = int(flags.get('duration'), 10, '--duration');
  const load = { connections: int(flags.get('connections'), 50, '--connections'), duration, warmup: Math.min(3, duration) };
  const batchConnections = int(flags.get('batch-connections'), 10, '--batch-connections');
  const votes = int(flags.get('votes') ?? flags.get('scale') ?? process.env['BENCH_P4_VOTES'], 10_000_000, '--votes');
  // PostgreSQL's bulk load runs at tens of thousands of rows a second here: 10 M votes (~35 M rows
  // with their rollups) would take most of an hour, so its default scale is smaller (--pg-votes).
  const pgVotes = int(flags.get('pg-votes') ?? process.env['BENCH_P4_PG_VOTES'], Math.min(votes, 1_000_000), '--pg-votes');
  const locations = int(flags.get('locations'), 1000, '--locations');
  const only = flags.get('backend');
  if (only && only !== 'sqlite' && only !== 'postgres') throw new Error('--backend is sqlite or postgres');
  let backends: Backend[] = only ? [only as Backend] : ['sqlite', 'postgres'];
  if (backends.includes('postgres') && (figures.has('p2') || figures.has('p4')) && !(await pgReachable())) {
    if (only === 'postgres') throw new Error(`PostgreSQL is not reachable at ${PG_URL}`);
    log(`PostgreSQL is not reachable at ${PG_URL}: PostgreSQL figures are skipped`);
    backends = ['sqlite'];
  }

  const header = machine();
  if (backends.includes('postgres') && (figures.has('p2') || figures.has('p4'))) header.push(`PostgreSQL ${await pgVersion()} at ${PG_URL.replace(/\/\/[^@]*@/, '//…@')}`);
  for (const h of header) log(h);
  const started = performance.now();
  const results: Figure[] = [];
  const notes: string[] = [];
  const detail: string[] = [];
  if (figures.has('p1')) {
    const r = await p1(load, int(flags.get('rounds'), 2, '--rounds'));
    results.push(...r.figures); notes.push(...r.notes);
  }
  if (figures.has('p2')) {
    const r = await p2(load, backends, batchConnections);
    results.push(...r.figures); notes.push(...r.notes);
  }
  if (figures.has('p3')) {
    const r = await p3({ rounds: int(flags.get('rounds'), 2, '--rounds') });
    results.push(...r.figures); notes.push(...r.notes);
    if (!r.reconciled) notes.push('P3: the reconciliation FAILED (votes lost or doubled)');
  }
  if (figures.has('p5')) {
    // Single presses, as a panel sends them, then the same rate in 10-vote requests (devices flushing buffers).
    for (const batch of [1, 10]) {
      const live = await p5Live({ ...LIVE_DEFAULTS, seconds: duration, batch }, backends);
      results.push(...live.figures); notes.push(...live.notes);
    }
    const load = await firstLoad(5);
    results.push(...load.figures); notes.push(...load.notes);
  }
  if (figures.has('p4')) {
    const r = await p4({ votes, locations, oursIterations: 30, baselineIterations: 3 }, backends.map((b) => ({ backend: b, votes: b === 'postgres' ? pgVotes : votes })));
    results.push(...r.figures); notes.push(...r.notes); detail.push(...r.detail);
  }
  const out = [
    '', ...header.map((h) => `- ${h}`), `- total bench time ${fmt((performance.now() - started) / 1000)} s`, '',
    markdownTable(results), '', ...notes.map((n) => `- ${n}`), '', ...detail,
  ];
  process.stdout.write(out.join('\n') + '\n');
  process.exitCode = 0;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
