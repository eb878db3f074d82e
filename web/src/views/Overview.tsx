// "How are we doing today, where is it bad": the org's today and period, every location worst
// first, and presses as they arrive.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { useI18n } from '../i18n/index.ts';
import { mark, useOrg, type Received } from '../org.tsx';
import { useData } from '../data.ts';
import { locationFigures, newestVote, withLive, type LocFigures } from '../figures.ts';
import { Card, Change, ErrorNote, Figure, PeriodPicker, Rate } from '../components.tsx';
import { ExportButtons, lastDays } from '../exports.tsx';
import { Link } from '../router.ts';
import { score, share, sum, type Scoring } from '../stats.ts';
import { isOpen, timeIn, zoneName } from '../time.ts';
import type { Location } from '../api.ts';

export function useNow(everyMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

/** Worst first: the period's score, then its share; locations without a score last. */
function worstFirst(figs: Map<string, LocFigures>, scoring: Scoring) {
  return (a: Location, b: Location): number => {
    const fa = figs.get(a.id);
    const fb = figs.get(b.id);
    const sa = fa ? score(fa.period, scoring) ?? 9 : 9;
    const sb = fb ? score(fb.period, scoring) ?? 9 : 9;
    return sa - sb || (fa ? share(fa.period) ?? 2 : 2) - (fb ? share(fb.period) ?? 2 : 2) || a.name.localeCompare(b.name);
  };
}

export function Overview({ days }: { days: number }) {
  const s = useOrg();
  const { t, locale } = useI18n();
  const latest = useRef(s);
  latest.current = s;
  const now = useNow(30_000);
  const loaded = useData(async () => {
    const since = mark(latest.current);
    return { since, figs: await locationFigures(s.org.id, s.locations, days) };
  }, [s.org.id, s.locations, days, s.version]);

  const base = loaded.data;
  const figs = useMemo(() => (base ? withLive(base.figs, s.locById, s.received, base.since) : null), [base, s.received, s.locById]);
  // The order follows the server's figures only, so rows do not jump at every press.
  const order = useMemo(() => (base ? [...s.locations].sort(worstFirst(base.figs, s.scoring)) : s.locations), [base, s.locations, s.scoring]);
  const flashes = useMemo(() => newestVote(s.received), [s.received]);
  const all = figs ? [...figs.values()] : [];
  const today = sum(all.map((f) => f.today));
  const period = sum(all.map((f) => f.period));
  const prev = sum(all.map((f) => f.prev));

  return (
    <>
      <div class="toolbar">
        <h1>{t.overview.title}</h1>
        <PeriodPicker days={days} />
        <ExportButtons path={`/api/v1/orgs/${s.org.id}/reports/tactical`} query={lastDays(s.locations, days)} />
      </div>
      <ErrorNote error={loaded.error} />
      <div class="summary">
        <Card title={t.period.today} id="sum-today" class="sum">
          <Figure c={today} scoring={s.scoring} big flash={s.count} />
          <div class="fig-line muted">{t.period.todayHint}</div>
        </Card>
        <Card title={t.period.last(days)} id="sum-period" class="sum">
          <Figure c={period} scoring={s.scoring} big />
          <div class="fig-line"><Change now={period} before={prev} /></div>
        </Card>
        <Card title={t.fig.responseRate} id="sum-rate" class="sum">
          <Rate c={period} />
        </Card>
        <Feed received={s.received} />
      </div>

      <Card title={t.overview.byLocation} id="by-location">
        {s.locations.length === 0 ? <p class="empty">{t.overview.noLocations}</p> : (
          <div class="table-wrap">
            <table class="grid locations" aria-busy={loaded.loading && !base}>
              <thead>
                <tr>
                  <th scope="col">{t.overview.location}</th>
                  <th scope="col">{t.period.today}</th>
                  <th scope="col">{t.period.last(days)}</th>
                  <th scope="col" class="wide">{t.overview.rate}</th>
                </tr>
              </thead>
              <tbody>
                {order.map((l) => {
                  const f = figs?.get(l.id);
                  const open = isOpen(l.openingHours, l.timezone, now);
                  const flash = flashes.get(l.id);
                  return (
                    <tr key={l.id} data-location={l.id}>
                      <th scope="row">
                        <Link href={`/orgs/${s.org.id}/locations/${l.id}${location.search}`} class="name">{l.name}</Link>
                        <span class="zone" title={l.timezone}>
                          <time>{timeIn(locale, l.timezone, now)}</time> {zoneName(locale, l.timezone, now)}
                          {open === null ? null : <span class={open ? 'open' : 'closed'}> · {open ? t.overview.open : t.overview.closed}</span>}
                          {' · '}{l.timezone}
                        </span>
                      </th>
                      <td class="cell">
                        {flash ? <span class="flash" key={flash} aria-hidden="true" /> : null}
                        {f ? <Figure c={f.today} scoring={s.scoring} /> : <Placeholder />}
                      </td>
                      <td class="cell">
                        {f ? <><Figure c={f.period} scoring={s.scoring} /><div class="fig-line"><Change now={f.period} before={f.prev} /></div></> : <Placeholder />}
                      </td>
                      <td class="cell wide">{f ? <Rate c={f.period} /> : <Placeholder />}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        <p class="legend muted">{t.overview.legend} {t.change.help}</p>
      </Card>
    </>
  );
}

function Placeholder() {
  return <div class="fig"><div class="fig-top"><span class="badge">…</span></div><div class="fig-line" /><div class="fig-line" /></div>;
}

const FEED_LINES = 6;

/** The latest presses, in a box of fixed height; each time is in its location's zone. */
function Feed({ received }: { received: Received[] }) {
  const s = useOrg();
  const { t, locale } = useI18n();
  const lines = received.slice(0, FEED_LINES);
  return (
    <Card title={t.overview.feed} id="feed" class="sum feed">
      <ol class="feed-list" aria-live="off">
        {lines.length === 0 ? <li class="muted feed-empty">{t.overview.feedEmpty}</li> : null}
        {lines.map((r) => {
          const loc = s.locById.get(r.v.locationId);
          const tz = loc?.timezone ?? 'UTC';
          const ts = Date.parse(r.v.ts);
          const tp = r.v.touchpointId ? s.tpById.get(r.v.touchpointId)?.name : null;
          return (
            <li key={r.n} class="feed-item" data-vote={r.v.id}>
              <span class={`dot ${r.v.button === 'satisfied' ? 'w' : 'b'}`} role="img" aria-label={r.v.button === 'satisfied' ? t.fig.satisfied : t.fig.dissatisfied} />
              <time title={tz}>{timeIn(locale, tz, ts, true)} <small>{zoneName(locale, tz, ts)}</small></time>
              <span class="feed-where">{loc?.name ?? r.v.locationId}{tp ? ` · ${tp}` : ''}</span>
              {r.v.flagged.length ? <span class="flagged" title={r.v.flagged.join(', ')}>⚑</span> : null}
            </li>
          );
        })}
      </ol>
    </Card>
  );
}
