// An alert as an email in the recipient's language (en/ru): HTML and plain text, the style of the
// report emails (src/reports/email.ts), times in the location's zone with the zone named.
import type { Message } from '../mail/mailer.ts';
import type { Alert } from './alerts.ts';
import type { AlertLang } from './rules.ts';

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function when(iso: string, timezone: string, lang: AlertLang): string {
  const f = new Intl.DateTimeFormat(lang === 'ru' ? 'ru-RU' : 'en-GB', { timeZone: timezone, year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'short' });
  return `${f.format(new Date(iso))} · ${timezone}`;
}
const pct = (x: unknown, lang: AlertLang): string => new Intl.NumberFormat(lang === 'ru' ? 'ru-RU' : 'en-GB', { style: 'percent', maximumFractionDigits: 1 }).format(Number(x));

const T = {
  en: {
    subject: (rule: string, what: string) => `Alert: ${rule} — ${what}`,
    kinds: { score_below: 'score below threshold', spike: 'dissatisfaction spike', device_offline: 'device offline', battery_low: 'battery low' } as Record<string, string>,
    explain: (a: Alert, d: Record<string, any>, lang: AlertLang, tz: string): string => {
      switch (a.kind) {
        case 'score_below': return `The score of ${d.location} over ${d.from} – ${d.to} is ${d.score}, below ${d.threshold} (${pct(d.share, lang)} satisfied of ${d.total} votes).`;
        case 'spike': return `${d.dissatisfied} of ${d.votes} presses at ${d.location} were dissatisfied within ${d.windowMinutes} minutes up to ${when(String(d.at), tz, lang)}; usually ${pct(d.baseline, lang)} are. Chance of this without a real change: ${Number(d.pValue).toPrecision(2)}.`;
        case 'device_offline': return `Device ${d.device} at ${d.location} has not been heard from since ${d.lastSeenAt ? when(String(d.lastSeenAt), tz, lang) : 'its placement'}.`;
        default: return `Device ${d.device} at ${d.location} reports ${d.battery} % battery (below ${d.below} %).`;
      }
    },
    opened: 'Opened', open: 'Open in the dashboard', footer: 'You receive this because an alert rule of your organisation lists you.',
  },
  ru: {
    subject: (rule: string, what: string) => `Оповещение: ${rule} — ${what}`,
    kinds: { score_below: 'оценка ниже порога', spike: 'всплеск недовольства', device_offline: 'устройство не на связи', battery_low: 'низкий заряд' } as Record<string, string>,
    explain: (a: Alert, d: Record<string, any>, lang: AlertLang, tz: string): string => {
      switch (a.kind) {
        case 'score_below': return `Оценка точки «${d.location}» за ${d.from} – ${d.to}: ${d.score}, ниже порога ${d.threshold} (довольны ${pct(d.share, lang)} из ${d.total} голосов).`;
        case 'spike': return `В точке «${d.location}» ${d.dissatisfied} из ${d.votes} нажатий за ${d.windowMinutes} мин (до ${when(String(d.at), tz, lang)}) — недовольные; обычно их ${pct(d.baseline, lang)}. Вероятность такого без реальной причины: ${Number(d.pValue).toPrecision(2).replace('.', ',')}.`;
        case 'device_offline': return `Устройство ${d.device} в точке «${d.location}» не выходит на связь с ${d.lastSeenAt ? when(String(d.lastSeenAt), tz, lang) : 'момента установки'}.`;
        default: return `Устройство ${d.device} в точке «${d.location}»: заряд ${d.battery} % (ниже ${d.below} %).`;
      }
    },
    opened: 'Открыто', open: 'Открыть на панели', footer: 'Вы получили это письмо, потому что указаны в правиле оповещений своей организации.',
  },
} as const;

export function alertEmail(a: Alert, ruleName: string, timezone: string, to: string, lang: AlertLang): Message {
  const t = T[lang];
  const kind = t.kinds[a.kind] ?? a.kind;
  const text = t.explain(a, a.detail as Record<string, any>, lang, timezone);
  const opened = when(a.openedAt, timezone, lang);
  const html = `<!doctype html><html lang="${lang}"><body style="font-family:sans-serif">
<h2>${esc(ruleName)}: ${esc(kind)}</h2>
<p>${esc(text)}</p>
<p>${t.opened}: ${esc(opened)}</p>
<p><a href="${esc(a.link)}">${t.open}</a></p>
<p style="color:#666;font-size:small">${t.footer}</p>
</body></html>`;
  return { to, subject: t.subject(ruleName, kind), html, text: [`${ruleName}: ${kind}`, '', text, '', `${t.opened}: ${opened}`, `${t.open}: ${a.link}`, '', t.footer].join('\n') };
}
