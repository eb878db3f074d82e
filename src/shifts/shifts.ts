// Shifts: who works at a touchpoint from when to when. A panel at a cash desk has no employee of its
// own; ingest (pipeline step `shift_employee`) gives each of its presses to the employee on shift
// there at the press's time. Rules, the same for the API and the CSV import:
// - a shift is [start, end): start inclusive, end exclusive, so at a handover instant the press
//   belongs to who starts; it lasts more than 0 and at most 24 hours;
// - one employee at a time per touchpoint (attribution must name one person), and an employee is
//   never on two shifts at once, anywhere;
// - attribution is fixed when a press is stored: adding, changing or deleting shifts later never
//   rewrites stored votes (like moving a device), it only applies to presses stored afterwards,
//   including presses a device buffered offline and delivers later.
import { sql, type Kysely } from 'kysely';
import type { Store } from '../store/db.ts';
import type { DB } from '../store/schema.ts';
import type { Refs } from '../store/refs.ts';
import { MAX_SHIFT_MS } from '../store/refs.ts';
import { newId } from '../domain/ids.ts';
import { AppError, invalidField, notFound } from '../domain/errors.ts';
import { parseTimestamp } from '../domain/time.ts';
import { requireInOrg } from '../orgs/orgs.ts';
import { localIso, parseShiftTime } from './time.ts';

export { MAX_SHIFT_MS };

export type Shift = {
  id: string; orgId: string;
  employeeId: string; employeeName: string;
  touchpointId: string; touchpointName: string;
  locationId: string | null; timezone: string | null;
  /** ISO-8601 UTC */
  start: string; end: string;
  /** "YYYY-MM-DDTHH:MM" in the location's zone; null when the touchpoint has no location. */
  localStart: string | null; localEnd: string | null;
};

/** One problem of a request, naming its field ("rows[12].start"). */
export type Problem = { code: 'invalid_field' | 'conflict'; field: string; message: string };

/** Several problems at once (a CSV import reports them all); the first one is the error's own. */
export class ShiftProblems extends AppError {
  readonly problems: Problem[];
  constructor(problems: Problem[]) {
    const first = problems[0]!;
    super(first.code, problems.length > 1 ? `${first.message} (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''}, see problems)` : first.message, first.field);
    this.problems = problems;
  }
  override toJSON(): { error: { code: AppError['code']; message: string; field?: string; problems: Problem[] } } {
    return { error: { ...super.toJSON().error, problems: this.problems } };
  }
}

/** A shift about to be stored, with what its messages need. */
export type Candidate = {
  employeeId: string; employeeName: string;
  touchpointId: string; touchpointName: string; locationId: string | null; timezone: string | null;
  start: number; end: number;
};

const DEFAULT_LIMIT = 1000;
export const MAX_LIST_LIMIT = 10_000;

export function checkLength(start: number, end: number, field: string): Problem | null {
  if (end <= start) return { code: 'invalid_field', field, message: `${field} must be after the start` };
  if (end - start > MAX_SHIFT_MS) {
    const min = Math.round((end - start) / 60_000);
    return { code: 'invalid_field', field, message: `a shift lasts at most ${MAX_SHIFT_MS / 3_600_000} hours; this one lasts ${Math.floor(min / 60)} h ${String(min % 60).padStart(2, '0')} min` };
  }
  return null;
}

function describe(s: { employeeName: string; touchpointName: string; timezone: string | null; start: number; end: number }): string {
  const at = (t: number): string => (s.timezone ? `${localIso(s.timezone, t).replace('T', ' ')} ${s.timezone}` : new Date(t).toISOString());
  return `${s.employeeName} at ${s.touchpointName} from ${at(s.start)} to ${at(s.end)}`;
}

type Existing = Candidate & { id: string };
/** How a request names candidate i: its fields, and the candidate itself in messages. */
export type Naming = { field(i: number, what: 'touchpoint' | 'employee'): string; label(i: number): string };

async function existingAround(db: Kysely<DB>, orgId: string, list: Candidate[]): Promise<Existing[]> {
  const from = Math.min(...list.map((c) => c.start));
  const to = Math.max(...list.map((c) => c.end));
  const tps = [...new Set(list.map((c) => c.touchpointId))];
  const emps = [...new Set(list.map((c) => c.employeeId))];
  const rows = await db.selectFrom('shifts')
    .innerJoin('employees', 'employees.id', 'shifts.employee_id')
    .innerJoin('touchpoints', 'touchpoints.id', 'shifts.touchpoint_id')
    .leftJoin('locations', 'locations.id', 'touchpoints.location_id')
    .select(['shifts.id', 'shifts.employee_id', 'shifts.touchpoint_id', 'shifts.starts_at', 'shifts.ends_at',
      'employees.name as employee_name', 'touchpoints.name as touchpoint_name', 'touchpoints.location_id', 'locations.timezone'])
    .where('shifts.org_id', '=', orgId)
    .where('shifts.starts_at', '<', to).where('shifts.starts_at', '>', from - MAX_SHIFT_MS).where('shifts.ends_at', '>', from)
    .where((eb) => eb.or([eb('shifts.touchpoint_id', 'in', tps), eb('shifts.employee_id', 'in', emps)]))
    .execute();
  return rows.map((r) => ({
    id: r.id, employeeId: r.employee_id, employeeName: r.employee_name, touchpointId: r.touchpoint_id, touchpointName: r.touchpoint_name,
    locationId: r.location_id, timezone: r.timezone, start: r.starts_at, end: r.ends_at,
  }));
}

/**
 * Overlaps of the candidates with stored shifts and with each other, at most one problem per
 * candidate, in candidate order. A sweep per touchpoint, then per employee: sorted by start, each
 * shift is compared with the one reaching furthest before it; of two overlapping candidates the
 * later-starting one is reported.
 */
function overlaps(list: Candidate[], existing: Existing[], naming: Naming): Problem[] {
  type Item = { s: Candidate; i: number | null; label: string };
  const found = new Map<number, Problem>();
  const sweep = (what: 'touchpoint' | 'employee', keyOf: (s: Candidate) => string, why: string): void => {
    const groups = new Map<string, Item[]>();
    const add = (item: Item): void => {
      const g = groups.get(keyOf(item.s));
      if (g) g.push(item);
      else groups.set(keyOf(item.s), [item]);
    };
    for (const s of existing) add({ s, i: null, label: `the stored shift ${s.id}` });
    for (const [i, s] of list.entries()) add({ s, i, label: naming.label(i) });
    for (const g of groups.values()) {
      g.sort((a, b) => a.s.start - b.s.start || (a.i ?? -1) - (b.i ?? -1));
      let reach: Item | undefined;
      for (const cur of g) {
        if (reach && cur.s.start < reach.s.end) {
          const [mine, other] = cur.i !== null ? [cur, reach] : [reach, cur];
          if (mine.i !== null && !found.has(mine.i)) {
            found.set(mine.i, { code: 'conflict', field: naming.field(mine.i, what), message: `${mine.label}: ${describe(mine.s)} overlaps ${other.label} (${describe(other.s)}): ${why}` });
          }
        }
        if (!reach || cur.s.end > reach.s.end) reach = cur;
      }
    }
  };
  sweep('touchpoint', (s) => s.touchpointId, 'one employee at a time is on shift at a touchpoint');
  sweep('employee', (s) => s.employeeId, 'an employee cannot be in two places at once');
  return [...found.entries()].sort(([a], [b]) => a - b).map(([, p]) => p);
}

/**
 * Stores the candidates, all or none, after checking they overlap nothing; with `dryRun`, checks
 * only. Concurrent writers of one organisation are serialised (an advisory lock on PostgreSQL;
 * SQLite has one writer), so two requests cannot both pass the check and then overlap.
 */
export async function storeShifts(
  store: Store, refs: Refs, orgId: string, list: Candidate[], naming: Naming, dryRun = false,
): Promise<Array<Candidate & { id: string | null }>> {
  if (!list.length) return [];
  const out = await store.db.transaction().execute(async (trx) => {
    if (store.dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(${`shifts:${orgId}`}))`.execute(trx);
    const problems = overlaps(list, await existingAround(trx, orgId, list), naming);
    if (problems.length) throw new ShiftProblems(problems.slice(0, 100));
    const withIds = list.map((c) => ({ ...c, id: dryRun ? null : newId('shf') }));
    if (dryRun) return withIds;
    const t = Date.now();
    for (let i = 0; i < withIds.length; i += 500) {
      await trx.insertInto('shifts').values(withIds.slice(i, i + 500).map((c) => ({
        id: c.id!, org_id: orgId, employee_id: c.employeeId, touchpoint_id: c.touchpointId, starts_at: c.start, ends_at: c.end, created_at: t,
      }))).execute();
    }
    return withIds;
  });
  if (!dryRun) for (const c of out) refs.invalidateShifts(c.touchpointId, c.start, c.end);
  return out;
}

/** A shift as answered; `id` is null for one a dry run would store. */
export type ShiftPreview = Omit<Shift, 'id'> & { id: string | null };

export function toShift(orgId: string, c: Candidate & { id: string | null }): ShiftPreview {
  return {
    id: c.id, orgId, employeeId: c.employeeId, employeeName: c.employeeName, touchpointId: c.touchpointId, touchpointName: c.touchpointName,
    locationId: c.locationId, timezone: c.timezone,
    start: new Date(c.start).toISOString(), end: new Date(c.end).toISOString(),
    localStart: c.timezone ? localIso(c.timezone, c.start) : null, localEnd: c.timezone ? localIso(c.timezone, c.end) : null,
  };
}

/** A touchpoint of the org with its location's zone (null without a location); the error names `field`. */
export async function touchpointWithZone(store: Store, orgId: string, id: string, field: string): Promise<{ id: string; name: string; locationId: string | null; timezone: string | null }> {
  await requireInOrg(store, 'touchpoints', orgId, id, field);
  const r = await store.db.selectFrom('touchpoints').leftJoin('locations', 'locations.id', 'touchpoints.location_id')
    .select(['touchpoints.id', 'touchpoints.name', 'touchpoints.location_id', 'locations.timezone']).where('touchpoints.id', '=', id).executeTakeFirstOrThrow();
  return { id: r.id, name: r.name, locationId: r.location_id, timezone: r.timezone };
}

export type NewShift = { employeeId: string; touchpointId: string; start: string | number; end: string | number };

/** One shift from the API; start and end are instants or local times in the touchpoint's zone. */
export async function createShift(store: Store, refs: Refs, orgId: string, body: NewShift): Promise<Shift> {
  const tp = await touchpointWithZone(store, orgId, body.touchpointId, 'touchpointId');
  await requireInOrg(store, 'employees', orgId, body.employeeId, 'employeeId');
  const emp = await store.db.selectFrom('employees').select('name').where('id', '=', body.employeeId).executeTakeFirstOrThrow();
  const start = parseShiftTime(body.start, tp.timezone, 'start');
  const end = parseShiftTime(body.end, tp.timezone, 'end');
  const bad = checkLength(start, end, 'end');
  if (bad) throw invalidField(bad.field, bad.message);
  const c: Candidate = { employeeId: body.employeeId, employeeName: emp.name, touchpointId: tp.id, touchpointName: tp.name, locationId: tp.locationId, timezone: tp.timezone, start, end };
  const [stored] = await storeShifts(store, refs, orgId, [c], { field: (_i, what) => `${what}Id`, label: () => 'the shift' });
  return toShift(orgId, stored!) as Shift;
}

export type ShiftFilter = {
  touchpointId?: string | undefined; employeeId?: string | undefined; locationId?: string | undefined;
  /** Shifts overlapping [from, to) */
  from?: number | undefined; to?: number | undefined;
  /** A manager's locations: only shifts at touchpoints placed there. */
  onlyLocations?: string[] | null | undefined;
};

function filtered(db: Kysely<DB>, orgId: string, f: ShiftFilter) {
  let q = db.selectFrom('shifts')
    .innerJoin('employees', 'employees.id', 'shifts.employee_id')
    .innerJoin('touchpoints', 'touchpoints.id', 'shifts.touchpoint_id')
    .leftJoin('locations', 'locations.id', 'touchpoints.location_id')
    .where('shifts.org_id', '=', orgId);
  if (f.touchpointId) q = q.where('shifts.touchpoint_id', '=', f.touchpointId);
  if (f.employeeId) q = q.where('shifts.employee_id', '=', f.employeeId);
  if (f.locationId) q = q.where('touchpoints.location_id', '=', f.locationId);
  if (f.from !== undefined) q = q.where('shifts.ends_at', '>', f.from);
  if (f.to !== undefined) q = q.where('shifts.starts_at', '<', f.to);
  if (f.onlyLocations) q = f.onlyLocations.length ? q.where('touchpoints.location_id', 'in', f.onlyLocations) : q.where(({ lit }) => lit(false));
  return q;
}

const encodeCursor = (start: number, id: string): string => Buffer.from(`${start}:${id}`).toString('base64url');
function decodeCursor(cursor: string): { start: number; id: string } {
  const m = /^(\d{1,16}):([\w-]{1,64})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw invalidField('cursor', 'cursor is not one this API returned');
  return { start: Number(m[1]), id: m[2]! };
}

/** Shifts ordered by start, a page at a time (`next` is the cursor of the following page). */
export async function listShifts(store: Store, orgId: string, f: ShiftFilter & { limit?: number | undefined; cursor?: string | undefined }): Promise<{ rows: Shift[]; next: string | null }> {
  const limit = f.limit ?? DEFAULT_LIMIT;
  let q = filtered(store.db, orgId, f)
    .select(['shifts.id', 'shifts.employee_id', 'shifts.touchpoint_id', 'shifts.starts_at', 'shifts.ends_at',
      'employees.name as employee_name', 'touchpoints.name as touchpoint_name', 'touchpoints.location_id', 'locations.timezone'])
    .orderBy('shifts.starts_at').orderBy('shifts.id').limit(limit + 1);
  if (f.cursor) {
    const c = decodeCursor(f.cursor);
    q = q.where((eb) => eb.or([eb('shifts.starts_at', '>', c.start), eb.and([eb('shifts.starts_at', '=', c.start), eb('shifts.id', '>', c.id)])]));
  }
  const rows = await q.execute();
  const page = rows.slice(0, limit).map((r) => toShift(orgId, {
    id: r.id, employeeId: r.employee_id, employeeName: r.employee_name, touchpointId: r.touchpoint_id, touchpointName: r.touchpoint_name,
    locationId: r.location_id, timezone: r.timezone, start: r.starts_at, end: r.ends_at,
  }) as Shift);
  const last = rows.length > limit ? rows[limit - 1] : undefined;
  return { rows: page, next: last ? encodeCursor(last.starts_at, last.id) : null };
}

/** Deletes one shift of this org; votes already stored keep the employee they were given. */
export async function deleteShift(store: Store, refs: Refs, orgId: string, id: string): Promise<void> {
  const row = await filtered(store.db, orgId, {}).select(['shifts.touchpoint_id', 'shifts.starts_at', 'shifts.ends_at']).where('shifts.id', '=', id).executeTakeFirst();
  if (!row) throw notFound('shift');
  await store.db.deleteFrom('shifts').where('id', '=', id).where('org_id', '=', orgId).execute();
  refs.invalidateShifts(row.touchpoint_id, row.starts_at, row.ends_at);
}

/** Deletes every shift overlapping [from, to) that matches the filter (e.g. a week before re-importing it). */
export async function deleteShifts(store: Store, refs: Refs, orgId: string, f: ShiftFilter & { from: number; to: number }): Promise<number> {
  const rows = await store.db.transaction().execute(async (trx) => {
    if (store.dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(${`shifts:${orgId}`}))`.execute(trx);
    const found = await filtered(trx, orgId, f).select(['shifts.id', 'shifts.touchpoint_id', 'shifts.starts_at', 'shifts.ends_at']).execute();
    for (let i = 0; i < found.length; i += 500) {
      await trx.deleteFrom('shifts').where('org_id', '=', orgId).where('id', 'in', found.slice(i, i + 500).map((r) => r.id)).execute();
    }
    return found;
  });
  for (const r of rows) refs.invalidateShifts(r.touchpoint_id, r.starts_at, r.ends_at);
  return rows.length;
}

/** A range bound of the list and delete routes: an instant (ISO-8601 with an offset, or epoch ms). */
export function parseBound(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  return parseTimestamp(/^\d+$/.test(value) ? Number(value) : value, field);
}
