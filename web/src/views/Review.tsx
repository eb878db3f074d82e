// The review queue of the fake-press filter (README "Fake-press defence"): suspicious episodes — a
// device's flagged presses of one main rule close in time — with their timeline in the location's
// zone, the camera's and the counter's evidence, and one click to confirm or restore the whole
// episode with a reason. The org's figures over the period sit on top, so a decision's effect on
// the score is seen at once; the audit log (people's decisions and the system's re-evaluations) below.
import { useState } from 'preact/hooks';
import { useI18n } from '../i18n/index.ts';
import { useOrg } from '../org.tsx';
import { useData } from '../data.ts';
import { api, scores, type ScoreRow } from '../api.ts';
import { Card, ErrorNote, PeriodPicker, ScoreBadge } from '../components.tsx';
import { navigate, useLocation, withQuery } from '../router.ts';
import { addDays } from '../stats.ts';
import { browserZone, dayIn, timeIn, zoneName } from '../time.ts';

export type Press = { id: string; ts: string; button: string; flagged: string[]; rules: string[]; review: string | null };
export type Episode = {
  id: string; rule: string; deviceId: string; locationId: string; touchpointId: string | null;
  from: string; to: string; votes: number; pending: number; confirmed: number; restored: number; status: string;
  rules: Record<string, number>; satisfied: number; dissatisfied: number; timeline: Press[];
  evidence: { camera: Array<{ ts: string; people: number; clip: string | null }>; visitors: Array<{ day: string; hour: number; people: number }> };
};
type Audit = { id: string; userId: string; at: string; action: string; reason: string; scope: string; deviceId: string; votes: number };
const STATUSES = ['pending', 'confirmed', 'restored', 'all'] as const;

/** The period the misuse pages show: the last `days` local days up to the latest location's today. */
export function usePeriod(days: number): { from: string; to: string } {
  const s = useOrg();
  const to = s.locations.map((l) => dayIn(l.timezone)).sort().at(-1) ?? dayIn('UTC');
  return { from: addDays(to, -(days - 1)), to };
}

/** "14:05:09 GMT+3 · Europe/Moscow": a time in the location's own zone, labelled. */
function LocalTime({ ts, tz, seconds }: { ts: string; tz: string; seconds?: boolean }) {
  const { locale } = useI18n();
  const t = Date.parse(ts);
  return <time dateTime={ts}>{timeIn(locale, tz, t, seconds)}</time>;
}

function Figures({ from, to, version }: { from: string; to: string; version: number }) {
  const s = useOrg();
  const { t, n, pct } = useI18n();
  const row = useData(async () => (await scores(s.org.id, from, to, 'total'))[0] as ScoreRow | undefined, [s.org.id, from, to, version, s.version]);
  const r = row.data;
  return (
    <Card class="pad" id="misuse-figures">
      <div style="display:flex;flex-wrap:wrap;gap:8px 20px;align-items:center" aria-live="polite">
        <ScoreBadge value={r?.score ?? null} big />
        <span data-testid="counted">{t.misuse.counted}: <strong>{r ? n(r.total) : '—'}</strong></span>
        <span>{t.misuse.share}: <strong data-testid="share">{r?.share != null ? pct(r.share) : '—'}</strong></span>
        <span data-testid="held">{t.misuse.heldBack}: <strong>{r ? n(r.flagged) : '—'}</strong></span>
      </div>
    </Card>
  );
}

function EpisodeCard({ e, onDone, deviceName }: { e: Episode; onDone: () => void; deviceName: string | null }) {
  const s = useOrg();
  const { t, n, locale, day } = useI18n();
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const loc = s.locById.get(e.locationId);
  const tz = loc?.timezone ?? 'UTC';
  const tp = e.touchpointId ? s.tpById.get(e.touchpointId)?.name ?? e.touchpointId : null;
  const zone = `${zoneName(locale, tz, Date.parse(e.from))} · ${tz}`;
  const act = async (action: 'confirm' | 'restore'): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await api(`/api/v1/orgs/${encodeURIComponent(s.org.id)}/misuse/episodes/${encodeURIComponent(e.id)}/${action}`, { method: 'POST', json: { reason: reason.trim() } });
      setReason('');
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const rid = `reason-${e.id}`;
  return (
    <article class="card pad episode" aria-labelledby={`ep-${e.id}`} data-rule={e.rule} data-status={e.status}>
      <h2 id={`ep-${e.id}`} style="font-size:15px;margin:0 0 4px">
        {t.misuse.rule[e.rule as keyof typeof t.misuse.rule] ?? e.rule} · {loc?.name ?? e.locationId}{tp ? ` › ${tp}` : ''}
      </h2>
      <p class="muted" style="margin:0 0 6px">
        {t.misuse.when(dayIn(tz, Date.parse(e.from)) === dayIn(tz, Date.parse(e.to)) ? day(dayIn(tz, Date.parse(e.from))) : `${day(dayIn(tz, Date.parse(e.from)))} – ${day(dayIn(tz, Date.parse(e.to)))}`)}{' '}
        <LocalTime ts={e.from} tz={tz} /> – <LocalTime ts={e.to} tz={tz} /> ({zone})
        {' · '}{t.misuse.presses(n(e.votes))} · {t.misuse.device}: {deviceName ?? <code>{e.deviceId}</code>}
        {' · '}{t.misuse.status[e.status as keyof typeof t.misuse.status] ?? e.status}
      </p>
      <p style="margin:0 0 6px;font-size:13px">{t.misuse.rulesLabel}: {Object.entries(e.rules).map(([r, k]) => `${t.misuse.rule[r as keyof typeof t.misuse.rule] ?? r} ${n(k)}`).join(' · ')}</p>
      <ol class="timeline" aria-label={t.misuse.timeline(zone)} style="list-style:none;margin:0 0 8px;padding:0;display:flex;flex-wrap:wrap;gap:6px">
        {e.timeline.map((p) => (
          <li style="display:inline-flex;align-items:center;gap:4px;font-size:12.5px;border:1px solid var(--line);border-radius:6px;padding:2px 6px"
            title={`${p.rules.map((r) => t.misuse.rule[r as keyof typeof t.misuse.rule] ?? r).join(', ')}${p.review ? ` · ${t.misuse.status[p.review as keyof typeof t.misuse.status] ?? p.review}` : ''}`}>
            <span aria-hidden="true" style={`width:12px;height:12px;border-radius:50%;border:1px solid #555;background:${p.button === 'satisfied' ? '#fff' : '#111'}`} />
            <span class="sr">{p.button === 'satisfied' ? t.misuse.white : t.misuse.black}</span>
            <LocalTime ts={p.ts} tz={tz} seconds />
            {p.flagged.length ? null : <span class="muted">({t.misuse.counts})</span>}
          </li>
        ))}
      </ol>
      {e.evidence.camera.length || e.evidence.visitors.length ? (
        <div class="evidence" style="font-size:13px;margin-bottom:8px">
          <strong>{t.misuse.evidence}</strong>
          <ul style="margin:2px 0;padding-left:18px">
            {e.evidence.camera.map((c) => (
              <li><LocalTime ts={c.ts} tz={tz} seconds />: {t.misuse.camera(c.people)}{c.clip ? <> — <a href={c.clip} target="_blank" rel="noopener noreferrer">{t.misuse.clip}</a></> : null}</li>
            ))}
            {e.evidence.visitors.map((v) => <li>{t.misuse.visitors(`${String(v.hour).padStart(2, '0')}:00–${String(v.hour + 1).padStart(2, '0')}:00`, n(v.people))}</li>)}
          </ul>
        </div>
      ) : null}
      <form onSubmit={(ev) => ev.preventDefault()} style="display:flex;flex-wrap:wrap;gap:6px;align-items:center">
        <label for={rid} class="sr">{t.misuse.reason}</label>
        <input id={rid} name="reason" value={reason} placeholder={t.misuse.reasonPlaceholder} required maxLength={1000}
          onInput={(ev) => setReason((ev.currentTarget as HTMLInputElement).value)} style="flex:1 1 220px;min-height:32px" />
        <button type="button" disabled={busy || !reason.trim()} onClick={() => void act('confirm')}>{t.misuse.confirm}</button>
        <button type="button" disabled={busy || !reason.trim()} onClick={() => void act('restore')}>{t.misuse.restore}</button>
      </form>
      <ErrorNote error={error} />
    </article>
  );
}

function AuditLog({ version }: { version: number }) {
  const s = useOrg();
  const { t, n, locale } = useI18n();
  const rows = useData(() => api<{ rows: Audit[] }>(`/api/v1/orgs/${encodeURIComponent(s.org.id)}/misuse/audit?limit=50`).then((r) => r.rows), [s.org.id, version]);
  const tz = browserZone();
  return (
    <Card title={t.misuse.audit} id="misuse-audit">
      <p class="note muted">{t.misuse.auditNote(`${zoneName(locale, tz)} · ${tz}`)}</p>
      {!rows.data ? <p class="empty muted">{t.app.loading}</p> : !rows.data.length ? <p class="empty muted">{t.misuse.noAudit}</p> : (
        <div class="table-wrap">
          <table class="grid">
            <thead><tr><th scope="col">{t.misuse.at}</th><th scope="col">{t.misuse.who}</th><th scope="col">{t.misuse.action}</th><th scope="col">{t.misuse.votes}</th><th scope="col">{t.misuse.reason}</th></tr></thead>
            <tbody>
              {rows.data.map((a) => (
                <tr>
                  <td><time dateTime={a.at}>{dayIn(tz, Date.parse(a.at))} {timeIn(locale, tz, Date.parse(a.at))}</time></td>
                  <td>{a.userId === 'system' ? t.misuse.system : <code>{a.userId}</code>}</td>
                  <td>{t.misuse.actions[a.action as keyof typeof t.misuse.actions] ?? a.action}</td>
                  <td class="num">{n(a.votes)}</td>
                  <td>{a.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}

export function Review({ days }: { days: number }) {
  const s = useOrg();
  const { t } = useI18n();
  const { query } = useLocation();
  const q = query.get('status');
  const status = (STATUSES as readonly string[]).includes(q ?? '') ? q! : 'pending';
  const { from, to } = usePeriod(days);
  const [version, setVersion] = useState(0);
  const devices = useData(() => api<{ rows: Array<{ id: string; name: string | null }> }>(`/api/v1/orgs/${encodeURIComponent(s.org.id)}/devices`)
    .then((r) => new Map(r.rows.map((d) => [d.id, d.name]))), [s.org.id]);
  const eps = useData(() => api<{ rows: Episode[] }>(`/api/v1/orgs/${encodeURIComponent(s.org.id)}/misuse/episodes?from=${from}&to=${to}&status=${status}`).then((r) => r.rows),
    [s.org.id, from, to, status, version]);
  return (
    <>
      <div class="toolbar">
        <h1>{t.misuse.reviewTitle}</h1>
        <div class="seg" role="group" aria-label={t.misuse.statusLabel}>
          {STATUSES.map((x) => <button type="button" aria-pressed={x === status} onClick={() => navigate(withQuery({ status: x }), { replace: true })}>{t.misuse.status[x]}</button>)}
        </div>
        <PeriodPicker days={days} />
      </div>
      <p class="note muted">{t.misuse.reviewNote}</p>
      <Figures from={from} to={to} version={version} />
      <ErrorNote error={eps.error} />
      <section aria-label={t.misuse.episodes} aria-busy={eps.loading}>
        {!eps.data ? <p class="empty muted">{t.app.loading}</p>
          : !eps.data.length ? <p class="empty muted">{t.misuse.noEpisodes}</p>
          : eps.data.map((e) => <EpisodeCard key={e.id} e={e} deviceName={devices.data?.get(e.deviceId) ?? null} onDone={() => setVersion((v) => v + 1)} />)}
      </section>
      <AuditLog version={version} />
    </>
  );
}
