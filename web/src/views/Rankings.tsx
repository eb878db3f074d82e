// Employees and locations ranked by the lower end of their 95 % Wilson interval: a row needs both
// a high share and enough votes to rank high. Rows under the org's minimum sample are listed apart.
import { useI18n } from '../i18n/index.ts';
import { useOrg } from '../org.tsx';
import { useData } from '../data.ts';
import { scores } from '../api.ts';
import { Card, ErrorNote, IntervalBar, PeriodPicker, ScoreBadge } from '../components.tsx';
import { ExportButtons, lastDays } from '../exports.tsx';
import { addDays, countsOf, score, share, total, wilson, type Counts } from '../stats.ts';
import { dayIn } from '../time.ts';
import { locationFigures } from '../figures.ts';

type Ranked = { key: string; label: string; c: Counts };

function Ranking({ rows, title, id }: { rows: Ranked[] | undefined; title: string; id: string }) {
  const s = useOrg();
  const { t, pct, n } = useI18n();
  const lower = (r: Ranked): number => wilson(r.c.satisfied, total(r.c))?.[0] ?? 0;
  const ranked = (rows ?? []).filter((r) => score(r.c, s.scoring) !== null).sort((a, b) => lower(b) - lower(a));
  const few = (rows ?? []).filter((r) => score(r.c, s.scoring) === null && total(r.c) > 0);
  // One scale for every bar of the table, from a round share below the lowest interval to 100 %.
  const lows = [...ranked, ...few].map(lower);
  const min = lows.length ? Math.max(0, Math.floor(Math.min(...lows) * 10 - 0.5) / 10) : 0;
  const row = (r: Ranked, i: number | null) => {
    const w = wilson(r.c.satisfied, total(r.c));
    const p = share(r.c);
    return (
      <tr key={r.key}>
        <td class="rank">{i === null ? '' : i + 1}</td>
        <th scope="row"><span class="name">{r.label}</span><span class="zone">{t.fig.votes(n(total(r.c)))}</span></th>
        <td class="badge-cell"><ScoreBadge value={score(r.c, s.scoring)} /></td>
        <td class="num">{p === null ? '—' : pct(p)}<span class="zone">{w ? `${pct(w[0])} – ${pct(w[1])}` : ''}</span></td>
        <td class="bar-cell"><IntervalBar c={r.c} min={min} /></td>
      </tr>
    );
  };
  return (
    <Card title={title} id={id}>
      {!rows ? <p class="empty muted">{t.app.loading}</p> : (
        <div class="table-wrap">
          <table class="grid ranking">
            <colgroup><col class="c-rank" /><col /><col class="c-badge" /><col class="c-num" /><col class="c-bar" /></colgroup>
            <thead><tr><th scope="col">{t.rankings.rank}</th><th scope="col">{t.drill.name}</th><th scope="col"><span class="sr">{t.fig.score(5)}</span></th><th scope="col" colSpan={2}>{t.rankings.interval}</th></tr></thead>
            <tbody>
              {ranked.map((r, i) => row(r, i))}
              {few.length ? <tr class="divider"><th colSpan={5} scope="rowgroup">{t.rankings.tooFew}</th></tr> : null}
              {few.map((r) => row(r, null))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}

export function Rankings({ days }: { days: number }) {
  const s = useOrg();
  const { t } = useI18n();
  const today = s.locations.map((l) => dayIn(l.timezone)).sort().at(-1) ?? dayIn('UTC');
  const employees = useData(async () => (await scores(s.org.id, addDays(today, -(days - 1)), today, 'employee'))
    .filter((r) => r.key !== 'none').map((r) => ({ key: r.key, label: r.label, c: countsOf(r) })), [s.org.id, days, today, s.version]);
  const locations = useData(async () => {
    const figs = await locationFigures(s.org.id, s.locations, days);
    return s.locations.map((l) => ({ key: l.id, label: l.name, c: figs.get(l.id)?.period ?? countsOf(undefined) }));
  }, [s.org.id, s.locations, days, s.version]);
  return (
    <>
      <div class="toolbar">
        <h1>{t.rankings.title}</h1>
        <PeriodPicker days={days} />
        <ExportButtons path={`/api/v1/orgs/${s.org.id}/reports/employees`} query={lastDays(s.locations, days)} />
      </div>
      <ErrorNote error={employees.error ?? locations.error} />
      <p class="note muted">{t.rankings.note}</p>
      <div class="columns">
        <Ranking rows={employees.data} title={t.rankings.employees} id="rank-employees" />
        <Ranking rows={locations.data} title={t.rankings.locations} id="rank-locations" />
      </div>
    </>
  );
}
