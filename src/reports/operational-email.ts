// The emailed operational report (a scheduled daily mail): an HTML summary of one day in the reader's
// language — the locations worst first, then the devices that need someone — with the operational
// .xlsx (summary, every hour and touchpoint, devices) attached. Shares the tactical mail's pieces.
import type { Message } from '../mail/mailer.ts';
import type { OperationalReport } from './operational.ts';
import { operationalXlsx } from './files.ts';
import { esc, pct, scoreHtml, worstFirst, xlsxAttachment, type Lang } from './email.ts';

const T = {
  en: {
    subject: (org: string, day: string) => `${org}: operational report ${day}`,
    heading: 'Operational report', day: 'Day', dayNote: 'the local date of each location',
    worstFirst: 'Locations, worst first', location: 'Location', votes: 'Votes', share: 'Satisfied', score: 'Score', flagged: 'Flagged (not counted)',
    busiest: 'Busiest hour', devices: 'Devices needing attention', asOf: 'as of', noDevices: 'No device needs attention.',
    device: 'Device', problem: 'Problem', lastSeen: 'Last seen (UTC)', never: 'never',
    problems: { offline: 'Offline', stale: 'Stale', low_battery: 'Low battery', never_seen: 'Never seen', silent: 'Silent: no press for 2 hours while open' } as Record<string, string>,
    attached: 'The full report (every hour, every touchpoint, the devices) is attached as an Excel file.',
  },
  ru: {
    subject: (org: string, day: string) => `${org}: оперативный отчёт за ${day}`,
    heading: 'Оперативный отчёт', day: 'День', dayNote: 'местная дата каждой точки',
    worstFirst: 'Точки, начиная с худших', location: 'Точка', votes: 'Голоса', share: 'Довольны', score: 'Оценка', flagged: 'Помечено (не учтено)',
    busiest: 'Самый загруженный час', devices: 'Устройства, требующие внимания', asOf: 'на', noDevices: 'Все устройства в порядке.',
    device: 'Устройство', problem: 'Проблема', lastSeen: 'Последняя связь (UTC)', never: 'не было',
    problems: { offline: 'Не в сети', stale: 'Давно не было связи', low_battery: 'Батарея садится', never_seen: 'Ещё не выходило на связь', silent: 'Молчит: ни одного нажатия за 2 часа в рабочее время' } as Record<string, string>,
    attached: 'Полный отчёт (по часам, по местам контакта, устройства) — во вложенном файле Excel.',
  },
} as const;

const utc = (iso: string): string => iso.slice(0, 16).replace('T', ' ');

/** The mail of the operational report of `day` (a past day: the scheduler's "yesterday"). */
export async function operationalEmail(rep: OperationalReport, day: string, orgName: string, to: string, lang: Lang): Promise<Message> {
  const t = T[lang];
  const worst = [...rep.locations].sort((a, b) => worstFirst(a.total, b.total));
  const busiest = (hours: OperationalReport['locations'][number]['hours']): string => {
    let best = -1, votes = 0;
    hours.forEach((c, h) => { const v = c ? c.satisfied + c.dissatisfied : 0; if (v > votes) { best = h; votes = v; } });
    return best < 0 ? '—' : `${String(best).padStart(2, '0')}:00 (${votes})`;
  };
  const locName = new Map(rep.locations.map((l) => [l.id, l.label]));
  const where = (id: string | null): string => (id ? locName.get(id) ?? id : '—');
  const problem = (p: string): string => t.problems[p] ?? p;
  const html = `<!doctype html><html lang="${lang}"><body style="font-family:sans-serif">
<h2>${esc(orgName)}: ${t.heading}</h2>
<p>${t.day}: ${day} (${t.dayNote})</p>
<h3>${t.worstFirst}</h3>
<table cellpadding="4" style="border-collapse:collapse">
<tr><th align="left">${t.location}</th><th>${t.votes}</th><th>${t.share}</th><th>${t.score}</th><th>${t.flagged}</th><th>${t.busiest}</th></tr>
${worst.map((l) => `<tr data-location="${esc(l.id)}"><td>${esc(l.label)}</td><td align="right">${l.total.total}</td><td align="right">${pct(l.total.share, lang)}</td><td align="center">${scoreHtml(l.total.score)}</td><td align="right">${l.total.flagged}</td><td align="right">${busiest(l.hours)}</td></tr>`).join('\n')}
</table>
<h3>${t.devices} (${t.asOf} ${utc(rep.asOf)} UTC)</h3>
${rep.devices.length ? `<table cellpadding="4" style="border-collapse:collapse">
<tr><th align="left">${t.device}</th><th align="left">${t.location}</th><th align="left">${t.problem}</th><th align="left">${t.lastSeen}</th></tr>
${rep.devices.map((d) => `<tr data-device="${esc(d.id)}"><td>${esc(d.name ?? d.id)}</td><td>${esc(where(d.locationId))}</td><td>${esc(problem(d.problem))}</td><td>${d.lastSeenAt ? utc(d.lastSeenAt) : t.never}</td></tr>`).join('\n')}
</table>` : `<p>${t.noDevices}</p>`}
<p>${t.attached}</p>
</body></html>`;
  const text = [`${orgName}: ${t.heading}`, `${t.day}: ${day} (${t.dayNote})`, '', `${t.worstFirst}:`,
    ...worst.map((l) => `- ${l.label}: ${l.total.total} ${t.votes.toLowerCase()}, ${pct(l.total.share, lang)}, ${t.score} ${l.total.score ?? '—'}, ${t.busiest.toLowerCase()} ${busiest(l.hours)}`), '',
    `${t.devices} (${t.asOf} ${utc(rep.asOf)} UTC):`, ...(rep.devices.length ? rep.devices.map((d) => `- ${d.name ?? d.id} (${where(d.locationId)}): ${problem(d.problem)}`) : [t.noDevices]), '', t.attached].join('\n');
  return {
    to, subject: t.subject(orgName, day), html, text,
    attachments: [await xlsxAttachment(`operational-${day}.xlsx`, (out) => operationalXlsx(rep, orgName, out))],
  };
}
