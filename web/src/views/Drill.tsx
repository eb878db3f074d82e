// Drill-down: location → touchpoint → employee → device. Each level shows its own today and
// period, the next level's rows with their change against the previous period, and its trends.
import { useRef } from 'preact/hooks';
import { useI18n } from '../i18n/index.ts';
import { useOrg } from '../org.tsx';
import { useData } from '../data.ts';
import { api, scores, type ScoreBy, type ScoreFilter, type ScoreRow } from '../api.ts';
import { Card, Change, Crumbs, ErrorNote, Figure, PeriodPicker } from '../components.tsx';
import { Link, navigate, withQuery } from '../router.ts';
import { addDays, countsOf, ZERO, type Counts } from '../stats.ts';
import { dayIn, timeIn, zoneName } from '../time.ts';
import { TrendsPanel } from './Trends.tsx';
import { useNow } from './Overview.tsx';

type Child = { key: string; label: string; today: Counts; period: Counts; prev: Counts };
/** An explicit period of local days, from ?from=&to= (an alert's link); both ends included. */
export type Period = { from: string; to: string };

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;
const spanDays = (p: Period): number => Math.round((Date.parse(p.to) - Date.parse(p.from)) / 86_400_000) + 1;
/** ?from=&to= as a period when both are real dates in order, at most a year long; otherwise none (the usual days). */
export function periodOf(from: string | null, to: string | null): Period | undefined {
  if (!from || !to || !DAY_RE.test(from) || !DAY_RE.test(to)) return undefined;
  // A real date survives the round trip (2026-02-31 does not).
  const real = (d: string): boolean => { const ms = Date.parse(d); return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 10) === d; };
  if (!real(from) || !real(to)) return undefined;
  const p = { from, to };
  const n = spanDays(p);
  return n >= 1 && n <= 366 ? p : undefined;
}

async function childRows(org: string, by: ScoreBy, f: ScoreFilter, day: string, p: Period): Promise<Child[]> {
  const { from, to } = p;
  const days = spanDays(p);
  const [today, period, prev] = await Promise.all([
    scores(org, day, day, by, f), scores(org, from, to, by, f), scores(org, addDays(from, -days), addDays(from, -1), by, f),
  ]);
  const keys = new Map<string, string>();
  for (const r of [...period, ...today, ...prev]) if (!keys.has(r.key)) keys.set(r.key, r.label);
  const get = (rows: ScoreRow[], k: string): Counts => countsOf(rows.find((r) => r.key === k));
  return [...keys].map(([key, label]) => ({ key, label, today: get(today, key), period: get(period, key), prev: get(prev, key) }))
    .sort((a, b) => b.period.satisfied + b.period.dissatisfied - (a.period.satisfied + a.period.dissatisfied));
}

export function Drill({ loc, tp, emp, days, period }: { loc: string; tp?: string | undefined; emp?: string | undefined; days: number; period?: Period | undefined }) {
  const s = useOrg();
  const i18n = useI18n();
  const { t, locale } = i18n;
  const now = useNow(30_000);
  const location = s.locById.get(loc);
  const tz = location?.timezone ?? 'UTC';
  const day = dayIn(tz, now);
  const filter: ScoreFilter = { locationId: loc, touchpointId: tp, employeeId: emp };
  const base = `/orgs/${s.org.id}/locations/${loc}`;
  const q = window.location.search;
  const levels: Array<{ by: ScoreBy; title: string; href?: (key: string) => string }> = emp
    ? [{ by: 'device', title: t.drill.devices }]
    : tp
      ? [{ by: 'employee', title: t.drill.employees, href: (k) => `${base}/touchpoints/${tp}/employees/${k}${q}` }, { by: 'device', title: t.drill.devices }]
      : [{ by: 'touchpoint', title: t.drill.touchpoints, href: (k) => `${base}/touchpoints/${k}${q}` }, { by: 'employee', title: t.drill.employees }];

  const dayRef = useRef(day);
  dayRef.current = day;
  // The explicit period when the link names one, else the last `days` local days up to today.
  const shown: Period = period ?? { from: addDays(day, -(days - 1)), to: day };
  const summary = useData(async () => {
    const rows = await childRows(s.org.id, 'total', filter, dayRef.current, shown);
    return rows[0] ?? { key: 'total', label: '', today: ZERO, period: ZERO, prev: ZERO };
  }, [s.org.id, loc, tp, emp, shown.from, shown.to, s.version, day]);
  const children = useData(() => Promise.all(levels.map((l) => childRows(s.org.id, l.by, filter, dayRef.current, shown))), [s.org.id, loc, tp, emp, shown.from, shown.to, s.version, day]);
  const fmt = (d: string): string => i18n.day(d, { day: 'numeric', month: 'short', year: 'numeric' });
  const periodLabel = period ? (period.from === period.to ? fmt(period.from) : t.period.range(fmt(period.from), fmt(period.to))) : t.period.last(days);
  const empName = useData(async () => (emp ? (await api<{ rows: Array<{ id: string; name: string }> }>(`/api/v1/orgs/${s.org.id}/employees`)).rows.find((e) => e.id === emp)?.name ?? emp : ''), [s.org.id, emp]);

  if (!location) return <p class="empty">{t.app.notFound}</p>;
  const tpName = tp ? (tp === 'none' ? t.drill.none : s.tpById.get(tp)?.name ?? tp) : '';
  const crumbs = [
    { href: `/orgs/${s.org.id}${q}`, label: t.overview.title },
    { href: `${base}${q}`, label: location.name },
    ...(tp ? [{ href: `${base}/touchpoints/${tp}${q}`, label: tpName }] : []),
    ...(emp ? [{ label: empName.data ?? '…' }] : []),
  ];
  const title = emp ? empName.data ?? '…' : tp ? tpName : location.name;
  const kind = emp ? t.drill.employee : tp ? t.drill.touchpoint : t.drill.location;
  const sum = summary.data;

  return (
    <>
      <Crumbs items={crumbs} />
      <div class="toolbar">
        <h1><small class="muted kind">{kind}</small> {title}</h1>
        {period ? <ExplicitPeriodPicker label={periodLabel} /> : <PeriodPicker days={days} />}
      </div>
      {period ? <p class="note" id="explicit-period">{t.alerts.period.shown(periodLabel, tz)}</p> : null}
      <p class="zone">{location.timezone} · <time>{timeIn(locale, tz, now)}</time> {zoneName(locale, tz, now)}</p>
      <ErrorNote error={summary.error ?? children.error} />
      <div class="summary two">
        <Card title={t.period.today} id="d-today" class="sum"><Figure c={sum?.today ?? ZERO} scoring={s.scoring} big /></Card>
        <Card title={periodLabel} id="d-period" class="sum">
          <Figure c={sum?.period ?? ZERO} scoring={s.scoring} big />
          <div class="fig-line">{sum ? <Change now={sum.period} before={sum.prev} /> : null}</div>
        </Card>
      </div>
      {levels.map((l, i) => (
        <Card title={l.title} id={`level-${l.by}`} key={l.by}>
          <ChildTable rows={children.data?.[i]} href={l.href} periodLabel={periodLabel} />
        </Card>
      ))}
      <TrendsPanel filter={filter} tz={tz} days={days} />
    </>
  );
}

/** The period picker while an explicit period is shown: it is the pressed choice; 7/30/90 days leave it. */
function ExplicitPeriodPicker({ label }: { label: string }) {
  const { t } = useI18n();
  return (
    <div class="seg" role="group" aria-label={t.period.label}>
      <button type="button" aria-pressed="true" id="explicit-period-current">{label}</button>
      {[7, 30, 90].map((d) => (
        <button type="button" aria-pressed="false" title={t.alerts.period.back} onClick={() => navigate(withQuery({ days: String(d), from: null, to: null }))}>{t.period.days(d)}</button>
      ))}
    </div>
  );
}

function ChildTable({ rows, href, periodLabel }: { rows: Child[] | undefined; href: ((key: string) => string) | undefined; periodLabel: string }) {
  const s = useOrg();
  const { t } = useI18n();
  if (!rows) return <p class="empty muted">{t.app.loading}</p>;
  if (!rows.length) return <p class="empty muted">{t.drill.empty}</p>;
  return (
    <div class="table-wrap">
      <table class="grid">
        <thead><tr><th scope="col">{t.drill.name}</th><th scope="col">{t.period.today}</th><th scope="col">{periodLabel}</th></tr></thead>
        <tbody>
          {rows.map((r) => {
            const label = r.key === 'none' ? t.drill.none : r.label;
            return (
              <tr key={r.key} data-key={r.key}>
                <th scope="row">{href && r.key !== 'none' ? <Link href={href(r.key)} class="name">{label}</Link> : <span class="name">{label}</span>}</th>
                <td class="cell"><Figure c={r.today} scoring={s.scoring} /></td>
                <td class="cell"><Figure c={r.period} scoring={s.scoring} /><div class="fig-line"><Change now={r.period} before={r.prev} /></div></td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
