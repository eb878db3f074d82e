// Reports: pick a report, a period (or a day) and locations; see it; download it as .xlsx or CSV in
// one click (raw votes too); and "email me this every …" (a schedule), with the list of my schedules.
import { useState } from 'preact/hooks';
import { useI18n } from '../i18n/index.ts';
import { useOrg } from '../org.tsx';
import { useData } from '../data.ts';
import { api } from '../api.ts';
import { ButtonCounts, Card, ErrorNote, ScoreBadge } from '../components.tsx';
import { addDays, score, share, type Counts, type Scoring } from '../stats.ts';
import { dayIn, formatDay, timeIn, zoneName } from '../time.ts';
import { download, ExportButtons, lastDays } from '../exports.tsx';

type Kind = 'tactical' | 'employees' | 'operational';
type Row = { key: string; label: string; total: number; share: number | null; score: number | null; wilson: number[] | null };
type Change = { diff: number; significant: boolean } | null;
/** GET …/reports/operational (src/reports/operational.ts): hours are the location's local hours; null = still to come. */
type HourCell = { satisfied: number; dissatisfied: number; flagged: number } | null;
type OpSlice = { id: string; label: string; hours: HourCell[]; total: Row & { satisfied: number; dissatisfied: number; flagged: number } };
type OpLocation = OpSlice & { timezone: string; day: string; live: boolean; touchpoints: OpSlice[] };
type OpDevice = { id: string; name: string | null; kind: string; locationId: string | null; problem: string; lastSeenAt: string | null; battery: number | null };
type Operational = { day: string | null; asOf: string; locations: OpLocation[]; devices: OpDevice[] };
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
  // Today so far follows the live presses (s.version); the answer carries its kind, so a switch never renders one report's data as another's.
  const follow = kind === 'operational' && !day ? s.version : 0;
  const report = useData(() => api<any>(`${base}/reports/${kind}?${qs}`).then((data) => ({ kind, data })), [kind, qs, follow]);
  const data = report.data?.kind === kind ? report.data.data : undefined;
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
  const rows: Array<Row & { change?: Change; ly?: Change; extra?: string }> = !data ? []
    : kind === 'tactical' ? data.locations.map((r: any) => ({ ...r, change: r.change, ly: r.changeVsLastYear }))
    : kind === 'employees' ? data.employees.map((r: any) => ({ ...r, extra: t.reports.shifts(r.shifts, n(r.shiftHours)) }))
    : []; // the operational report has its own tables (OperationalDetail)

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
          <fieldset class="report-locs">
            <legend>{t.reports.locations}</legend>
            <div class="checks">
              {s.locations.map((l) => (
                <label key={l.id} class="check"><input type="checkbox" checked={locs.includes(l.id)} onChange={() => toggle(l.id)} /><span>{l.name}</span></label>
              ))}
            </div>
            <p class="checks-hint muted">{locs.length ? '' : t.reports.allLocations}</p>
          </fieldset>
          <div class="actions">
            <ExportButtons path={`${base}/reports/${kind}`} query={query} />{' '}
            {kind !== 'operational' ? (
              <span class="raw-votes">
                <ExportButtons path={`${base}/exports/votes`} query={{ from, to }} label={t.reports.rawVotes} />
                <span class="muted"> {t.reports.rawVotes}</span>
              </span>
            ) : null}
          </div>
        </form>
      </Card>
      <ErrorNote error={report.error ?? note} />
      {kind === 'operational' && data ? <OperationalDetail rep={data as Operational} /> : <Card title={t.reports.kinds[kind]}>
        {!data ? <p class="empty muted">{t.app.loading}</p> : rows.length === 0 ? <p class="empty muted">{t.reports.empty}</p> : (
          <>
            <div class="table-wrap report-wrap">
              <table class="grid report-table report-rows">
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
            </div>
            {kind === 'tactical' ? <p class="note muted">{t.reports.significant}</p> : null}
            {kind === 'employees' ? <p class="note muted">{t.reports.minSample(data.minSample)}</p> : null}
          </>
        )}
      </Card>}
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
        {schedules.data && !schedules.data.rows.length ? <p class="empty muted">{t.reports.noSchedules}</p> : null}
      </Card>
    </>
  );
}

const hh = (h: number): string => `${String(h).padStart(2, '0')}:00`;
const countsOf = (c: NonNullable<HourCell>): Counts => ({ ...c, visitors: 0 });

/** The operational report below its summary: each location's day hour by hour, then the devices that need someone. */
function OperationalDetail({ rep }: { rep: Operational }) {
  const { t, n, locale } = useI18n();
  const s = useOrg();
  const at = Date.parse(rep.asOf);
  const zoneOf = (id: string | null): string => rep.locations.find((l) => l.id === id)?.timezone ?? (id ? s.locById.get(id)?.timezone : undefined) ?? 'UTC';
  // Last contact in the device's location's zone, labelled; the date only when it is not that zone's today.
  const seen = (d: OpDevice): string => {
    if (!d.lastSeenAt) return t.manage.devices.never;
    const ts = Date.parse(d.lastSeenAt);
    const tz = zoneOf(d.locationId);
    const date = dayIn(tz, ts) === dayIn(tz, at) ? '' : `${formatDay(locale, dayIn(tz, ts))} `;
    return `${date}${timeIn(locale, tz, ts)} ${zoneName(locale, tz, ts)}`;
  };
  const problem = (d: OpDevice): string => {
    const label = d.problem === 'silent' ? t.reports.silent : (t.manage.devices.states as Record<string, string>)[d.problem] ?? d.problem;
    return d.problem === 'low_battery' && d.battery !== null ? `${label} · ${n(d.battery)} %` : label;
  };
  return (
    <>
      {rep.locations.map((l) => <LocationHours key={l.id} l={l} scoring={s.scoring} asOf={at} />)}
      <Card title={t.reports.devices(rep.devices.length)} id="op-devices">
        {!rep.devices.length ? <p class="empty muted">{t.reports.noDeviceProblems}</p> : (
          <div class="table-wrap">
            <table class="grid compact op-devices">
              <thead><tr>
                <th scope="col">{t.manage.devices.device}</th><th scope="col">{t.reports.location}</th>
                <th scope="col">{t.reports.problem}</th><th scope="col">{t.manage.devices.lastSeen}</th>
              </tr></thead>
              <tbody>
                {rep.devices.map((d) => (
                  <tr key={`${d.id}/${d.problem}`} data-device={d.id}>
                    <th scope="row">{d.name ?? d.id}<span class="zone">{d.kind}</span></th>
                    <td>{d.locationId ? s.locById.get(d.locationId)?.name ?? d.locationId : '—'}</td>
                    <td class={d.problem === 'offline' ? 'warn' : undefined}>{problem(d)}</td>
                    <td>{seen(d)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </>
  );
}

/**
 * One location's day: a column per local hour, the location's row and its touchpoints' rows beneath,
 * each cell the share coloured by the org's score (the score's own colours) over both buttons' counts.
 * Hours with no vote at either end of the day are left out (a live day runs to the current hour).
 */
function LocationHours({ l, scoring, asOf }: { l: OpLocation; scoring: Scoring; asOf: number }) {
  const { t, n, pct, locale, day } = useI18n();
  const voted = l.hours.flatMap((c, h) => (c && c.satisfied + c.dissatisfied > 0 ? [h] : []));
  const lived = l.hours.flatMap((c, h) => (c ? [h] : []));
  const first = voted[0];
  const last = Math.max(voted.at(-1) ?? -1, l.live ? lived.at(-1) ?? -1 : -1);
  const hours = first === undefined ? [] : Array.from({ length: last - first + 1 }, (_, i) => first + i);
  const cell = (c: HourCell, h: number) => {
    if (!c) return <td key={h} data-hour={h} class="hour later"><span class="sr">{t.reports.later}</span></td>;
    const k = c.satisfied + c.dissatisfied;
    const sc = score(countsOf(c), scoring);
    const p = share(countsOf(c));
    return (
      <td key={h} data-hour={h} class="hour" title={k ? (sc ? t.fig.score(sc) : t.fig.belowMin(scoring.minSample)) : undefined}>
        <span class={`hour-share${sc ? ` s${sc}` : ''}`}>{p === null ? '—' : pct(p, 0)}</span>
        <span class="hour-counts"><ButtonCounts satisfied={c.satisfied} dissatisfied={c.dissatisfied} /></span>
        {sc ? <span class="sr">, {t.fig.score(sc)}</span> : null}
      </td>
    );
  };
  const row = (x: OpSlice, cls: string) => (
    <tr key={x.id} class={cls} data-slice={x.id}>
      <th scope="row">{x.label}</th>
      {hours.map((h) => cell(x.hours[h] ?? null, h))}
      <td class="hour day-total">
        <span class="hour-share"><ScoreBadge value={x.total.score} /> {x.total.share === null ? '—' : pct(x.total.share, 0)}</span>
        <span class="hour-counts"><ButtonCounts satisfied={x.total.satisfied} dissatisfied={x.total.dissatisfied} /></span>
      </td>
    </tr>
  );
  // Touchpoints with a vote that day (a door counter's visitors alone make a row with none); votes at no touchpoint under the app's own label.
  const tps = l.touchpoints.filter((x) => x.total.total + x.total.flagged > 0).map((x) => (x.id === 'none' ? { ...x, label: t.manage.devices.noTouchpoint } : x));
  const zone = `${l.timezone}, ${zoneName(locale, l.timezone, asOf)}`;
  return (
    <Card id={`op-${l.id}`} class="op-location" title={l.label}
      actions={<span class="muted">{day(l.day, { weekday: 'short', day: 'numeric', month: 'short' })}{l.live ? ` · ${t.reports.live} (${timeIn(locale, l.timezone, asOf)})` : ''}</span>}>
      <p class="note muted">{t.reports.hoursIn(zone)}</p>
      {!hours.length ? <p class="empty muted">{l.live ? t.reports.noVotesYet : t.reports.noVotesDay}</p> : (
        <div class="table-wrap report-wrap">
          <table class="grid compact op-hours report-table">
            <caption class="sr">{t.reports.hoursCaption(l.label, zone)}</caption>
            <thead><tr>
              <th scope="col">{t.reports.slice}</th>
              {hours.map((h) => <th scope="col" key={h}>{hh(h)}</th>)}
              <th scope="col">{t.reports.dayTotal}</th>
            </tr></thead>
            <tbody>{[row(l, 'op-loc'), ...tps.map((tp) => row(tp, 'op-tp'))]}</tbody>
          </table>
        </div>
      )}
    </Card>
  );
}
