// Reports: pick a report, a period (or a day) and locations; see it; download it as .xlsx or CSV in
// one click (raw votes too); and "email me this every …" (a schedule), with the list of my schedules.
import { useState } from 'preact/hooks';
import { useI18n } from '../i18n/index.ts';
import { useOrg } from '../org.tsx';
import { useData } from '../data.ts';
import { api } from '../api.ts';
import { Card, ErrorNote, ScoreBadge } from '../components.tsx';
import { addDays } from '../stats.ts';
import { dayIn } from '../time.ts';
import { download, ExportButtons, lastDays } from '../exports.tsx';

type Kind = 'tactical' | 'employees' | 'operational';
type Row = { key: string; label: string; total: number; share: number | null; score: number | null; wilson: number[] | null };
type Change = { diff: number; significant: boolean } | null;
type Schedule = { id: string; frequency: string; report: string; lang: string; timezone: string; sendHour: number; nextRunAt: string; locations: string[] | null };

export function Reports() {
  const s = useOrg();
  const { t, n, pct, pp, lang } = useI18n();
  const today = s.locations.map((l) => dayIn(l.timezone)).sort().at(-1) ?? dayIn('UTC');
  const [kind, setKind] = useState<Kind>('tactical');
  const [from, setFrom] = useState(addDays(today, -29));
  const [to, setTo] = useState(today);
  const [day, setDay] = useState('');
  const [locs, setLocs] = useState<string[]>([]);
  const [freq, setFreq] = useState('weekly');
  const [hour, setHour] = useState(9);
  const [version, setVersion] = useState(0);
  const [note, setNote] = useState<unknown>(null);
  const base = `/api/v1/orgs/${s.org.id}`;
  const query: Record<string, string> = kind === 'operational' ? (day ? { day } : {}) : { from, to };
  if (locs.length) query['locations'] = locs.join(',');
  const qs = new URLSearchParams(query).toString();
  const report = useData(() => api<any>(`${base}/reports/${kind}?${qs}`), [kind, qs]);
  const schedules = useData(() => api<{ rows: Schedule[] }>(`${base}/report-schedules`), [s.org.id, version]);
  const toggle = (id: string) => setLocs((l) => (l.includes(id) ? l.filter((x) => x !== id) : [...l, id]));
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

  const schedule = async (): Promise<void> => {
    setNote(null);
    try {
      await api(`${base}/report-schedules`, { method: 'POST', json: { frequency: freq, report: kind, lang, timezone: zone, sendHour: hour, ...(locs.length ? { locations: locs } : {}) } });
      setVersion((v) => v + 1);
    } catch (e) { setNote(e); }
  };
  const remove = async (id: string): Promise<void> => {
    setNote(null);
    try { await api(`${base}/report-schedules/${id}`, { method: 'DELETE' }); setVersion((v) => v + 1); } catch (e) { setNote(e); }
  };
  const change = (c: Change) => (c ? `${pp(c.diff)}${c.significant ? ' *' : ''}` : '—');
  const rows: Array<Row & { change?: Change; ly?: Change; extra?: string }> = !report.data ? []
    : kind === 'tactical' ? report.data.locations.map((r: any) => ({ ...r, change: r.change, ly: r.changeVsLastYear }))
    : kind === 'employees' ? report.data.employees.map((r: any) => ({ ...r, extra: t.reports.shifts(r.shifts, n(r.shiftHours)) }))
    : report.data.locations.map((l: any) => ({ ...l.total, key: l.id, label: l.label, extra: `${l.day}${l.live ? ` · ${t.reports.live}` : ''} (${l.timezone})` }));

  return (
    <>
      <div class="toolbar"><h1>{t.reports.title}</h1></div>
      <Card title={t.reports.pick}>
        <form class="report-form" onSubmit={(e) => e.preventDefault()}>
          <label>{t.reports.report}{' '}
            <select value={kind} onChange={(e) => setKind((e.currentTarget as HTMLSelectElement).value as Kind)}>
              <option value="tactical">{t.reports.kinds.tactical}</option>
              <option value="employees">{t.reports.kinds.employees}</option>
              <option value="operational">{t.reports.kinds.operational}</option>
            </select>
          </label>
          {kind === 'operational' ? (
            <label>{t.reports.day}{' '}<input type="date" value={day} onChange={(e) => setDay((e.currentTarget as HTMLInputElement).value)} />
              <span class="muted"> {t.reports.todayHint}</span></label>
          ) : (
            <>
              <label>{t.reports.from}{' '}<input type="date" value={from} max={to} onChange={(e) => setFrom((e.currentTarget as HTMLInputElement).value)} /></label>
              <label>{t.reports.to}{' '}<input type="date" value={to} min={from} onChange={(e) => setTo((e.currentTarget as HTMLInputElement).value)} /></label>
            </>
          )}
          <fieldset>
            <legend>{t.reports.locations}</legend>
            {s.locations.map((l) => (
              <label key={l.id} class="check"><input type="checkbox" checked={locs.includes(l.id)} onChange={() => toggle(l.id)} /> {l.name}</label>
            ))}
            <span class="muted">{locs.length ? '' : t.reports.allLocations}</span>
          </fieldset>
          <div class="actions">
            <ExportButtons path={`${base}/reports/${kind}`} query={query} />{' '}
            {kind !== 'operational' ? <ExportButtons path={`${base}/exports/votes`} query={{ from, to }} label={t.reports.rawVotes} /> : null}
            {kind !== 'operational' ? <span class="muted"> {t.reports.rawVotes}</span> : null}
          </div>
        </form>
      </Card>
      <ErrorNote error={report.error ?? note} />
      <Card title={t.reports.kinds[kind]}>
        {!report.data ? <p class="empty muted">{t.app.loading}</p> : rows.length === 0 ? <p class="empty muted">{t.reports.empty}</p> : (
          <div class="table-wrap">
            <table class="grid">
              <thead><tr>
                <th scope="col">{kind === 'employees' ? t.reports.employee : t.reports.location}</th>
                <th scope="col">{t.reports.votes}</th><th scope="col">{t.reports.share}</th><th scope="col">{t.reports.score}</th>
                {kind === 'tactical' ? <><th scope="col">{t.reports.vsPrevious}</th><th scope="col">{t.reports.vsLastYear}</th></> : <th scope="col" />}
              </tr></thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.key}>
                    <th scope="row">{r.label}</th>
                    <td class="num">{n(r.total)}</td>
                    <td class="num">{r.share === null ? '—' : pct(r.share)}<span class="zone">{r.wilson ? `${pct(r.wilson[0]!)} – ${pct(r.wilson[1]!)}` : ''}</span></td>
                    <td class="badge-cell"><ScoreBadge value={r.score} /></td>
                    {kind === 'tactical' ? <><td class="num">{change(r.change ?? null)}</td><td class="num">{change(r.ly ?? null)}</td></> : <td class="muted">{r.extra}</td>}
                  </tr>
                ))}
              </tbody>
            </table>
            {kind === 'tactical' ? <p class="note muted">{t.reports.significant}</p> : null}
            {kind === 'employees' ? <p class="note muted">{t.reports.minSample(report.data.minSample)}</p> : null}
            {kind === 'operational' && report.data.devices.length ? <p class="note">{t.reports.devices(report.data.devices.length)}</p> : null}
          </div>
        )}
      </Card>
      <Card title={t.reports.email}>
        <form class="report-form" onSubmit={(e) => { e.preventDefault(); void schedule(); }}>
          <label>{t.reports.every}{' '}
            <select value={freq} onChange={(e) => setFreq((e.currentTarget as HTMLSelectElement).value)}>
              <option value="daily">{t.reports.freq.daily}</option>
              <option value="weekly">{t.reports.freq.weekly}</option>
              <option value="monthly">{t.reports.freq.monthly}</option>
            </select>
          </label>
          <label>{t.reports.at}{' '}
            <select value={hour} onChange={(e) => setHour(Number((e.currentTarget as HTMLSelectElement).value))}>
              {Array.from({ length: 24 }, (_, h) => <option value={h}>{`${String(h).padStart(2, '0')}:00`}</option>)}
            </select>
            <span class="muted"> {zone}</span>
          </label>
          <button type="submit">{t.reports.emailMe}</button>
        </form>
        <ErrorNote error={schedules.error} />
        <ul class="schedules">
          {(schedules.data?.rows ?? []).map((x) => (
            <li key={x.id}>
              {t.reports.freq[x.frequency as 'daily'] ?? x.frequency} · {t.reports.kinds[x.report as Kind] ?? x.report} · {`${String(x.sendHour).padStart(2, '0')}:00`} {x.timezone} · {x.lang.toUpperCase()}
              {' · '}{t.reports.next} {new Date(x.nextRunAt).toLocaleString(lang === 'ru' ? 'ru-RU' : 'en-GB', { timeZone: x.timezone, dateStyle: 'medium', timeStyle: 'short' })}{' '}
              <button type="button" onClick={() => void remove(x.id)}>{t.reports.remove}</button>
            </li>
          ))}
        </ul>
        {schedules.data && !schedules.data.rows.length ? <p class="muted">{t.reports.noSchedules}</p> : null}
      </Card>
    </>
  );
}
