// `loyalty simulate` (issue 3, part 6): the fleet simulator's plan, its reconciliation over HTTP
// against an independent tally of the wire and against the scores API, and over MQTT through
// Mosquitto and the embedded broker — including a server killed with SIGKILL mid-run and
// restarted on the same data: nothing lost, nothing doubled.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { Api, eachBackend } from './harness.ts';
import { startServer, type Server } from '../src/server.ts';
import { adminToken } from '../src/accounts/accounts.ts';
import { LOW_BATTERY, MIN_GAP_MS, expected, makePlan, type PlanOptions } from '../src/simulate/plan.ts';
import { resolveOptions, simulate, type SimulateOptions } from '../src/simulate/simulate.ts';
import { parseSimulateArgs } from '../src/simulate/cli.ts';
import { dropSession } from '../src/simulate/mqtt.ts';
import type { Reconciliation } from '../src/simulate/reconcile.ts';
import { localParts } from '../src/domain/time.ts';
import { hourWeight } from '../src/demo/model.ts';

const MOSQUITTO = process.env['TEST_MQTT_URL'] ?? 'mqtt://127.0.0.1:1883';
const CLI = new URL('../src/cli.ts', import.meta.url).pathname;
const END = Date.parse('2026-11-20T18:00:00Z');
const planOptions: PlanOptions = {
  seed: 42, devices: 9, counters: 2, locations: 4, votes: 3000, days: 7, end: END, offline: 0.3, lostAcks: 0.05, duplicates: 0.05, lowBattery: 0.2,
};

/**
 * The options every run here shares: a small fleet with every fault often enough that each shows
 * up in every run, quick heartbeats, a short past ending at a fixed moment (so the plan, outages
 * included, is the same on every run).
 */
const fleet = (o: Partial<SimulateOptions>): Omit<SimulateOptions, 'url' | 'token'> => ({
  devices: 8, counters: 2, votes: 1500, days: 3, seed: 7, end: Math.min(END, Date.now()), offline: 0.5, lostAcks: 0.15, duplicates: 0.15, lowBattery: 0.3,
  batch: 20, heartbeat: 0.2, ackTimeout: 1, timeout: 60, ...o,
});

describe('simulate: the plan', () => {
  it('is a function of the seed (and the end of the history)', () => {
    const a = makePlan(planOptions);
    const b = makePlan(planOptions);
    const strip = (p: ReturnType<typeof makePlan>): unknown => p.devices.map((d) => ({ ...d, events: d.events.map((e) => [e.ts, e.button, e.reason, e.people, e.marks]) }));
    assert.deepEqual(strip(a), strip(b));
    assert.notDeepEqual(strip(makePlan({ ...planOptions, seed: 43 })), strip(a));
    const x = expected(a);
    assert.equal(x.votes, 3000);
    assert.equal(x.satisfied + x.dissatisfied, 3000);
    assert.ok(x.visitorEvents > 0 && x.people > x.votes, `counters report people: ${JSON.stringify(x)}`);
    assert.ok(a.devices.some((d) => d.outage) && a.devices.some((d) => d.lowBattery), 'some devices have outages and low batteries');
    // Ids are unique per device.
    for (const d of a.devices) assert.equal(new Set(d.events.map((e) => e.seq)).size, d.events.length);
  });

  it('follows the demo rhythm: inside opening hours, within the last days, busier at lunch than mid-afternoon', () => {
    const p = makePlan({ ...planOptions, votes: 8000 });
    const byHour = new Map<number, number>();
    for (const e of p.timeline) {
      assert.ok(e.ts <= END && e.ts > END - 8 * 86_400_000, `ts ${new Date(e.ts).toISOString()} outside the simulated week`);
      if (e.button === null) continue;
      const loc = p.locations[p.devices[e.device]!.location]!;
      const local = localParts(loc.timezone, e.ts);
      const open = (loc.openingHours[local.weekday] ?? []).some(([a, b]) => {
        const m = local.minuteOfDay;
        return m >= Number(a.slice(0, 2)) * 60 + Number(a.slice(3)) && m < Number(b.slice(0, 2)) * 60 + Number(b.slice(3));
      });
      assert.ok(open, `a press at ${local.day} ${local.minuteOfDay} min (${local.weekday}) at ${loc.name}, closed then`);
      byHour.set(local.hour, (byHour.get(local.hour) ?? 0) + 1);
    }
    // Honest customers: no device is pressed twice within MIN_GAP_MS, so no misuse rule fires.
    for (const d of p.devices) {
      for (let i = 1; i < d.events.length; i++) assert.ok(d.events[i]!.ts - d.events[i - 1]!.ts >= MIN_GAP_MS, `${d.name}: presses ${d.events[i - 1]!.ts} and ${d.events[i]!.ts}`);
    }
    assert.throws(() => makePlan({ ...planOptions, devices: 2, locations: 1, votes: 50_000, days: 1 }), /too many for 2 device\(s\)/);
    assert.ok(hourWeight(13) > 2 * hourWeight(16));
    assert.ok((byHour.get(13) ?? 0) > 1.5 * (byHour.get(16) ?? 0), `lunch ${byHour.get(13)} vs afternoon ${byHour.get(16)}`);
  });
});

/** Tallies what crossed the wire to the ingest routes, independently of the simulator's own books. */
function wireTap(o: { loseOneBatch?: boolean } = {}) {
  let lost = false;
  const unique = new Map<string, { button: string | null; people: number }>();
  const t = { copies: 0, accepted: 0, duplicates: 0, heartbeats: 0, lowBatteries: new Map<string, number>() };
  const tap: typeof fetch = async (input, init) => {
    const url = String(input);
    const auth = (init?.headers as Record<string, string> | undefined)?.['authorization'] ?? '';
    if (url.endsWith('/api/v1/ingest/heartbeat')) {
      const hb = JSON.parse(String(init!.body)) as { battery: number };
      t.heartbeats++;
      t.lowBatteries.set(auth, hb.battery);
    }
    const m = /\/api\/v1\/ingest\/(votes|visitors)$/.exec(url);
    if (!m) return fetch(input, init);
    const events = (JSON.parse(String(init!.body)) as { events: Array<{ id: string; button?: string; in?: number }> }).events;
    // A lying server: the first batch of one device is acknowledged but never stored.
    if (o.loseOneBatch && !lost && m[1] === 'votes') {
      lost = true;
      return new Response(JSON.stringify({ accepted: events.length, duplicates: 0 }), { status: 200, headers: { 'content-type': 'application/json' } });
    }
    const res = await fetch(input, init);
    const body = await res.clone().json() as { accepted: number; duplicates: number };
    assert.equal(res.status, 200, JSON.stringify(body));
    t.copies += events.length;
    t.accepted += body.accepted;
    t.duplicates += body.duplicates;
    for (const e of events) unique.set(`${auth}|${e.id}`, { button: e.button ?? null, people: e.in ?? 0 });
    return res;
  };
  const tally = () => {
    const v = [...unique.values()];
    return {
      ...t, unique: unique.size,
      votes: v.filter((e) => e.button).length,
      satisfied: v.filter((e) => e.button === 'satisfied').length,
      dissatisfied: v.filter((e) => e.button === 'dissatisfied').length,
      visitorReports: v.filter((e) => !e.button).length,
      people: v.reduce((s, e) => s + e.people, 0),
    };
  };
  return { tap, tally };
}

/** [satisfied, dissatisfied, visitors] of an org over the run's dates, read by the test itself. */
async function scoredTotals(api: { scores(org: string, q: Record<string, string>): Promise<any[]> }, r: Reconciliation): Promise<[number, number, number]> {
  const rows = await api.scores(r.orgId, { from: r.from, to: r.to, by: 'total' });
  return [rows.reduce((s, x) => s + x.satisfied, 0), rows.reduce((s, x) => s + x.dissatisfied, 0), rows.reduce((s, x) => s + (x.visitors ?? 0), 0)];
}

/** Asserts what every successful run must show: stored = unique sent, each device and in total. */
function assertReconciled(r: Reconciliation): void {
  assert.ok(r.ok, `reconciliation failed: ${r.problems.join('; ')}; errors: ${r.stats.errors.join('; ')}`);
  assert.deepEqual(r.problems, []);
  assert.equal(r.sent.votes, r.planned.votes, 'every planned press was sent');
  assert.equal(r.sent.people, r.planned.people);
  assert.equal(r.stored.votes, r.sent.votes);
  assert.equal(r.stored.satisfied, r.sent.satisfied);
  assert.equal(r.stored.dissatisfied, r.sent.dissatisfied);
  assert.equal(r.stored.people, r.sent.people);
  assert.equal(r.stored.flagged, 0);
  assert.equal(r.unacked, 0);
  assert.deepEqual(r.mismatchedDevices, []);
}

eachBackend('simulate over HTTP', (ctx) => {
  let api: Api;
  before(async () => { api = await Api.start(ctx().store); });
  after(async () => { await api?.close(); });

  it('outages, lost acks, re-sent batches and counters: the reconciliation equals an independent tally and the scores', async () => {
    const { tap, tally } = wireTap();
    const r = await simulate({ url: api.url, token: api.adminToken, fetch: tap, ...fleet({}) });
    assertReconciled(r);
    const t = tally();
    // The simulator's books against the wire.
    assert.equal(r.sent.votes, t.votes);
    assert.equal(r.sent.satisfied, t.satisfied);
    assert.equal(r.sent.dissatisfied, t.dissatisfied);
    assert.equal(r.sent.visitorReports, t.visitorReports);
    assert.equal(r.sent.people, t.people);
    assert.equal(r.transmissions, t.copies);
    assert.deepEqual(r.server, { accepted: t.accepted, duplicates: t.duplicates, answered: t.copies });
    // What the server said: each unique event accepted once, every other copy a duplicate.
    assert.equal(t.accepted, t.unique);
    assert.equal(t.duplicates, t.copies - t.unique);
    // The faults really happened.
    assert.ok(r.stats.outages > 0 && r.stats.buffered > 0, `outages: ${r.stats.outages}, buffered ${r.stats.buffered}`);
    assert.ok(r.stats.lostAcks > 0 && r.stats.sentAgain > 0 && t.duplicates > 0, `lost acks ${r.stats.lostAcks}, sent again ${r.stats.sentAgain}`);
    assert.ok(t.heartbeats > 0 && [...t.lowBatteries.values()].some((b) => b < LOW_BATTERY), 'low batteries are reported in heartbeats');
    assert.equal(r.batteries.lowOnServer, r.batteries.lowReported);
    // The scores API, read here, against the wire.
    assert.deepEqual(await scoredTotals(api, r), [t.satisfied, t.dissatisfied, t.people]);
  });

  it('fails the reconciliation when the server acknowledges what it does not store', async () => {
    const { tap, tally } = wireTap({ loseOneBatch: true });
    const r = await simulate({ url: api.url, token: api.adminToken, fetch: tap, ...fleet({ devices: 3, counters: 0, votes: 300, offline: 0, lostAcks: 0, duplicates: 0 }) });
    const t = tally();
    assert.equal(r.ok, false);
    assert.ok(r.stored.votes < r.sent.votes, `${r.stored.votes} stored of ${r.sent.votes}`);
    assert.equal(r.stored.votes, t.votes, 'stored is exactly what reached the server');
    assert.ok(r.problems.some((p) => /lost/.test(p)), r.problems.join('; '));
    assert.equal(r.mismatchedDevices.length, 1);
  });

  it('`loyalty simulate` prints the reconciliation and exits 0 when it matches', async () => {
    const base = ['--url', api.url, '--token', api.adminToken, '--no-progress'];
    const json = await cli([...base, '--devices', '3', '--counters', '1', '--votes', '200', '--days', '2', '--seed', '5', '--json']);
    assert.equal(json.status, 0, json.stderr + json.stdout);
    const r = JSON.parse(json.stdout) as Reconciliation;
    assert.equal(r.ok, true);
    assert.equal(r.sent.votes, 200);
    assert.equal(r.stored.votes, 200);
    const table = await cli([...base, '--devices', '2', '--votes', '50', '--days', '1']);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /votes\s+50\s+50\s+ok/);
    assert.match(table.stdout, /OK: stored = unique sent/);
    assert.throws(() => parseSimulateArgs([...base, '--transport', 'carrier-pigeon']), /--transport is http or mqtt/);
    assert.throws(() => parseSimulateArgs(['--votes', '10'], {}), /--token is required/);
    assert.throws(() => resolveOptions({ url: api.url, token: 't', votes: 10, rate: 5, duration: 3 }), /at most two of votes, rate and duration/);
    assert.deepEqual(resolveOptions({ url: api.url, token: 't', rate: 50, duration: 4 }).votes, 200);
  });
});

/** `loyalty simulate …` in a child process (asynchronously: the server under test runs in this one). */
function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'simulate', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  return new Promise((resolve) => child.once('close', (status) => resolve({ status, stdout, stderr })));
}

/** Whether the test broker answers; in CI it must. */
async function mosquittoReachable(): Promise<boolean> {
  const c = mqtt.connect(MOSQUITTO, { reconnectPeriod: 0, connectTimeout: 3000 });
  c.on('error', () => {});
  const ok = await new Promise<boolean>((resolve) => { c.once('connect', () => resolve(true)); c.once('close', () => resolve(false)); });
  await c.endAsync(true).catch(() => {});
  return ok;
}
const requireMosquitto = async (): Promise<void> => {
  if (!(await mosquittoReachable())) throw new Error(`Mosquitto is not reachable at ${MOSQUITTO} (set TEST_MQTT_URL); the MQTT simulations did not run`);
};

/** Forgets a server node's persistent sessions on the broker (consumer client ids `${id}-0…n-1`). */
const forgetSessions = (clientId: string, consumers: number): Promise<unknown> =>
  Promise.all(Array.from({ length: consumers }, (_, i) => dropSession(MOSQUITTO, { clientId: `${clientId}-${i}`, protocolVersion: 5 })));

const uniqueTag = (): string => `${process.pid}${Math.random().toString(36).slice(2, 8)}`;

eachBackend('simulate over MQTT', (ctx) => {
  it('through Mosquitto: QoS 1 publishes, acks by id, every fault — nothing lost, nothing doubled', async () => {
    await requireMosquitto();
    const tag = uniqueTag();
    const server: Server = await startServer({ store: ctx().store, mqtt: { url: MOSQUITTO, clientId: `lb-simtest-${tag}`, group: `simtest${tag}`, consumers: 2, sessionExpiry: 60 }, fleet: false });
    try {
      const token = await adminToken(ctx().store);
      const r = await simulate({ url: server.url, token, transport: 'mqtt', mqttUrl: MOSQUITTO, ...fleet({}) });
      assertReconciled(r);
      assert.equal(r.server?.accepted, r.sent.votes + r.sent.visitorReports, 'the acks say each event was accepted once');
      assert.ok(r.stats.outages > 0 && r.stats.lostAcks > 0 && r.stats.sentAgain > 0 && r.stats.timeouts > 0, JSON.stringify(r.stats));
      const api = { scores: async (org: string, q: Record<string, string>) => ((await (await fetch(`${server.url}/api/v1/orgs/${org}/scores?${new URLSearchParams(q)}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { rows: any[] }).rows };
      assert.deepEqual(await scoredTotals(api, r), [r.sent.satisfied, r.sent.dissatisfied, r.sent.people]);
    } finally {
      await server.close();
      await forgetSessions(`lb-simtest-${tag}`, 2);
    }
  });

  it('through the embedded broker', async () => {
    const server: Server = await startServer({ store: ctx().store, mqtt: { port: 0 }, fleet: false });
    try {
      assert.ok(server.mqtt, 'the embedded broker is listening');
      const token = await adminToken(ctx().store);
      const r = await simulate({ url: server.url, token, transport: 'mqtt', mqttUrl: server.mqtt.url, ...fleet({ seed: 8 }) });
      assertReconciled(r);
      assert.equal(r.server?.accepted, r.sent.votes + r.sent.visitorReports);
    } finally {
      await server.close();
    }
  });
});

/** A free TCP port on 127.0.0.1 (so a restarted server comes back on the same URL). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** `loyalty start` as a child process; resolves once it says it is running. */
function startChild(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'start'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`the server did not start within 30 s:\n${out}`)); }, 30_000);
    const seen = (chunk: Buffer): void => {
      out += chunk.toString();
      if (out.includes('Loyalty Button is running')) { clearTimeout(timer); resolve(child); }
    };
    child.stdout!.on('data', seen);
    child.stderr!.on('data', (c: Buffer) => { out += c.toString(); });
    child.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`the server exited (${code ?? signal}) before it was running:\n${out}`)); });
  });
}

describe('simulate over MQTT through Mosquitto while the server is killed (SIGKILL) and restarted', () => {
  const tag = uniqueTag();
  let dataDir: string | null = null;
  const clientId = `lb-crash-${tag}`;
  const consumers = 4;
  let child: ChildProcess | null = null;
  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await forgetSessions(clientId, consumers);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('nothing is lost and nothing is doubled', async () => {
    await requireMosquitto();
    dataDir = mkdtempSync(join(tmpdir(), 'lb-crash-'));
    const port = await freePort();
    const env = {
      PORT: String(port), DATA_DIR: dataDir, MQTT_URL: MOSQUITTO, MQTT_CLIENT_ID: clientId, MQTT_GROUP: `crash${tag}`,
      MQTT_CONSUMERS: String(consumers), LOG_LEVEL: 'warn', DATABASE_URL: '',
    };
    // A token of its own: every `start` revokes the previous start token.
    const tokenRun = spawnSync(process.execPath, [CLI, 'admin-token'], { env: { ...process.env, ...env }, encoding: 'utf8' });
    assert.equal(tokenRun.status, 0, tokenRun.stderr);
    const token = tokenRun.stdout.trim();
    child = await startChild(env);

    const kill: { at: { acked: number; total: number } | null } = { at: null };
    let restarted: Promise<void> | null = null;
    const r = await simulate({
      url: `http://127.0.0.1:${port}`, token, transport: 'mqtt', mqttUrl: MOSQUITTO,
      ...fleet({ devices: 10, counters: 2, votes: 4000, rate: 1000, seed: 11 }),
      onProgress: (p) => {
        if (kill.at || p.acked < p.total * 0.3) return;
        kill.at = { acked: p.acked, total: p.total };
        child!.kill('SIGKILL');
        // Down for a while: devices keep publishing to Mosquitto, which holds the messages for
        // the server's persistent sessions; then the server comes back on the same data.
        restarted = new Promise<void>((resolve) => setTimeout(resolve, 1500)).then(async () => { child = await startChild(env); });
      },
    });
    assert.ok(kill.at, 'the server was killed mid-run');
    assert.ok(kill.at.acked < kill.at.total, `killed at ${JSON.stringify(kill.at)}`);
    await restarted;
    assertReconciled(r);
    assert.ok(r.stats.timeouts > 0, 'while the server was down, unacknowledged events were published again');
    // Read back independently too.
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/orgs/${r.orgId}/scores?${new URLSearchParams({ from: r.from, to: r.to, by: 'total' })}`, { headers: { authorization: `Bearer ${token}` } });
    const rows = ((await res.json()) as { rows: Array<{ satisfied: number; dissatisfied: number; visitors: number | null }> }).rows;
    assert.deepEqual(
      [rows.reduce((s, x) => s + x.satisfied, 0), rows.reduce((s, x) => s + x.dissatisfied, 0), rows.reduce((s, x) => s + (x.visitors ?? 0), 0)],
      [r.sent.satisfied, r.sent.dissatisfied, r.sent.people],
    );
  });
});
