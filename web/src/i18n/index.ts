// The interface language (English or Russian, remembered in localStorage) and number/date
// formatting in the user's locale through Intl.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { en, type Messages } from './en.ts';
import { ru } from './ru.ts';

export type Lang = 'en' | 'ru';
export const LANGS: ReadonlyArray<{ lang: Lang; label: string; name: string }> = [
  { lang: 'en', label: 'EN', name: 'English' },
  { lang: 'ru', label: 'RU', name: 'Русский' },
];
const DICTS: Record<Lang, Messages> = { en, ru };
const LANG_KEY = 'loyalty.lang';

export function storedLang(): Lang | null {
  try {
    const v = localStorage.getItem(LANG_KEY);
    return v === 'en' || v === 'ru' ? v : null;
  } catch { return null; }
}
export function rememberLang(lang: Lang): void {
  try { localStorage.setItem(LANG_KEY, lang); } catch { /* private mode */ }
}
/** ?lang= (wall displays), then the remembered choice, then the browser's language. */
export function initialLang(): Lang {
  const q = new URLSearchParams(location.search).get('lang');
  if (q === 'en' || q === 'ru') return q;
  return storedLang() ?? (navigator.language.toLowerCase().startsWith('ru') ? 'ru' : 'en');
}

export type I18n = {
  lang: Lang;
  t: Messages;
  locale: string;
  setLang(lang: Lang): void;
  /** 1 234 / 1,234 */
  n(x: number): string;
  /** 0.8234 → "82.3 %" / "82,3 %" */
  pct(x: number, digits?: number): string;
  /** a share difference in percentage points, signed: "+2.1" */
  pp(diff: number): string;
  /** a p-value: "0.003", "< 0.001" */
  pval(p: number): string;
  /** a local date: "20 Nov" */
  day(day: string, opts?: Intl.DateTimeFormatOptions): string;
  /** Monday-first short weekday names */
  weekdays: string[];
};

export function makeI18n(lang: Lang, setLang: (l: Lang) => void): I18n {
  const t = DICTS[lang];
  const nav = typeof navigator === 'undefined' ? '' : navigator.language;
  // The user's own regional variant when it is of the chosen language (en-US dates for an American).
  const locale = nav.toLowerCase().startsWith(lang) && nav.length > 2 ? nav : t.locale;
  const int = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  const pcts = [0, 1, 2].map((d) => new Intl.NumberFormat(locale, { style: 'percent', minimumFractionDigits: d, maximumFractionDigits: d }));
  const signed = new Intl.NumberFormat(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1, signDisplay: 'exceptZero' });
  const small = new Intl.NumberFormat(locale, { maximumSignificantDigits: 2 });
  const dates = new Map<string, Intl.DateTimeFormat>();
  const weekdayFmt = new Intl.DateTimeFormat(locale, { weekday: 'short', timeZone: 'UTC' });
  return {
    lang, t, locale, setLang,
    n: (x) => int.format(x),
    pct: (x, d = 1) => pcts[d]!.format(x),
    pp: (diff) => signed.format(diff * 100),
    pval: (p) => (p < 0.001 ? `< ${small.format(0.001)}` : small.format(p)),
    day(day, opts = { day: 'numeric', month: 'short' }) {
      const key = JSON.stringify(opts);
      let f = dates.get(key);
      if (!f) dates.set(key, f = new Intl.DateTimeFormat(locale, { ...opts, timeZone: 'UTC' }));
      return f.format(Date.parse(`${day}T00:00:00Z`));
    },
    // 2024-01-01 was a Monday.
    weekdays: Array.from({ length: 7 }, (_, i) => weekdayFmt.format(Date.UTC(2024, 0, 1 + i))),
  };
}

export const I18nContext = createContext<I18n>(makeI18n('en', () => {}));
export const useI18n = (): I18n => useContext(I18nContext);
