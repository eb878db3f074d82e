// Partners, organisations and what an organisation is made of: locations, touchpoints, employees,
// and its scoring settings.
import type { Store } from '../store/db.ts';
import { newId } from '../domain/ids.ts';
import { invalidField, notFound } from '../domain/errors.ts';
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

export type Location = { id: string; orgId: string; name: string; timezone: string; openingHours: OpeningHours | null };

export async function createLocation(store: Store, orgId: string, body: { name: string; timezone: string; openingHours?: unknown }): Promise<Location> {
  if (!isValidTimeZone(body.timezone)) throw invalidField('timezone', `"${body.timezone}" is not an IANA time zone (e.g. Europe/Moscow)`);
  const openingHours = body.openingHours === undefined || body.openingHours === null ? null : validateOpeningHours(body.openingHours, 'openingHours');
  const loc: Location = { id: newId('loc'), orgId, name: body.name, timezone: body.timezone, openingHours };
  await store.db.insertInto('locations').values({
    id: loc.id, org_id: orgId, name: loc.name, timezone: loc.timezone,
    opening_hours: openingHours ? JSON.stringify(openingHours) : null, created_at: now(),
  }).execute();
  return loc;
}

export async function listLocations(store: Store, orgId: string, only: string[] | null = null): Promise<Location[]> {
  let q = store.db.selectFrom('locations').selectAll().where('org_id', '=', orgId).orderBy('name');
  if (only) q = only.length ? q.where('id', 'in', only) : q.where(({ lit }) => lit(false));
  return (await q.execute()).map((r) => ({
    id: r.id, orgId: r.org_id, name: r.name, timezone: r.timezone,
    openingHours: r.opening_hours ? (JSON.parse(r.opening_hours) as OpeningHours) : null,
  }));
}

/** Checks that an id refers to a row of this org; the error names the field. */
export async function requireInOrg(store: Store, table: 'locations' | 'touchpoints' | 'employees' | 'devices', orgId: string, id: string, field: string): Promise<void> {
  const row = await store.db.selectFrom(table).select('id').where('id', '=', id).where('org_id', '=', orgId).executeTakeFirst();
  if (!row) throw invalidField(field, `${field} ${id} is not a ${table.slice(0, -1)} of this organisation`);
}

export type Touchpoint = { id: string; orgId: string; name: string; locationId: string | null; channel: string | null };

export async function createTouchpoint(store: Store, orgId: string, body: { name: string; locationId?: string | undefined; channel?: string | undefined }): Promise<Touchpoint> {
  if (body.locationId) await requireInOrg(store, 'locations', orgId, body.locationId, 'locationId');
  const tp: Touchpoint = { id: newId('tp'), orgId, name: body.name, locationId: body.locationId ?? null, channel: body.channel ?? null };
  await store.db.insertInto('touchpoints').values({ id: tp.id, org_id: orgId, name: tp.name, location_id: tp.locationId, channel: tp.channel, created_at: now() }).execute();
  return tp;
}

/** Touchpoints; with `only` (a manager's locations) just those placed in these locations. */
export async function listTouchpoints(store: Store, orgId: string, only: string[] | null = null): Promise<Touchpoint[]> {
  let q = store.db.selectFrom('touchpoints').selectAll().where('org_id', '=', orgId).orderBy('name');
  if (only) q = only.length ? q.where('location_id', 'in', only) : q.where(({ lit }) => lit(false));
  const rows = await q.execute();
  return rows.map((r) => ({ id: r.id, orgId: r.org_id, name: r.name, locationId: r.location_id, channel: r.channel }));
}

export type Employee = { id: string; orgId: string; name: string };

export async function createEmployee(store: Store, orgId: string, name: string): Promise<Employee> {
  const e = { id: newId('emp'), orgId, name };
  await store.db.insertInto('employees').values({ id: e.id, org_id: orgId, name, created_at: now() }).execute();
  return e;
}

export async function listEmployees(store: Store, orgId: string): Promise<Employee[]> {
  const rows = await store.db.selectFrom('employees').selectAll().where('org_id', '=', orgId).orderBy('name').execute();
  return rows.map((r) => ({ id: r.id, orgId: r.org_id, name: r.name }));
}

export function scoringOf(settingsJson: string): ScoringSettings {
  const s = JSON.parse(settingsJson) as { scoring?: Partial<ScoringSettings> };
  return { ...DEFAULT_SCORING, ...(s.scoring ?? {}) };
}

export async function setScoring(store: Store, orgId: string, input: { minSample?: number | undefined; thresholds?: number[] | undefined }): Promise<ScoringSettings> {
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
  await store.db.updateTable('orgs').set({ settings: JSON.stringify(settings) }).where('id', '=', orgId).execute();
  return next;
}
