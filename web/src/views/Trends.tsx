// Time series (day / week / month), the weekday × hour heatmap, and this period against the
// previous one per location with a two-proportion z-test.
import { useEffect, useRef } from 'preact/hooks';
import { useI18n, type I18n } from '../i18n/index.ts';
import { useOrg } from '../org.tsx';
import { useData } from '../data.ts';
import { scores, type ScoreFilter } from '../api.ts';
import { Card, Change, ErrorNote, PeriodPicker } from '../components.tsx';
import { ExportButtons, lastDays } from '../exports.tsx';
import { navigate, withQuery } from '../router.ts';
import { addDays, bucketize, compare, countsOf, seriesRange, share, total, wilson, type Bucket, type Granularity } from '../stats.ts';
import { dayIn, WEEK_ORDER } from '../time.ts';
import { locationFigures } from '../figures.ts';
import type { Drawn, HeatData, SeriesData } from '../charts.ts';

type ChartsModule = typeof import('../charts.ts');
let chartsModule: Promise<ChartsModule> | null = null;
const loadCharts = (): Promise<ChartsModule> => (chartsModule ??= import('../charts.ts'));

/** A canvas drawn by a lazily loaded Chart.js; `draw` picks the chart kind. */
function ChartCanvas<T>({ data, draw, label, tall }: { data: T | undefined; draw: (m: ChartsModule, c: HTMLCanvasElement, d: T) => Drawn<T>; label: string; tall?: boolean }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const drawn = useRef<Drawn<T> | null>(null);
  useEffect(() => () => { drawn.current?.destroy(); drawn.current = null; }, []);
  useEffect(() => {
    if (!data) return;
    let cancelled = false;
    void loadCharts().then((m) => {
      if (cancelled || !canvas.current) return;
      if (drawn.current) drawn.current.update(data);
      else drawn.current = draw(m, canvas.current, data);
    });
    return () => { cancelled = true; };
  }, [data]);
  return <div class={`chart${tall ? ' tall' : ''}`}><canvas ref={canvas} role="img" aria-label={label} /></div>;
}

const bucketLabel = (i18n: I18n, g: Granularity, key: string): string =>
  g === 'month' ? i18n.day(key, { month: 'short', year: '2-digit' }) : i18n.day(key, { day: 'numeric', month: 'short' });

export function TrendsPanel({ filter, tz, days }: { filter: ScoreFilter; tz: string | null; days: number }) {
  const s = useOrg();
  const i18n = useI18n();
  const { t, pct, n } = i18n;
  const query = new URLSearchParams(location.search);
  const g: Granularity = query.get('g') === 'week' ? 'week' : query.get('g') === 'month' ? 'month' : 'day';
  // The reference day: the location's today, or for the whole org the latest local today.
  const today = tz ? dayIn(tz) : s.locations.map((l) => dayIn(l.timezone)).sort().at(-1) ?? dayIn('UTC');
  const range = seriesRange(g, today, days);
  const heatDays = Math.max(days, 28);
  const heatFrom = addDays(today, -(heatDays - 1));
  const deps = [s.org.id, filter.locationId, filter.touchpointId, filter.employeeId, s.version, range.from, range.to, g];

  const series = useData(async () => bucketize((await scores(s.org.id, range.from, range.to, 'day', filter)).map((r) => ({ key: r.key, ...countsOf(r) })), g, range.from, range.to), deps);
  const heat = useData(() => scores(s.org.id, heatFrom, today, 'weekdayhour', filter), [...deps, heatFrom]);

  const seriesData: SeriesData | undefined = series.data && {
    labels: series.data.map((b) => bucketLabel(i18n, g, b.key)),
    share: series.data.map((b) => share(b.counts)),
    lo: series.data.map((b) => wilson(b.counts.satisfied, total(b.counts))?.[0] ?? null),
    hi: series.data.map((b) => wilson(b.counts.satisfied, total(b.counts))?.[1] ?? null),
    votes: series.data.map((b) => total(b.counts)),
    names: { share: t.trends.share, votes: t.trends.votes, band: t.trends.band }, pct: (x) => pct(x, 0), n,
  };
  const cells = (heat.data ?? []).map((r) => ({
    weekday: WEEK_ORDER.indexOf(r.key.slice(0, 3) as (typeof WEEK_ORDER)[number]), hour: Number(r.key.slice(4)),
    share: r.share, n: r.total,
  }));
  const heatData: HeatData | undefined = heat.data && { cells, weekdays: i18n.weekdays, pct: (x) => pct(x, 0), n, votes: t.trends.votes };

  return (
    <>
      <Card title={t.trends.series} id="series" actions={
        <div class="seg" role="group" aria-label={t.trends.granularity}>
          {(['day', 'week', 'month'] as const).map((x) => (
            <button type="button" aria-pressed={x === g} onClick={() => navigate(withQuery({ g: x === 'day' ? null : x }), { replace: true })}>{t.trends[x]}</button>
          ))}
        </div>
      }>
        <ErrorNote error={series.error} />
        <ChartCanvas data={seriesData} draw={(m, c, d) => m.seriesChart(c, d)} label={t.trends.chartLabel(t.trends.series)} />
        <p class="note muted">{tz ? t.trends.localDaysIn(tz) : t.trends.localDays} {t.period.range(i18n.day(range.from), i18n.day(range.to))}</p>
        <details class="data-table">
          <summary>{t.trends.showTable}</summary>
          <SeriesTable buckets={series.data ?? []} g={g} />
        </details>
      </Card>
      <Card title={t.trends.heatmap} id="heatmap">
        <ErrorNote error={heat.error} />
        <ChartCanvas data={heatData} draw={(m, c, d) => m.heatmapChart(c, d)} label={t.trends.chartLabel(t.trends.heatmap)} tall />
        <p class="note muted">{t.trends.heatmapHint(i18n.day(heatFrom), i18n.day(today))} {tz ? t.trends.hoursIn(tz) : t.trends.hoursLocal}</p>
        <details class="data-table">
          <summary>{t.trends.showTable}</summary>
          <div class="table-wrap">
            <table class="grid compact">
              <thead><tr><th scope="col">{t.trends.weekday}</th><th scope="col">{t.trends.hour}</th><th scope="col">{t.trends.share}</th><th scope="col">{t.trends.votes}</th></tr></thead>
              <tbody>{cells.map((c) => <tr><td>{i18n.weekdays[c.weekday]}</td><td>{String(c.hour).padStart(2, '0')}:00</td><td>{c.share === null ? '—' : pct(c.share)}</td><td>{n(c.n)}</td></tr>)}</tbody>
            </table>
          </div>
        </details>
      </Card>
    </>
  );
}

function SeriesTable({ buckets, g }: { buckets: Bucket[]; g: Granularity }) {
  const i18n = useI18n();
  const { t, pct, n } = i18n;
  return (
    <div class="table-wrap">
      <table class="grid compact">
        <thead><tr><th scope="col">{t.trends[g]}</th><th scope="col">{t.trends.share}</th><th scope="col">{t.trends.band}</th><th scope="col">{t.trends.votes}</th></tr></thead>
        <tbody>
          {buckets.map((b) => {
            const k = total(b.counts);
            const w = wilson(b.counts.satisfied, k);
            const p = share(b.counts);
            return <tr><td>{g === 'week' ? t.trends.weekOf(i18n.day(b.key)) : bucketLabel(i18n, g, b.key)}</td><td>{p === null ? '—' : pct(p)}</td><td>{w ? `${pct(w[0])} – ${pct(w[1])}` : '—'}</td><td>{n(k)}</td></tr>;
          })}
        </tbody>
      </table>
    </div>
  );
}

export function Trends({ days }: { days: number }) {
  const s = useOrg();
  const i18n = useI18n();
  const { t, pct, n, pval } = i18n;
  const locId = new URLSearchParams(location.search).get('loc');
  const loc = locId ? s.locById.get(locId) : undefined;
  const zf = new Intl.NumberFormat(i18n.locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const comparison = useData(() => locationFigures(s.org.id, s.locations, days), [s.org.id, s.locations, days, s.version]);

  return (
    <>
      <div class="toolbar">
        <h1>{t.trends.title}</h1>
        <label class="field">
          <span>{t.trends.scope}</span>
          <select value={loc?.id ?? ''} onChange={(e) => navigate(withQuery({ loc: (e.currentTarget as HTMLSelectElement).value || null }), { replace: true })}>
            <option value="">{t.trends.allLocations}</option>
            {s.locations.map((l) => <option value={l.id}>{l.name}</option>)}
          </select>
        </label>
        <PeriodPicker days={days} />
        <ExportButtons path={`/api/v1/orgs/${s.org.id}/reports/tactical`} query={{ ...lastDays(s.locations, days), trend: days > 31 ? 'week' : 'day', ...(loc ? { locations: loc.id } : {}) }} />
      </div>
      <TrendsPanel filter={{ locationId: loc?.id }} tz={loc?.timezone ?? null} days={days} />
      <Card title={t.trends.comparison} id="comparison">
        <ErrorNote error={comparison.error} />
        <div class="table-wrap">
          <table class="grid compact">
            <thead><tr><th scope="col">{t.overview.location}</th><th scope="col">{t.trends.before}</th><th scope="col">{t.trends.now}</th><th scope="col">{t.change.label}</th><th scope="col" class="wide">p</th></tr></thead>
            <tbody>
              {s.locations.map((l) => {
                const f = comparison.data?.get(l.id);
                if (!f) return <tr><th scope="row">{l.name}</th><td colSpan={4}>…</td></tr>;
                const c = compare(f.period, f.prev);
                const sp = share(f.prev);
                const sn = share(f.period);
                return (
                  <tr>
                    <th scope="row">{l.name}<span class="zone">{l.timezone}</span></th>
                    <td>{sp === null ? '—' : pct(sp)}<span class="zone">{t.fig.votes(n(total(f.prev)))} · {t.period.range(i18n.day(addDays(f.from, -days)), i18n.day(addDays(f.from, -1)))}</span></td>
                    <td>{sn === null ? '—' : pct(sn)}<span class="zone">{t.fig.votes(n(total(f.period)))} · {t.period.range(i18n.day(f.from), i18n.day(f.day))}</span></td>
                    <td><Change now={f.period} before={f.prev} /></td>
                    <td class="wide">{c ? `z = ${zf.format(c.z)}, p = ${pval(c.p)}` : '—'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        <p class="legend muted">{t.change.help}</p>
      </Card>
    </>
  );
}
