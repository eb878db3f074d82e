// The emailed tactical report: an HTML summary in the reader's language (worst locations first,
// changes vs the previous period, significant ones marked) with the report's .xlsx attached.
import { once } from 'node:events';
import { PassThrough, type Writable } from 'node:stream';
import type { Attachment, Message } from '../mail/mailer.ts';
import type { ReportRow, TacticalReport } from './tactical.ts';
import type { ScoreRow } from '../scores/scores.ts';
import { SCORE_FILLS, writeTacticalXlsx } from './tactical-xlsx.ts';

export const LANGS = ['en', 'ru'] as const;
export type Lang = (typeof LANGS)[number];

const T = {
  en: {
    subject: (org: string, from: string, to: string) => `${org}: customer satisfaction ${from} – ${to}`,
    heading: 'Customer satisfaction', period: 'Period', previous: 'compared with', total: 'All locations',
    location: 'Location', votes: 'Votes', share: 'Satisfied', score: 'Score', change: 'Change',
    significant: 'significant change (p < 0.05)', noChange: 'no comparable votes', attached: 'The full report (every slice and the trend) is attached as an Excel file.',
    worstFirst: 'Locations, worst first',
  },
  ru: {
    subject: (org: string, from: string, to: string) => `${org}: удовлетворённость клиентов ${from} – ${to}`,
    heading: 'Удовлетворённость клиентов', period: 'Период', previous: 'в сравнении с', total: 'Все точки',
    location: 'Точка', votes: 'Голоса', share: 'Довольны', score: 'Оценка', change: 'Изменение',
    significant: 'значимое изменение (p < 0,05)', noChange: 'нет голосов для сравнения', attached: 'Полный отчёт (все разрезы и динамика) — во вложенном файле Excel.',
    worstFirst: 'Точки, начиная с худших',
  },
} as const;

export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
export const pct = (x: number | null, lang: Lang): string => (x === null ? '—' : `${(x * 100).toFixed(1)}%`.replace('.', lang === 'ru' ? ',' : '.'));
const points = (r: ReportRow, lang: Lang): string => {
  if (!r.change) return '—';
  const v = (r.change.diff * 100).toFixed(1).replace('.', lang === 'ru' ? ',' : '.');
  return `${r.change.diff >= 0 ? '+' : ''}${v} ${lang === 'ru' ? 'п.п.' : 'pts'}${r.change.significant ? ' *' : ''}`;
};
export const scoreHtml = (s: number | null): string => (s === null ? '—' : `<span style="background:#${SCORE_FILLS[s]!.slice(2)};padding:0 6px">${s}</span>`);

/** Worst first: lowest upper end of the interval (surely bad), then lowest share. */
export const worstFirst = (a: ScoreRow, b: ScoreRow): number => (a.wilson?.[1] ?? 2) - (b.wilson?.[1] ?? 2) || (a.share ?? 2) - (b.share ?? 2);

/** An .xlsx written by `write` (which ends its stream), as a mail attachment. */
export async function xlsxAttachment(filename: string, write: (out: Writable) => Promise<void>): Promise<Attachment> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const ended = once(out, 'end');
  await write(out);
  await ended;
  return { filename, content: Buffer.concat(chunks), contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' };
}

export async function reportEmail(rep: TacticalReport, orgName: string, to: string, lang: Lang): Promise<Message> {
  const t = T[lang];
  const worst = [...rep.locations].sort(worstFirst);
  const row = (r: ReportRow, label: string): string =>
    `<tr><td>${esc(label)}</td><td align="right">${r.total}</td><td align="right">${pct(r.share, lang)}</td><td align="center">${scoreHtml(r.score)}</td><td align="right">${points(r, lang)}</td></tr>`;
  const html = `<!doctype html><html lang="${lang}"><body style="font-family:sans-serif">
<h2>${esc(orgName)}: ${t.heading}</h2>
<p>${t.period}: ${rep.period.from} – ${rep.period.to}, ${t.previous} ${rep.previousPeriod.from} – ${rep.previousPeriod.to}</p>
<table cellpadding="4" style="border-collapse:collapse">
<tr><th align="left">${t.location}</th><th>${t.votes}</th><th>${t.share}</th><th>${t.score}</th><th>${t.change}</th></tr>
${row(rep.total, t.total)}
<tr><td colspan="5"><b>${t.worstFirst}</b></td></tr>
${worst.map((r) => row(r, r.label)).join('\n')}
</table>
<p>* ${t.significant}</p>
<p>${t.attached}</p>
</body></html>`;
  const text = [`${orgName}: ${t.heading}`, `${t.period}: ${rep.period.from} – ${rep.period.to}`, '',
    `${t.total}: ${rep.total.total} ${t.votes.toLowerCase()}, ${pct(rep.total.share, lang)}, ${t.score} ${rep.total.score ?? '—'}, ${t.change} ${points(rep.total, lang)}`, '',
    `${t.worstFirst}:`, ...worst.map((r) => `- ${r.label}: ${r.total}, ${pct(r.share, lang)}, ${t.score} ${r.score ?? '—'}, ${points(r, lang)}`), '', t.attached].join('\n');
  return {
    to, subject: t.subject(orgName, rep.period.from, rep.period.to), html, text,
    attachments: [await xlsxAttachment(`report-${rep.period.from}-${rep.period.to}.xlsx`, (out) => writeTacticalXlsx(rep, orgName, out))],
  };
}
