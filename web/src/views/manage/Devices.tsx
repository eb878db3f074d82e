// Devices: the fleet with its health (last contact and battery, times in the location's zone,
// labelled), claiming by code, moving a device, and batch provisioning with its QR label sheet.
import { useState } from 'preact/hooks';
import { useI18n } from '../../i18n/index.ts';
import { useOrg } from '../../org.tsx';
import { useData } from '../../data.ts';
import { Card } from '../../components.tsx';
import { formatDay, dayIn, timeIn, zoneName } from '../../time.ts';
import { Field, FormActions, invalid, ListNotes, ManageNav, MTable, orgApi, Outcome, send, useAccess, useFocusOnOpen, useSubmit } from './common.tsx';

type FleetDevice = { id: string; name: string | null; kind: string; locationId: string | null; touchpointId: string | null; state: string; lastSeenAt: string | null; battery: number | null };
type Device = { id: string; employeeId: string | null; status: string };
type Employee = { id: string; name: string; active: boolean };
type Batch = { id: string; kind: string; namePrefix: string; count: number; claimed: number; createdAt: string };
const KINDS = ['panel', 'fob', 'counter', 'camera'] as const;
const STATES = ['online', 'stale', 'offline', 'low_battery', 'never_seen', 'unclaimed'] as const;

/** Opens an HTML page of the API (the QR sheet) in a new tab: the session cookie goes with it. */
async function openAuthed(path: string): Promise<void> {
  window.open(path, '_blank', 'noopener');
}

function download(name: string, text: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
  a.download = name;
  a.click();
}

export function Devices() {
  const { t, n, locale } = useI18n();
  const s = useOrg();
  const access = useAccess();
  const [version, setVersion] = useState(0);
  const [moving, setMoving] = useState<string | null>(null);
  const data = useData(async () => {
    const [fleet, devices, employees] = await Promise.all([
      send<{ counts: Record<string, number>; total: number; devices: FleetDevice[] }>('GET', orgApi(s.org.id, '/fleet')),
      send<{ rows: Device[] }>('GET', orgApi(s.org.id, '/devices')),
      send<{ rows: Employee[] }>('GET', orgApi(s.org.id, '/employees')),
    ]);
    return { fleet, byId: new Map(devices.rows.map((d) => [d.id, d])), employees: employees.rows };
  }, [s.org.id, version, s.version]);
  const reload = (): void => setVersion((v) => v + 1);
  const empName = (id: string | null | undefined): string | null => (id ? data.data?.employees.find((e) => e.id === id)?.name ?? id : null);
  const moveTarget = moving ? data.data?.fleet.devices.find((d) => d.id === moving) : undefined;
  const seen = (d: FleetDevice): string => {
    if (!d.lastSeenAt) return t.manage.devices.never;
    const ts = Date.parse(d.lastSeenAt);
    const tz = (d.locationId && s.locById.get(d.locationId)?.timezone) || 'UTC';
    const day = dayIn(tz, ts) === dayIn(tz) ? '' : `${formatDay(locale, dayIn(tz, ts))} `;
    return `${day}${timeIn(locale, tz, ts)} ${zoneName(locale, tz, ts)}`;
  };
  return (
    <>
      <ManageNav section="devices" />
      <Card title={t.manage.devices.fleet} id="manage-fleet" actions={data.data ? (
        <span class="muted">{STATES.filter((k) => data.data!.fleet.counts[k]).map((k) => `${t.manage.devices.states[k]}: ${n(data.data!.fleet.counts[k] ?? 0)}`).join(' · ')}</span>
      ) : null}>
        <ListNotes error={data.error} rows={data.data?.fleet.devices} empty={t.manage.devices.empty} />
        <MTable cols={[t.manage.devices.device, t.manage.devices.state, t.manage.devices.lastSeen, t.manage.devices.battery, t.manage.devices.placedAt]} actions={access.canAdmin} busy={data.loading}>
          {(data.data?.fleet.devices ?? []).map((d) => {
            const emp = empName(data.data?.byId.get(d.id)?.employeeId);
            return (
              <tr key={d.id} data-device={d.id}>
                <th scope="row">{d.name ?? d.id}<span class="cell-sub">{d.kind}</span></th>
                <td><span class={`state ${d.state}`}>{(t.manage.devices.states as Record<string, string>)[d.state] ?? d.state}</span></td>
                <td>{seen(d)}</td>
                <td>{d.battery === null ? '—' : `${n(d.battery)} %`}</td>
                <td>{d.locationId ? s.locById.get(d.locationId)?.name ?? d.locationId : '—'}
                  <span class="cell-sub">{[d.touchpointId ? s.tpById.get(d.touchpointId)?.name ?? d.touchpointId : null, emp].filter(Boolean).join(' · ')}</span></td>
                {access.canAdmin ? <td>{d.state === 'unclaimed' ? null : <button type="button" class="small" onClick={() => setMoving(d.id)}>{t.manage.devices.move}</button>}</td> : null}
              </tr>
            );
          })}
        </MTable>
        <p class="legend muted">{t.manage.devices.zoneNote}</p>
      </Card>
      {moveTarget && data.data ? (
        <PlaceForm key={moveTarget.id} title={t.manage.devices.moveTitle(moveTarget.name ?? moveTarget.id)} employees={data.data.employees}
          initial={{ locationId: moveTarget.locationId ?? '', touchpointId: moveTarget.touchpointId ?? '', employeeId: data.data.byId.get(moveTarget.id)?.employeeId ?? '' }}
          submitLabel={t.manage.devices.move} okMessage={t.manage.devices.moved}
          send={(b) => send('POST', orgApi(s.org.id, `/devices/${moveTarget.id}/assignment`), b)}
          onDone={() => { setMoving(null); reload(); }} onCancel={() => setMoving(null)} />
      ) : null}
      {access.canPlace && data.data ? (
        <PlaceForm title={t.manage.devices.claim} hint={t.manage.devices.claimHint} employees={data.data.employees} withCode
          initial={{ locationId: s.locations[0]?.id ?? '', touchpointId: '', employeeId: '' }} submitLabel={t.manage.devices.claimButton}
          okMessage={(r) => t.manage.devices.claimed((r as { name: string | null; id: string }).name ?? (r as { id: string }).id)}
          send={(b) => send('POST', orgApi(s.org.id, '/claim'), b)} onDone={reload} />
      ) : null}
      {access.canAdmin ? <Bulk onDone={reload} /> : null}
    </>
  );
}

type Place = { locationId: string; touchpointId: string; employeeId: string };

function PlaceForm(p: {
  title: string; hint?: string; employees: Employee[]; initial: Place; withCode?: boolean; submitLabel: string; okMessage: string | ((r: unknown) => string);
  send(body: object): Promise<unknown>; onDone(): void; onCancel?(): void;
}) {
  const { t } = useI18n();
  const s = useOrg();
  const [v, setV] = useState({ ...p.initial, code: '', name: '' });
  const formRef = useFocusOnOpen<HTMLFormElement>(!p.withCode);
  const sub = useSubmit();
  const id = p.withCode ? 'claim' : 'move';
  const tps = s.touchpoints.filter((tp) => tp.locationId === v.locationId || tp.locationId === null);
  const set = (k: keyof typeof v) => (e: Event): void => {
    const value = (e.currentTarget as HTMLInputElement).value;
    setV((x) => ({ ...x, [k]: value, ...(k === 'locationId' ? { touchpointId: '' } : {}) }));
  };
  const submit = (e: Event): void => {
    e.preventDefault();
    const body = {
      ...(p.withCode ? { code: v.code, ...(v.name.trim() ? { name: v.name.trim() } : {}) } : {}),
      locationId: v.locationId, ...(v.touchpointId ? { touchpointId: v.touchpointId } : {}), ...(v.employeeId ? { employeeId: v.employeeId } : {}),
    };
    void sub.run(() => p.send(body), p.okMessage).then((r) => { if (r !== undefined) { if (p.withCode) setV((x) => ({ ...x, code: '', name: '' })); p.onDone(); } });
  };
  return (
    <Card title={p.title} id={`${id}-form`}>
      <form class="mform" ref={formRef} onSubmit={submit} noValidate>
        {p.hint ? <p class="hint muted">{p.hint}</p> : null}
        <div class="mgrid">
          {p.withCode ? (
            <Field label={t.manage.devices.code} err={sub.error} field="code" id={`${id}-code`}>
              <input id={`${id}-code`} value={v.code} autoComplete="off" spellcheck={false} placeholder="7QK2M-X9D4P" maxLength={32} onInput={set('code')} {...invalid(sub.error, 'code', `${id}-code`)} />
            </Field>
          ) : null}
          <Field label={t.manage.touchpoints.location} err={sub.error} field="locationId" id={`${id}-loc`}>
            <select id={`${id}-loc`} value={v.locationId} onChange={set('locationId')} {...invalid(sub.error, 'locationId', `${id}-loc`)}>
              {s.locations.map((l) => <option value={l.id}>{l.name}</option>)}
            </select>
          </Field>
          <Field label={t.manage.devices.touchpoint} err={sub.error} field="touchpointId" id={`${id}-tp`}>
            <select id={`${id}-tp`} value={v.touchpointId} onChange={set('touchpointId')} {...invalid(sub.error, 'touchpointId', `${id}-tp`)}>
              <option value="">{t.manage.devices.noTouchpoint}</option>
              {tps.map((tp) => <option value={tp.id}>{tp.name}</option>)}
            </select>
          </Field>
          <Field label={t.manage.devices.employee} err={sub.error} field="employeeId" id={`${id}-emp`}>
            <select id={`${id}-emp`} value={v.employeeId} onChange={set('employeeId')} {...invalid(sub.error, 'employeeId', `${id}-emp`)}>
              <option value="">{t.manage.devices.noEmployee}</option>
              {p.employees.filter((e) => e.active || e.id === v.employeeId).map((e) => <option value={e.id}>{e.name}</option>)}
            </select>
          </Field>
          {p.withCode ? (
            <Field label={t.manage.devices.deviceName} err={sub.error} field="name" id={`${id}-name`}>
              <input id={`${id}-name`} value={v.name} maxLength={200} onInput={set('name')} {...invalid(sub.error, 'name', `${id}-name`)} />
            </Field>
          ) : null}
        </div>
        <Outcome error={sub.error} done={sub.done} shown={['code', 'locationId', 'touchpointId', 'employeeId', 'name']} />
        <FormActions busy={sub.busy} label={p.submitLabel} onCancel={p.onCancel} />
      </form>
    </Card>
  );
}

type BulkOut = { batch: Batch; sheet: string; devices: Array<{ id: string; name: string; token: string; claimCode: string }> };

function Bulk({ onDone }: { onDone(): void }) {
  const { t, n, locale } = useI18n();
  const s = useOrg();
  const [kind, setKind] = useState<string>('panel');
  const [count, setCount] = useState('10');
  const [prefix, setPrefix] = useState('');
  const [made, setMade] = useState<BulkOut | null>(null);
  const [version, setVersion] = useState(0);
  const batches = useData(() => send<{ rows: Batch[] }>('GET', orgApi(s.org.id, '/device-batches')).then((r) => r.rows), [s.org.id, version]);
  const sub = useSubmit();
  const submit = (e: Event): void => {
    e.preventDefault();
    const body = { kind, count: Number(count), ...(prefix.trim() ? { namePrefix: prefix.trim() } : {}) };
    void sub.run(() => send<BulkOut>('POST', orgApi(s.org.id, '/devices/bulk'), body), (r) => t.manage.devices.created(n(r.devices.length)))
      .then((r) => { if (r) { setMade(r); setVersion((v) => v + 1); onDone(); } });
  };
  return (
    <Card title={t.manage.devices.bulk} id="bulk-form">
      <form class="mform" onSubmit={submit} noValidate>
        <p class="hint muted">{t.manage.devices.bulkHint}</p>
        <div class="mgrid">
          <Field label={t.manage.devices.kind} err={sub.error} field="kind" id="bulk-kind">
            <select id="bulk-kind" value={kind} onChange={(e) => setKind((e.currentTarget as HTMLSelectElement).value)}>{KINDS.map((k) => <option value={k}>{k}</option>)}</select>
          </Field>
          <Field label={t.manage.devices.count} err={sub.error} field="count" id="bulk-count">
            <input id="bulk-count" type="number" inputMode="numeric" min={1} value={count} onInput={(e) => setCount((e.currentTarget as HTMLInputElement).value)} {...invalid(sub.error, 'count', 'bulk-count')} />
          </Field>
          <Field label={t.manage.devices.prefix} err={sub.error} field="namePrefix" id="bulk-prefix">
            <input id="bulk-prefix" value={prefix} maxLength={100} onInput={(e) => setPrefix((e.currentTarget as HTMLInputElement).value)} {...invalid(sub.error, 'namePrefix', 'bulk-prefix')} />
          </Field>
        </div>
        <Outcome error={sub.error} done={sub.done} shown={['kind', 'count', 'namePrefix']} />
        {made ? (
          <p class="row-actions">
            <button type="button" class="small secondary" onClick={() => void openAuthed(made.sheet)}>{t.manage.devices.sheet}</button>
            <button type="button" class="small secondary" onClick={() => download(`${made.batch.id}-tokens.csv`, ['id,name,claimCode,token', ...made.devices.map((d) => `${d.id},"${d.name.replace(/"/g, '""')}",${d.claimCode},${d.token}`)].join('\n') + '\n')}>{t.manage.devices.tokens}</button>
          </p>
        ) : null}
        <FormActions busy={sub.busy} label={t.manage.devices.create} />
      </form>
      {batches.data?.length ? (
        <div class="mform">
          <h3 class="mlabel">{t.manage.devices.batches}</h3>
          <ul class="bands">
            {batches.data.map((b) => (
              <li>{formatDay(locale, b.createdAt.slice(0, 10))} · {b.namePrefix} · {b.kind} · {t.manage.devices.claimedOf(n(b.claimed), n(b.count))} ·{' '}
                <button type="button" class="link" onClick={() => void openAuthed(orgApi(s.org.id, `/device-batches/${b.id}/sheet.html`))}>{t.manage.devices.sheet}</button></li>
            ))}
          </ul>
        </div>
      ) : null}
    </Card>
  );
}
