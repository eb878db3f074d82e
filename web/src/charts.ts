// Chart.js, loaded only by the views that draw (a separate chunk: the overview never pays for it).
import {
  BarController, BarElement, CategoryScale, Chart, Filler, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip,
  type ChartConfiguration, type ChartType, type TooltipItem,
} from 'chart.js';
import { MatrixController, MatrixElement } from 'chartjs-chart-matrix';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Filler, Legend, Tooltip, MatrixController, MatrixElement);

const css = (name: string, fallback: string): string => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;

export type SeriesData = {
  labels: string[]; share: Array<number | null>; lo: Array<number | null>; hi: Array<number | null>; votes: number[];
  names: { share: string; votes: string; band: string }; pct(x: number): string; n(x: number): string;
};

export type Drawn<T> = { update(d: T): void; destroy(): void };

/** A chart drawn from `config(d)` and redrawn in place (no animation, no layout jump) on update. */
function drawn<T, K extends ChartType>(canvas: HTMLCanvasElement, config: (x: T) => ChartConfiguration<K>, d: T): Drawn<T> {
  const chart = new Chart(canvas, config(d));
  return {
    update(x) {
      const c = config(x);
      chart.data = c.data;
      chart.options = c.options ?? ({} as typeof chart.options);
      chart.update('none');
    },
    destroy: () => chart.destroy(),
  };
}

export function seriesChart(canvas: HTMLCanvasElement, d: SeriesData): Drawn<SeriesData> {
  const ink = css('--muted', '#5c6670');
  const accent = css('--accent', '#2457c5');
  const config = (x: SeriesData): ChartConfiguration<'bar' | 'line'> => {
    const lows = x.lo.filter((v): v is number => v !== null);
    const min = lows.length ? Math.max(0, Math.floor((Math.min(...lows) - 0.02) * 10) / 10) : 0;
    return {
      type: 'bar',
      data: {
        labels: x.labels,
        datasets: [
          { type: 'line', label: x.names.band, data: x.lo, yAxisID: 'share', borderWidth: 0, pointRadius: 0, fill: false, spanGaps: true, order: 2 },
          { type: 'line', label: x.names.band, data: x.hi, yAxisID: 'share', borderWidth: 0, pointRadius: 0, fill: '-1', backgroundColor: `${accent}26`, spanGaps: true, order: 2 },
          { type: 'line', label: x.names.share, data: x.share, yAxisID: 'share', borderColor: accent, backgroundColor: accent, borderWidth: 2, pointRadius: x.labels.length > 40 ? 0 : 2, spanGaps: true, tension: 0.2, order: 1 },
          { type: 'bar', label: x.names.votes, data: x.votes, yAxisID: 'votes', backgroundColor: `${ink}40`, order: 3, barPercentage: 0.9, categoryPercentage: 0.9 },
        ],
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        interaction: { mode: 'index', intersect: false },
        scales: {
          x: { ticks: { color: ink, maxRotation: 0, autoSkipPadding: 12 }, grid: { display: false } },
          share: { position: 'left', min, max: 1, ticks: { color: ink, callback: (v) => x.pct(Number(v)), maxTicksLimit: 6 } },
          votes: { position: 'right', beginAtZero: true, grid: { display: false }, ticks: { color: ink, maxTicksLimit: 5, callback: (v) => x.n(Number(v)) } },
        },
        plugins: {
          legend: { labels: { color: ink, boxWidth: 12, filter: (item) => item.datasetIndex !== 0 } },
          tooltip: {
            filter: (item) => item.datasetIndex !== 0,
            callbacks: {
              label: (item: TooltipItem<'bar' | 'line'>) => {
                const v = item.raw as number | null;
                if (item.datasetIndex === 3) return `${x.names.votes}: ${x.n(v ?? 0)}`;
                if (item.datasetIndex === 1) {
                  const lo = x.lo[item.dataIndex];
                  return lo != null && v != null ? `${x.names.band}: ${x.pct(lo)} – ${x.pct(v)}` : '';
                }
                return v == null ? '' : `${x.names.share}: ${x.pct(v)}`;
              },
            },
          },
        },
      },
    };
  };
  return drawn(canvas, config, d);
}

export type HeatCell = { hour: number; weekday: number; share: number | null; n: number };
export type HeatData = { cells: HeatCell[]; weekdays: string[]; pct(x: number): string; n(x: number): string; votes: string };

// Share → hue, following the default score thresholds: red under 50 %, orange at 65 %, amber at
// 80 %, green from 90 %.
const HUES: Array<[number, number]> = [[0.5, 0], [0.65, 25], [0.8, 48], [0.9, 95], [0.97, 135]];

/** The colour of a heatmap cell: hue from the share, paler with fewer votes. */
export function heatColour(share: number | null, n: number, maxN: number): string {
  if (share === null || n === 0) return 'rgba(128,128,128,0.08)';
  let hue = share <= HUES[0]![0] ? 0 : HUES.at(-1)![1];
  for (let i = 1; i < HUES.length; i++) {
    const [a, ha] = HUES[i - 1]!;
    const [b, hb] = HUES[i]!;
    if (share >= a && share < b) { hue = Math.round(ha + ((share - a) / (b - a)) * (hb - ha)); break; }
  }
  const alpha = 0.25 + 0.75 * Math.min(1, Math.sqrt(n / Math.max(1, maxN)));
  return `hsla(${hue}, 70%, 45%, ${alpha.toFixed(2)})`;
}

export function heatmapChart(canvas: HTMLCanvasElement, d: HeatData): Drawn<HeatData> {
  const ink = css('--muted', '#5c6670');
  const config = (x: HeatData): ChartConfiguration<'matrix'> => {
    const maxN = Math.max(1, ...x.cells.map((c) => c.n));
    // Only the hours that had votes (one either side): closed hours would be an empty band.
    const seen = x.cells.filter((c) => c.n > 0).map((c) => c.hour);
    const first = seen.length ? Math.max(0, Math.min(...seen) - 1) : 0;
    const last = seen.length ? Math.min(23, Math.max(...seen) + 1) : 23;
    const hours = Array.from({ length: last - first + 1 }, (_, i) => String(first + i).padStart(2, '0'));
    const data = x.cells.map((c) => ({ x: String(c.hour).padStart(2, '0'), y: x.weekdays[c.weekday]!, v: c.share ?? undefined, n: c.n }));
    return {
      type: 'matrix',
      data: {
        datasets: [{
          label: 'heatmap', data,
          backgroundColor: (ctx) => {
            const r = ctx.raw as { v?: number; n: number } | undefined;
            return r ? heatColour(r.v ?? null, r.n, maxN) : 'transparent';
          },
          borderWidth: 0,
          width: ({ chart }) => (chart.chartArea?.width ?? 0) / hours.length - 2,
          height: ({ chart }) => (chart.chartArea?.height ?? 0) / 7 - 2,
        }],
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        scales: {
          x: { type: 'category', labels: hours, offset: true, ticks: { color: ink, maxRotation: 0, autoSkip: true }, grid: { display: false } },
          y: { type: 'category', labels: x.weekdays, offset: true, ticks: { color: ink }, grid: { display: false } },
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: (items) => {
                const r = items[0]?.raw as { x: string; y: string } | undefined;
                return r ? `${r.y} ${r.x}:00` : '';
              },
              label: (item) => {
                const r = item.raw as { v?: number; n: number };
                return `${r.v === undefined ? '—' : x.pct(r.v)} · ${x.votes}: ${x.n(r.n)}`;
              },
            },
          },
        },
      },
    };
  };
  return drawn(canvas, config, d);
}
