// Raw votes as .xlsx or .csv (PROTOCOL.md §6), streamed: batches are read (voteBatches) and written
// one after the other, waiting for the output to drain, so a million rows never sit in memory.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { drainOrClose } from './zip.ts';
import type { Writable } from 'node:stream';
import { stringify } from 'csv-stringify';
import type { Store } from '../store/db.ts';
import { zoneOffset } from '../domain/time.ts';
import { voteBatches, type RawVote, type VoteQuery } from './votes.ts';
import { createXlsxWriter, colLetter, FIRST_DATA_ROW, wallClock, type Cell, type Column } from './xlsx.ts';

export type Progress = (rowsWritten: number) => void;

export type Names = { locations: Map<string, { name: string; tz: string }>; touchpoints: Map<string, string>; employees: Map<string, string> };

async function namesOf(store: Store, orgId: string): Promise<Names> {
  const [locs, tps, emps] = await Promise.all([
    store.db.selectFrom('locations').select(['id', 'name', 'timezone']).where('org_id', '=', orgId).execute(),
    store.db.selectFrom('touchpoints').select(['id', 'name']).where('org_id', '=', orgId).execute(),
    store.db.selectFrom('employees').select(['id', 'name']).where('org_id', '=', orgId).execute(),
  ]);
  return {
    locations: new Map(locs.map((l) => [l.id, { name: l.name, tz: l.timezone }])),
    touchpoints: new Map(tps.map((t) => [t.id, t.name])),
    employees: new Map(emps.map((e) => [e.id, e.name])),
  };
}

const pad = (n: number): string => String(n).padStart(2, '0');
/** "YYYY-MM-DD HH:MM:SS" wall-clock time of `ts` in `tz`. */
export function localTimeText(ts: number, tz: string): string {
  const d = new Date(ts + zoneOffset(tz, ts));
  return `${d.toISOString().slice(0, 10)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

const flagsText = (v: RawVote): string => (v.flags ? (JSON.parse(v.flags) as string[]).join(' ') : '');

export const CSV_COLUMNS = ['id', 'deviceId', 'ts', 'localTime', 'timezone', 'button', 'reason', 'locationId', 'location', 'touchpointId', 'touchpoint', 'employeeId', 'employee', 'flagged'] as const;

export async function writeVotesCsv(store: Store, orgId: string, q: VoteQuery, out: Writable, progress?: Progress): Promise<number> {
  const names = await namesOf(store, orgId);
  const csv = stringify({ header: true, columns: [...CSV_COLUMNS], bom: true });
  csv.pipe(out);
  let n = 0;
  for await (const batch of voteBatches(store, orgId, q)) {
    if (out.destroyed) break;
    for (const v of batch) {
      const loc = names.locations.get(v.location_id);
      const ts = Number(v.ts);
      const tz = loc?.tz ?? 'UTC';
      csv.write([v.event_id, v.device_id, new Date(ts).toISOString(), localTimeText(ts, tz), tz, v.button, v.reason ?? '',
        v.location_id, loc?.name ?? '', v.touchpoint_id ?? '', v.touchpoint_id ? names.touchpoints.get(v.touchpoint_id) ?? '' : '',
        v.employee_id ?? '', v.employee_id ? names.employees.get(v.employee_id) ?? '' : '', flagsText(v)]);
    }
    n += batch.length;
    progress?.(n);
    if (out.writableNeedDrain) await drainOrClose(out);
    if (csv.writableNeedDrain) await drainOrClose(csv);
  }
  csv.end();
  if (!out.destroyed) await once(csv, 'end');
  return n;
}

// Votes sheet columns; the summary's formulas refer to them by letter.
const VOTE_COLUMNS: Column[] = [
  { header: 'Vote id', width: 16 },
  { header: 'Device id', width: 24 },
  { header: 'Local time', width: 20, numFmt: 'yyyy-mm-dd hh:mm:ss' },
  { header: 'Time zone', width: 18 },
  { header: 'UTC time', width: 20, numFmt: 'yyyy-mm-dd hh:mm:ss' },
  { header: 'Button', width: 13 },
  { header: 'Reason', width: 14 },
  { header: 'Location', width: 24 },
  { header: 'Touchpoint', width: 18 },
  { header: 'Employee', width: 18 },
  { header: 'Flagged (misuse rules)', width: 22 },
  { header: 'Counted (1 = yes)', width: 10, numFmt: '0' },
  { header: 'Location id', width: 24 },
  { header: 'Touchpoint id', width: 24 },
  { header: 'Employee id', width: 24 },
];
const C = { button: colLetter(6), counted: colLetter(12), locationId: colLetter(13) };

export type XlsxExportOptions = { orgName: string; progress?: Progress | undefined };

/**
 * Raw votes as .xlsx. On SQLite the whole file is made in a worker thread (xlsx-worker.ts: its own
 * read-only connection, the rows' XML and the compression) and the compressed bytes are handed to
 * `out` here: the per-row garbage then lives in a heap whose young generation is capped, which keeps
 * a million-row export under P6's memory goal; the server's thread only moves buffers.
 */
export async function writeVotesXlsx(store: Store, orgId: string, q: VoteQuery, out: Writable, opts: XlsxExportOptions): Promise<number> {
  if (store.dialect === 'sqlite' && store.sqlitePath) return xlsxInWorker(store.sqlitePath, orgId, q, out, opts);
  return writeVotesXlsxFrom(await namesOf(store, orgId), voteBatches(store, orgId, q), q, out, opts);
}

type XlsxWorkerMsg = { chunk: Uint8Array } | { progress: number } | { done: number } | { error: string };

async function xlsxInWorker(path: string, orgId: string, q: VoteQuery, out: Writable, opts: XlsxExportOptions): Promise<number> {
  const worker = new Worker(new URL('./xlsx-worker.ts', import.meta.url), {
    workerData: { path, orgId, q, orgName: opts.orgName },
    resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 256 },
  });
  try {
    return await new Promise<number>((resolve, reject) => {
      let finished = false;
      worker.on('message', (m: XlsxWorkerMsg) => {
        if ('chunk' in m) {
          // One chunk in flight: the worker waits for this ack, so the client's pace rules.
          if (out.destroyed) { finished = true; resolve(0); return; }
          const ack = (): void => worker.postMessage('ack');
          if (out.write(Buffer.from(m.chunk.buffer, m.chunk.byteOffset, m.chunk.byteLength))) ack();
          else void drainOrClose(out).then(() => { if (out.destroyed) { finished = true; resolve(0); } else ack(); });
        } else if ('progress' in m) opts.progress?.(m.progress);
        else if ('done' in m) { finished = true; if (!out.destroyed && !out.writableEnded) out.end(); resolve(m.done); }
        else { finished = true; reject(new Error(m.error)); }
      });
      worker.on('error', (e) => { if (!finished) { finished = true; reject(e); } });
      worker.on('exit', (code) => { if (!finished) { finished = true; reject(new Error(`xlsx export worker exited with ${code}`)); } });
    });
  } finally {
    await worker.terminate();
  }
}

/** Writes the Votes and Summary sheets from `names` and the votes in order. */
export async function writeVotesXlsxFrom(names: Names, batches: AsyncIterable<RawVote[]>, q: VoteQuery, out: Writable, opts: XlsxExportOptions): Promise<number> {
  const period = `Period: ${q.from} – ${q.to} (local dates of each location); times in the location's zone and in UTC`;
  const xw = createXlsxWriter(out);
  const votes = xw.sheet({ name: 'Votes', title: `${opts.orgName}: raw votes`, subtitle: period + (q.flagged === true ? '; flagged votes only' : q.flagged === false ? '; counted votes only' : ''), columns: VOTE_COLUMNS });
  let n = 0;
  // Per location: satisfied / dissatisfied / flagged, the cached results of the summary's formulas.
  const perLoc = new Map<string, [number, number, number]>();
  for await (const batch of batches) {
    if (out.destroyed) break;
    for (const v of batch) {
      const loc = names.locations.get(v.location_id);
      const ts = Number(v.ts);
      const tz = loc?.tz ?? 'UTC';
      const counted = v.flags ? 0 : 1;
      const acc = perLoc.get(v.location_id) ?? (perLoc.set(v.location_id, [0, 0, 0]), perLoc.get(v.location_id)!);
      if (!counted) acc[2]++;
      else if (v.button === 'satisfied') acc[0]++;
      else acc[1]++;
      const row: Cell[] = [v.event_id, v.device_id, wallClock(ts, zoneOffset(tz, ts)), tz, new Date(ts), v.button, v.reason,
        loc?.name ?? v.location_id, v.touchpoint_id ? names.touchpoints.get(v.touchpoint_id) ?? v.touchpoint_id : null,
        v.employee_id ? names.employees.get(v.employee_id) ?? v.employee_id : null, flagsText(v) || null, counted,
        v.location_id, v.touchpoint_id, v.employee_id];
      votes.row(row);
    }
    n += batch.length;
    opts.progress?.(n);
    await votes.drain();
  }
  votes.end();
  if (out.destroyed) return n;

  // Summary: COUNTIFS over the Votes sheet, so the figures follow if a reader filters or edits rows.
  const last = Math.max(FIRST_DATA_ROW + n - 1, FIRST_DATA_ROW);
  const rng = (col: string): string => `Votes!$${col}$${FIRST_DATA_ROW}:$${col}$${last}`;
  const summary = xw.sheet({ name: 'Summary', title: `${opts.orgName}: summary of the raw votes`, subtitle: period, columns: [
    { header: 'Location', width: 28 }, { header: 'Location id', width: 24 }, { header: 'Satisfied', width: 12, numFmt: '#,##0' },
    { header: 'Dissatisfied', width: 12, numFmt: '#,##0' }, { header: 'Counted votes', width: 14, numFmt: '#,##0' },
    { header: 'Satisfied share', width: 14, numFmt: '0.0%' }, { header: 'Flagged (not counted)', width: 16, numFmt: '#,##0' },
    { header: 'All votes', width: 12, numFmt: '#,##0' },
  ] });
  const locs = [...perLoc.keys()].map((id) => ({ id, name: names.locations.get(id)?.name ?? id })).sort((a, b) => a.name.localeCompare(b.name));
  let r = FIRST_DATA_ROW;
  const totals = [0, 0, 0];
  for (const l of locs) {
    const [s, d, f] = perLoc.get(l.id)!;
    totals[0]! += s; totals[1]! += d; totals[2]! += f;
    summary.row([l.name, l.id,
      { formula: `COUNTIFS(${rng(C.locationId)},B${r},${rng(C.button)},"satisfied",${rng(C.counted)},1)`, result: s },
      { formula: `COUNTIFS(${rng(C.locationId)},B${r},${rng(C.button)},"dissatisfied",${rng(C.counted)},1)`, result: d },
      { formula: `C${r}+D${r}`, result: s + d },
      { formula: `IF(E${r}>0,C${r}/E${r},"")`, result: s + d > 0 ? s / (s + d) : '' },
      { formula: `COUNTIFS(${rng(C.locationId)},B${r},${rng(C.counted)},0)`, result: f },
      { formula: `E${r}+G${r}`, result: s + d + f },
    ]);
    r++;
  }
  const [s, d, f] = totals as [number, number, number];
  const first = FIRST_DATA_ROW;
  const lastLoc = Math.max(r - 1, first);
  summary.row([{ value: 'Total', bold: true }, null,
    { value: { formula: `SUM(C${first}:C${lastLoc})`, result: s }, bold: true },
    { value: { formula: `SUM(D${first}:D${lastLoc})`, result: d }, bold: true },
    { value: { formula: `C${r}+D${r}`, result: s + d }, bold: true },
    { value: { formula: `IF(E${r}>0,C${r}/E${r},"")`, result: s + d > 0 ? s / (s + d) : '' }, bold: true },
    { value: { formula: `SUM(G${first}:G${lastLoc})`, result: f }, bold: true },
    { value: { formula: `COUNTA(Votes!$A$${FIRST_DATA_ROW}:$A$${last})`, result: n }, bold: true },
  ]);
  summary.end();
  await xw.finish();
  return n;
}
