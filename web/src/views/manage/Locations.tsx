// Locations: list, add, edit name, time zone (searchable among the IANA zones) and opening hours
// per weekday; archive instead of delete.
import { useMemo, useState } from 'preact/hooks';
import { useI18n } from '../../i18n/index.ts';
import type { ApiError, Location } from '../../api.ts';
import { useOrg } from '../../org.tsx';
import { Card } from '../../components.tsx';
import { clockIn, timeIn, WEEK_ORDER, zoneName, type Weekday } from '../../time.ts';
import { useNow } from '../Overview.tsx';
import {
  AddButton, ArchiveButton, Field, FieldError, FormActions, invalid, ListNotes, ManageNav, MTable, orgApi, Outcome, RowActions, send, ShowArchived,
  useAccess, useArchivableList, useFocusOnOpen, useSubmit,
} from './common.tsx';

type Hours = Record<string, string[][]>;
type Row = Location & { archivedAt: string | null };

let zones: string[] | null = null;
/** Every IANA zone the browser knows (UTC included), for the searchable list. */
export function allZones(): string[] {
  if (!zones) {
    const list = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
    zones = list.includes('UTC') ? list : ['UTC', ...list];
  }
  return zones;
}

export function ZoneList() {
  return <datalist id="tz-options">{allZones().map((z) => <option value={z} />)}</datalist>;
}

export function Locations() {
  const { t, locale } = useI18n();
  const access = useAccess();
  const now = useNow(30_000);
  const { archived, setArchived, editing, setEditing, current, saved, list, act, toggleArchive } = useArchivableList<Row>('locations');
  return (
    <>
      <ManageNav section="locations" />
      <ZoneList />
      {access.canAdmin && editing === null ? <AddButton label={t.manage.locations.add} onClick={() => setEditing('new')} /> : null}
      {editing === 'new' ? <LocationForm onDone={saved} onCancel={() => setEditing(null)} /> : null}
      {current ? <LocationForm key={current.id} loc={current} onDone={saved} onCancel={() => setEditing(null)} /> : null}
      <Card title={t.manage.sections.locations} id="manage-locations" actions={<ShowArchived checked={archived} onChange={setArchived} />}>
        <ListNotes error={list.error} act={act} rows={list.data} empty={t.manage.locations.empty} />
        <MTable cols={[t.manage.name, t.manage.locations.timezone, t.manage.locations.hours]} actions={access.canAdmin} busy={list.loading}>
          {(list.data ?? []).map((l) => {
            const today = clockIn(l.timezone, now).weekday;
            return (
              <tr key={l.id} data-location={l.id}>
                <th scope="row">{l.name}{l.archivedAt ? <span class="tag">{t.manage.archived}</span> : null}</th>
                <td>{l.timezone}<span class="cell-sub">{t.manage.locations.localNow}: <time>{timeIn(locale, l.timezone, now)}</time> {zoneName(locale, l.timezone, now)}</span></td>
                <td class="hours-cell">{hoursSummary(l.openingHours, today, t.manage.weekdays[today as Weekday], t.manage.locations.closed, t.manage.locations.alwaysOpen)}</td>
                {access.canAdmin ? (
                  <RowActions>
                    <button type="button" class="small" onClick={() => setEditing(l.id)} aria-label={t.manage.locations.editTitle(l.name)}>{t.manage.edit}</button>
                    <ArchiveButton archived={!!l.archivedAt} busy={act.busy} onClick={() => toggleArchive(l)} />
                  </RowActions>
                ) : null}
              </tr>
            );
          })}
        </MTable>
        <p class="legend muted">{t.manage.locations.archiveNote}</p>
      </Card>
    </>
  );
}

function hoursSummary(h: Hours | null, today: string, todayName: string, closed: string, always: string): string {
  if (!h) return always;
  const iv = h[today] ?? [];
  return `${todayName}: ${iv.length ? iv.map(([a, b]) => `${a}–${b}`).join(', ') : closed}`;
}

function LocationForm({ loc, onDone, onCancel }: { loc?: Row; onDone(): void; onCancel(): void }) {
  const { t } = useI18n();
  const s = useOrg();
  const [name, setName] = useState(loc?.name ?? '');
  const [tz, setTz] = useState(loc?.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone);
  const [hours, setHours] = useState<Hours | null>(loc?.openingHours ?? null);
  const formRef = useFocusOnOpen<HTMLFormElement>();
  const sub = useSubmit();
  const id = loc ? `loc-${loc.id}` : 'loc-new';
  const submit = (e: Event): void => {
    e.preventDefault();
    const body = { name, timezone: tz.trim(), openingHours: hours };
    void sub.run(() => loc ? send('PATCH', orgApi(s.org.id, `/locations/${loc.id}`), body)
      : send('POST', orgApi(s.org.id, '/locations'), { ...body, openingHours: hours ?? undefined }), t.manage.saved, true).then((r) => { if (r) onDone(); });
  };
  return (
    <Card title={loc ? t.manage.locations.editTitle(loc.name) : t.manage.locations.add} id={`${id}-form`}>
      <form class="mform" ref={formRef} onSubmit={submit} noValidate>
        <div class="mgrid">
          <Field label={t.manage.name} err={sub.error} field="name" id={`${id}-name`}>
            <input id={`${id}-name`} name="name" value={name} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} required maxLength={200} {...invalid(sub.error, 'name', `${id}-name`)} />
          </Field>
          <Field label={t.manage.locations.timezone} hint={t.manage.locations.timezoneHint} err={sub.error} field="timezone" id={`${id}-tz`}>
            <input id={`${id}-tz`} name="timezone" list="tz-options" autoComplete="off" spellcheck={false} value={tz}
              onInput={(e) => setTz((e.currentTarget as HTMLInputElement).value)} {...invalid(sub.error, 'timezone', `${id}-tz`)} />
          </Field>
        </div>
        <HoursEditor id={id} hours={hours} onChange={setHours} err={sub.error} />
        <Outcome error={sub.error} done={sub.done} shown={['name', 'timezone', 'openingHours']} />
        <FormActions busy={sub.busy} onCancel={onCancel} />
      </form>
    </Card>
  );
}

/** Opening hours per weekday; null = none at all (always open). */
export function HoursEditor({ id, hours, onChange, err }: { id: string; hours: Hours | null; onChange(h: Hours | null): void; err: ApiError | null }) {
  const { t } = useI18n();
  const days = useMemo(() => WEEK_ORDER, []);
  const set = (day: string, list: string[][]): void => onChange({ ...(hours ?? {}), [day]: list });
  return (
    <fieldset class="hours-set">
      <legend class="mlabel">{t.manage.locations.hours}</legend>
      <label class="field"><input type="checkbox" id={`${id}-has-hours`} checked={hours !== null}
        onChange={(e) => onChange((e.currentTarget as HTMLInputElement).checked ? Object.fromEntries(WEEK_ORDER.map((d) => [d, [['09:00', '18:00']]])) : null)} /> {t.manage.locations.setHours}</label>
      <p class="hint muted">{hours === null ? t.manage.locations.alwaysOpen : t.manage.locations.hoursHint}</p>
      <FieldError err={err} field="openingHours" id={`${id}-hours`} exact />
      {hours === null ? null : (
        <div class="hours">
          {days.map((day) => {
            const list = hours[day] ?? [];
            const dayName = t.manage.weekdays[day];
            return (
              <div class="hours-day" role="group" aria-label={dayName} data-day={day}>
                <span class="mlabel">{dayName}</span>
                <div>
                  <div class="hours-list">
                    {list.length === 0 ? <span class="muted">{t.manage.locations.closed}</span> : null}
                    {list.map(([a, b], i) => (
                      <span class="interval">
                        <input type="time" step={60} value={a} aria-label={`${dayName} ${t.manage.locations.from}`} {...invalid(err, `openingHours.${day}[${i}]`, `${id}-${day}`)}
                          onInput={(e) => set(day, list.map((x, j) => (j === i ? [(e.currentTarget as HTMLInputElement).value, x[1] ?? ''] : x)))} />
                        –
                        <input type="time" step={60} value={b} aria-label={`${dayName} ${t.manage.locations.to}`} {...invalid(err, `openingHours.${day}[${i}]`, `${id}-${day}`)}
                          onInput={(e) => set(day, list.map((x, j) => (j === i ? [x[0] ?? '', (e.currentTarget as HTMLInputElement).value] : x)))} />
                        <button type="button" class="small secondary" aria-label={t.manage.locations.removeInterval(dayName)} onClick={() => set(day, list.filter((_, j) => j !== i))}>×</button>
                      </span>
                    ))}
                    <button type="button" class="small secondary" onClick={() => set(day, [...list, list.length ? ['18:00', '22:00'] : ['09:00', '18:00']])}>{t.manage.locations.addInterval}</button>
                  </div>
                  <FieldError err={err} field={`openingHours.${day}`} id={`${id}-${day}`} />
                </div>
              </div>
            );
          })}
        </div>
      )}
    </fieldset>
  );
}
