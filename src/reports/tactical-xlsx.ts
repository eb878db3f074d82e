// The tactical report as .xlsx: a summary sheet, then one sheet per slice (locations,
// touchpoints, employees) and the trend. Scores are coloured 1 (red) to 5 (green); totals and
// shares are formulas over the counts beside them, with their values cached for every reader.
import type { Writable } from 'node:stream';
import { createXlsxWriter, FIRST_DATA_ROW, type Cell, type Column, type XlsxWriter } from '../exports/xlsx.ts';
import type { ScoreRow } from '../scores/scores.ts';
import type { ReportRow, TacticalReport } from './tactical.ts';

/** Fill of a 1–5 score (ARGB): red, orange, yellow, light green, green. */
export const SCORE_FILLS: Record<number, string> = { 1: 'FFF8696B', 2: 'FFFBAA77', 3: 'FFFFEB84', 4: 'FFB1D580', 5: 'FF63BE7B' };

const scoreCell = (s: number | null): Cell => (s === null ? null : { value: s, fill: SCORE_FILLS[s], numFmt: '0' });

const PCT = '0.0%';
const SLICE_COLUMNS = (what: string): Column[] => [
  { header: what, width: 28 }, { header: 'Satisfied', width: 11, numFmt: '#,##0' }, { header: 'Dissatisfied', width: 12, numFmt: '#,##0' },
  { header: 'Counted votes', width: 13, numFmt: '#,##0' }, { header: 'Satisfied share', width: 13, numFmt: PCT },
  { header: 'Wilson 95% low', width: 14, numFmt: PCT }, { header: 'Wilson 95% high', width: 14, numFmt: PCT },
  { header: 'Score 1–5', width: 10, numFmt: '0' }, { header: 'Flagged (not counted)', width: 14, numFmt: '#,##0' },
  { header: 'Visitors', width: 10, numFmt: '#,##0' }, { header: 'Response rate', width: 12, numFmt: PCT },
  { header: 'Previous period votes', width: 14, numFmt: '#,##0' }, { header: 'Previous share', width: 13, numFmt: PCT },
  { header: 'Change (points)', width: 13, numFmt: '+0.0%;-0.0%;0.0%' }, { header: 'p-value (z-test)', width: 13, numFmt: '0.0000' },
  { header: 'Significant (p < 0.05)', width: 14 },
  { header: 'Last year votes', width: 14, numFmt: '#,##0' }, { header: 'Last year share', width: 13, numFmt: PCT },
  { header: 'Change vs last year (points)', width: 16, numFmt: '+0.0%;-0.0%;0.0%' }, { header: 'p-value vs last year', width: 13, numFmt: '0.0000' },
  { header: 'Significant vs last year', width: 14 },
];

function countCells(row: ScoreRow, r: number): Cell[] {
  const total = row.satisfied + row.dissatisfied;
  return [
    row.label, row.satisfied, row.dissatisfied,
    { formula: `B${r}+C${r}`, result: total },
    { formula: `IF(D${r}>0,B${r}/D${r},"")`, result: total > 0 ? row.satisfied / total : '' },
    row.wilson?.[0] ?? null, row.wilson?.[1] ?? null, scoreCell(row.score), row.flagged, row.visitors, row.responseRate,
  ];
}

function sliceSheet(xw: XlsxWriter, name: string, what: string, rep: TacticalReport, title: string, rows: ReportRow[]): void {
  const sheet = xw.sheet({ name, title, subtitle: periodLine(rep), columns: SLICE_COLUMNS(what) });
  let r = FIRST_DATA_ROW;
  for (const row of rows) {
    sheet.row([...countCells(row, r), row.previous?.total ?? null, row.previous?.share ?? null,
      row.change?.diff ?? null, row.change?.p ?? null, row.change ? (row.change.significant ? 'yes' : 'no') : null,
      row.lastYear?.total ?? null, row.lastYear?.share ?? null,
      row.changeVsLastYear?.diff ?? null, row.changeVsLastYear?.p ?? null, row.changeVsLastYear ? (row.changeVsLastYear.significant ? 'yes' : 'no') : null]);
    r++;
  }
  sheet.end();
}

const periodLine = (rep: TacticalReport): string =>
  `Period: ${rep.period.from} – ${rep.period.to}, compared with ${rep.previousPeriod.from} – ${rep.previousPeriod.to} and with ${rep.lastYearPeriod.from} – ${rep.lastYearPeriod.to} (local dates of each location)`;

export async function writeTacticalXlsx(rep: TacticalReport, orgName: string, out: Writable): Promise<void> {
  const xw = createXlsxWriter(out);
  const title = `${orgName}: tactical report`;
  const sum = xw.sheet({ name: 'Summary', title, subtitle: periodLine(rep), columns: [
    { header: 'Measure', width: 30 }, { header: 'This period', width: 16 }, { header: 'Previous period', width: 16 },
    { header: 'Same period last year', width: 18 },
  ] });
  const t = rep.total;
  const r0 = FIRST_DATA_ROW;
  const tot = t.satisfied + t.dissatisfied;
  const ptot = t.previous?.total ?? 0;
  const ltot = t.lastYear?.total ?? 0;
  sum.row(['Period', `${rep.period.from} – ${rep.period.to}`, `${rep.previousPeriod.from} – ${rep.previousPeriod.to}`, `${rep.lastYearPeriod.from} – ${rep.lastYearPeriod.to}`]);
  sum.row(['Satisfied', t.satisfied, t.previous?.satisfied ?? 0, t.lastYear?.satisfied ?? 0]);
  sum.row(['Dissatisfied', t.dissatisfied, t.previous?.dissatisfied ?? 0, t.lastYear?.dissatisfied ?? 0]);
  sum.row(['Counted votes', { formula: `B${r0 + 1}+B${r0 + 2}`, result: tot }, { formula: `C${r0 + 1}+C${r0 + 2}`, result: ptot }, { formula: `D${r0 + 1}+D${r0 + 2}`, result: ltot }]);
  sum.row(['Satisfied share',
    { value: { formula: `IF(B${r0 + 3}>0,B${r0 + 1}/B${r0 + 3},"")`, result: tot ? t.satisfied / tot : '' }, numFmt: PCT },
    { value: { formula: `IF(C${r0 + 3}>0,C${r0 + 1}/C${r0 + 3},"")`, result: ptot ? (t.previous?.satisfied ?? 0) / ptot : '' }, numFmt: PCT },
    { value: { formula: `IF(D${r0 + 3}>0,D${r0 + 1}/D${r0 + 3},"")`, result: ltot ? (t.lastYear?.satisfied ?? 0) / ltot : '' }, numFmt: PCT }]);
  sum.row(['Wilson 95% low', { value: t.wilson?.[0] ?? null, numFmt: PCT }, null]);
  sum.row(['Wilson 95% high', { value: t.wilson?.[1] ?? null, numFmt: PCT }, null]);
  sum.row(['Score 1–5', scoreCell(t.score), null]);
  sum.row(['Flagged (not counted)', t.flagged, null]);
  // Changes: column C against the previous period, column D against the same period last year.
  const yn = (c: ReportRow['change']): string | null => (c ? (c.significant ? 'yes' : 'no') : null);
  const ly = t.changeVsLastYear;
  sum.row(['Change of share (points)', null, { value: t.change?.diff ?? null, numFmt: '+0.0%;-0.0%;0.0%' }, { value: ly?.diff ?? null, numFmt: '+0.0%;-0.0%;0.0%' }]);
  sum.row(['z (two-proportion test)', null, { value: t.change?.z ?? null, numFmt: '0.00' }, { value: ly?.z ?? null, numFmt: '0.00' }]);
  sum.row(['p-value', null, { value: t.change?.p ?? null, numFmt: '0.0000' }, { value: ly?.p ?? null, numFmt: '0.0000' }]);
  sum.row(['Significant (p < 0.05)', null, yn(t.change), yn(ly)]);
  sum.row(['Locations', rep.locations.length, null]);
  sum.end();
  sliceSheet(xw, 'Locations', 'Location', rep, title, rep.locations);
  sliceSheet(xw, 'Touchpoints', 'Touchpoint', rep, title, rep.touchpoints);
  sliceSheet(xw, 'Employees', 'Employee', rep, title, rep.employees);
  const trend = xw.sheet({ name: 'Trend', title, subtitle: `${periodLine(rep)}; by ${rep.trendGrain}`, columns: SLICE_COLUMNS('Period').slice(0, 11) });
  let r = FIRST_DATA_ROW;
  for (const row of rep.trend) trend.row(countCells(row, r++));
  trend.end();
  await xw.finish();
}
