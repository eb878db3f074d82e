// The one interface through which the project writes .xlsx files. Callers describe sheets, columns
// and rows; the SpreadsheetML is written here, row by row, straight into a streaming zip (zip.ts).
// (exceljs' streaming writer did this at ~13 k rows/s and let memory grow; P6 in BENCHMARKS.md.)
//
// Sheets are streamed one after the other: open a sheet, add its rows, `end()` it, then open the
// next. Strings are inline (no shared-strings table to hold in memory); the styles table is built
// as cells ask for number formats, fills and fonts, and written after the sheets.
import type { Writable } from 'node:stream';
import { ZipWriter, type ZipEntry } from './zip.ts';

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
  /** Finishes the workbook and ends the output stream. */
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

/** Excel's serial day number of a Date (whose UTC fields are the wall-clock time to show). */
const serial = (d: Date): number => d.getTime() / 86_400_000 + 25569;

const XML_BAD = /[&<>"\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;
/** Text escaped for XML; characters XML cannot hold at all are dropped. */
function esc(s: string): string {
  if (!XML_BAD.test(s)) return s;
  return s.replace(/[&<>"]|[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '');
}

const DEFAULT_DATE_FMT = 'yyyy-mm-dd hh:mm:ss';
const HEADER_FILL = 'FFE7E6E6';
const FONT_PLAIN = 0, FONT_BOLD = 1, FONT_TITLE = 2;

/**
 * The styles table, built as cells ask for combinations and written last (styles.xml may come after
 * the sheets in the package). Index 0 is the default style.
 */
class Styles {
  #fmts = new Map<string, number>();
  #fills = new Map<string, number>();
  #xfs = new Map<string, number>([['0|0|0|0', 0]]);
  #xfList: Array<[number, number, number, number]> = [[0, 0, 0, 0]];

  /** Style index of a cell with this number format, font, fill (ARGB) and bottom border. */
  id(numFmt: string | undefined, font: number, fill: string | undefined, border: boolean): number {
    let fmtId = 0;
    if (numFmt) {
      fmtId = this.#fmts.get(numFmt) ?? 0;
      if (!fmtId) { fmtId = 164 + this.#fmts.size; this.#fmts.set(numFmt, fmtId); }
    }
    let fillId = 0;
    if (fill) {
      fillId = this.#fills.get(fill) ?? 0;
      if (!fillId) { fillId = 2 + this.#fills.size; this.#fills.set(fill, fillId); }
    }
    const key = `${fmtId}|${font}|${fillId}|${border ? 1 : 0}`;
    let xf = this.#xfs.get(key);
    if (xf === undefined) {
      xf = this.#xfList.length;
      this.#xfs.set(key, xf);
      this.#xfList.push([fmtId, font, fillId, border ? 1 : 0]);
    }
    return xf;
  }

  xml(): string {
    const fmts = [...this.#fmts].map(([code, id]) => `<numFmt numFmtId="${id}" formatCode="${esc(code)}"/>`).join('');
    const fills = [...this.#fills.keys()].map((argb) => `<fill><patternFill patternType="solid"><fgColor rgb="${argb}"/><bgColor indexed="64"/></patternFill></fill>`).join('');
    const xfs = this.#xfList.map(([f, font, fill, b]) =>
      `<xf numFmtId="${f}" fontId="${font}" fillId="${fill}" borderId="${b}" xfId="0"${f ? ' applyNumberFormat="1"' : ''}${font ? ' applyFont="1"' : ''}${fill ? ' applyFill="1"' : ''}${b ? ' applyBorder="1"' : ''}/>`).join('');
    return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`
      + (this.#fmts.size ? `<numFmts count="${this.#fmts.size}">${fmts}</numFmts>` : '')
      + '<fonts count="3"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font><font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font><font><b/><sz val="14"/><name val="Calibri"/><family val="2"/></font></fonts>'
      + `<fills count="${2 + this.#fills.size}"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>${fills}</fills>`
      + '<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border><border><left/><right/><top/><bottom style="thin"><color auto="1"/></bottom><diagonal/></border></borders>'
      + '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
      + `<cellXfs count="${this.#xfList.length}">${xfs}</cellXfs>`
      + '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>';
  }
}

/** One cell's XML (`ref` like "B7", `style` its cell style or 0); empty cells are left out. */
function cellXml(ref: string, v: Plain | Formula, style: number): string {
  const s = style ? ` s="${style}"` : '';
  if (v === null || v === undefined) return style ? `<c r="${ref}"${s}/>` : '';
  if (typeof v === 'number') return Number.isFinite(v) ? `<c r="${ref}"${s}><v>${v}</v></c>` : `<c r="${ref}"${s}/>`;
  if (typeof v === 'string') return `<c r="${ref}"${s} t="inlineStr"><is><t xml:space="preserve">${esc(v)}</t></is></c>`;
  if (typeof v === 'boolean') return `<c r="${ref}"${s} t="b"><v>${v ? 1 : 0}</v></c>`;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? '' : `<c r="${ref}"${s}><v>${serial(v)}</v></c>`;
  const f = `<f>${esc(v.formula)}</f>`;
  if (typeof v.result === 'number') return `<c r="${ref}"${s}>${f}<v>${v.result}</v></c>`;
  if (typeof v.result === 'string') return `<c r="${ref}"${s} t="str">${f}<v>${esc(v.result)}</v></c>`;
  return `<c r="${ref}"${s}>${f}</c>`;
}

const CT_SHEET = 'application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml';
const XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';
/** Flush a sheet's pending XML to the deflater once it is this long (fewer, larger writes). */
const CHUNK = 16 * 1024;

export function createXlsxWriter(out: Writable): XlsxWriter {
  const zip = new ZipWriter(out);
  const styles = new Styles();
  const sheets: string[] = [];
  let open: (() => void) | null = null;
  // The chain of sheet entries being finished, in order.
  let pending: Promise<void> = Promise.resolve();
  return {
    sheet(spec) {
      if (open) throw new Error('end the previous sheet first');
      const name = sheetName(spec.name);
      if (sheets.includes(name)) throw new Error(`two sheets named ${name}`);
      sheets.push(name);
      // The previous sheet's zip entry may still be finishing: this one opens after it; until then
      // rows wait in `buf` (drain() waits for it too).
      const path = `xl/worksheets/sheet${sheets.length}.xml`;
      let entry: ZipEntry | null = null;
      const ready = pending.then(() => { entry = zip.entry(path); });
      const n = spec.columns.length;
      const letters = Array.from({ length: Math.max(n, 1) }, (_, i) => colLetter(i + 1));
      const letter = (i: number): string => letters[i] ?? colLetter(i + 1);
      // A cell takes its column's number format (dates without one get a date-time format).
      const colStyle = spec.columns.map((c) => styles.id(c.numFmt, FONT_PLAIN, undefined, false));
      const dateStyle = spec.columns.map((c) => styles.id(c.numFmt ?? DEFAULT_DATE_FMT, FONT_PLAIN, undefined, false));
      const plainDate = styles.id(DEFAULT_DATE_FMT, FONT_PLAIN, undefined, false);
      let buf = '';
      let r = 0;
      const put = (s: string): void => { buf += s; if (entry && buf.length >= CHUNK) { entry.write(buf); buf = ''; } };
      const cols = spec.columns.map((c, i) => `<col min="${i + 1}" max="${i + 1}" width="${c.width}" customWidth="1"${colStyle[i] ? ` style="${colStyle[i]}"` : ''}/>`).join('');
      put(`${XML_HEAD}<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">`
        + `<sheetViews><sheetView workbookViewId="0"><pane ySplit="${FIRST_DATA_ROW - 1}" topLeftCell="A${FIRST_DATA_ROW}" activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft"/></sheetView></sheetViews>`
        + `<sheetFormatPr defaultRowHeight="15"/>${cols ? `<cols>${cols}</cols>` : ''}<sheetData>`);
      r++; put(`<row r="1">${cellXml('A1', spec.title, styles.id(undefined, FONT_TITLE, undefined, false))}</row>`);
      r++; put(`<row r="2">${cellXml('A2', spec.subtitle, 0)}</row>`);
      r++; put('<row r="3"/>');
      const headerStyle = styles.id(undefined, FONT_BOLD, HEADER_FILL, true);
      r++; put(`<row r="4">${spec.columns.map((c, i) => cellXml(`${letter(i)}4`, c.header, headerStyle)).join('')}</row>`);
      let ended = false;
      const end = (): void => {
        if (ended) return;
        ended = true;
        put('</sheetData></worksheet>');
        open = null;
        pending = ready.then(() => { entry!.write(buf); buf = ''; return entry!.end(); });
        pending.catch(() => undefined); // reported by finish(); not an unhandled rejection meanwhile
      };
      open = end;
      return {
        row(cells) {
          r++;
          let x = `<row r="${r}">`;
          for (let i = 0; i < cells.length; i++) {
            const c = cells[i]!;
            const ref = `${letter(i)}${r}`;
            if (isStyled(c)) {
              const fmt = c.numFmt ?? spec.columns[i]?.numFmt ?? (c.value instanceof Date ? DEFAULT_DATE_FMT : undefined);
              x += cellXml(ref, c.value, styles.id(fmt, c.bold ? FONT_BOLD : FONT_PLAIN, c.fill, false));
            } else if (c instanceof Date) x += cellXml(ref, c, i < n ? dateStyle[i]! : plainDate);
            else x += cellXml(ref, c, i < n ? colStyle[i]! : 0);
          }
          put(x + '</row>');
        },
        async drain() {
          await ready;
          if (buf) { entry!.write(buf); buf = ''; }
          await entry!.drain();
        },
        end,
      };
    },
    async finish() {
      open?.();
      await pending;
      const rels = sheets.map((_, i) => `<Relationship Id="rId${i + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet${i + 1}.xml"/>`).join('');
      await zip.file('xl/styles.xml', styles.xml());
      await zip.file('xl/workbook.xml', `${XML_HEAD}<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">`
        + `<bookViews><workbookView/></bookViews><sheets>${sheets.map((s, i) => `<sheet name="${esc(s)}" sheetId="${i + 1}" r:id="rId${i + 1}"/>`).join('')}</sheets></workbook>`);
      await zip.file('xl/_rels/workbook.xml.rels', `${XML_HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">${rels}`
        + `<Relationship Id="rId${sheets.length + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>`);
      await zip.file('_rels/.rels', `${XML_HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`
        + '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        + '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>');
      const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      await zip.file('docProps/core.xml', `${XML_HEAD}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`
        + `<dc:creator>Loyalty Button</dc:creator><dcterms:created xsi:type="dcterms:W3CDTF">${now}</dcterms:created></cp:coreProperties>`);
      await zip.file('[Content_Types].xml', `${XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">`
        + '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        + '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        + '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        + '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        + sheets.map((_, i) => `<Override PartName="/xl/worksheets/sheet${i + 1}.xml" ContentType="${CT_SHEET}"/>`).join('') + '</Types>');
      await zip.finish();
      // Like a piped archive, the workbook ends its output.
      if (!out.destroyed && !out.writableEnded) out.end();
    },
  };
}
