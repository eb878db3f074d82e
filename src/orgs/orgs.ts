// Partners, organisations and what an organisation is made of: locations, touchpoints, employees,
// and its scoring settings.
import type { Kysely, Transaction } from 'kysely';
import type { Store } from '../store/db.ts';
import type { DB } from '../store/schema.ts';
import { newId } from '../domain/ids.ts';
import { conflict, invalidField, notFound } from '../domain/errors.ts';
import { isValidTimeZone, validateOpeningHours } from '../domain/time.ts';
import type { OpeningHours } from '../domain/types.ts';
import { DEFAULT_SCORING, type ScoringSettings } from '../domain/wilson.ts';

const now = (): number => Date.now();

export async function createPartner(store: Store, name: string): Promise<{ id: string; name: string }> {
  const row = { id: newId('ptr'), name, created_at: now() };
  await store.db.insertInto('partners').values(row).execute();
  return { id: row.id, name };
}

export async function partnerExists(store: Store, id: string): Promise<boolean> {
  return !!(await store.db.selectFrom('partners').select('id').where('id', '=', id).executeTakeFirst());
}

export async function createOrg(store: Store, name: string, partnerId: string | null): Promise<{ id: string; name: string; partnerId: string | null }> {
  const row = { id: newId('org'), name, partner_id: partnerId, settings: '{}', created_at: now() };
  await store.db.insertInto('orgs').values(row).execute();
  return { id: row.id, name, partnerId };
}

export async function listOrgs(store: Store, filter: { partnerId?: string; orgId?: string } = {}): Promise<Array<{ id: string; name: string; partnerId: string | null }>> {
  let q = store.db.selectFrom('orgs').select(['id', 'name', 'partner_id']).orderBy('name');
  if (filter.partnerId) q = q.where('partner_id', '=', filter.partnerId);
  if (filter.orgId) q = q.where('id', '=', filter.orgId);
  return (await q.execute()).map((o) => ({ id: o.id, name: o.name, partnerId: o.partner_id }));
}

/** archivedAt: hidden from lists and pickers, kept (with its votes) for history; null = in use. */
export type Location = { id: string; orgId: string; name: string; timezone: string; openingHours: OpeningHours | null; archivedAt: string | null };
const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

export async function createLocation(store: Store, orgId: string, body: { name: string; timezone: string; openingHours?: unknown }): Promise<Location> {
  if (!isValidTimeZone(body.timezone)) throw invalidField('timezone', `"${body.timezone}" is not an IANA time zone (e.g. Europe/Moscow)`);
  const openingHours = body.openingHours === undefined || body.openingHours === null ? null : validateOpeningHours(body.openingHours, 'openingHours');
  const loc: Location = { id: newId('loc'), orgId, name: body.name, timezone: body.timezone, openingHours, archivedAt: null };
  await store.db.insertInto('locations').values({
    id: loc.id, org_id: orgId, name: loc.name, timezone: loc.timezone,
    opening_hours: openingHours ? JSON.stringify(openingHours) : null, created_at: now(),
  }).execute();
  return loc;
}

/** Locations in use; with `archived` also the archived ones; with `only` (a manager's) just those. */
export async function listLocations(store: Store, orgId: string, only: string[] | null = null, archived = false): Promise<Location[]> {
  let q = store.db.selectFrom('locations').selectAll().where('org_id', '=', orgId).orderBy('name');
  if (only) q = only.length ? q.where('id', 'in', only) : q.where(({ lit }) => lit(false));
  if (!archived) q = q.where('archived_at', 'is', null);
  return (await q.execute()).map(locationOf);
}

type LocationRow = { id: string; org_id: string; name: string; timezone: string; opening_hours: string | null; archived_at: number | null };
const locationOf = (r: LocationRow): Location => ({
  id: r.id, orgId: r.org_id, name: r.name, timezone: r.timezone,
  openingHours: r.opening_hours ? (JSON.parse(r.opening_hours) as OpeningHours) : null, archivedAt: iso(r.archived_at),
});

/**
 * Checks that an id refers to a row of this org that is in use (not archived: nothing new is
 * placed at an archived location or scheduled for a deactivated employee); the error names the field.
 */
export async function requireInOrg(store: Store, table: 'locations' | 'touchpoints' | 'employees' | 'devices', orgId: string, id: string, field: string): Promise<void> {
  const what = table.slice(0, -1);
  if (table === 'devices') {
    const row = await store.db.selectFrom(table).select('id').where('id', '=', id).where('org_id', '=', orgId).executeTakeFirst();
    if (!row) throw invalidField(field, `${field} ${id} is not a ${what} of this organisation`);
    return;
  }
  const row = await store.db.selectFrom(table).select(['id', 'archived_at']).where('id', '=', id).where('org_id', '=', orgId).executeTakeFirst();
  if (!row) throw invalidField(field, `${field} ${id} is not a ${what} of this organisation`);
  if (row.archived_at !== null) throw invalidField(field, `${field} ${id} is ${table === 'employees' ? 'deactivated' : 'archived'}`);
}

export type Touchpoint = { id: string; orgId: string; name: string; locationId: string | null; channel: string | null; archivedAt: string | null };

export async function createTouchpoint(store: Store, orgId: string, body: { name: string; locationId?: string | undefined; channel?: string | undefined }): Promise<Touchpoint> {
  if (body.locationId) await requireInOrg(store, 'locations', orgId, body.locationId, 'locationId');
  const tp: Touchpoint = { id: newId('tp'), orgId, name: body.name, locationId: body.locationId ?? null, channel: body.channel ?? null, archivedAt: null };
  await store.db.insertInto('touchpoints').values({ id: tp.id, org_id: orgId, name: tp.name, location_id: tp.locationId, channel: tp.channel, created_at: now() }).execute();
  return tp;
}

/** Touchpoints; with `only` (a manager's locations) just those placed in these locations. */
export async function listTouchpoints(store: Store, orgId: string, only: string[] | null = null, archived = false): Promise<Touchpoint[]> {
  let q = store.db.selectFrom('touchpoints').selectAll().where('org_id', '=', orgId).orderBy('name');
  if (only) q = only.length ? q.where('location_id', 'in', only) : q.where(({ lit }) => lit(false));
  if (!archived) q = q.where('archived_at', 'is', null);
  return (await q.execute()).map(touchpointOf);
}

type TouchpointRow = { id: string; org_id: string; name: string; location_id: string | null; channel: string | null; archived_at: number | null };
const touchpointOf = (r: TouchpointRow): Touchpoint => ({ id: r.id, orgId: r.org_id, name: r.name, locationId: r.location_id, channel: r.channel, archivedAt: iso(r.archived_at) });

/** active false: deactivated (left the team); kept with their votes and shifts. */
export type Employee = { id: string; orgId: string; name: string; active: boolean };

export async function createEmployee(store: Store, orgId: string, name: string): Promise<Employee> {
  const e = { id: newId('emp'), orgId, name, active: true };
  await store.db.insertInto('employees').values({ id: e.id, org_id: orgId, name, created_at: now() }).execute();
  return e;
}

/** Active employees; with `inactive` the deactivated ones too (rankings and history still name them). */
export async function listEmployees(store: Store, orgId: string, inactive = false): Promise<Employee[]> {
  let q = store.db.selectFrom('employees').selectAll().where('org_id', '=', orgId).orderBy('name');
  if (!inactive) q = q.where('archived_at', 'is', null);
  return (await q.execute()).map(employeeOf);
}
const employeeOf = (r: { id: string; org_id: string; name: string; archived_at: number | null }): Employee => ({ id: r.id, orgId: r.org_id, name: r.name, active: r.archived_at === null });

export function scoringOf(settingsJson: string): ScoringSettings {
  const s = JSON.parse(settingsJson) as { scoring?: Partial<ScoringSettings> };
  return { ...DEFAULT_SCORING, ...(s.scoring ?? {}) };
}

/** Sets the scoring; with an actor the change is audited (entity "scoring"), as it recolours every score. */
export async function setScoring(store: Store, orgId: string, input: { minSample?: number | undefined; thresholds?: number[] | undefined }, actor?: Actor): Promise<ScoringSettings> {
  const org = await store.db.selectFrom('orgs').select('settings').where('id', '=', orgId).executeTakeFirst();
  if (!org) throw notFound('organisation');
  const current = scoringOf(org.settings);
  const next: ScoringSettings = { ...current };
  if (input.minSample !== undefined) next.minSample = input.minSample;
  if (input.thresholds !== undefined) {
    const t = input.thresholds;
    if (t.length !== 4 || t.some((x, i) => x < 0 || x > 1 || (i > 0 && x < t[i - 1]!))) {
      throw invalidField('thresholds', 'thresholds must be 4 shares between 0 and 1, non-decreasing: the lowest share for scores 2, 3, 4 and 5');
    }
    next.thresholds = [t[0]!, t[1]!, t[2]!, t[3]!];
  }
  const settings = { ...(JSON.parse(org.settings) as object), scoring: next };
  await store.db.transaction().execute(async (trx) => {
    await trx.updateTable('orgs').set({ settings: JSON.stringify(settings) }).where('id', '=', orgId).execute();
    if (actor) await audit(trx, orgId, actor, 'scoring', orgId, 'update', current, next);
  });
  return next;
}

// ---- Changes to the structure, each audited (who, when, what before and after, why)

type Exec = Kysely<DB> | Transaction<DB>;
export type Actor = { userId: string | null; reason?: string | undefined };

async function audit(trx: Exec, orgId: string, actor: Actor, entity: string, entityId: string, action: string, before: unknown, after: unknown): Promise<void> {
  await trx.insertInto('org_audit').values({
    id: newId('aud'), org_id: orgId, user_id: actor.userId, at: now(), entity, entity_id: entityId, action,
    reason: actor.reason ?? null, before: JSON.stringify(before), after: JSON.stringify(after),
  }).execute();
}

/** Devices standing at a location (or touchpoint) now or from a later moment on. */
async function placedDevices(store: Store, column: 'location_id' | 'touchpoint_id', id: string): Promise<number> {
  const r = await store.db.selectFrom('device_assignments').innerJoin('devices', 'devices.id', 'device_assignments.device_id')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where(`device_assignments.${column}`, '=', id).where('devices.retired_at', 'is', null)
    .where((eb) => eb.or([eb('device_assignments.valid_to', 'is', null), eb('device_assignments.valid_to', '>', now())]))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

const actionOf = (was: number | null, archive: boolean | undefined, words: [string, string]): string =>
  archive === true && was === null ? words[0] : archive === false && was !== null ? words[1] : 'update';

export type LocationPatch = { name?: string | undefined; timezone?: string | undefined; openingHours?: unknown; archived?: boolean | undefined };

/**
 * Changes a location. Everything is checked before anything is written; the zone and hours apply
 * to presses stored from now on (stored presses keep the local day and hour they were given).
 * Archiving is refused while devices stand there: they would keep voting into a hidden place.
 */
export async function updateLocation(store: Store, orgId: string, id: string, patch: LocationPatch, actor: Actor): Promise<Location> {
  const row = await store.db.selectFrom('locations').selectAll().where('id', '=', id).where('org_id', '=', orgId).executeTakeFirst();
  if (!row) throw notFound('location');
  const next = { name: row.name, timezone: row.timezone, opening_hours: row.opening_hours, archived_at: row.archived_at };
  if (patch.name !== undefined) next.name = patch.name;
  if (patch.timezone !== undefined) {
    if (!isValidTimeZone(patch.timezone)) throw invalidField('timezone', `"${patch.timezone}" is not an IANA time zone (e.g. Europe/Moscow)`);
    next.timezone = patch.timezone;
  }
  if (patch.openingHours !== undefined) next.opening_hours = patch.openingHours === null ? null : JSON.stringify(validateOpeningHours(patch.openingHours, 'openingHours'));
  if (patch.archived === true && row.archived_at === null) {
    const n = await placedDevices(store, 'location_id', id);
    if (n) throw conflict(`${n} device(s) stand at this location; move or retire them before archiving it`, 'archived');
    next.archived_at = now();
  } else if (patch.archived === false) next.archived_at = null;
  const before = locationOf(row);
  const after = locationOf({ ...row, ...next });
  await store.db.transaction().execute(async (trx) => {
    await trx.updateTable('locations').set(next).where('id', '=', id).execute();
    await audit(trx, orgId, actor, 'location', id, actionOf(row.archived_at, patch.archived, ['archive', 'restore']), before, after);
  });
  return after;
}

export type TouchpointPatch = { name?: string | undefined; locationId?: string | null | undefined; channel?: string | null | undefined; archived?: boolean | undefined };

/**
 * Changes a touchpoint. Moving it to another location, or archiving it, is refused while devices
 * stand at it: their placement names the location too (move the devices first).
 */
export async function updateTouchpoint(store: Store, orgId: string, id: string, patch: TouchpointPatch, actor: Actor): Promise<Touchpoint> {
  const row = await store.db.selectFrom('touchpoints').selectAll().where('id', '=', id).where('org_id', '=', orgId).executeTakeFirst();
  if (!row) throw notFound('touchpoint');
  const next = { name: row.name, location_id: row.location_id, channel: row.channel, archived_at: row.archived_at };
  if (patch.name !== undefined) next.name = patch.name;
  if (patch.channel !== undefined) next.channel = patch.channel === null || patch.channel.trim() === '' ? null : patch.channel.trim();
  if (patch.locationId !== undefined && patch.locationId !== row.location_id) {
    if (patch.locationId !== null) await requireInOrg(store, 'locations', orgId, patch.locationId, 'locationId');
    const n = await placedDevices(store, 'touchpoint_id', id);
    if (n) throw conflict(`${n} device(s) stand at this touchpoint; move them before moving it to another location`, 'locationId');
    next.location_id = patch.locationId;
  }
  if (patch.archived === true && row.archived_at === null) {
    const n = await placedDevices(store, 'touchpoint_id', id);
    if (n) throw conflict(`${n} device(s) stand at this touchpoint; move or retire them before archiving it`, 'archived');
    next.archived_at = now();
  } else if (patch.archived === false) next.archived_at = null;
  const before = touchpointOf(row);
  const after = touchpointOf({ ...row, ...next });
  await store.db.transaction().execute(async (trx) => {
    await trx.updateTable('touchpoints').set(next).where('id', '=', id).execute();
    await audit(trx, orgId, actor, 'touchpoint', id, actionOf(row.archived_at, patch.archived, ['archive', 'restore']), before, after);
  });
  return after;
}

/** Renames or (de)activates an employee; a deactivated one keeps their votes and past shifts. */
export async function updateEmployee(store: Store, orgId: string, id: string, patch: { name?: string | undefined; active?: boolean | undefined }, actor: Actor): Promise<Employee> {
  const row = await store.db.selectFrom('employees').selectAll().where('id', '=', id).where('org_id', '=', orgId).executeTakeFirst();
  if (!row) throw notFound('employee');
  const next = { name: patch.name ?? row.name, archived_at: patch.active === false ? row.archived_at ?? now() : patch.active === true ? null : row.archived_at };
  const before = employeeOf(row);
  const after = employeeOf({ ...row, ...next });
  await store.db.transaction().execute(async (trx) => {
    await trx.updateTable('employees').set(next).where('id', '=', id).execute();
    await audit(trx, orgId, actor, 'employee', id, actionOf(row.archived_at, patch.active === undefined ? undefined : !patch.active, ['deactivate', 'activate']), before, after);
  });
  return after;
}

export type AuditEntry = { id: string; at: string; userId: string | null; entity: string; entityId: string; action: string; reason: string | null; before: unknown; after: unknown };

export async function orgAudit(store: Store, orgId: string, limit = 100): Promise<AuditEntry[]> {
  const rows = await store.db.selectFrom('org_audit').selectAll().where('org_id', '=', orgId).orderBy('at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  return rows.map((r) => ({
    id: r.id, at: new Date(r.at).toISOString(), userId: r.user_id, entity: r.entity, entityId: r.entity_id, action: r.action, reason: r.reason,
    before: r.before ? JSON.parse(r.before) as unknown : null, after: r.after ? JSON.parse(r.after) as unknown : null,
  }));
}
