// P1: single-vote HTTP ingest, requests per second. Our real server (startServer on a fresh SQLite
// store; a fleet of FLEET panels, each request from the next one's token) against a bare Fastify
// route that parses the JSON body and answers 200 {"accepted":1,"duplicates":0} (sent the same
// requests, with tokens of the same shape). Each runs alone in a child process (bench/server.ts); the
// same autocannon settings load both from this process, every request a new event id.
import autocannon, { type Result } from 'autocannon';
import { openStore } from '../src/store/db.ts';
import { fmt, log, scratch, startChild, storeOptionsOf, waitQuiet, withCpu, type Figure } from './lib.ts';

export type LoadOptions = { connections: number; duration: number; warmup: number };

const PATH = '/api/v1/ingest/votes';

/**
 * Loads `url` with single-vote requests, each from the next token of `tokens`. Every request
 * carries a new event id; each device's presses are a minute apart from `startTs` on (a panel's
 * real cadence, so the misuse rules see a few neighbours, not the whole run).
 */
export async function singleVoteLoad(url: string, tokens: string[], seconds: number, connections: number, tag: string, startTs: number): Promise<Result> {
  let seq = 0;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const result = await autocannon({
    url, connections, duration: seconds,
    requests: [{
      method: 'POST', path: PATH, headers,
      setupRequest: (req) => {
        seq++;
        req.headers = { ...req.headers, authorization: `Bearer ${tokens[seq % tokens.length]!}` };
        const ts = startTs + Math.floor(seq / tokens.length) * 60_000;
        req.body = `{"events":[{"id":"${tag}-${seq}","ts":${ts},"button":"${seq % 7 === 0 ? 'dissatisfied' : 'satisfied'}"}]}`;
        return req;
      },
    }],
  });
  if (result.errors || result.non2xx || result.timeouts) {
    throw new Error(`load on ${url}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx of ${result['2xx'] + result.non2xx}`);
  }
  return result;
}

/**
 * Panels in the fleet. A real panel sends a press every minute or so; thousands of presses a
 * second from one token would be a pathological device for the misuse rules (src/misuse), whose
 * per-device window then holds every press of the run.
 */
export const FLEET = 500;
// Warm-up presses three days ago, measured ones two days ago: a few hundred minutes each at most.
const WARM_START = Date.now() - 3 * 86_400_000;
const RUN_START = Date.now() - 2 * 86_400_000;
const fakeTokens = Array.from({ length: FLEET }, (_, i) => `lbd_${String(i).padStart(40, 'x')}`);

const rate = (r: Result): number => r['2xx'] / r.duration;

type Round = { rps: number; p50: number; p99: number; serverCores: number; otherCores: number; stealPct: number; perCommit: number };

async function bareRound(o: LoadOptions): Promise<Round> {
  const child = await startChild({ mode: 'bare' });
  await waitQuiet('P1 bare');
  await singleVoteLoad(child.url, fakeTokens, o.warmup, o.connections, 'warm', WARM_START);
  const m = await withCpu(child, () => singleVoteLoad(child.url, fakeTokens, o.duration, o.connections, 'bare', RUN_START));
  await child.stop();
  return { rps: rate(m.result), p50: m.result.latency.p50, p99: m.result.latency.p99, serverCores: m.serverCores, otherCores: m.otherCores, stealPct: m.stealPct, perCommit: 0 };
}

async function oursRound(o: LoadOptions): Promise<Round> {
  const place = scratch('sqlite', 'p1');
  try {
    const child = await startChild({ mode: 'ours', store: storeOptionsOf(place), devices: FLEET });
    const tokens = child.devices.map((d) => d.token);
    await waitQuiet('P1 ours');
    const tag = `p1${Date.now().toString(36)}`;
    const warm = await singleVoteLoad(child.url, tokens, o.warmup, o.connections, `${tag}w`, WARM_START);
    const m = await withCpu(child, () => singleVoteLoad(child.url, tokens, o.duration, o.connections, tag, RUN_START));
    const stop = await child.stop();
    // Every acknowledged vote is stored. Requests still in flight when autocannon stops are
    // stored but not counted: at most one per connection per load.
    const store = await openStore(storeOptionsOf(place));
    const n = Number((await store.db.selectFrom('votes').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    await store.close();
    const acked = warm['2xx'] + m.result['2xx'];
    if (n < acked || n > acked + 2 * o.connections) throw new Error(`P1: ${acked} votes acknowledged but ${n} stored`);
    return {
      rps: rate(m.result), p50: m.result.latency.p50, p99: m.result.latency.p99, serverCores: m.serverCores, otherCores: m.otherCores, stealPct: m.stealPct,
      perCommit: stop.stats ? stop.stats.requests / Math.max(1, stop.stats.groups) : 0,
    };
  } finally {
    await place.dispose();
  }
}

const describe = (r: Round): string =>
  `${fmt(r.rps)} req/s, latency p50/p99 ${r.p50}/${r.p99} ms, server ${fmt(r.serverCores * 100)} % CPU${r.perCommit ? `, ${fmt(r.perCommit, 1)} requests per commit` : ''}; ` +
  `rest of the machine ${fmt(r.otherCores * 100)} % CPU, steal ${fmt(r.stealPct, 1)} %`;

export async function p1(o: LoadOptions, rounds: number): Promise<{ figures: Figure[]; notes: string[] }> {
  // Alternating rounds, each server in a fresh child process; the best round of each counts.
  const bare: Round[] = [];
  const ours: Round[] = [];
  for (let i = 1; i <= rounds; i++) {
    log(`P1 round ${i}/${rounds}: bare Fastify route, ${o.connections} connections, ${o.warmup} s warm-up + ${o.duration} s`);
    bare.push(await bareRound(o));
    log(`  bare: ${describe(bare.at(-1)!)}`);
    log(`P1 round ${i}/${rounds}: our server (SQLite)`);
    ours.push(await oursRound(o));
    log(`  ours: ${describe(ours.at(-1)!)}`);
  }
  const best = (rs: Round[]): Round => rs.reduce((a, b) => (b.rps > a.rps ? b : a));
  const b = best(bare);
  const w = best(ours);
  const ratio = w.rps / b.rps;
  return {
    figures: [{
      figure: `P1 single-vote ingest, SQLite (${FLEET} devices, ${o.connections} conn., ${o.duration} s, best of ${rounds})`,
      ours: `${fmt(w.rps)} req/s`, baseline: `${fmt(b.rps)} req/s (bare Fastify route)`,
      ratio, goal: '≥ 0.7×', met: ratio >= 0.7,
    }],
    notes: [
      `P1 ours: ${describe(w)}. Rounds: ${ours.map((r) => fmt(r.rps)).join(', ')} req/s.`,
      `P1 bare: ${describe(b)}. Rounds: ${bare.map((r) => fmt(r.rps)).join(', ')} req/s.`,
    ],
  };
}
