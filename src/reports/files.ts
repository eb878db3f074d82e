// The operational and employee reports as .xlsx and CSV. The xlsx has a summary sheet, frozen
// headers, widths and formats (src/exports/xlsx.ts), scores coloured 1–5 and formulas for totals and
// shares (cached results, so every reader shows them); the CSV is the same table flat, UTF-8 with BOM.
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { stringify } from 'csv-stringify';
import { colLetter, createXlsxWriter, FIRST_DATA_ROW, type Cell } from '../exports/xlsx.ts';
import { SCORE_FILLS } from './tactical-xlsx.ts';
import type { EmployeeReport } from './employees.ts';
import type { OperationalReport } from './operational.ts';

const PCT = '0.0%';
const INT = '#,##0';
const scoreCell = (s: number | null): Cell => (s === null ? null : { value: s, fill: SCORE_FILLS[s], numFmt: '0' });
const share = (s: number, d: number): number | string => (s + d > 0 ? s / (s + d) : '');

/** Writes rows as CSV (header first, UTF-8 with BOM) and ends `out`. */
export async function writeCsv(out: Writable, header: string[], rows: Array<Array<string | number | null>>): Promise<void> {
  const csv = stringify({ header: true, columns: header, bom: true });
  csv.pipe(out);
  for (const r of rows) if (!csv.write(r.map((v) => (v === null ? '' : v)))) await once(csv, 'drain');
  csv.end();
  await once(csv, 'end');
}

// ---- Employee report

const EMPLOYEE_HEADER = ['employeeId', 'employee', 'shifts', 'shiftHours', 'satisfied', 'dissatisfied', 'votes', 'share', 'wilsonLow', 'wilsonHigh', 'score', 'votesPerShiftHour', 'belowMinimum'];

export function employeeCsv(rep: EmployeeReport, out: Writable): Promise<void> {
  return writeCsv(out, EMPLOYEE_HEADER, rep.employees.map((e) => [e.key, e.label, e.shifts, e.shiftHours, e.satisfied, e.dissatisfied, e.total,
    e.share, e.wilson?.[0] ?? null, e.wilson?.[1] ?? null, e.score, e.votesPerShiftHour, e.belowMinimum ? 'yes' : 'no']));
}

export async function employeeXlsx(rep: EmployeeReport, orgName: string, out: Writable): Promise<void> {
  const xw = createXlsxWriter(out);
  const title = `${orgName}: employee report`;
  const period = `Period: ${rep.period.from} – ${rep.period.to} (local dates of each location); no score below ${rep.minSample} counted votes`;
  const sheet = xw.sheet({ name: 'Employees', title, subtitle: period, columns: [
    { header: 'Employee', width: 26 }, { header: 'Shifts', width: 9, numFmt: INT }, { header: 'Hours on shift', width: 12, numFmt: '0.0' },
    { header: 'Satisfied', width: 11, numFmt: INT }, { header: 'Dissatisfied', width: 12, numFmt: INT }, { header: 'Counted votes', width: 13, numFmt: INT },
    { header: 'Satisfied share', width: 13, numFmt: PCT }, { header: 'Wilson 95% low', width: 14, numFmt: PCT }, { header: 'Wilson 95% high', width: 14, numFmt: PCT },
    { header: 'Score 1–5', width: 10, numFmt: '0' }, { header: 'Votes per shift hour', width: 14, numFmt: '0.00' },
    { header: 'Below minimum sample', width: 14 }, { header: 'Employee id', width: 24 },
  ] });
  let r = FIRST_DATA_ROW;
  for (const e of rep.employees) {
    sheet.row([e.label, e.shifts, e.shiftHours, e.satisfied, e.dissatisfied,
      { formula: `D${r}+E${r}`, result: e.total },
      { formula: `IF(F${r}>0,D${r}/F${r},"")`, result: share(e.satisfied, e.dissatisfied) },
      e.wilson?.[0] ?? null, e.wilson?.[1] ?? null, scoreCell(e.score),
      { formula: `IF(C${r}>0,F${r}/C${r},"")`, result: e.shiftHours > 0 ? e.total / e.shiftHours : '' },
      e.belowMinimum ? 'yes' : 'no', e.key]);
    r++;
  }
  sheet.end();
  const last = Math.max(r - 1, FIRST_DATA_ROW);
  const sum = (col: string): string => `SUM(Employees!${col}${FIRST_DATA_ROW}:${col}${last})`;
  const s = rep.employees.reduce((a, e) => [a[0]! + e.satisfied, a[1]! + e.dissatisfied, a[2]! + e.shifts, a[3]! + e.shiftHours], [0, 0, 0, 0]);
  const summary = xw.sheet({ name: 'Summary', title, subtitle: period, columns: [{ header: 'Measure', width: 34 }, { header: 'Value', width: 16 }] });
  const r0 = FIRST_DATA_ROW;
  summary.row(['Employees', rep.employees.length]);
  summary.row(['Shifts', { formula: sum('B'), result: s[2]! }]);
  summary.row(['Hours on shift', { value: { formula: sum('C'), result: s[3]! }, numFmt: '0.0' }]);
  summary.row(['Satisfied (attributed)', { formula: sum('D'), result: s[0]! }]);
  summary.row(['Dissatisfied (attributed)', { formula: sum('E'), result: s[1]! }]);
  summary.row(['Satisfied share (attributed)', { value: { formula: `IF(B${r0 + 3}+B${r0 + 4}>0,B${r0 + 3}/(B${r0 + 3}+B${r0 + 4}),"")`, result: share(s[0]!, s[1]!) }, numFmt: PCT }]);
  summary.row(['Counted votes with no employee', rep.unattributed.total]);
  summary.row(['Minimum sample for a score', rep.minSample]);
  summary.end();
  await xw.finish();
}

// ---- Operational report

const HOURS = Array.from({ length: 24 }, (_, h) => h);
const hh = (h: number): string => `${String(h).padStart(2, '0')}:00`;

/** One row per location and touchpoint (the location's own row first) and per hour. */
export function operationalCsv(rep: OperationalReport, out: Writable): Promise<void> {
  const rows: Array<Array<string | number | null>> = [];
  for (const l of rep.locations) {
    for (const s of [{ ...l, tpId: '', tpLabel: '' }, ...l.touchpoints.map((t) => ({ ...t, tpId: t.id, tpLabel: t.label }))]) {
      s.hours.forEach((c, h) => rows.push([l.id, l.label, l.timezone, l.day, l.live ? 'yes' : 'no', s.tpId, s.tpLabel, hh(h),
        c?.satisfied ?? null, c?.dissatisfied ?? null, c ? c.satisfied + c.dissatisfied : null, c?.flagged ?? null]));
    }
  }
  return writeCsv(out, ['locationId', 'location', 'timezone', 'day', 'live', 'touchpointId', 'touchpoint', 'hour', 'satisfied', 'dissatisfied', 'votes', 'flagged'], rows);
}

export async function operationalXlsx(rep: OperationalReport, orgName: string, out: Writable): Promise<void> {
  const xw = createXlsxWriter(out);
  const title = `${orgName}: operational report`;
  const period = rep.day
    ? `Day: ${rep.day} (local date of each location; hours in the location's zone)`
    : `Today so far in each location's zone, as of ${rep.asOf.slice(0, 16).replace('T', ' ')} UTC`;
  const summary = xw.sheet({ name: 'Summary', title, subtitle: period, columns: [
    { header: 'Location', width: 26 }, { header: 'Day', width: 12 }, { header: 'Time zone', width: 18 }, { header: 'Live (so far)', width: 10 },
    { header: 'Satisfied', width: 11, numFmt: INT }, { header: 'Dissatisfied', width: 12, numFmt: INT }, { header: 'Counted votes', width: 13, numFmt: INT },
    { header: 'Satisfied share', width: 13, numFmt: PCT }, { header: 'Score 1–5', width: 10, numFmt: '0' }, { header: 'Flagged (not counted)', width: 14, numFmt: INT },
    { header: 'Devices with problems', width: 14, numFmt: INT },
  ] });
  let r = FIRST_DATA_ROW;
  for (const l of rep.locations) {
    const t = l.total;
    summary.row([l.label, l.day, l.timezone, l.live ? 'yes' : 'no', t.satisfied, t.dissatisfied,
      { formula: `E${r}+F${r}`, result: t.total }, { formula: `IF(G${r}>0,E${r}/G${r},"")`, result: share(t.satisfied, t.dissatisfied) },
      scoreCell(t.score), t.flagged, rep.devices.filter((d) => d.locationId === l.id).length]);
    r++;
  }
  summary.end();
  // By hour: counted votes per hour, a SUM per row; shares per hour on the next sheet.
  const first = 5; // column E = 00:00
  const lastCol = colLetter(first + 23);
  const hours = xw.sheet({ name: 'By hour', title, subtitle: `${period}; counted votes per hour (empty: not yet)`, columns: [
    { header: 'Location', width: 24 }, { header: 'Touchpoint', width: 20 }, { header: 'Day', width: 12 }, { header: 'Button', width: 12 },
    ...HOURS.map((h) => ({ header: hh(h), width: 7, numFmt: INT })), { header: 'Day total', width: 10, numFmt: INT },
  ] });
  r = FIRST_DATA_ROW;
  for (const l of rep.locations) {
    for (const s of [{ ...l, tp: '(all)' }, ...l.touchpoints.map((t) => ({ ...t, tp: t.label }))]) {
      for (const button of ['satisfied', 'dissatisfied'] as const) {
        const cells = s.hours.map((c) => (c ? c[button] : null));
        hours.row([l.label, s.tp, l.day, button, ...cells, { formula: `SUM(${colLetter(first)}${r}:${lastCol}${r})`, result: cells.reduce<number>((a, v) => a + (v ?? 0), 0) }]);
        r++;
      }
    }
  }
  hours.end();
  const dev = xw.sheet({ name: 'Devices', title, subtitle: `Devices needing attention as of ${rep.asOf.slice(0, 16).replace('T', ' ')} UTC`, columns: [
    { header: 'Device', width: 22 }, { header: 'Kind', width: 10 }, { header: 'Location', width: 24 }, { header: 'Problem', width: 12 },
    { header: 'Last seen (UTC)', width: 20, numFmt: 'yyyy-mm-dd hh:mm' }, { header: 'Battery %', width: 10, numFmt: '0' }, { header: 'Device id', width: 24 },
  ] });
  const locName = new Map(rep.locations.map((l) => [l.id, l.label]));
  for (const d of rep.devices) {
    dev.row([d.name ?? d.id, d.kind, d.locationId ? locName.get(d.locationId) ?? d.locationId : null, d.problem,
      d.lastSeenAt ? new Date(d.lastSeenAt) : null, d.battery, d.id]);
  }
  dev.end();
  await xw.finish();
}
