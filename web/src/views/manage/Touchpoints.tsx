// Touchpoints: list, add, edit name, location and channel; archive instead of delete.
import { useState } from 'preact/hooks';
import { useI18n } from '../../i18n/index.ts';
import type { Touchpoint } from '../../api.ts';
import { useOrg } from '../../org.tsx';
import { Card } from '../../components.tsx';
import {
  AddButton, ArchiveButton, Field, FormActions, invalid, ListNotes, ManageNav, MTable, orgApi, Outcome, RowActions, send, ShowArchived,
  useAccess, useArchivableList, useFocusOnOpen, useSubmit,
} from './common.tsx';

type Row = Touchpoint & { archivedAt: string | null };
const CHANNELS = ['counter', 'table', 'web', 'phone', 'delivery', 'entrance'];

export function Touchpoints() {
  const { t } = useI18n();
  const s = useOrg();
  const access = useAccess();
  const { archived, setArchived, editing, setEditing, current, saved, list, act, toggleArchive } = useArchivableList<Row>('touchpoints');
  return (
    <>
      <ManageNav section="touchpoints" />
      <datalist id="channel-options">{CHANNELS.map((c) => <option value={c} />)}</datalist>
      {access.canAdmin && editing === null ? <AddButton label={t.manage.touchpoints.add} onClick={() => setEditing('new')} /> : null}
      {editing === 'new' ? <TouchpointForm onDone={saved} onCancel={() => setEditing(null)} /> : null}
      {current ? <TouchpointForm key={current.id} tp={current} onDone={saved} onCancel={() => setEditing(null)} /> : null}
      <Card title={t.manage.sections.touchpoints} id="manage-touchpoints" actions={<ShowArchived checked={archived} onChange={setArchived} />}>
        <ListNotes error={list.error} act={act} rows={list.data} empty={t.manage.touchpoints.empty} />
        <MTable cols={[t.manage.name, t.manage.touchpoints.location, t.manage.touchpoints.channel]} actions={access.canAdmin} busy={list.loading}>
          {(list.data ?? []).map((tp) => (
            <tr key={tp.id} data-touchpoint={tp.id}>
              <th scope="row">{tp.name}{tp.archivedAt ? <span class="tag">{t.manage.archived}</span> : null}</th>
              <td>{tp.locationId ? s.locById.get(tp.locationId)?.name ?? tp.locationId : <span class="muted">{t.manage.touchpoints.noLocation}</span>}</td>
              <td>{tp.channel ?? '—'}</td>
              {access.canAdmin ? (
                <RowActions>
                  <button type="button" class="small" onClick={() => setEditing(tp.id)}>{t.manage.edit}</button>
                  <ArchiveButton archived={!!tp.archivedAt} busy={act.busy} onClick={() => toggleArchive(tp)} />
                </RowActions>
              ) : null}
            </tr>
          ))}
        </MTable>
      </Card>
    </>
  );
}

function TouchpointForm({ tp, onDone, onCancel }: { tp?: Row; onDone(): void; onCancel(): void }) {
  const { t } = useI18n();
  const s = useOrg();
  const [name, setName] = useState(tp?.name ?? '');
  const [loc, setLoc] = useState(tp?.locationId ?? s.locations[0]?.id ?? '');
  const [channel, setChannel] = useState(tp?.channel ?? '');
  const formRef = useFocusOnOpen<HTMLFormElement>();
  const sub = useSubmit();
  const id = tp ? `tp-${tp.id}` : 'tp-new';
  const submit = (e: Event): void => {
    e.preventDefault();
    const body = tp
      ? { name, locationId: loc || null, channel: channel.trim() || null }
      : { name, ...(loc ? { locationId: loc } : {}), ...(channel.trim() ? { channel: channel.trim() } : {}) };
    void sub.run(() => tp ? send('PATCH', orgApi(s.org.id, `/touchpoints/${tp.id}`), body) : send('POST', orgApi(s.org.id, '/touchpoints'), body), t.manage.saved, true)
      .then((r) => { if (r) onDone(); });
  };
  return (
    <Card title={tp ? `${t.manage.edit}: ${tp.name}` : t.manage.touchpoints.add} id={`${id}-form`}>
      <form class="mform" ref={formRef} onSubmit={submit} noValidate>
        <div class="mgrid">
          <Field label={t.manage.name} err={sub.error} field="name" id={`${id}-name`}>
            <input id={`${id}-name`} value={name} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} maxLength={200} {...invalid(sub.error, 'name', `${id}-name`)} />
          </Field>
          <Field label={t.manage.touchpoints.location} err={sub.error} field="locationId" id={`${id}-loc`}>
            <select id={`${id}-loc`} value={loc} onChange={(e) => setLoc((e.currentTarget as HTMLSelectElement).value)} {...invalid(sub.error, 'locationId', `${id}-loc`)}>
              <option value="">{t.manage.touchpoints.noLocation}</option>
              {s.locations.map((l) => <option value={l.id}>{l.name}</option>)}
            </select>
          </Field>
          <Field label={t.manage.touchpoints.channel} hint={t.manage.touchpoints.channelHint} err={sub.error} field="channel" id={`${id}-ch`}>
            <input id={`${id}-ch`} list="channel-options" value={channel} maxLength={32} onInput={(e) => setChannel((e.currentTarget as HTMLInputElement).value)} {...invalid(sub.error, 'channel', `${id}-ch`)} />
          </Field>
        </div>
        <Outcome error={sub.error} done={sub.done} shown={['name', 'locationId', 'channel']} />
        <FormActions busy={sub.busy} onCancel={onCancel} />
      </form>
    </Card>
  );
}
