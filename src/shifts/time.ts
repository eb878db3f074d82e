// Wall-clock times of a schedule ("Friday 22:00 to 06:00 at the Berlin café") turned into instants
// with the location's IANA zone, and back. The zone rules come from the platform's Intl database
// through domain/time.ts (zoneOffset, localParts).
import { invalidField } from '../domain/errors.ts';
import { EARLIEST_TS, LATEST_TS, parseDate, parseTimestamp, zoneOffset } from '../domain/time.ts';

const DAY_MS = 86_400_000;

/**
 * The instant at which clocks in `tz` show `day` (YYYY-MM-DD) `minuteOfDay` (0 … 1440; 1440 is the
 * next midnight). Like Temporal's "compatible" disambiguation: a wall time that happens twice (the
 * hour repeated when DST ends) is its first occurrence; a wall time that never happens (skipped
 * when DST starts) is moved forward by the gap (02:30 on a spring-forward night is 03:30).
 */
export function instantOfLocal(tz: string, day: string, minuteOfDay: number): number {
  const wall = Date.parse(`${day}T00:00:00Z`) + minuteOfDay * 60_000;
  // At most one transition lies within a day of any wall time in every real zone.
  const before = zoneOffset(tz, wall - DAY_MS);
  const after = zoneOffset(tz, wall + DAY_MS);
  const candidates = [wall - before, wall - after].filter((t) => t + zoneOffset(tz, t) === wall).sort((a, b) => a - b);
  return candidates[0] ?? wall - before;
}

/** "YYYY-MM-DDTHH:MM" as clocks in `tz` show instant `ts`. */
export function localIso(tz: string, ts: number): string {
  return new Date(ts + zoneOffset(tz, ts)).toISOString().slice(0, 16);
}

const LOCAL_DATE_TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/;
const HAS_OFFSET = /(Z|[+-]\d{2}:?\d{2})$/i;

/**
 * A shift boundary as the API accepts it: an instant (ISO-8601 with an offset, or epoch
 * milliseconds), or a local wall time "YYYY-MM-DDTHH:MM[:SS]" read in `tz`, the zone of the
 * touchpoint's location (null when the touchpoint has none: then only instants are accepted).
 */
export function parseShiftTime(value: unknown, tz: string | null, field: string): number {
  if (typeof value === 'string' && !HAS_OFFSET.test(value)) {
    const m = LOCAL_DATE_TIME.exec(value);
    if (!m) throw invalidField(field, `${field} must be a local time like 2026-11-20T09:00 (in the location's zone), ISO-8601 with an offset, or epoch milliseconds`);
    if (!tz) throw invalidField(field, `${field} is a local time, but this touchpoint belongs to no location whose time zone could place it: give an offset (e.g. 2026-11-20T09:00+03:00)`);
    const [, day, h, mi, s] = m;
    parseDate(day!, field);
    if (Number(h) > 23 || Number(mi) > 59 || Number(s ?? 0) > 59) throw invalidField(field, `${field} is not a valid time of day`);
    const ts = instantOfLocal(tz, day!, Number(h) * 60 + Number(mi)) + Number(s ?? 0) * 1000;
    if (ts < EARLIEST_TS || ts > LATEST_TS) throw invalidField(field, `${field} is out of range`);
    return ts;
  }
  return parseTimestamp(value, field);
}

const HH_MM = /^(\d{1,2}):(\d{2})$/;
/** "9:00", "09:00", "24:00" (only where `allow24`) → minute of day; null when malformed. */
export function parseClock(value: string, allow24: boolean): number | null {
  const m = HH_MM.exec(value.trim());
  if (!m) return null;
  const h = Number(m[1]);
  const mi = Number(m[2]);
  if (mi > 59) return null;
  if (h === 24 && mi === 0 && allow24) return 1440;
  if (h > 23) return null;
  return h * 60 + mi;
}
