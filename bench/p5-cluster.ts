// P5 across server nodes (issue #4, "a press anywhere appears within a second"): two server
// processes on the same PostgreSQL schema (bench/server.ts, each with its own organisation and
// panels); this process opens one event stream on node A for each organisation and sends single
// presses at a steady rate, alternating between a panel of A's organisation posted to node A (the
// single-node path: the stream's own node stored it) and a panel of B's organisation posted to
// node B (the cross-node path: B stores it and NOTIFYs, A's listener publishes it). Both paths run
// interleaved, so they share the same load. Latency = arrival on the stream − send.
// ratio = single-node p99 / cross-node p99 (1 = the relay adds nothing; lower = it costs).
//
//   node bench/p5-cluster.ts [--presses=2000] [--rate=40] [--devices=20]
//
// `presses` per path, `rate` presses per second per path. Prints a BENCHMARKS.md table row.
import http from 'node:http';
import { openStore } from '../src/store/db.ts';
import { adminToken } from '../src/accounts/accounts.ts';
import { fmt, fmtMs, log, machine, markdownTable, percentile, pgReachable, PG_URL, scratch, startChild, storeOptionsOf, type BenchDevice, type Figure, openStream, type LiveStream } from './lib.ts';


const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

/** Resolves with the time of the acknowledgement (HTTP 200 after the durable commit). */
function press(url: string, dev: BenchDevice, id: string): Promise<number> {
  const body = `{"events":[{"id":"${id}","ts":${Date.now()},"button":"satisfied"}]}`;
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/api/v1/ingest/votes`, {
      method: 'POST', agent, headers: { authorization: `Bearer ${dev.token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now()) : reject(new Error(`press: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function p5Cluster(o: { presses: number; rate: number; devices: number }): Promise<{ figures: Figure[]; notes: string[] }> {
  const place = scratch('postgres', 'p5c');
  try {
    // One after the other: each migrates the schema on start.
    const a = await startChild({ mode: 'ours', store: storeOptionsOf(place), devices: o.devices });
    const b = await startChild({ mode: 'ours', store: storeOptionsOf(place), devices: o.devices });
    const store = await openStore(storeOptionsOf(place));
    const token = await adminToken(store);
    await store.close();
    const local = await openStream(`${a.url}/api/v1/orgs/${a.orgId}/live`, token);
    const remote = await openStream(`${a.url}/api/v1/orgs/${b.orgId}/live`, token);
    const sent = { local: new Map<string, number>(), remote: new Map<string, number>() };
    const tag = `c${Date.now().toString(36)}`;
    log(`P5 cluster: ${fmt(o.presses)} presses per path at ${fmt(o.rate)}/s each, stream on node A`);
    const acked = { local: new Map<string, number>(), remote: new Map<string, number>() };
    const inflight: Array<Promise<void>> = [];
    const t0 = performance.now();
    for (let i = 0; i < o.presses; i++) {
      // Paced: press i of each path leaves at i/rate seconds.
      const due = t0 + (i * 1000) / o.rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const idA = `${tag}-a${i}`;
      const idB = `${tag}-b${i}`;
      sent.local.set(idA, performance.now());
      inflight.push(press(a.url, a.devices[i % a.devices.length]!, idA).then((t) => { acked.local.set(idA, t); }));
      sent.remote.set(idB, performance.now());
      inflight.push(press(b.url, b.devices[i % b.devices.length]!, idB).then((t) => { acked.remote.set(idB, t); }));
    }
    await Promise.all(inflight);
    const achieved = o.presses / ((performance.now() - t0) / 1000);
    const deadline = performance.now() + 5000;
    while (performance.now() < deadline && (local.arrivals.size < o.presses || remote.arrivals.size < o.presses)) await new Promise((r) => setTimeout(r, 100));
    local.close();
    remote.close();
    await a.stop();
    await b.stop();
    const lat = (s: Map<string, number>, st: LiveStream): number[] => {
      const out: number[] = [];
      for (const [id, t] of s) {
        const at = st.arrivals.get(id);
        if (at === undefined) throw new Error(`P5 cluster: press ${id} acknowledged but never streamed (dropped notices: ${st.dropped})`);
        out.push(at - t);
      }
      return out;
    };
    const l = lat(sent.local, local);
    const r = lat(sent.remote, remote);
    // Stream arrival after the acknowledgement: what the stream adds on top of the durable commit.
    const after = (ack: Map<string, number>, st: LiveStream): number[] => [...ack].map(([id, t]) => st.arrivals.get(id)! - t);
    const la = after(acked.local, local);
    const ra = after(acked.remote, remote);
    const p = (xs: number[], q: number): number => percentile(xs, q);
    return {
      figures: [{
        figure: `P5 press → live stream across nodes (PostgreSQL, 2 server processes, ${fmt(o.presses)} presses per path at ${fmt(o.rate)}/s, interleaved)`,
        ours: `p50 ${fmtMs(p(r, 50))}, p99 ${fmtMs(p(r, 99))} (stored by node B, streamed by A)`,
        baseline: `p50 ${fmtMs(p(l, 50))}, p99 ${fmtMs(p(l, 99))} (stored and streamed by A)`,
        ratio: p(l, 99) / p(r, 99), goal: '≤ 1 s (issue #4)', met: p(r, 99) <= 1000,
      }],
      notes: [`P5 cluster: ${fmt(achieved)} presses/s per path achieved; cross-node p50 ${fmtMs(p(r, 50))}, p95 ${fmtMs(p(r, 95))}, p99 ${fmtMs(p(r, 99))}, max ${fmtMs(Math.max(...r))}; `
        + `single-node p50 ${fmtMs(p(l, 50))}, p95 ${fmtMs(p(l, 95))}, p99 ${fmtMs(p(l, 99))}, max ${fmtMs(Math.max(...l))}; `
        + `arrival − acknowledgement: cross-node p50 ${fmtMs(p(ra, 50))}, p99 ${fmtMs(p(ra, 99))}; single-node p50 ${fmtMs(p(la, 50))}, p99 ${fmtMs(p(la, 99))}; every press streamed exactly where expected`],
    };
  } finally {
    agent.destroy();
    await place.dispose();
  }
}

async function main(): Promise<void> {
  const flags = new Map(process.argv.slice(2).map((x) => {
    const m = /^--([a-z]+)=(\d+)$/.exec(x);
    if (!m) throw new Error(`unknown argument "${x}"; usage: node bench/p5-cluster.ts [--presses=2000] [--rate=40] [--devices=20]`);
    return [m[1]!, Number(m[2])] as const;
  }));
  if (!(await pgReachable())) throw new Error(`PostgreSQL is not reachable at ${PG_URL}: the cluster figure needs it`);
  const header = machine();
  for (const h of header) log(h);
  const r = await p5Cluster({ presses: flags.get('presses') ?? 2000, rate: flags.get('rate') ?? 40, devices: flags.get('devices') ?? 20 });
  process.stdout.write(['', ...header.map((h) => `- ${h}`), '', markdownTable(r.figures), '', ...r.notes.map((n) => `- ${n}`), ''].join('\n'));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
