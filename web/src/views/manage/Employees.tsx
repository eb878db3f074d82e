// Employees (add, rename, deactivate — never delete: their votes keep their name) and the week's
// shifts per location, in the location's zone, with the CSV schedule import of the shifts API.
import { useState } from 'preact/hooks';
import { useI18n } from '../../i18n/index.ts';
import { ApiError } from '../../api.ts';
import { useOrg } from '../../org.tsx';
import { useData } from '../../data.ts';
import { Card, ErrorNote } from '../../components.tsx';
import { clockIn, dayIn, formatDay, WEEK_ORDER, zoneName } from '../../time.ts';
import { Field, FormActions, invalid, ListNotes, ManageNav, MTable, orgApi, Outcome, RowActions, send, useAccess, useSubmit } from './common.tsx';

type Employee = { id: string; name: string; active: boolean };
type Shift = { id: string; employeeName: string; touchpointName: string; localStart: string | null; localEnd: string | null; start: string };

const DAY = 86_400_000;
const addDays = (day: string, n: number): string => new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10);
/** The instant local midnight of `day` falls on in `tz` (two passes settle any DST change). */
function localMidnight(tz: string, day: string): number {
  const wall = Date.parse(`${day}T00:00:00Z`);
  const offset = (ts: number): number => Date.parse(`${dayIn(tz, ts)}T00:00:00Z`) + clockIn(tz, ts).minutes * 60_000 - Math.floor(ts / 60_000) * 60_000;
  let t = wall - offset(wall);
  t = wall - offset(t);
  return t;
}

export function Employees() {
  const { t } = useI18n();
  const s = useOrg();
  const access = useAccess();
  const [version, setVersion] = useState(0);
  const [editing, setEditing] = useState<string | null>(null);
  const list = useData(() => send<{ rows: Employee[] }>('GET', orgApi(s.org.id, '/employees')).then((r) => r.rows), [s.org.id, version]);
  const act = useSubmit();
  const add = useSubmit();
  const [name, setName] = useState('');
  const submitNew = (e: Event): void => {
    e.preventDefault();
    void add.run(() => send('POST', orgApi(s.org.id, '/employees'), { name }), t.manage.saved).then((r) => { if (r) { setName(''); setVersion((v) => v + 1); } });
  };
  const patch = (emp: Employee, body: object): void => {
    void act.run(() => send('PATCH', orgApi(s.org.id, `/employees/${emp.id}`), body), t.manage.saved).then((r) => { if (r) { setEditing(null); setVersion((v) => v + 1); } });
  };
  return (
    <>
      <ManageNav section="employees" />
      {access.canAdmin ? (
        <Card title={t.manage.employees.add} id="emp-new">
          <form class="mform" onSubmit={submitNew} noValidate>
            <div class="mgrid">
              <Field label={t.manage.name} err={add.error} field="name" id="emp-new-name">
                <input id="emp-new-name" value={name} maxLength={200} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} {...invalid(add.error, 'name', 'emp-new-name')} />
              </Field>
            </div>
            <Outcome error={add.error} done={add.done} shown={['name']} />
            <FormActions busy={add.busy} label={t.manage.add} />
          </form>
        </Card>
      ) : null}
      <Card title={t.manage.sections.employees} id="manage-employees">
        <ListNotes error={list.error} act={act} rows={list.data} empty={t.manage.employees.empty} />
        <MTable cols={[t.manage.name, t.manage.employees.status]} actions={access.canAdmin} busy={list.loading}>
          {(list.data ?? []).map((emp) => (
            <tr key={emp.id} data-employee={emp.id}>
              <th scope="row">{editing === emp.id ? <RenameForm emp={emp} onSave={(n) => patch(emp, { name: n })} onCancel={() => setEditing(null)} /> : emp.name}</th>
              <td><span class={`tag ${emp.active ? 'good' : ''}`}>{emp.active ? t.manage.employees.active : t.manage.employees.inactive}</span></td>
              {access.canAdmin ? (
                <RowActions>
                  {editing === emp.id ? null : <button type="button" class="small" onClick={() => setEditing(emp.id)}>{t.manage.edit}</button>}
                  <button type="button" class="small secondary" disabled={act.busy} onClick={() => patch(emp, { active: !emp.active })}>{emp.active ? t.manage.employees.deactivate : t.manage.employees.activate}</button>
                </RowActions>
              ) : null}
            </tr>
          ))}
        </MTable>
      </Card>
      <Shifts />
      {access.canAdmin ? <ShiftImport /> : null}
    </>
  );
}

function RenameForm({ emp, onSave, onCancel }: { emp: Employee; onSave(name: string): void; onCancel(): void }) {
  const { t } = useI18n();
  const [name, setName] = useState(emp.name);
  return (
    <form class="row-actions" onSubmit={(e) => { e.preventDefault(); onSave(name); }}>
      <input aria-label={t.manage.name} value={name} maxLength={200} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
      <button type="submit" class="small">{t.manage.save}</button>
      <button type="button" class="small secondary" onClick={onCancel}>{t.manage.cancel}</button>
    </form>
  );
}

function Shifts() {
  const { t, locale } = useI18n();
  const s = useOrg();
  const [locId, setLocId] = useState(s.locations[0]?.id ?? '');
  const loc = s.locById.get(locId);
  const tz = loc?.timezone ?? 'UTC';
  const today = dayIn(tz);
  const [offset, setOffset] = useState(0);
  const monday = addDays(today, -WEEK_ORDER.indexOf(clockIn(tz).weekday) + offset * 7);
  const sunday = addDays(monday, 6);
  const shifts = useData(async () => {
    if (!loc) return [];
    const q = new URLSearchParams({ locationId: loc.id, from: new Date(localMidnight(tz, monday)).toISOString(), to: new Date(localMidnight(tz, addDays(monday, 7))).toISOString(), limit: '1000' });
    return (await send<{ rows: Shift[] }>('GET', orgApi(s.org.id, `/shifts?${q}`))).rows;
  }, [s.org.id, locId, monday]);
  const mid = localMidnight(tz, monday) + 3 * DAY;
  return (
    <Card title={t.manage.shifts.title} id="manage-shifts">
      <div class="mform">
        <div class="toolbar">
          <label class="field">{t.manage.shifts.location}
            <select value={locId} onChange={(e) => setLocId((e.currentTarget as HTMLSelectElement).value)}>
              {s.locations.map((l) => <option value={l.id}>{l.name}</option>)}
            </select>
          </label>
          <div class="row-actions">
            <button type="button" class="small secondary" onClick={() => setOffset((o) => o - 1)} aria-label={t.manage.shifts.prev}>‹</button>
            <strong>{t.manage.shifts.week(formatDay(locale, monday), formatDay(locale, sunday))}</strong>
            <button type="button" class="small secondary" onClick={() => setOffset((o) => o + 1)} aria-label={t.manage.shifts.next}>›</button>
          </div>
          <span class="muted">{t.manage.shifts.zone(`${zoneName(locale, tz, mid)} (${tz})`)}</span>
        </div>
        <ErrorNote error={shifts.error} />
        {shifts.data && !shifts.data.length ? <p class="empty muted">{t.manage.shifts.empty}</p> : null}
        {shifts.data?.length ? (
          <div class="table-wrap">
            <table class="grid mtable compact">
              <thead><tr><th scope="col">{t.manage.shifts.time}</th><th scope="col">{t.manage.shifts.employee}</th><th scope="col">{t.manage.shifts.touchpoint}</th></tr></thead>
              <tbody>
                {shifts.data.map((sh) => (
                  <tr key={sh.id}>
                    <td>{sh.localStart ? <>{formatDay(locale, sh.localStart.slice(0, 10), { weekday: 'short', day: 'numeric', month: 'short' })} {sh.localStart.slice(11)}–{sh.localEnd?.slice(11)}</> : sh.start}</td>
                    <td>{sh.employeeName}</td>
                    <td>{sh.touchpointName}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </div>
    </Card>
  );
}

function ShiftImport() {
  const { t, n } = useI18n();
  const s = useOrg();
  const [csv, setCsv] = useState('');
  const sub = useSubmit();
  const go = (dryRun: boolean): void => {
    void sub.run(() => send<{ count: number }>('POST', orgApi(s.org.id, '/shifts/import'), { csv, dryRun }),
      (r) => (dryRun ? t.manage.shifts.wouldStore(n(r.count)) : t.manage.shifts.stored(n(r.count))));
  };
  const problems = (sub.error instanceof ApiError ? (sub.error.detail?.['problems'] as Array<{ field: string; message: string }> | undefined) : undefined) ?? [];
  return (
    <Card title={t.manage.shifts.import} id="shift-import">
      <form class="mform" onSubmit={(e) => { e.preventDefault(); go(false); }} noValidate>
        <p class="hint muted">{t.manage.shifts.importHint}</p>
        <div class="mgrid">
          <div class="mfield">
            <label for="shift-file">{t.manage.shifts.file}</label>
            <input id="shift-file" type="file" accept=".csv,text/csv,text/plain"
              onChange={async (e) => { const f = (e.currentTarget as HTMLInputElement).files?.[0]; if (f) setCsv(await f.text()); }} />
          </div>
          <div class="mfield span">
            <label for="shift-csv">{t.manage.shifts.paste}</label>
            <textarea id="shift-csv" value={csv} spellcheck={false} placeholder={'employee,touchpoint,date,start,end\nAnna,Counter,2026-11-23,09:00,17:00'}
              onInput={(e) => setCsv((e.currentTarget as HTMLTextAreaElement).value)} {...invalid(sub.error, 'csv', 'shift-csv')} />
          </div>
        </div>
        {problems.length ? (
          <div role="alert"><strong>{t.manage.shifts.problems}</strong><ul class="problems">{problems.slice(0, 50).map((p) => <li><code>{p.field}</code>: {p.message}</li>)}</ul></div>
        ) : <Outcome error={sub.error} done={sub.done} shown={[]} />}
        <div class="form-actions">
          <button type="button" class="secondary" disabled={sub.busy || !csv.trim()} onClick={() => go(true)}>{t.manage.shifts.check}</button>
          <button type="submit" disabled={sub.busy || !csv.trim()}>{t.manage.shifts.importNow}</button>
        </div>
      </form>
    </Card>
  );
}
