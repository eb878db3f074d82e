// One-click downloads of reports (xlsx/CSV) from any page: kept apart from the Reports page so the
// overview does not carry that page's code.
import { useState } from 'preact/hooks';
import { useI18n } from './i18n/index.ts';
import { ErrorNote } from './components.tsx';
import { addDays } from './stats.ts';
import { dayIn } from './time.ts';

/** Fetches a file with the session cookie and hands it to the browser as a download (a failure shows as an error, not as a saved error page). */
export async function download(path: string, fallbackName: string): Promise<void> {
  const res = await fetch(path, { credentials: 'same-origin' });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Buttons downloading `path` + .xlsx / .csv with `query`. */
export function ExportButtons({ path, query, label }: { path: string; query: Record<string, string>; label?: string }) {
  const { t } = useI18n();
  const [error, setError] = useState<unknown>(null);
  const qs = new URLSearchParams(query).toString();
  const get = (ext: string) => () => { setError(null); download(`${path}.${ext}?${qs}`, `report.${ext}`).catch(setError); };
  return (
    <span class="export-buttons" role="group" aria-label={label ?? t.reports.download}>
      <button type="button" onClick={get('xlsx')}>{t.reports.xlsx}</button>{' '}
      <button type="button" onClick={get('csv')}>{t.reports.csv}</button>
      {error ? <ErrorNote error={error} /> : null}
    </span>
  );
}

/** The last `days` local days up to the latest "today" among the org's locations, as from/to. */
export function lastDays(locations: Array<{ timezone: string }>, days: number): { from: string; to: string } {
  const to = locations.map((l) => dayIn(l.timezone)).sort().at(-1) ?? dayIn('UTC');
  return { from: addDays(to, -(days - 1)), to };
}
