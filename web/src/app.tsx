// The application shell: language, sign-in, organisation choice, navigation and the routes.
import type { ComponentChildren } from 'preact';
import { useContext, useEffect, useMemo, useState } from 'preact/hooks';
import { I18nContext, makeI18n, rememberLang, useI18n, type Lang } from './i18n/index.ts';
import { api, currentToken, onAuthChange, setToken, type Org } from './api.ts';
import { Link, match, navigate, useLocation } from './router.ts';
import { useData } from './data.ts';
import { loadOrg, OrgContext, OrgProvider } from './org.tsx';
import { Overview } from './views/Overview.tsx';
import { Drill } from './views/Drill.tsx';
import { Trends } from './views/Trends.tsx';
import { Rankings } from './views/Rankings.tsx';
import { Wall, WallLink } from './views/Wall.tsx';
import { SignIn } from './views/SignIn.tsx';
import { ErrorNote, LangSwitch } from './components.tsx';

const ORG_KEY = 'loyalty.org';

export function App({ initialLang }: { initialLang: Lang }) {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const i18n = useMemo(() => makeI18n(lang, (l) => { rememberLang(l); setLangState(l); }), [lang]);
  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = i18n.t.app.title;
  }, [lang]);
  return <I18nContext.Provider value={i18n}><Root /></I18nContext.Provider>;
}

function Root() {
  const { path } = useLocation();
  const [token, setTokenState] = useState(currentToken());
  const [expired, setExpired] = useState(false);
  useEffect(() => onAuthChange((wasExpired) => {
    setExpired(wasExpired);
    setTokenState(currentToken());
  }), []);
  const wall = match('/wall/:org', path);
  if (wall) return token ? <WallRoot org={wall['org']!} /> : <WallNoToken />;
  if (!token) return <SignIn expired={expired} />;
  return <Signed path={path} />;
}

function WallNoToken() {
  const { t } = useI18n();
  return <main class="wall" id="main"><p class="error">{t.wall.needsToken}</p></main>;
}

function WallRoot({ org }: { org: string }) {
  const data = useData(() => loadOrg(org), [org]);
  if (!data.data) return <main class="wall" id="main"><ErrorNote error={data.error} /></main>;
  return <OrgProvider data={data.data}><Wall /></OrgProvider>;
}

function Signed({ path }: { path: string }) {
  const { t } = useI18n();
  const orgs = useData(() => api<{ rows: Org[] }>('/api/v1/orgs').then((r) => r.rows), []);
  const raw = /^\/orgs\/([^/]+)/.exec(path)?.[1];
  let orgId: string | undefined;
  try { orgId = raw ? decodeURIComponent(raw) : undefined; } catch { orgId = undefined; }
  useEffect(() => {
    if (orgId) { try { localStorage.setItem(ORG_KEY, orgId); } catch { /* private mode */ } return; }
    const list = orgs.data;
    if (!list) return;
    let saved: string | null = null;
    try { saved = localStorage.getItem(ORG_KEY); } catch { /* private mode */ }
    const pick = list.find((o) => o.id === saved) ?? list[0];
    if (pick) navigate(`/orgs/${pick.id}${location.search}`, { replace: true });
  }, [orgId, orgs.data]);

  if (!orgId) {
    return (
      <Frame orgs={orgs.data ?? []} orgId={null}>
        {orgs.data && !orgs.data.length ? <p class="empty">{t.app.noOrg}</p> : <ErrorNote error={orgs.error} />}
      </Frame>
    );
  }
  return <OrgRoute orgId={orgId} orgs={orgs.data ?? []} path={path} />;
}

function OrgRoute({ orgId, orgs, path }: { orgId: string; orgs: Org[]; path: string }) {
  const data = useData(() => loadOrg(orgId), [orgId]);
  if (!data.data) {
    return <Frame orgs={orgs} orgId={orgId}>{data.error ? <ErrorNote error={data.error} /> : <p class="empty muted">…</p>}</Frame>;
  }
  return (
    <OrgProvider data={data.data} key={orgId}>
      <Frame orgs={orgs} orgId={orgId}><Page path={path} /></Frame>
    </OrgProvider>
  );
}

function Page({ path }: { path: string }) {
  const { t } = useI18n();
  const { query } = useLocation();
  const d = Number(query.get('days'));
  const days = d === 7 || d === 90 ? d : 30;
  const base = '/orgs/:org';
  let r: Record<string, string> | null;
  if (match(base, path)) return <Overview days={days} />;
  if (match(`${base}/trends`, path)) return <Trends days={days} />;
  if (match(`${base}/rankings`, path)) return <Rankings days={days} />;
  if (match(`${base}/wall`, path)) return <WallLink />;
  if ((r = match(`${base}/locations/:loc`, path))) return <Drill loc={r['loc']!} days={days} />;
  if ((r = match(`${base}/locations/:loc/touchpoints/:tp`, path))) return <Drill loc={r['loc']!} tp={r['tp']} days={days} />;
  if ((r = match(`${base}/locations/:loc/touchpoints/:tp/employees/:emp`, path))) return <Drill loc={r['loc']!} tp={r['tp']} emp={r['emp']} days={days} />;
  return <p class="empty">{t.app.notFound}</p>;
}

function LiveStatus() {
  const s = useContext(OrgContext);
  const { t } = useI18n();
  if (!s) return <span class="live"><span class="live-dot" aria-hidden="true" /><span class="live-label">{t.live.connecting}</span><span class="live-count" /></span>;
  const label = s.live === 'open' ? t.live.on : s.live === 'denied' ? t.live.denied : s.live === 'connecting' ? t.live.connecting : t.live.off;
  return (
    <span class="live" title={t.live.counterTitle}>
      <span class={`live-dot ${s.live}`} aria-hidden="true" />
      <span class="live-label">{label}</span>
      <span class="live-count" data-count={s.count}>{s.count ? t.live.counter(s.count) : ''}</span>
      <span class="sr" role="status">{s.live === 'open' ? '' : label}</span>
    </span>
  );
}

function Frame({ orgs, orgId, children }: { orgs: Org[]; orgId: string | null; children: ComponentChildren }) {
  const { t } = useI18n();
  const { path } = useLocation();
  const q = location.search;
  const base = orgId ? `/orgs/${orgId}` : '';
  const nav = orgId ? [
    { href: base, label: t.app.nav.overview, active: path === base || path.startsWith(`${base}/locations`) },
    { href: `${base}/trends`, label: t.app.nav.trends, active: path === `${base}/trends` },
    { href: `${base}/rankings`, label: t.app.nav.rankings, active: path === `${base}/rankings` },
    { href: `${base}/wall`, label: t.app.nav.wall, active: path === `${base}/wall` },
  ] : [];
  return (
    <>
      <a class="skip" href="#main">{t.app.skip}</a>
      <header class="top">
        <div class="top-row">
          <Link href={base || '/'} class="brand-link"><span class="logo" aria-hidden="true"><i /><i /></span><span class="brand">{t.app.title}</span></Link>
          {orgs.length > 1 ? (
            <label class="org-pick">
              <span class="sr">{t.app.organisation}</span>
              <select value={orgId ?? ''} onChange={(e) => navigate(`/orgs/${(e.currentTarget as HTMLSelectElement).value}`)}>
                {orgs.map((o) => <option value={o.id}>{o.name}</option>)}
              </select>
            </label>
          ) : <span class="org-name">{orgs[0]?.name ?? ''}</span>}
          <span class="spacer" />
          {orgId ? <LiveStatus /> : null}
          <LangSwitch />
          <button type="button" class="link" onClick={() => setToken(null)}>{t.app.signOut}</button>
        </div>
        {nav.length ? (
          <nav class="tabs" aria-label={t.app.nav.label}>
            {nav.map((n) => <Link href={`${n.href}${n.href.endsWith('/wall') ? '' : q.replace(/([?&])loc=[^&]*&?/, '$1').replace(/[?&]$/, '')}`} aria-current={n.active ? 'page' : undefined}>{n.label}</Link>)}
          </nav>
        ) : null}
      </header>
      <main id="main" tabIndex={-1}>{children}</main>
      <footer class="foot muted">{t.app.api}: <a href="/docs">/docs</a></footer>
    </>
  );
}
