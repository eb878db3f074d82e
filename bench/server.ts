// Child process of the benchmarks: either our real server (startServer on a fresh, migrated store
// with an org, N locations and one panel per location) or a bare Fastify route that parses the
// JSON body and answers 200 with a tiny JSON body. Both run alone in their own Node process, the
// same way, so the load generator in the parent never shares their event loop.
// Protocol (IPC): → {type:'ready', …} when listening; ← {type:'stop'}; → {type:'stopped', …}, exit 0.
import Fastify from 'fastify';
import { sql } from 'kysely';
import { openStore, migrateToLatest } from '../src/store/db.ts';
import { startServer } from '../src/server.ts';
import { createLocation, createOrg } from '../src/orgs/orgs.ts';
import { createDevice } from '../src/devices/devices.ts';
import { ZONES, type BenchDevice, type ChildConfig, type ChildCpu, type ChildReady, type ChildStopped } from './lib.ts';

const cfg = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const send = (m: ChildReady | ChildStopped | ChildCpu): void => { process.send!(m); };
const cpuMs = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

async function main(): Promise<void> {
  if (cfg.mode === 'bare') {
    const app = Fastify({ logger: false });
    app.post('/api/v1/ingest/votes', async () => ({ accepted: 1, duplicates: 0 }));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    send({ type: 'ready', url, orgId: null, devices: [] });
    onMessages(async () => {
      await app.close();
      return null;
    });
    return;
  }

  const store = await openStore(cfg.store ?? {});
  await migrateToLatest(store);
  // Diagnostics only (never in the recorded figures): e.g. BENCH_SQLITE_PRAGMAS="synchronous=normal"
  // shows what the per-commit fsync costs.
  for (const p of (process.env['BENCH_SQLITE_PRAGMAS'] ?? '').split(',').filter(Boolean)) {
    if (store.dialect === 'sqlite') await sql.raw(`pragma ${p}`).execute(store.db);
  }
  const org = await createOrg(store, 'Bench org', null);
  const devices: BenchDevice[] = [];
  for (let i = 0; i < (cfg.devices ?? 1); i++) {
    const timezone = ZONES[i % ZONES.length]!;
    const loc = await createLocation(store, org.id, { name: `Location ${i}`, timezone });
    const dev = await createDevice(store, org.id, { kind: 'panel', name: `Panel ${i}`, locationId: loc.id, touchpointId: null, employeeId: null });
    devices.push({ id: dev.id, token: dev.token, locationId: loc.id, timezone });
  }
  const server = await startServer({ store });
  send({ type: 'ready', url: server.url, orgId: org.id, devices });
  onMessages(async () => {
    const stats = { ...server.ctx.committer.stats };
    await server.close();
    await store.close();
    return stats;
  });
}

/** Answers 'cpu' with the CPU used so far; on 'stop' runs `stop`, reports and leaves. */
function onMessages(stop: () => Promise<ChildStopped['stats']>): void {
  process.on('message', (m: { type: string }) => {
    if (m.type === 'cpu') { send({ type: 'cpu', cpuMs: cpuMs() }); return; }
    void stop().then((stats) => {
      send({ type: 'stopped', stats, cpuMs: cpuMs() });
      process.disconnect();
    });
  });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
