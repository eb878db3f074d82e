// The application shell: language, sign-in, organisation choice, navigation and the routes.
import type { ComponentChildren } from 'preact';
import { useContext, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { I18nContext, makeI18n, rememberLang, useI18n, type Lang } from './i18n/index.ts';
import { api, currentUser, loadMe, onAuthChange, signOut, type Org } from './api.ts';
import { Link, match, navigate, useLocation } from './router.ts';
import { useData } from './data.ts';
import { loadOrg, OrgContext, OrgProvider, useOrgVersion } from './org.tsx';
import { Overview } from './views/Overview.tsx';
import { Drill, periodOf } from './views/Drill.tsx';
import { Trends } from './views/Trends.tsx';
import { Rankings } from './views/Rankings.tsx';
import { Wall, WallLink } from './views/Wall.tsx';
import { SignIn } from './views/SignIn.tsx';
import { Invite } from './views/Invite.tsx';
import { Setup } from './views/Setup.tsx';
// Eager: the wall-link page and the invite page share its parts.
import { Access } from './views/Access.tsx';
import { ErrorNote, LangSwitch } from './components.tsx';
import { lazyPage } from './lazy.tsx';

// Opened by few visits: loaded on first use (web/src/lazy.tsx).
const Reports = lazyPage(() => import('./views/Reports.tsx').then((m) => m.Reports));
const Review = lazyPage(() => import('./views/Review.tsx').then((m) => m.Review));
const MisuseReport = lazyPage(() => import('./views/MisuseReport.tsx').then((m) => m.MisuseReport));
const Manage = lazyPage(() => import('./views/manage/index.tsx').then((m) => m.Manage));
const Partner = lazyPage(() => import('./views/Partner.tsx').then((m) => m.Partner));
const Alerts = lazyPage(() => import('./views/Alerts.tsx').then((m) => m.Alerts));
const AlertRules = lazyPage(() => import('./views/AlertRules.tsx').then((m) => m.AlertRules));

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
  const [user, setUser] = useState(currentUser());
  const [expired, setExpired] = useState(false);
  useEffect(() => onAuthChange((wasExpired) => {
    setExpired(wasExpired);
    setUser(currentUser());
  }), []);
  // Public pages: their link's secret is the credential.
  const wall = match('/wall/:secret', path);
  if (wall) return <Wall secret={wall['secret']!} />;
  const invite = match('/invite/:secret', path);
  if (invite) return <Invite secret={invite['secret']!} />;
  const setup = match('/setup/:secret', path);
  if (setup) return <Setup secret={setup['secret']!} />;
  // Who is signed in is the session cookie's business: ask the server once.
  if (user === undefined) return <Checking />;
  if (!user) return <SignIn expired={expired} />;
  return <Signed path={path} />;
}

function Checking() {
  const { t } = useI18n();
  const [error, setError] = useState<unknown>(null);
  useEffect(() => { loadMe().catch(setError); }, []);
  return <main id="main" class="signin">{error ? <ErrorNote error={error} /> : <p class="muted">{t.app.loading}</p>}</main>;
}

function Signed({ path }: { path: string }) {
  const { t } = useI18n();
  const orgs = useData(() => api<{ rows: Org[] }>('/api/v1/orgs').then((r) => r.rows), []);
  const raw = /^\/orgs\/([^/]+)/.exec(path)?.[1];
  let orgId: string | undefined;
  try { orgId = raw ? decodeURIComponent(raw) : undefined; } catch { orgId = undefined; }
  const partner = path === '/partner';
  useEffect(() => {
    if (partner) return;
    if (orgId) { try { localStorage.setItem(ORG_KEY, orgId); } catch { /* private mode */ } return; }
    const list = orgs.data;
    if (!list) return;
    let saved: string | null = null;
    try { saved = localStorage.getItem(ORG_KEY); } catch { /* private mode */ }
    const pick = list.find((o) => o.id === saved) ?? list[0];
    if (pick) navigate(`/orgs/${pick.id}${location.search}`, { replace: true });
  }, [orgId, orgs.data, partner]);

  if (partner) return <Frame orgs={orgs.data ?? []} orgId={null}><Partner /></Frame>;
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
  const changed = useOrgVersion();
  const data = useData(() => loadOrg(orgId), [orgId, changed]);
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
  const period = periodOf(query.get('from'), query.get('to')); // an explicit period (alert links); the location pages honour it
  const base = '/orgs/:org';
  let r: Record<string, string> | null;
  if (match(base, path)) return <Overview days={days} />;
  if (match(`${base}/trends`, path)) return <Trends days={days} />;
  if (match(`${base}/rankings`, path)) return <Rankings days={days} />;
  if (match(`${base}/reports`, path)) return <Reports />;
  if (match(`${base}/wall`, path)) return <WallLink />;
  if (match(`${base}/review`, path)) return <Review days={days} />;
  if (match(`${base}/misuse`, path)) return <MisuseReport days={days} />;
  if ((r = match(`${base}/manage/:section`, path))) return <Manage section={r['section']!} />;
  if (match(`${base}/access`, path)) return <Access />;
  if (match(`${base}/alerts`, path)) return <Alerts />;
  if (match(`${base}/alerts/rules`, path)) return <AlertRules />;
  if ((r = match(`${base}/locations/:loc`, path))) return <Drill loc={r['loc']!} days={days} period={period} />;
  if ((r = match(`${base}/locations/:loc/touchpoints/:tp`, path))) return <Drill loc={r['loc']!} tp={r['tp']} days={days} period={period} />;
  if ((r = match(`${base}/locations/:loc/touchpoints/:tp/employees/:emp`, path))) return <Drill loc={r['loc']!} tp={r['tp']} emp={r['emp']} days={days} period={period} />;
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
  const role = (useContext(OrgContext)?.org as { you?: { role: string } } | undefined)?.you?.role;
  // `main`: the destinations a phone shows in the row; the others open from "More" (styles.css).
  const nav: NavItem[] = orgId ? [
    { href: base, label: t.app.nav.overview, active: path === base || path.startsWith(`${base}/locations`), main: true },
    { href: `${base}/trends`, label: t.app.nav.trends, active: path === `${base}/trends`, main: true },
    { href: `${base}/rankings`, label: t.app.nav.rankings, active: path === `${base}/rankings` },
    { href: `${base}/reports`, label: t.reports.nav, active: path === `${base}/reports`, main: true },
    { href: `${base}/alerts`, label: t.alerts.nav, active: path.startsWith(`${base}/alerts`), main: true },
    { href: `${base}/review`, label: t.misuse.nav.review, active: path === `${base}/review` },
    { href: `${base}/misuse`, label: t.misuse.nav.report, active: path === `${base}/misuse` },
    { href: `${base}/wall`, label: t.app.nav.wall, active: path === `${base}/wall` },
    { href: `${base}/manage/locations`, label: t.manage.nav, active: path.startsWith(`${base}/manage`) },
    { href: `${base}/access`, label: t.accounts.nav, active: path === `${base}/access` },
    ...(['admin', 'partner-admin'].includes(role ?? '') ? [{ href: '/partner', label: t.manage.partnerNav, active: false }] : []),
  ].map((n) => ({ ...n, href: `${n.href}${/\/(wall|access)$/.test(n.href) ? '' : q.replace(/([?&])loc=[^&]*&?/, '$1').replace(/[?&]$/, '')}` })) : [];
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
          <button type="button" class="link" onClick={() => void signOut()}>{t.app.signOut}</button>
        </div>
        {nav.length ? <Tabs items={nav} /> : null}
      </header>
      <main id="main" tabIndex={-1}>{children}</main>
      <footer class="foot muted">{t.app.api}: <a href="/docs">/docs</a></footer>
    </>
  );
}

type NavItem = { href: string; label: string; active: boolean; main?: boolean };

/**
 * The section tabs. A desktop shows them all in one row; a phone (below 760 px, styles.css) shows the
 * `main` ones and a "More" disclosure with the rest. Both sets are rendered and CSS picks, so the
 * layout never depends on measuring the window. The menu closes on navigation, on Escape (focus back
 * to its button), on a click outside and when focus leaves the navigation.
 */
function Tabs({ items }: { items: NavItem[] }) {
  const { t } = useI18n();
  const { path } = useLocation();
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const more = items.filter((n) => !n.main);
  useEffect(() => setOpen(false), [path]);
  useEffect(() => {
    if (!open) return;
    const away = (e: Event): void => { if (!root.current?.contains(e.target as Node)) setOpen(false); };
    document.addEventListener('pointerdown', away);
    return () => document.removeEventListener('pointerdown', away);
  }, [open]);
  const link = (n: NavItem, cls?: string) => <Link href={n.href} class={cls} aria-current={n.active ? 'page' : undefined}>{n.label}</Link>;
  return (
    <nav class="tabs" aria-label={t.app.nav.label} ref={root}
      onKeyDown={(e) => { if (e.key === 'Escape' && open) { e.preventDefault(); setOpen(false); button.current?.focus(); } }}
      onFocusOut={(e) => { if (open && !root.current?.contains(e.relatedTarget as Node | null)) setOpen(false); }}>
      <div class="tabs-row">{items.map((n) => link(n, n.main ? undefined : 'tab-extra'))}</div>
      {more.length ? (
        <>
          <button type="button" ref={button} class={`tabs-more${more.some((n) => n.active) ? ' current' : ''}`}
            aria-expanded={open} aria-controls="nav-more" onClick={() => setOpen((o) => !o)}>{t.app.navMore}</button>
          {/* Following the current page's own link changes no path: the click closes the menu too. */}
          <ul id="nav-more" class="tabs-menu" hidden={!open} onClick={(e) => { if ((e.target as Element).closest('a')) setOpen(false); }}>
            {more.map((n) => <li>{link(n)}</li>)}
          </ul>
        </>
      ) : null}
    </nav>
  );
}
