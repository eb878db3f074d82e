// A schedule as a spreadsheet exports it: one shift per row, all of it stored or none of it.
//
//   employee,touchpoint,location,date,start,end
//   Anna,Cash desk,Main street,2026-11-20,09:00,17:00
//   Boris,Cash desk,Main street,2026-11-20,22:00,06:00      ← ends the next morning
//
// - employee, touchpoint (and the optional location, to tell apart touchpoints of the same name):
//   an id or an exact name (case and surrounding spaces ignored) of this organisation;
// - date is the local date the shift starts (YYYY-MM-DD); start and end are local HH:MM in the
//   zone of the touchpoint's location; an end not after the start is on the next day (a night
//   shift), "24:00" is the next midnight;
// - the delimiter is ",", ";" or a tab, whichever the header uses; a UTF-8 byte-order mark is
//   ignored; other columns are ignored and reported in `ignoredColumns`;
// - every problem is reported (up to 100), each naming its row and column: "rows[3].start" is the
//   fourth row after the header (line 5 of the file, said in the message).
import { parse } from 'csv-parse/sync';
import type { Store } from '../store/db.ts';
import type { Refs } from '../store/refs.ts';
import { AppError, invalidField } from '../domain/errors.ts';
import { addDays, parseDate } from '../domain/time.ts';
import { checkLength, ShiftProblems, storeShifts, toShift, type Candidate, type Problem, type ShiftPreview } from './shifts.ts';
import { instantOfLocal, parseClock } from './time.ts';

export const MAX_IMPORT_ROWS = 10_000;
const KNOWN = ['employee', 'touchpoint', 'location', 'date', 'start', 'end'] as const;
type Column = (typeof KNOWN)[number];
const REQUIRED: Column[] = ['employee', 'touchpoint', 'date', 'start', 'end'];

export type ImportResult = { dryRun: boolean; count: number; ignoredColumns: string[]; shifts: ShiftPreview[] };

const norm = (s: string): string => s.normalize('NFC').trim().replace(/\s+/g, ' ').toLowerCase();

/** The delimiter the header line uses most: ",", ";" or a tab. */
function delimiterOf(text: string): string {
  const header = text.replace(/^\uFEFF/, '').split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  const unquoted = header.replace(/"[^"]*"/g, '');
  let best = ',';
  let most = 0;
  for (const d of [',', ';', '\t']) {
    const n = unquoted.split(d).length - 1;
    if (n > most) { best = d; most = n; }
  }
  return best;
}

type Named = { id: string; name: string };
/** Rows by id and by normalised name. */
class Index<T extends Named> {
  readonly byId: Map<string, T>;
  readonly byName = new Map<string, T[]>();
  constructor(all: T[]) {
    this.byId = new Map(all.map((x) => [x.id, x]));
    for (const x of all) {
      const k = norm(x.name);
      const list = this.byName.get(k);
      if (list) list.push(x);
      else this.byName.set(k, [x]);
    }
  }
}
/** Finds a row by id, else by exact name (among those `keep` accepts); a message when none or several match. */
function resolve<T extends Named>(index: Index<T>, value: string, what: string, several: (found: T[]) => string, keep: (x: T) => boolean = () => true): T | string {
  const hit = index.byId.get(value);
  if (hit && keep(hit)) return hit;
  const found = (index.byName.get(norm(value)) ?? []).filter(keep);
  if (found.length === 1) return found[0]!;
  if (!found.length) return `no ${what} "${value}" in this organisation (give its id or exact name)`;
  return `"${value}" names ${found.length} ${what}s${several(found)}`;
}
const useId = (): string => ': use the id';

export async function importShifts(store: Store, refs: Refs, orgId: string, csv: string, opts: { dryRun: boolean }): Promise<ImportResult> {
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parse(csv, {
      bom: true, info: true, delimiter: delimiterOf(csv), skip_empty_lines: true, relax_column_count: true, trim: true,
    }) as unknown as typeof records;
  } catch (e) {
    const err = e as Error & { lines?: number };
    throw invalidField('csv', `the CSV cannot be read${err.lines ? ` at line ${err.lines}` : ''}: ${err.message}`);
  }
  const [head, ...rows] = records;
  if (!head) throw invalidField('csv', 'the CSV is empty: the first line names the columns employee, touchpoint, date, start, end (and optionally location)');
  const col = new Map<Column, number>();
  const ignoredColumns: string[] = [];
  for (const [i, raw] of head.record.entries()) {
    const name = norm(raw) as Column;
    if (!(KNOWN as readonly string[]).includes(name)) { ignoredColumns.push(raw); continue; }
    if (col.has(name)) throw invalidField(`header.${name}`, `the column "${name}" appears twice in the header`);
    col.set(name, i);
  }
  const missing = REQUIRED.filter((c) => !col.has(c));
  if (missing.length) {
    throw invalidField(`header.${missing[0]}`, `the header lacks the column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c}"`).join(', ')}; it has ${head.record.map((c) => `"${c}"`).join(', ')} (columns: employee, touchpoint, location?, date, start, end)`);
  }
  if (!rows.length) throw invalidField('csv', 'the CSV has a header but no rows');
  if (rows.length > MAX_IMPORT_ROWS) throw invalidField('csv', `at most ${MAX_IMPORT_ROWS} rows per import; this one has ${rows.length}`);

  const employees = await store.db.selectFrom('employees').select(['id', 'name']).where('org_id', '=', orgId).execute();
  const locations = await store.db.selectFrom('locations').select(['id', 'name', 'timezone']).where('org_id', '=', orgId).execute();
  const touchpoints = await store.db.selectFrom('touchpoints').select(['id', 'name', 'location_id']).where('org_id', '=', orgId).execute();
  const empIndex = new Index(employees);
  const locIndex = new Index(locations);
  const tpIndex = new Index(touchpoints);
  const locById = locIndex.byId;
  const locName = (id: string | null): string => (id ? locById.get(id)?.name ?? id : 'no location');

  const problems: Problem[] = [];
  const candidates: Candidate[] = [];
  const lines: number[] = [];
  for (const [i, { record, info }] of rows.entries()) {
    const at = `line ${info.lines}`;
    const bad = (column: Column, message: string): void => { problems.push({ code: 'invalid_field', field: `rows[${i}].${column}`, message: `rows[${i}].${column} (${at}): ${message}` }); };
    if (record.length > head.record.length) {
      problems.push({ code: 'invalid_field', field: `rows[${i}]`, message: `rows[${i}] (${at}) has ${record.length} values but the header names ${head.record.length} columns` });
      continue;
    }
    const get = (c: Column): string => { const k = col.get(c); return k === undefined ? '' : record[k] ?? ''; };
    const required = (c: Column): string | null => { const v = get(c); if (v === '') { bad(c, 'is empty'); return null; } return v; };
    const before = problems.length;

    const empValue = required('employee');
    const emp = empValue === null ? null : resolve(empIndex, empValue, 'employee', useId);
    if (typeof emp === 'string') bad('employee', emp);

    let loc: (typeof locations)[number] | null = null;
    const locValue = get('location');
    if (locValue !== '') {
      const r = resolve(locIndex, locValue, 'location', useId);
      if (typeof r === 'string') bad('location', r);
      else loc = r;
    }
    const tpValue = required('touchpoint');
    let tp: (typeof touchpoints)[number] | null = null;
    if (tpValue !== null && !(locValue !== '' && !loc)) {
      const byId = tpIndex.byId.get(tpValue);
      const r = byId && loc && byId.location_id !== loc.id
        ? `touchpoint ${tpValue} is at ${locName(byId.location_id)}, not at ${loc.name}`
        : resolve(tpIndex, tpValue, 'touchpoint',
          (found) => loc
            ? ` at ${loc.name}: use the id`
            : ` (at ${found.map((t) => locName(t.location_id)).sort().join(', ')}): add a location column, or use the id`,
          (t) => !loc || t.location_id === loc.id);
      if (typeof r === 'string') bad('touchpoint', r);
      else tp = r;
    }
    const zone = tp?.location_id ? locById.get(tp.location_id)?.timezone ?? null : null;
    if (tp && !zone) bad('touchpoint', `touchpoint "${tp.name}" belongs to no location, so its local times have no time zone: place it at a location first, or create its shifts through the API with offsets`);

    let date: string | null = null;
    const dateValue = required('date');
    if (dateValue !== null) {
      try { date = parseDate(dateValue, `rows[${i}].date`); } catch (e) { bad('date', `"${dateValue}" ${(e as AppError).message.replace(/^rows\[\d+\]\.date /, '')}`); }
    }
    const startValue = required('start');
    const start = startValue === null ? null : parseClock(startValue, false);
    if (startValue !== null && start === null) bad('start', `"${startValue}" is not a time of day HH:MM (00:00 to 23:59)`);
    const endValue = required('end');
    const end = endValue === null ? null : parseClock(endValue, true);
    if (endValue !== null && end === null) bad('end', `"${endValue}" is not a time of day HH:MM (00:00 to 24:00)`);

    if (problems.length > before || !emp || typeof emp === 'string' || !tp || !zone || date === null || start === null || end === null) continue;
    const startTs = instantOfLocal(zone, date, start);
    const endTs = end <= start ? instantOfLocal(zone, addDays(date, 1), end) : instantOfLocal(zone, date, end);
    const length = checkLength(startTs, endTs, `rows[${i}].end`);
    if (length) { bad('end', length.message); continue; }
    candidates.push({ employeeId: emp.id, employeeName: emp.name, touchpointId: tp.id, touchpointName: tp.name, locationId: tp.location_id, timezone: zone, start: startTs, end: endTs });
    lines.push(i);
    if (problems.length >= 100) break;
  }
  if (problems.length) throw new ShiftProblems(problems.slice(0, 100));

  const rowOf = (k: number): number => lines[k]!;
  const stored = await storeShifts(store, refs, orgId, candidates, {
    field: (k, what) => `rows[${rowOf(k)}].${what}`,
    label: (k) => `rows[${rowOf(k)}] (line ${rows[rowOf(k)]!.info.lines})`,
  }, opts.dryRun);
  return { dryRun: opts.dryRun, count: stored.length, ignoredColumns, shifts: stored.map((c) => toShift(orgId, c)) };
}
