// Local-time arithmetic for locations. Days and hours in scores are those of each location's own
// IANA zone (PROTOCOL.md §4), so every vote is bucketed at ingest by its location's zone.
// The platform's Intl time-zone database does the zone rules (DST, half-hour offsets).
import { invalidField } from './errors.ts';
import { WEEKDAYS, type Weekday, type OpeningHours } from './types.ts';

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz, hourCycle: 'h23',
      year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    formatters.set(tz, f);
  }
  return f;
}

// IANA names only ("Europe/Berlin", "UTC"): Intl also takes raw offsets like "+03:00", but a
// fixed offset silently ignores DST and would bucket half the year an hour off.
const IANA_NAME = /^(?:UTC|[A-Za-z]+(?:\/[A-Za-z0-9_+-]+)+)$/;
export function isValidTimeZone(tz: string): boolean {
  if (!tz || tz.length > 64 || !IANA_NAME.test(tz)) return false;
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

const QUARTER_HOUR = 15 * 60_000;
// Offsets only change on quarter-hour boundaries (all modern zone rules), so one Intl call per
// zone per quarter hour is enough; ingest of a 1000-vote buffer costs a handful of calls.
const offsetCache = new Map<string, number>();

/** Offset of `tz` from UTC at instant `ts`, in milliseconds (local = utc + offset). */
export function zoneOffset(tz: string, ts: number): number {
  const block = Math.floor(ts / QUARTER_HOUR);
  const key = `${tz}|${block}`;
  const hit = offsetCache.get(key);
  if (hit !== undefined) return hit;
  const parts = formatter(tz).formatToParts(new Date(block * QUARTER_HOUR));
  const get = (type: string): number => Number(parts.find((p) => p.type === type)!.value);
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  const offset = wall - block * QUARTER_HOUR;
  if (offsetCache.size > 500_000) offsetCache.clear(); // ~50 MB at most
  offsetCache.set(key, offset);
  return offset;
}

export type LocalParts = { day: string; hour: number; month: string; weekday: Weekday; minuteOfDay: number };

/** The local calendar day ("YYYY-MM-DD"), hour 0–23 and month ("YYYY-MM") of instant `ts` in `tz`. */
export function localParts(tz: string, ts: number): LocalParts {
  const d = new Date(ts + zoneOffset(tz, ts));
  const day = d.toISOString().slice(0, 10);
  return {
    day,
    month: day.slice(0, 7),
    hour: d.getUTCHours(),
    weekday: WEEKDAYS[(d.getUTCDay() + 6) % 7]!,
    minuteOfDay: d.getUTCHours() * 60 + d.getUTCMinutes(),
  };
}

/** Weekday of a calendar date "YYYY-MM-DD" (no zone involved: the date is already local). */
export function weekdayOf(day: string): Weekday {
  return WEEKDAYS[(new Date(`${day}T00:00:00Z`).getUTCDay() + 6) % 7]!;
}

export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}

/** The calendar date that is "today" in `tz` at instant `now`. */
export function todayIn(tz: string, now = Date.now()): string {
  return localParts(tz, now).day;
}

// The range of instants and dates the system accepts. Anything outside is a broken clock or a
// typo; bounding it keeps every date computation (and the database's integer columns) in range.
export const EARLIEST_TS = Date.UTC(2000, 0, 1);
export const LATEST_TS = Date.UTC(2200, 0, 1) - 1;
export const EARLIEST_DATE = '2000-01-01';
export const LATEST_DATE = '2199-12-31';

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
export function parseDate(value: string, field: string): string {
  if (!DATE_RE.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`)) ||
      new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) !== value) {
    throw invalidField(field, `${field} must be a calendar date YYYY-MM-DD`);
  }
  if (value < EARLIEST_DATE || value > LATEST_DATE) throw invalidField(field, `${field} must be between ${EARLIEST_DATE} and ${LATEST_DATE}`);
  return value;
}

/** Longest range a query may span (about ten years): keeps every answer bounded. */
export const MAX_RANGE_DAYS = 3700;

/** A query's inclusive local date range, each end checked and named in the error. */
export function parseDateRange(q: { from: string; to: string }): { from: string; to: string } {
  const from = parseDate(q.from, 'from');
  const to = parseDate(q.to, 'to');
  if (from > to) throw invalidField('from', 'from must not be after to');
  if ((Date.parse(to) - Date.parse(from)) / 86_400_000 > MAX_RANGE_DAYS) throw invalidField('to', `a range may span at most ${MAX_RANGE_DAYS} days`);
  return { from, to };
}

// ISO-8601 with a mandatory offset (a device's local wall time without offset is ambiguous).
const ISO_WITH_OFFSET = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** Parses a timestamp as the protocol accepts it: ISO-8601 with an offset, or epoch milliseconds. */
export function parseTimestamp(value: unknown, field: string): number {
  let ts: number;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw invalidField(field, `${field} must be integer epoch milliseconds or ISO-8601 with an offset`);
    ts = value;
  } else if (typeof value === 'string') {
    const m = ISO_WITH_OFFSET.exec(value);
    if (!m) throw invalidField(field, `${field} must be ISO-8601 with an offset (e.g. 2026-11-20T12:03:55+03:00) or epoch milliseconds`);
    ts = Date.parse(value.replace(' ', 'T'));
    const [, y, mo, d, h, mi, s] = m;
    if (Number.isNaN(ts) || Number(mo) < 1 || Number(mo) > 12 || Number(d) > new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate() ||
        Number(h) > 23 || Number(mi) > 59 || Number(s ?? 0) > 59) {
      throw invalidField(field, `${field} is not a valid date and time`);
    }
  } else {
    throw invalidField(field, `${field} must be ISO-8601 with an offset or epoch milliseconds`);
  }
  if (ts < EARLIEST_TS) throw invalidField(field, `${field} is before 2000-01-01: is the device clock set?`);
  if (ts > LATEST_TS) throw invalidField(field, `${field} is after ${LATEST_DATE}: is the device clock set?`);
  return ts;
}

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$|^24:00$/;
/** Validates opening hours; intervals may cross midnight ("22:00"–"02:00"). */
export function validateOpeningHours(value: unknown, field: string): OpeningHours {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidField(field, `${field} must be an object keyed by weekday`);
  const out: OpeningHours = {};
  for (const [k, intervals] of Object.entries(value)) {
    if (!(WEEKDAYS as readonly string[]).includes(k)) throw invalidField(`${field}.${k}`, `unknown weekday "${k}" (use ${WEEKDAYS.join(', ')})`);
    if (!Array.isArray(intervals)) throw invalidField(`${field}.${k}`, 'must be a list of ["HH:MM","HH:MM"] intervals');
    out[k as Weekday] = intervals.map((iv: unknown, i: number) => {
      const f = `${field}.${k}[${i}]`;
      if (!Array.isArray(iv) || iv.length !== 2 || typeof iv[0] !== 'string' || typeof iv[1] !== 'string' || !HHMM.test(iv[0]) || !HHMM.test(iv[1])) {
        throw invalidField(f, 'must be ["HH:MM","HH:MM"]');
      }
      if (iv[0] === iv[1]) throw invalidField(f, 'an interval must not be empty');
      return [iv[0], iv[1]] as [string, string];
    });
  }
  return out;
}
