// The wall display: today's live score for a screen in a shop window or a staff room. Read-only,
// big type, no navigation; opened with a token in the link (#token=…) until revocable share
// links arrive with accounts.
import { useMemo, useRef } from 'preact/hooks';
import { useI18n } from '../i18n/index.ts';
import { mark, useOrg } from '../org.tsx';
import { useData } from '../data.ts';
import { locationFigures, newestVote, withLive } from '../figures.ts';
import { Figure } from '../components.tsx';
import { sum, total } from '../stats.ts';
import { timeIn, zoneName } from '../time.ts';
import { useNow } from './Overview.tsx';
import { currentToken } from '../api.ts';

export function Wall() {
  const s = useOrg();
  const { t, n, locale } = useI18n();
  const now = useNow(15_000);
  const latest = useRef(s);
  latest.current = s;
  const loaded = useData(async () => ({ since: mark(latest.current), figs: await locationFigures(s.org.id, s.locations, 1) }), [s.org.id, s.locations, s.version]);
  const figs = useMemo(() => (loaded.data ? withLive(loaded.data.figs, s.locById, s.received, loaded.data.since) : null), [loaded.data, s.received, s.locById]);
  const flashes = useMemo(() => newestVote(s.received), [s.received]);
  const today = sum(figs ? [...figs.values()].map((f) => f.today) : []);
  const last = s.received[0];
  return (
    <main class="wall" id="main">
      <header class="wall-head">
        <h1>{s.org.name}</h1>
        <span class={`live-dot ${s.live}`} title={s.live === 'open' ? t.live.on : t.live.off} />
      </header>
      <section class="wall-total" aria-live="polite">
        <h2>{t.wall.today}</h2>
        <Figure c={today} scoring={s.scoring} big />
        <p class="wall-votes">{t.wall.votesToday}: <strong>{n(total(today))}</strong></p>
        {last ? <span class={`wall-pulse ${last.v.button === 'satisfied' ? 'w' : 'b'}`} key={last.n} aria-hidden="true" /> : null}
      </section>
      <ul class="wall-locs">
        {s.locations.map((l) => {
          const f = figs?.get(l.id);
          const flash = flashes.get(l.id);
          return (
            <li key={l.id}>
              {flash ? <span class="flash" key={flash} aria-hidden="true" /> : null}
              <div class="wall-loc-name">{l.name}<span class="zone">{timeIn(locale, l.timezone, now)} {zoneName(locale, l.timezone, now)}</span></div>
              {f ? <Figure c={f.today} scoring={s.scoring} /> : null}
            </li>
          );
        })}
      </ul>
    </main>
  );
}

/** The dashboard page that hands out the wall display's link. */
export function WallLink() {
  const s = useOrg();
  const { t } = useI18n();
  const link = `${location.origin}/wall/${encodeURIComponent(s.org.id)}#token=${encodeURIComponent(currentToken() ?? '')}`;
  return (
    <>
      <div class="toolbar"><h1>{t.app.nav.wall}</h1></div>
      <section class="card pad">
        <p>{t.wall.link}</p>
        <p class="warn">{t.wall.linkWarning}</p>
        <div class="link-row">
          <input readOnly value={link} aria-label={t.app.nav.wall} onFocus={(e) => (e.currentTarget as HTMLInputElement).select()} />
          <button type="button" onClick={(e) => { const b = e.currentTarget as HTMLButtonElement; void navigator.clipboard?.writeText(link).then(() => { b.textContent = t.wall.copied; }); }}>{t.wall.copy}</button>
          <a class="button" href={link} target="_blank" rel="noopener">{t.wall.open}</a>
        </div>
      </section>
    </>
  );
}
