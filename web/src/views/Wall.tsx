// The wall display: today's live score for a screen in a shop window or a staff room. Read-only,
// big type, no navigation, no sign-in: opened with a revocable wall link, /wall/{secret}, whose
// secret is the only credential (GET /api/v1/wall/{secret} and its live stream).
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { useI18n } from '../i18n/index.ts';
import { api, ApiError } from '../api.ts';
import { connectLive, type LiveState, type LiveVote } from '../live.ts';
import { voteCounts } from '../figures.ts';
import { Figure } from '../components.tsx';
import { add, countsOf, sum, total, type Counts, type Scoring } from '../stats.ts';
import { dayIn, timeIn, zoneName } from '../time.ts';
import { useNow } from './Overview.tsx';
import { WallLinks } from './Access.tsx';

type WallLocation = { id: string; name: string; timezone: string; day: string; today: { satisfied: number; dissatisfied: number; flagged: number } };
type WallData = { org: { name: string }; label: string; scoring: Scoring; locations: WallLocation[] };

const RELOAD_AFTER_VOTES_MS = 10_000;
const RELOAD_EVERY_MS = 60_000;

export function Wall({ secret }: { secret: string }) {
  const { t, n, locale } = useI18n();
  const now = useNow(15_000);
  const [data, setData] = useState<WallData | null>(null);
  const [gone, setGone] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [live, setLive] = useState<LiveState>('connecting');
  // Live votes received since the last load, added to the loaded figures until the next load.
  const [fresh, setFresh] = useState<Array<{ n: number; v: LiveVote }>>([]);
  const seq = useRef(0);
  const path = `/api/v1/wall/${encodeURIComponent(secret)}`;

  useEffect(() => {
    let reloadTimer: ReturnType<typeof setTimeout> | undefined;
    const load = async (): Promise<void> => {
      reloadTimer = undefined;
      const since = seq.current;
      try {
        const d = await api<WallData>(path);
        setData(d);
        setFresh((f) => f.filter((x) => x.n > since));
        setError(null);
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) setGone(true);
        else setError(e);
      }
    };
    void load();
    const stop = connectLive('', {
      onVote(v) {
        setFresh((f) => [...f, { n: ++seq.current, v }]);
        reloadTimer ??= setTimeout(() => void load(), RELOAD_AFTER_VOTES_MS);
      },
      onState(s) {
        setLive(s);
        if (s === 'denied') void load(); // revoked: the next load says so
      },
      onGap: () => void load(),
    }, `${path}/live`);
    const every = setInterval(() => void load(), RELOAD_EVERY_MS);
    return () => { stop(); clearInterval(every); clearTimeout(reloadTimer); };
  }, [secret]);

  const figs = useMemo(() => {
    const m = new Map<string, Counts>();
    for (const l of data?.locations ?? []) m.set(l.id, countsOf({ ...l.today, visitors: null }));
    for (const { v } of fresh) {
      const l = data?.locations.find((x) => x.id === v.locationId);
      if (l && dayIn(l.timezone, Date.parse(v.ts)) === l.day) m.set(l.id, add(m.get(l.id)!, voteCounts(v)));
    }
    return m;
  }, [data, fresh]);

  if (gone) return <main class="wall" id="main"><p class="error" role="alert">{t.accounts.wallGone}</p></main>;
  if (!data) return <main class="wall" id="main">{error ? <p class="error" role="alert">{t.app.error(String((error as Error).message ?? error))}</p> : <p class="muted">{t.app.loading}</p>}</main>;
  const today = sum(figs.values());
  const last = fresh[fresh.length - 1];
  return (
    <main class="wall" id="main">
      <header class="wall-head">
        <h1>{data.org.name}</h1>
        <span class={`live-dot ${live}`} title={live === 'open' ? t.live.on : t.live.off} />
      </header>
      <section class="wall-total" aria-live="polite">
        <h2>{t.wall.today}</h2>
        <Figure c={today} scoring={data.scoring} big />
        <p class="wall-votes">{t.wall.votesToday}: <strong>{n(total(today))}</strong></p>
        {last ? <span class={`wall-pulse ${last.v.button === 'satisfied' ? 'w' : 'b'}`} key={last.n} aria-hidden="true" /> : null}
      </section>
      <ul class="wall-locs">
        {data.locations.map((l) => {
          const flash = [...fresh].reverse().find((x) => x.v.locationId === l.id)?.n;
          return (
            <li key={l.id}>
              {flash ? <span class="flash" key={flash} aria-hidden="true" /> : null}
              <div class="wall-loc-name">{l.name}<span class="zone">{timeIn(locale, l.timezone, now)} {zoneName(locale, l.timezone, now)}</span></div>
              <Figure c={figs.get(l.id)!} scoring={data.scoring} />
            </li>
          );
        })}
      </ul>
    </main>
  );
}

/** The dashboard page "Wall display": the organisation's wall links (create, copy, revoke). */
export function WallLink() {
  const { t } = useI18n();
  return (
    <>
      <div class="toolbar"><h1>{t.app.nav.wall}</h1></div>
      <WallLinks />
    </>
  );
}
