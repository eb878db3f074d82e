// P5: press → visible in an open dashboard's event stream, p99 at 2,000 votes/s (goal ≤ 250 ms),
// and the dashboard's first load on the demo data: bytes transferred and time until the overview
// is rendered, in Debian's Chromium.
//
//   node bench/p5-live.ts [--backend=sqlite|postgres] [--rate=2000] [--duration=10] [--streams=3] [--devices=2000] [--connections=48] [--batch=1] [--loads=5] [--no-live] [--no-load]
//
// Live: our server runs in its own process (bench/server.ts) on a fresh store; this process opens
// `streams` event streams as the instance admin, then sends single-press requests (one vote each,
// as a panel does; --batch=N sends N votes per request) from `devices` panels at `rate` votes per
// second (autocannon's overallRate over `connections` keep-alive connections). For every press it
// records when the request left; for every vote event on every stream, when it arrived.
// Latency = arrival − send. The baseline is the same presses' acknowledgement (HTTP 200 after the
// durable commit): the stream cannot beat the commit, so ratio = ack p99 / stream p99 (1 = the
// stream adds nothing). A press acknowledged but missing from a stream fails the run.
//
// First load: the demo organisation (90 days, ~60,000 votes) in a fresh SQLite store, the built
// dashboard, a new browser context per load (empty cache), opened with #token= so no sign-in step.
// Bytes = the transfer size of the document and every resource (Resource Timing) up to the moment
// all four locations show a share; time = that moment after navigation start. Median of `loads`.
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../test/browser/chromium.ts';
import autocannon from 'autocannon';
import { existsSync } from 'node:fs';
import { openStore, migrateToLatest } from '../src/store/db.ts';
import { adminToken, ADMIN_EMAIL } from '../src/accounts/accounts.ts';
import { createSession, SESSION_COOKIE } from '../src/accounts/sessions.ts';
import { startServer } from '../src/server.ts';
import { seedDemo } from '../src/demo/seed.ts';
import { buildWeb } from '../web/build.ts';
import { fmt, fmtMs, log, machine, markdownTable, percentile, pgReachable, PG_URL, scratch, startChild, storeOptionsOf, type Backend, type Figure, openStream } from './lib.ts';

const GOAL_MS = 250;

export type LiveOptions = { rate: number; seconds: number; warmup: number; streams: number; devices: number; connections: number; batch: number };
/**
 * 2,000 panels (a 500-branch bank, four each) press once a second on average. With 50 panels each
 * would press 40 times a second: every press a burst, and each one re-judges its panel's thousands of
 * neighbours in the misuse windows (see BENCHMARKS.md, third round), a hammering test, not P5.
 */
export const LIVE_DEFAULTS: LiveOptions = { rate: 2000, seconds: 10, warmup: 2, streams: 3, devices: 2000, connections: 48, batch: 1 };

type AutocannonRequest = { headers?: Record<string, string>; [k: string]: unknown };

export async function p5Live(o: LiveOptions, backends: Backend[]): Promise<{ figures: Figure[]; notes: string[] }> {
  const figures: Figure[] = [];
  const notes: string[] = [];
  for (const backend of backends) {
    const place = scratch(backend, 'p5');
    try {
      const child = await startChild({ mode: 'ours', store: storeOptionsOf(place), devices: o.devices });
      const store = await openStore(storeOptionsOf(place));
      const token = await adminToken(store);
      await store.close();
      const streams = await Promise.all(Array.from({ length: o.streams }, () => openStream(`${child.url}/api/v1/orgs/${child.orgId}/live`, token)));
      const sent = new Map<string, number>();
      const acked = new Map<string, number>();
      let failures = 0;
      let seq = 0;
      const tag = `p5${Date.now().toString(36)}`;
      // autocannon paces the presses (overallRate) over keep-alive connections; one request in
      // flight per connection, so the connection's context names the press being answered.
      const run = async (seconds: number, measure: boolean): Promise<number> => {
        const r = await autocannon({
          url: child.url, connections: o.connections, duration: seconds, timeout: 30, overallRate: o.rate / o.batch,
          requests: [{
            method: 'POST', path: '/api/v1/ingest/votes', headers: { 'content-type': 'application/json' },
            setupRequest: (req: AutocannonRequest, context: Record<string, unknown>) => {
              const dev = child.devices[seq % child.devices.length]!;
              const ids = Array.from({ length: o.batch }, () => `${tag}-${seq++}`);
              context['ids'] = ids;
              const t0 = performance.now();
              if (measure) for (const id of ids) sent.set(id, t0);
              const events = ids.map((id, i) => `{"id":"${id}","ts":${Date.now()},"button":"${(seq + i) % 7 === 0 ? 'dissatisfied' : 'satisfied'}"}`);
              return { ...req, headers: { ...req.headers, authorization: `Bearer ${dev.token}` }, body: `{"events":[${events.join(',')}]}` };
            },
            onResponse: (status: number, body: string, context: Record<string, unknown>) => {
              if (status !== 200) { failures++; if (failures <= 3) log(`P5 press failed: HTTP ${status} ${body.slice(0, 200)}`); return; }
              const t = performance.now();
              if (measure) for (const id of context['ids'] as string[]) acked.set(id, t);
            },
          }],
        } as unknown as Parameters<typeof autocannon>[0]);
        if (r.errors || r.timeouts) throw new Error(`P5 load: ${r.errors} errors, ${r.timeouts} timeouts`);
        return (r['2xx'] * o.batch) / (r.duration || seconds);
      };
      log(`P5 ${backend}: ${o.streams} streams, ${o.devices} panels, ${fmt(o.rate)} presses/s for ${o.warmup} + ${o.seconds} s`);
      await run(o.warmup, false);
      const achieved = await run(o.seconds, true);
      // Let the last presses land.
      const deadline = performance.now() + 5000;
      while (performance.now() < deadline && (acked.size + failures < sent.size || streams.some((s) => [...acked.keys()].some((id) => !s.arrivals.has(id))))) {
        await new Promise((r) => setTimeout(r, 500));
      }
      for (const s of streams) s.close();
      await child.stop();
      if (failures) throw new Error(`P5 ${backend}: ${failures} presses failed`);
      const live: number[] = [];
      const ack: number[] = [];
      let missing = 0;
      for (const [id, t0] of sent) {
        const a = acked.get(id);
        if (a === undefined) continue;
        ack.push(a - t0);
        for (const s of streams) {
          const t = s.arrivals.get(id);
          if (t === undefined) missing++;
          else live.push(t - t0);
        }
      }
      if (missing) throw new Error(`P5 ${backend}: ${missing} acknowledged presses never reached a stream`);
      const p99 = percentile(live, 99);
      const ackP99 = percentile(ack, 99);
      // A run that did not reach the rate did not measure the figure at that rate: never "met".
      const reached = achieved >= 0.95 * o.rate;
      figures.push({
        figure: `P5 press → live stream p99, ${fmt(o.rate)} votes/s${o.batch > 1 ? ` in ${o.batch}-vote requests` : ' as single presses'} (${backend})`,
        ours: `${fmtMs(p99)}${reached ? '' : ` (only ${fmt(achieved)} votes/s reached)`}`, baseline: `${fmtMs(ackP99)} (ack p99)`,
        ratio: ackP99 / p99, goal: `≤ ${GOAL_MS} ms`, met: reached && p99 <= GOAL_MS,
      });
      notes.push(`P5 ${backend}${o.batch > 1 ? `, ${o.batch} votes per request` : ', one vote per request'}: ${fmt(sent.size)} votes at ${fmt(achieved)}/s achieved, ${o.streams} streams, ${fmt(live.length)} deliveries; `
        + `press → stream p50 ${fmtMs(percentile(live, 50))}, p95 ${fmtMs(percentile(live, 95))}, p99 ${fmtMs(p99)}, max ${fmtMs(Math.max(...live))}; `
        + `press → ack p50 ${fmtMs(percentile(ack, 50))}, p99 ${fmtMs(ackP99)}`);
    } finally {
      await place.dispose();
    }
  }
  return { figures, notes };
}

export async function firstLoad(loads: number): Promise<{ figures: Figure[]; notes: string[] }> {
  if (!existsSync(CHROMIUM)) throw new Error(`first-load figures need Chromium at ${CHROMIUM} (apt-get install chromium)`);
  await buildWeb({ quiet: true });
  const place = scratch('sqlite', 'p5load');
  const store = await openStore(storeOptionsOf(place));
  await migrateToLatest(store);
  const seeded = await seedDemo(store, { log: () => {} });
  const server = await startServer({ store, fleet: false });
  await adminToken(store); // creates the instance administrator
  const admin = await store.db.selectFrom('users').select('id').where('email', '=', ADMIN_EMAIL).executeTakeFirstOrThrow();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  type One = { ms: number; bytes: number; staticBytes: number; apiBytes: number; requests: number };
  const measure = async (page: import('playwright-core').Page, url: string): Promise<One> => {
    await page.goto(url);
    await page.waitForFunction(() => {
      const rows = document.querySelectorAll('table.locations tbody tr');
      // Every row shows a figure (today's may be '—' where the local day has just begun): the period's share.
      return rows.length === 4 && [...rows].every((r) => [...r.querySelectorAll('td .share')].some((e) => /%/.test(e.textContent ?? '')));
    }, undefined, { polling: 'raf', timeout: 30_000 });
    return page.evaluate(() => {
      const ms = performance.now();
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      const res = performance.getEntriesByType('resource') as PerformanceResourceTiming[];
      const api = res.filter((r) => r.name.includes('/api/'));
      const stat = res.filter((r) => !r.name.includes('/api/'));
      const size = (l: PerformanceResourceTiming[]): number => l.reduce((a, r) => a + r.transferSize, 0);
      return { ms, bytes: nav.transferSize + size(res), staticBytes: nav.transferSize + size(stat), apiBytes: size(api), requests: res.length + 1 };
    });
  };
  const cold: One[] = [];
  const warm: One[] = [];
  try {
    for (let i = 0; i < loads; i++) {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
      // Signed in as a browser is after the sign-in form: by the HttpOnly session cookie.
      const session = await createSession(store, admin.id);
      await ctx.addCookies([{ name: SESSION_COOKIE, value: session.id, url: server.url, httpOnly: true, sameSite: 'Lax' }]);
      const page = await ctx.newPage();
      cold.push(await measure(page, `${server.url}/orgs/${seeded.orgId}`));
      warm.push(await measure(page, `${server.url}/orgs/${seeded.orgId}`)); // same context: assets cached
      await ctx.close();
    }
  } finally {
    await browser.close();
    await server.close();
    await store.close();
    await place.dispose();
  }
  const median = (xs: number[]): number => percentile(xs, 50);
  const kb = (b: number): string => `${fmt(b / 1024, 1)} KiB`;
  const c = { ms: median(cold.map((x) => x.ms)), bytes: median(cold.map((x) => x.bytes)), st: median(cold.map((x) => x.staticBytes)), api: median(cold.map((x) => x.apiBytes)) };
  const w = { ms: median(warm.map((x) => x.ms)), bytes: median(warm.map((x) => x.bytes)) };
  return {
    figures: [
      { figure: 'P5 dashboard first load: bytes transferred (demo data)', ours: kb(c.bytes), baseline: `${kb(w.bytes)} (cached)`, ratio: w.bytes / c.bytes, goal: '—', met: null },
      { figure: 'P5 dashboard first load: time to the overview rendered', ours: fmtMs(c.ms), baseline: `${fmtMs(w.ms)} (cached)`, ratio: w.ms / c.ms, goal: '—', met: null },
    ],
    notes: [`P5 first load, median of ${loads} cold loads (new browser context each) on the demo (${fmt(seeded.votes)} votes, 4 locations): `
      + `${kb(c.bytes)} in ${cold[0]?.requests ?? 0} requests (${kb(c.st)} document, script and style; ${kb(c.api)} API answers), overview rendered ${fmtMs(c.ms)} after navigation start; `
      + `a second visit with a warm cache: ${kb(w.bytes)}, ${fmtMs(w.ms)}. Chromium over plain HTTP accepts gzip, not brotli, so the gzip files are measured.`],
  };
}

async function main(): Promise<void> {
  const flags = new Map(process.argv.slice(2).map((a) => {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument "${a}"`);
    return [m[1]!, m[2] ?? 'true'] as const;
  }));
  const num = (k: string, d: number): number => {
    const v = flags.get(k);
    const n = v === undefined ? d : Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${k} must be a positive number`);
    return n;
  };
  const only = flags.get('backend');
  let backends: Backend[] = only ? [only as Backend] : ['sqlite', 'postgres'];
  if (backends.includes('postgres') && !(await pgReachable())) {
    if (only === 'postgres') throw new Error(`PostgreSQL is not reachable at ${PG_URL}`);
    log(`PostgreSQL is not reachable at ${PG_URL}: its P5 figure is skipped`);
    backends = backends.filter((b) => b !== 'postgres');
  }
  const header = machine();
  for (const h of header) log(h);
  const figures: Figure[] = [];
  const notes: string[] = [];
  if (!flags.has('no-live')) {
    const d = LIVE_DEFAULTS;
    const r = await p5Live({ ...d, rate: num('rate', d.rate), seconds: num('duration', d.seconds), streams: num('streams', d.streams), devices: num('devices', d.devices), connections: num('connections', d.connections), batch: num('batch', d.batch) }, backends);
    figures.push(...r.figures); notes.push(...r.notes);
  }
  if (!flags.has('no-load')) {
    const r = await firstLoad(num('loads', 5));
    figures.push(...r.figures); notes.push(...r.notes);
  }
  process.stdout.write(['', ...header.map((h) => `- ${h}`), '', markdownTable(figures), '', ...notes.map((n) => `- ${n}`), ''].join('\n'));
}

if (process.argv[1] && import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
