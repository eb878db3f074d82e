// P6 (issue 5): export of 1,000,000 raw votes to xlsx — time and peak RSS (goal ≤ 60 s, ≤ 300 MB).
//   node bench/p6-export.ts [--votes=1000000] [--data=DIR]   (--data: seed into DIR once and reuse it)
// Seeds a scratch SQLite store, then runs each export in a fresh child process (so its peak RSS is
// its own): the baseline writes the same rows (same worker reader) as hand-joined CSV lines through an
// fs stream; then our CSV export (csv-stringify) and our xlsx export (our SpreadsheetML writer over a streaming zip, src/exports/xlsx.ts).
// Every figure is printed as a ratio against that baseline.
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { openStore, migrateToLatest } from '../src/store/db.ts';
import { localParts } from '../src/domain/time.ts';
import { voteBatches, type VoteQuery } from '../src/exports/votes.ts';
import { writeVotesCsv, writeVotesXlsx } from '../src/exports/votes-export.ts';

const arg = (name: string): string | undefined => process.argv.slice(2).find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const Q: VoteQuery = { from: '2025-12-01', to: '2026-12-31' };
const ORG = 'org-p6';

async function child(mode: string, dir: string, out: string): Promise<void> {
  const store = await openStore({ dataDir: dir });
  const t0 = performance.now();
  let n = 0;
  const file = createWriteStream(out);
  if (mode === 'baseline') {
    for await (const batch of voteBatches(store, ORG, Q)) {
      let chunk = '';
      for (const v of batch) chunk += `${v.event_id},${v.device_id},${new Date(Number(v.ts)).toISOString()},${v.button},${v.reason ?? ''},${v.location_id},${v.touchpoint_id ?? ''},${v.employee_id ?? ''},${v.flags ?? ''}\n`;
      if (!file.write(chunk)) await once(file, 'drain');
      n += batch.length;
    }
    file.end();
  } else if (mode === 'csv') n = await writeVotesCsv(store, ORG, Q, file);
  else n = await writeVotesXlsx(store, ORG, Q, file, { orgName: 'P6 benchmark' });
  if (!file.writableFinished) await once(file, 'finish');
  const ms = performance.now() - t0;
  await store.close();
  process.stdout.write(JSON.stringify({ mode, rows: n, ms, peakRssMB: process.resourceUsage().maxRSS / 1024, bytes: statSync(out).size }) + '\n');
}

async function seed(dir: string, votes: number): Promise<void> {
  const store = await openStore({ dataDir: dir });
  await migrateToLatest(store);
  await store.close();
  const db = new DatabaseSync(join(dir, 'loyalty.db'));
  const now = Date.now();
  db.prepare('insert into orgs (id, name, settings, created_at) values (?, ?, ?, ?)').run(ORG, 'P6', '{}', now);
  const zones = ['Europe/Moscow', 'Asia/Yekaterinburg', 'Europe/Berlin', 'America/New_York'];
  const locs = Array.from({ length: 40 }, (_, i) => ({ id: `loc-${i}`, tz: zones[i % zones.length]! }));
  for (const l of locs) db.prepare('insert into locations (id, org_id, name, timezone, created_at) values (?, ?, ?, ?, ?)').run(l.id, ORG, `Branch ${l.id}`, l.tz, now);
  for (let i = 0; i < 20; i++) db.prepare('insert into employees (id, org_id, name, created_at) values (?, ?, ?, ?)').run(`emp-${i}`, ORG, `Employee ${i}`, now);
  const ins = db.prepare(`insert into votes (device_id, event_id, org_id, ts, device_ts, received_at, clamped, button, reason, location_id, touchpoint_id, employee_id, local_day, local_hour, flags)
    values (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, null, ?, ?, ?, ?)`);
  const start = Date.parse('2026-01-01T00:00:00Z');
  const step = Math.floor((360 * 86_400_000) / votes);
  db.exec('begin');
  for (let i = 0; i < votes; i++) {
    const l = locs[i % locs.length]!;
    const ts = start + i * step;
    const p = localParts(l.tz, ts);
    ins.run(`dev-${i % 400}`, `e${i}`, ORG, ts, ts, ts, i % 5 === 0 ? 'dissatisfied' : 'satisfied', i % 13 === 0 ? 'queue' : null, l.id, i % 3 ? `emp-${i % 20}` : null, p.day, p.hour, i % 97 === 0 ? '["burst"]' : null);
    if (i % 100_000 === 99_999) { db.exec('commit'); db.exec('begin'); }
  }
  db.exec('commit');
  db.close();
}

async function main(): Promise<void> {
  const mode = arg('child');
  if (mode) return child(mode, arg('dir')!, arg('out')!);
  const votes = Number(arg('votes') ?? 1_000_000);
  const keep = arg('data');
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'lb-p6-'));
  try {
    let t = performance.now();
    if (!keep || !existsSync(join(dir, 'loyalty.db'))) {
      mkdirSync(dir, { recursive: true });
      await seed(dir, votes);
      process.stderr.write(`[p6] seeded ${votes.toLocaleString('en-US')} votes in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
    }
    const results: Record<string, { rows: number; ms: number; peakRssMB: number; bytes: number }> = {};
    for (const m of ['baseline', 'csv', 'xlsx']) {
      t = performance.now();
      const r = spawnSync(process.execPath, [new URL(import.meta.url).pathname, `--child=${m}`, `--dir=${dir}`, `--out=${join(dir, `out-${m}`)}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      if (r.status !== 0) throw new Error(`${m} export failed (${r.status})`);
      results[m] = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    }
    const base = results['baseline']!;
    console.log(`P6 export of ${votes.toLocaleString('en-US')} raw votes (SQLite, worker reader), each in its own process:`);
    console.log('| export | time | × baseline time | peak RSS | × baseline RSS | file |');
    console.log('|---|---|---|---|---|---|');
    for (const [m, r] of Object.entries(results)) {
      if (r.rows !== votes) throw new Error(`${m} wrote ${r.rows} rows, not ${votes}`);
      console.log(`| ${m === 'baseline' ? 'baseline: plain CSV via fs stream' : m === 'csv' ? 'CSV (csv-stringify)' : 'xlsx (own streaming writer, in a worker)'} | ${(r.ms / 1000).toFixed(1)} s | ${(r.ms / base.ms).toFixed(2)}× | ${r.peakRssMB.toFixed(0)} MB | ${(r.peakRssMB / base.peakRssMB).toFixed(2)}× | ${(r.bytes / 1e6).toFixed(0)} MB |`);
    }
    const x = results['xlsx']!;
    console.log(`goal (≤ 60 s, ≤ 300 MB): ${x.ms <= 60_000 && x.peakRssMB <= 300 ? 'met' : 'NOT met'} — ${(x.ms / 1000).toFixed(1)} s, ${x.peakRssMB.toFixed(0)} MB`);
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
    else for (const m of ['baseline', 'csv', 'xlsx']) rmSync(join(dir, `out-${m}`), { force: true });
  }
}

await main();
