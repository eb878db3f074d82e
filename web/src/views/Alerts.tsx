// Alerts of the organisation: open first, then acknowledged, then closed; acknowledge, comment or
// close each one (closing needs a comment), see its history, and open the view that explains it.
// Times are those of the alert's location, labelled with its zone.
import { useState } from 'preact/hooks';
import { useI18n } from '../i18n/index.ts';
import { useOrg } from '../org.tsx';
import { useData } from '../data.ts';
import { api, ApiError } from '../api.ts';
import { Card, ErrorNote } from '../components.tsx';
import { Link, navigate, useLocation, withQuery } from '../router.ts';
import { timeIn, zoneName } from '../time.ts';

export type Alert = {
  id: string; ruleId: string; kind: string; locationId: string | null; deviceId: string | null; state: string;
  openedAt: string; lastSeenAt: string; value: number | null; peak: number | null; detail: Record<string, unknown>; link: string;
  acknowledgedBy: string | null; acknowledgedAt: string | null; closedBy: string | null; closedAt: string | null; closeReason: string | null;
};
type HistoryRow = { id: string; at: string; userId: string | null; action: string; comment: string | null };

const FILTERS = ['active', 'closed', 'all'] as const;

/** The path of an alert's link inside this dashboard (the server may make it absolute with PUBLIC_URL). */
const pathOf = (link: string): string => { const u = new URL(link, location.origin); return u.pathname + u.search; };

export function Alerts() {
  const s = useOrg();
  const { t } = useI18n();
  const { query } = useLocation();
  const f = query.get('state');
  const filter = (FILTERS as readonly string[]).includes(f ?? '') ? f! : 'active';
  const [version, setVersion] = useState(0);
  const org = encodeURIComponent(s.org.id);
  const list = useData(() => api<{ rows: Alert[] }>(`/api/v1/orgs/${org}/alerts${filter === 'all' ? '' : `?state=${filter}`}`).then((r) => r.rows), [org, filter, version, s.version]);
  const users = useData(() => api<{ rows: Array<{ id: string; name: string; email: string }> }>(`/api/v1/orgs/${org}/users`).then((r) => new Map(r.rows.map((u) => [u.id, u.name || u.email]))).catch(() => new Map<string, string>()), [org]);
  const who = (id: string | null): string => (id ? users.data?.get(id) ?? id : t.alerts.system);
  return (
    <>
      <div class="toolbar">
        <h1>{t.alerts.title}</h1>
        <div class="seg" role="group" aria-label={t.alerts.filter}>
          {FILTERS.map((x) => <button type="button" aria-pressed={x === filter} onClick={() => navigate(withQuery({ state: x === 'active' ? null : x }), { replace: true })}>{t.alerts.filters[x]}</button>)}
        </div>
        <Link href={`/orgs/${s.org.id}/alerts/rules`}>{t.alerts.rulesLink}</Link>
      </div>
      <ErrorNote error={list.error} />
      {!list.data ? <p class="empty muted">{t.app.loading}</p>
        : !list.data.length ? <p class="empty">{t.alerts.none}</p>
        : list.data.map((a) => <AlertCard key={a.id} a={a} who={who} changed={() => setVersion((v) => v + 1)} />)}
    </>
  );
}

function AlertCard({ a, who, changed }: { a: Alert; who: (id: string | null) => string; changed: () => void }) {
  const s = useOrg();
  const { t, locale, pct, n } = useI18n();
  const loc = a.locationId ? s.locById.get(a.locationId) : undefined;
  const tz = loc?.timezone ?? 'UTC';
  const at = (iso: string): string => {
    const ts = Date.parse(iso);
    const day = new Intl.DateTimeFormat(locale, { timeZone: tz, day: 'numeric', month: 'short' }).format(ts);
    return `${day} ${timeIn(locale, tz, ts)} ${zoneName(locale, tz, ts)} · ${tz}`;
  };
  const d = a.detail as Record<string, any>;
  const text = a.kind === 'score_below' ? t.alerts.detail.score_below(String(d['score']), pct(Number(d['share'])), n(Number(d['total'])), String(d['threshold']))
    : a.kind === 'spike' ? t.alerts.detail.spike(n(Number(d['dissatisfied'])), n(Number(d['votes'])), String(d['windowMinutes']), pct(Number(d['baseline'])))
    : a.kind === 'device_offline' ? t.alerts.detail.device_offline(String(d['device']), d['lastSeenAt'] ? at(String(d['lastSeenAt'])) : '—')
    : t.alerts.detail.battery_low(String(d['device']), n(Number(d['battery'])));
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [history, setHistory] = useState<HistoryRow[] | null>(null);
  const base = `/api/v1/orgs/${encodeURIComponent(s.org.id)}/alerts/${encodeURIComponent(a.id)}`;
  const act = async (what: 'ack' | 'comment' | 'close'): Promise<void> => {
    if (what !== 'ack' && !comment.trim()) { setError(new Error(t.alerts.commentRequired)); return; }
    setBusy(true);
    setError(null);
    try {
      const r = await api<{ history: HistoryRow[] }>(`${base}/${what}`, { method: 'POST', json: comment.trim() ? { comment: comment.trim() } : {} });
      setComment('');
      if (history) setHistory(r.history);
      changed();
    } catch (e) {
      setError(e instanceof ApiError ? e : new Error(String(e)));
    } finally {
      setBusy(false);
    }
  };
  const toggleHistory = async (): Promise<void> => {
    if (history) { setHistory(null); return; }
    try { setHistory((await api<{ history: HistoryRow[] }>(base)).history); } catch (e) { setError(e); }
  };
  const id = `alert-${a.id}`;
  return (
    <Card id={id} title={<>{t.alerts.kinds[a.kind] ?? a.kind}{loc ? ` · ${loc.name}` : ''}</>} actions={<span class={a.state === 'open' ? 'warn' : 'muted'}>{t.alerts.states[a.state]}</span>}>
      <div style="padding: 0 12px 12px">
        <p>{text}</p>
        <p class="hint muted">
          {t.alerts.opened(at(a.openedAt))}{a.state !== 'closed' ? `, ${t.alerts.lastSeen(at(a.lastSeenAt))}` : ''}
          {a.acknowledgedAt ? <><br />{t.alerts.states['acknowledged']} {at(a.acknowledgedAt)} {t.alerts.by(who(a.acknowledgedBy))}</> : null}
          {a.closedAt ? <><br />{t.alerts.closedReason[a.closeReason ?? 'manual']} {at(a.closedAt)}{a.closedBy ? ` ${t.alerts.by(who(a.closedBy))}` : ''}</> : null}
        </p>
        <div class="link-row">
          <Link href={pathOf(a.link)}>{t.alerts.explain}</Link>
          <button type="button" aria-expanded={history !== null} aria-controls={`${id}-history`} onClick={() => void toggleHistory()}>{history ? t.alerts.hideHistory : t.alerts.history}</button>
        </div>
        <div class="stack">
          <label>{t.alerts.commentLabel}<textarea rows={2} maxLength={2000} value={comment} onInput={(e) => setComment((e.currentTarget as HTMLTextAreaElement).value)} /></label>
          <div class="link-row">
            {a.state === 'open' ? <button type="button" disabled={busy} onClick={() => void act('ack')}>{t.alerts.ack}</button> : null}
            <button type="button" disabled={busy} onClick={() => void act('comment')}>{t.alerts.comment}</button>
            {a.state !== 'closed' ? <button type="button" disabled={busy} onClick={() => void act('close')}>{t.alerts.close}</button> : null}
          </div>
        </div>
        <ActionError error={error} />
        {history ? (
          <ol id={`${id}-history`} aria-label={t.alerts.history}>
            {history.map((h) => <li key={h.id}>{at(h.at)} — {t.alerts.actions[h.action] ?? h.action} {t.alerts.by(who(h.userId))}{h.comment ? `: “${h.comment}”` : ''}</li>)}
          </ol>
        ) : null}
      </div>
    </Card>
  );
}

/** A failed action (not a failed load, which ErrorNote retries): the server's message, announced. */
export function ActionError({ error }: { error: unknown }) {
  if (!error) return null;
  return <p class="error" role="alert">{error instanceof Error ? error.message : String(error)}</p>;
}
