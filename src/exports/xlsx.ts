// The one interface through which the project writes .xlsx files, over a streaming writer
// (exceljs' stream.xlsx.WorkbookWriter today). Callers describe sheets, columns and rows; nothing
// else in the code base imports the library, so replacing it touches this file only.
//
// Sheets are streamed one after the other: open a sheet, add its rows, `end()` it, then open the
// next. Rows are committed as they are added, so memory stays flat however many rows are written.
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import ExcelJS from 'exceljs';

/** A formula with the value it evaluates to (stored as the cached result, so every reader shows it). */
export type Formula = { formula: string; result: number | string | null };
/** A cell with a background fill (ARGB, e.g. 'FFF8696B') and optional bold text. */
export type Styled = { value: Plain | Formula; fill?: string | undefined; bold?: boolean | undefined; numFmt?: string | undefined };
export type Plain = string | number | Date | boolean | null;
export type Cell = Plain | Formula | Styled;

export type Column = {
  header: string;
  width: number;
  /** Excel number format, e.g. '0.0%', 'yyyy-mm-dd hh:mm:ss', '0'. */
  numFmt?: string | undefined;
};

export type SheetSpec = {
  name: string;
  /** First row, bold and larger. */
  title: string;
  /** Second row, e.g. "Period: 2026-11-01 – 2026-11-30 (local dates of each location)". */
  subtitle: string;
  columns: Column[];
};

/** Rows 1–2 are title and period, row 3 is blank, row 4 the header: data starts at this row. */
export const FIRST_DATA_ROW = 5;

export interface XlsxSheet {
  /** Adds one data row (committed at once). */
  row(cells: Cell[]): void;
  /** Waits until the output has drained if it is backed up; call every few thousand rows. */
  drain(): Promise<void>;
  end(): void;
}

export interface XlsxWriter {
  sheet(spec: SheetSpec): XlsxSheet;
  /** Finishes the workbook; resolves once everything has been written to the output stream. */
  finish(): Promise<void>;
}

const isFormula = (c: unknown): c is Formula => typeof c === 'object' && c !== null && 'formula' in c;
const isStyled = (c: unknown): c is Styled => typeof c === 'object' && c !== null && !(c instanceof Date) && 'value' in c;

/** Column letter of a 1-based index (1 → A, 28 → AB). */
export function colLetter(n: number): string {
  let s = '';
  while (n > 0) { const m = (n - 1) % 26; s = String.fromCharCode(65 + m) + s; n = Math.floor((n - 1) / 26); }
  return s;
}

/** An Excel-safe sheet name (≤ 31 chars, none of []:*?/\). */
export function sheetName(s: string): string {
  return s.replace(/[[\]:*?/\\]/g, ' ').slice(0, 31) || 'Sheet';
}

/** A Date whose UTC fields are the wall-clock time `offsetMs` away from UTC (Excel dates carry no zone). */
export function wallClock(ts: number, offsetMs: number): Date {
  return new Date(ts + offsetMs);
}

export function createXlsxWriter(out: Writable): XlsxWriter {
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useStyles: true, useSharedStrings: false });
  wb.creator = 'Loyalty Button';
  wb.created = new Date();
  let open: ExcelJS.Worksheet | null = null;
  return {
    sheet(spec) {
      if (open) throw new Error('end the previous sheet first');
      const ws = wb.addWorksheet(sheetName(spec.name), { views: [{ state: 'frozen', ySplit: FIRST_DATA_ROW - 1, xSplit: 0 }] });
      open = ws;
      ws.columns = spec.columns.map((c) => ({ width: c.width, ...(c.numFmt ? { style: { numFmt: c.numFmt } } : {}) }));
      const title = ws.addRow([spec.title]);
      title.font = { bold: true, size: 14 };
      title.commit();
      ws.addRow([spec.subtitle]).commit();
      ws.addRow([]).commit();
      const header = ws.addRow(spec.columns.map((c) => c.header));
      header.font = { bold: true };
      header.eachCell((cell) => { cell.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFE7E6E6' } }; cell.border = { bottom: { style: 'thin' } }; });
      header.commit();
      return {
        row(cells) {
          const values = cells.map((c) => (isStyled(c) ? c.value : c));
          const r = ws.addRow(values.map((v) => (isFormula(v) ? { formula: v.formula, result: v.result ?? undefined } : v)) as ExcelJS.CellValue[]);
          // Cells take their column's number format when created; only styled cells need more.
          cells.forEach((c, i) => {
            if (!isStyled(c)) return;
            const cell = r.getCell(i + 1);
            if (c.numFmt) cell.numFmt = c.numFmt;
            if (c.fill) cell.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: c.fill } };
            if (c.bold) cell.font = { bold: true };
          });
          r.commit();
        },
        async drain() {
          // exceljs' sheet buffer writes into the zip entry's deflate stream ignoring backpressure, so
          // that stream (and then the output) would swallow every uncompressed row: wait for both.
          // (That stream comes from archiver's readable-stream copy: no writableNeedDrain, hence _writableState.)
          type Pipe = Writable & { _writableState?: { needDrain?: boolean } };
          const internal = (ws as unknown as { _stream?: { pipes?: Pipe[] } })._stream;
          for (const p of internal?.pipes ?? []) if (p._writableState?.needDrain) await once(p, 'drain');
          if (out.writableNeedDrain) await once(out, 'drain');
          await new Promise((r) => setImmediate(r));
        },
        end() {
          ws.commit();
          open = null;
        },
      };
    },
    async finish() {
      if (open) { open.commit(); open = null; }
      await wb.commit();
    },
  };
}
