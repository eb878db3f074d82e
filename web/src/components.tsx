// Small building blocks shared by the views. Every figure has fixed line heights so live updates
// change text, never layout.
import type { ComponentChildren } from 'preact';
import { LANGS, useI18n } from './i18n/index.ts';
import { compare, responseRate, score, share, total, wilson, type Counts, type Scoring } from './stats.ts';
import { Link, navigate, withQuery } from './router.ts';

export function ScoreBadge({ value, big }: { value: number | null; big?: boolean }) {
  const { t } = useI18n();
  const label = value ? t.fig.score(value) : t.fig.noScore;
  return <span class={`badge${value ? ` s${value}` : ''}${big ? ' big' : ''}`} role="img" aria-label={label} title={label}>{value ?? '—'}</span>;
}

/** Both buttons' counts, a dot each; screen readers hear the words. */
export function ButtonCounts({ satisfied, dissatisfied }: { satisfied: number; dissatisfied: number }) {
  const { t, n } = useI18n();
  return (
    <>
      <span class="dot w" aria-hidden="true" />{n(satisfied)}<span class="sr"> {t.fig.satisfied},</span>
      <span class="dot b" aria-hidden="true" />{n(dissatisfied)}<span class="sr"> {t.fig.dissatisfied}</span>
    </>
  );
}

/** Score badge, share, its 95 % interval and the counts of both buttons. */
export function Figure({ c, scoring, big, flash }: { c: Counts; scoring: Scoring; big?: boolean; flash?: number }) {
  const { t, pct, n } = useI18n();
  const k = total(c);
  const p = share(c);
  const w = wilson(c.satisfied, k);
  const s = score(c, scoring);
  return (
    <div class={`fig${big ? ' fig-big' : ''}`} data-flash={flash}>
      <div class="fig-top">
        <ScoreBadge value={s} big={big} />
        <span class="share">{p === null ? '—' : pct(p)}</span>
      </div>
      <div class="fig-line muted">
        {k === 0 ? t.fig.noVotes : s === null ? t.fig.belowMin(scoring.minSample)
          : w ? <><span class="sr">{t.fig.interval} </span>{pct(w[0])} – {pct(w[1])}</> : ''}
      </div>
      <div class="fig-line muted counts">
        <ButtonCounts satisfied={c.satisfied} dissatisfied={c.dissatisfied} />
        {c.flagged ? <span class="flagged" title={t.fig.flagged(n(c.flagged))}> ⚑{n(c.flagged)}</span> : null}
      </div>
    </div>
  );
}

/** "▲ +2.1 pp · significant" against the previous period (two-proportion z-test). */
export function Change({ now, before }: { now: Counts; before: Counts }) {
  const { t, pp, pval } = useI18n();
  const c = compare(now, before);
  if (!c) return <span class="change muted">{t.change.none}</span>;
  const dir = Math.abs(c.diff) < 0.0005 ? 'flat' : c.diff > 0 ? 'up' : 'down';
  const arrow = dir === 'up' ? '▲' : dir === 'down' ? '▼' : '●';
  return (
    <span class={`change ${dir}${c.significant ? ' sig' : ''}`} title={`${t.change.vs}: ${t.change.detail(pval(c.p))}`}>
      <span aria-hidden="true">{arrow} </span>{t.change.pp(pp(c.diff))}
      <span class="sig-label"> · {c.significant ? t.change.significant : t.change.notSignificant}</span>
    </span>
  );
}

export function Rate({ c }: { c: Counts }) {
  const { t, pct, n } = useI18n();
  const r = responseRate(c);
  return (
    <div class="fig">
      <div class="fig-top"><span class="share small">{r === null ? '—' : pct(r)}</span></div>
      <div class="fig-line muted">{r === null ? t.fig.noCounter : t.fig.ofVisitors(n(c.visitors))}</div>
      <div class="fig-line muted">{t.fig.votes(n(total(c)))}</div>
    </div>
  );
}

/** A share with its interval drawn on a scale from `min` to 100 %. */
export function IntervalBar({ c, min = 0 }: { c: Counts; min?: number }) {
  const { pct } = useI18n();
  const k = total(c);
  const w = wilson(c.satisfied, k);
  const p = share(c);
  if (!w || p === null) return <div class="ibar empty" />;
  const pos = (x: number): number => Math.max(0, Math.min(100, ((x - min) / (1 - min)) * 100));
  return (
    <div class="ibar" role="img" aria-label={`${pct(p)} (${pct(w[0])} – ${pct(w[1])})`}>
      <div class="ibar-range" style={{ left: `${pos(w[0])}%`, width: `${pos(w[1]) - pos(w[0])}%` }} />
      <div class="ibar-dot" style={{ left: `${pos(p)}%` }} />
    </div>
  );
}

export function PeriodPicker({ days }: { days: number }) {
  const { t } = useI18n();
  return (
    <div class="seg" role="group" aria-label={t.period.label}>
      {[7, 30, 90].map((d) => (
        <button type="button" aria-pressed={d === days} onClick={() => navigate(withQuery({ days: String(d) }), { replace: true })}>{t.period.days(d)}</button>
      ))}
    </div>
  );
}

export function Card({ title, children, actions, id, class: cls }: { title?: ComponentChildren; children: ComponentChildren; actions?: ComponentChildren; id?: string; class?: string }) {
  return (
    <section class={`card${cls ? ` ${cls}` : ''}`} id={id} aria-labelledby={id && title ? `${id}-title` : undefined}>
      {title || actions ? <header class="card-head">{title ? <h2 id={id ? `${id}-title` : undefined}>{title}</h2> : null}{actions}</header> : null}
      {children}
    </section>
  );
}

export function Crumbs({ items }: { items: Array<{ href?: string; label: string }> }) {
  const { t } = useI18n();
  return (
    <nav class="crumbs" aria-label={t.drill.breadcrumb}>
      <ol>
        {items.map((it, i) => <li>{it.href && i < items.length - 1 ? <Link href={it.href}>{it.label}</Link> : <span aria-current={i === items.length - 1 ? 'page' : undefined}>{it.label}</span>}</li>)}
      </ol>
    </nav>
  );
}

export function ErrorNote({ error }: { error: unknown }) {
  const { t } = useI18n();
  if (!error) return null;
  return <p class="error" role="alert">{t.app.error(error instanceof Error ? error.message : String(error))}</p>;
}

export function LangSwitch() {
  const { lang, setLang, t } = useI18n();
  return (
    <div class="seg lang" role="group" aria-label={t.app.language}>
      {LANGS.map((l) => <button type="button" lang={l.lang} aria-pressed={l.lang === lang} title={l.name} onClick={() => setLang(l.lang)}>{l.label}</button>)}
    </div>
  );
}

