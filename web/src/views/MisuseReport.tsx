// How much the fake-press filter held back, per location and rule, over the period: a panel being
// abused stands out at the top (most held back first). Reads GET …/misuse/report.
import { useI18n } from '../i18n/index.ts';
import { useOrg } from '../org.tsx';
import { useData } from '../data.ts';
import { api } from '../api.ts';
import { Card, ErrorNote, PeriodPicker } from '../components.tsx';
import { Link } from '../router.ts';
import { usePeriod } from './Review.tsx';

type ReportLoc = { locationId: string; name: string; votes: number; flagged: number; confirmed: number; restored: number; flaggedShare: number | null; rules: Record<string, number> };
const RULES = ['repeat', 'burst', 'streak', 'off_hours', 'above_visitors', 'camera'] as const;

export function MisuseReport({ days }: { days: number }) {
  const s = useOrg();
  const { t, n, pct, day } = useI18n();
  const { from, to } = usePeriod(days);
  const rep = useData(() => api<{ locations: ReportLoc[] }>(`/api/v1/orgs/${encodeURIComponent(s.org.id)}/misuse/report?from=${from}&to=${to}`), [s.org.id, from, to, s.version]);
  const rows = rep.data?.locations ?? [];
  return (
    <>
      <div class="toolbar">
        <h1>{t.misuse.reportTitle}</h1>
        <PeriodPicker days={days} />
      </div>
      <p class="note muted">{t.misuse.reportNote(day(from), day(to))}</p>
      <ErrorNote error={rep.error} />
      <Card id="misuse-report">
        {!rep.data ? <p class="empty muted">{t.app.loading}</p> : !rows.length ? <p class="empty muted">{t.misuse.noPresses}</p> : (
          <div class="table-wrap">
            <table class="grid">
              <thead>
                <tr>
                  <th scope="col">{t.misuse.location}</th><th scope="col" class="num">{t.misuse.votes}</th>
                  <th scope="col" class="num">{t.misuse.heldBack}</th><th scope="col" class="num">{t.misuse.heldShare}</th>
                  {RULES.map((r) => <th scope="col" class="num">{t.misuse.rule[r]}</th>)}
                  <th scope="col" class="num">{t.misuse.status.confirmed}</th><th scope="col" class="num">{t.misuse.status.restored}</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((l) => (
                  <tr>
                    <th scope="row"><Link href={`/orgs/${s.org.id}/review?days=${days}`}>{s.locById.get(l.locationId)?.name ?? l.name}</Link></th>
                    <td class="num">{n(l.votes)}</td><td class="num">{n(l.flagged)}</td>
                    <td class="num">{l.flaggedShare === null ? '—' : pct(l.flaggedShare)}</td>
                    {RULES.map((r) => <td class="num">{l.rules[r] ? n(l.rules[r]) : '—'}</td>)}
                    <td class="num">{n(l.confirmed)}</td><td class="num">{n(l.restored)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      <p class="note muted">{t.misuse.reportRules}</p>
    </>
  );
}
