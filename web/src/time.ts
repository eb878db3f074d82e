// Time in a location's own zone, with Intl only (the browser's zone never leaks into a figure).
const parts = new Map<string, Intl.DateTimeFormat>();

function partsIn(tz: string, ts: number): Record<string, string> {
  let f = parts.get(tz);
  if (!f) parts.set(tz, f = new Intl.DateTimeFormat('en-US', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', weekday: 'short', hourCycle: 'h23' }));
  return Object.fromEntries(f.formatToParts(new Date(ts)).map((p) => [p.type, p.value]));
}

/** The local date (YYYY-MM-DD) in `tz` at instant `ts`. */
export function dayIn(tz: string, ts = Date.now()): string {
  const p = partsIn(tz, ts);
  return `${p['year']}-${p['month']}-${p['day']}`;
}

const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];
export const WEEK_ORDER: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

export function clockIn(tz: string, ts = Date.now()): { weekday: Weekday; minutes: number } {
  const p = partsIn(tz, ts);
  return { weekday: (p['weekday'] ?? 'Mon').toLowerCase().slice(0, 3) as Weekday, minutes: Number(p['hour']) * 60 + Number(p['minute']) };
}

const toMin = (s: string): number => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));

/** Open now by the opening hours ({"mon":[["09:00","21:00"]]}); null when the location has none (always open). */
export function isOpen(hours: Record<string, string[][]> | null, tz: string, ts = Date.now()): boolean | null {
  if (!hours) return null;
  const { weekday, minutes } = clockIn(tz, ts);
  for (const [a, b] of hours[weekday] ?? []) {
    if (!a || !b) continue;
    const A = toMin(a);
    const B = toMin(b);
    if (B > A ? minutes >= A && minutes < B : minutes >= A) return true;
  }
  const yesterday = WEEKDAYS[(WEEKDAYS.indexOf(weekday) + 6) % 7]!;
  for (const [a, b] of hours[yesterday] ?? []) if (a && b && toMin(b) <= toMin(a) && minutes < toMin(b)) return true;
  return false;
}

const fmts = new Map<string, Intl.DateTimeFormat>();
function fmt(locale: string, opts: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = locale + JSON.stringify(opts);
  let f = fmts.get(key);
  if (!f) fmts.set(key, f = new Intl.DateTimeFormat(locale, opts));
  return f;
}

/** "14:05" in the zone. */
export const timeIn = (locale: string, tz: string, ts: number, seconds = false): string =>
  fmt(locale, { timeZone: tz, hour: '2-digit', minute: '2-digit', ...(seconds ? { second: '2-digit' } : {}), hourCycle: 'h23' }).format(ts);

/** The zone's short name at that instant: "GMT+3", "CET", "MSK" (locale-dependent). */
export function zoneName(locale: string, tz: string, ts = Date.now()): string {
  return fmt(locale, { timeZone: tz, timeZoneName: 'short' }).formatToParts(ts).find((p) => p.type === 'timeZoneName')?.value ?? tz;
}

/** The browser's own zone, for times that belong to no location ("updated at"). */
export const browserZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone;

/** A local date (YYYY-MM-DD) formatted for people, without any zone shift. */
export const formatDay = (locale: string, day: string, opts: Intl.DateTimeFormatOptions = { day: 'numeric', month: 'short' }): string =>
  fmt(locale, { ...opts, timeZone: 'UTC' }).format(Date.parse(`${day}T00:00:00Z`));
