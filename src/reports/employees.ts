// The employee report (issue 5): each employee's shifts, votes and score in a period. Votes are the
// ones ingest attributed to the employee (a device of their own, or the shift they were on at the
// touchpoint when the press happened: src/shifts); the score follows the org's minimum-sample rule
// (null below it) and every row carries its Wilson interval, so a short stint is never ranked on luck.
import type { Store } from '../store/db.ts';
import { localParts } from '../domain/time.ts';
import type { ScoringSettings } from '../domain/wilson.ts';
import { round4 } from '../domain/wilson.ts';
import { NONE_KEY, rowOf, scores, type ScoreRow } from '../scores/scores.ts';

export type EmployeeRow = ScoreRow & {
  /** Shifts that started on a local date of the period (in the touchpoint's location zone). */
  shifts: number;
  shiftHours: number;
  /** Counted votes per hour on shift; null without shifts. */
  votesPerShiftHour: number | null;
  /** Fewer counted votes than the org's minimum sample: no score. */
  belowMinimum: boolean;
};

export type EmployeeReport = {
  period: { from: string; to: string };
  minSample: number;
  employees: EmployeeRow[];
  /** Counted votes in the period that no employee was attributed. */
  unattributed: { satisfied: number; dissatisfied: number; total: number };
};

export type EmployeeQuery = { from: string; to: string; onlyLocations?: string[] | null | undefined };

export async function employeeReport(store: Store, orgId: string, scoring: ScoringSettings, q: EmployeeQuery): Promise<EmployeeReport> {
  const [votes, names, shiftRows] = await Promise.all([
    scores(store, orgId, scoring, { from: q.from, to: q.to, by: 'employee', onlyLocations: q.onlyLocations }),
    store.db.selectFrom('employees').select(['id', 'name']).where('org_id', '=', orgId).execute(),
    shiftsIn(store, orgId, q),
  ]);
  const name = new Map(names.map((e) => [e.id, e.name]));
  const shifts = new Map<string, { n: number; ms: number }>();
  for (const s of shiftRows) {
    const acc = shifts.get(s.employeeId) ?? (shifts.set(s.employeeId, { n: 0, ms: 0 }), shifts.get(s.employeeId)!);
    acc.n++;
    acc.ms += s.ms;
  }
  const rows = new Map<string, ScoreRow>();
  let unattributed = { satisfied: 0, dissatisfied: 0, total: 0 };
  for (const r of votes.rows) {
    if (r.key === NONE_KEY || r.key === '') unattributed = { satisfied: r.satisfied, dissatisfied: r.dissatisfied, total: r.total };
    else rows.set(r.key, r);
  }
  // Someone on shift who got no votes is still in the report (with zero votes, no score).
  for (const id of shifts.keys()) {
    if (!rows.has(id)) rows.set(id, rowOf(id, name.get(id) ?? id, { satisfied: 0, dissatisfied: 0, flagged: 0, visitors: 0 }, scoring));
  }
  const employees = [...rows.values()].map((r): EmployeeRow => {
    const s = shifts.get(r.key);
    const hours = s ? round4(s.ms / 3_600_000) : 0;
    return { ...r, shifts: s?.n ?? 0, shiftHours: hours, votesPerShiftHour: hours > 0 ? round4(r.total / hours) : null, belowMinimum: r.total < scoring.minSample };
  });
  // Ranked like the tactical report: by the lower end of the interval, those without a score last.
  employees.sort((a, b) => (b.wilson?.[0] ?? -1) - (a.wilson?.[0] ?? -1) || a.label.localeCompare(b.label));
  return { period: { from: q.from, to: q.to }, minSample: scoring.minSample, employees, unattributed };
}

/** Shifts starting on a local date of [from, to] in their touchpoint's location zone (UTC without one). */
async function shiftsIn(store: Store, orgId: string, q: EmployeeQuery): Promise<Array<{ employeeId: string; ms: number }>> {
  if (q.onlyLocations && q.onlyLocations.length === 0) return [];
  // A UTC window one day wider on each side surely holds them; the local date then decides.
  const lo = Date.parse(`${q.from}T00:00:00Z`) - 86_400_000;
  const hi = Date.parse(`${q.to}T00:00:00Z`) + 2 * 86_400_000;
  let query = store.db.selectFrom('shifts')
    .innerJoin('touchpoints', 'touchpoints.id', 'shifts.touchpoint_id')
    .leftJoin('locations', 'locations.id', 'touchpoints.location_id')
    .select(['shifts.employee_id', 'shifts.starts_at', 'shifts.ends_at', 'locations.timezone', 'touchpoints.location_id'])
    .where('shifts.org_id', '=', orgId).where('shifts.starts_at', '>=', lo).where('shifts.starts_at', '<', hi);
  if (q.onlyLocations) query = query.where('touchpoints.location_id', 'in', q.onlyLocations);
  const out: Array<{ employeeId: string; ms: number }> = [];
  for (const r of await query.execute()) {
    const day = localParts(r.timezone ?? 'UTC', Number(r.starts_at)).day;
    if (day >= q.from && day <= q.to) out.push({ employeeId: r.employee_id, ms: Number(r.ends_at) - Number(r.starts_at) });
  }
  return out;
}
