// The partner console (/partner): every client organisation with today's and the last 7 days'
// score and its device fleet at a glance, those needing attention first (the server orders them).
import { useI18n } from '../i18n/index.ts';
import { api } from '../api.ts';
import { useData } from '../data.ts';
import { Card, ErrorNote, ScoreBadge } from '../components.tsx';
import { Link } from '../router.ts';
import { browserZone, timeIn, zoneName } from '../time.ts';
import { ListNotes, MTable } from './manage/common.tsx';

type Figures = { satisfied: number; dissatisfied: number; total: number; share: number | null; score: number | null };
type OrgRow = {
  id: string; name: string; locations: number; today: Figures; week: Figures;
  fleet: Record<'online' | 'stale' | 'offline' | 'low_battery' | 'never_seen' | 'unclaimed' | 'total', number>;
  worstLocation: { id: string; name: string; week: Figures } | null;
  attention: Array<'low_score' | 'devices_offline' | 'low_battery' | 'no_votes'>;
};

function Fig({ f }: { f: Figures }) {
  const { t, pct, n } = useI18n();
  return (
    <div class="fig">
      <div class="fig-top"><ScoreBadge value={f.score} /><span class="share">{f.share === null ? '—' : pct(f.share)}</span></div>
      <div class="fig-line muted">{t.fig.votes(n(f.total))}</div>
    </div>
  );
}

export function Partner() {
  const { t, n, locale } = useI18n();
  const data = useData(() => api<{ generatedAt: string; orgs: OrgRow[] }>('/api/v1/partner/overview'), []);
  const at = data.data ? Date.parse(data.data.generatedAt) : null;
  const zone = browserZone();
  return (
    <>
      <div class="toolbar">
        <h1>{t.manage.partner.title}</h1>
        {at ? <span class="muted">{t.manage.partner.generated(`${timeIn(locale, zone, at)} ${zoneName(locale, zone, at)}`)}</span> : null}
      </div>
      <p class="note-box muted">{t.manage.partner.intro}</p>
      <ErrorNote error={data.error} />
      <Card title={t.manage.partner.title} id="partner-orgs">
        <ListNotes rows={data.data?.orgs} empty={t.manage.partner.empty} />
        <MTable class="partner" cols={[t.manage.partner.org, t.manage.partner.today, t.manage.partner.week, t.manage.partner.fleet, t.manage.partner.worst]} busy={data.loading}>
          {(data.data?.orgs ?? []).map((o) => (
            <tr key={o.id} data-org={o.id}>
              <th scope="row">
                <Link href={`/orgs/${o.id}`} class="name">{o.name}</Link>
                <span class="cell-sub">{t.manage.partner.locations(n(o.locations))}</span>
                <span class="cell-sub">{o.attention.length
                  ? o.attention.map((a) => <span class={`tag ${a === 'low_score' || a === 'devices_offline' ? 'bad' : 'warn'}`}>{t.manage.partner.attention[a]}</span>)
                  : <span class="tag good">{t.manage.partner.allWell}</span>}</span>
              </th>
              <td><Fig f={o.today} /></td>
              <td><Fig f={o.week} /></td>
              <td>
                <span class="state online">{t.manage.partner.online(n(o.fleet.online))}</span>
                <span class={`cell-sub state offline`}>{t.manage.partner.offline(n(o.fleet.offline))}</span>
                <span class={`cell-sub state low_battery`}>{t.manage.partner.lowBattery(n(o.fleet.low_battery))}</span>
              </td>
              <td>{o.worstLocation ? <><Link href={`/orgs/${o.id}/locations/${o.worstLocation.id}`}>{o.worstLocation.name}</Link><Fig f={o.worstLocation.week} /></> : '—'}</td>
            </tr>
          ))}
        </MTable>
      </Card>
    </>
  );
}
