// Which pre-aggregated counters exist. Both the ingest writer (which keeps them) and the scores
// planner (which reads the smallest one that can answer) use these definitions, so they cannot drift.
export const DIMS = ['location', 'touchpoint', 'employee', 'device'] as const;
export type Dim = (typeof DIMS)[number];

/** Cubes from smallest to largest; each keeps its dims and sets the others to ''. */
export const CUBES = [
  { name: 'T', dims: [] as Dim[] },
  { name: 'L', dims: ['location'] as Dim[] },
  { name: 'LT', dims: ['location', 'touchpoint'] as Dim[] },
  { name: 'LE', dims: ['location', 'employee'] as Dim[] },
  { name: 'F', dims: ['location', 'touchpoint', 'employee', 'device'] as Dim[] },
] as const;

export const GRAINS = ['h', 'd', 'm'] as const;
export type Grain = (typeof GRAINS)[number];

/** The smallest cube keeping every dimension in `needed`. F keeps them all, so one always fits. */
export function cubeFor(needed: Iterable<Dim>): (typeof CUBES)[number] {
  const want = [...needed];
  return CUBES.find((c) => want.every((d) => c.dims.includes(d)))!;
}

export type RollupDelta = {
  org_id: string; cube: string; grain: Grain; bucket: string;
  location_id: string; touchpoint_id: string; employee_id: string; device_id: string;
  satisfied: number; dissatisfied: number; flagged: number; visitors: number;
};

export type Countable = {
  orgId: string; deviceId: string; locationId: string; touchpointId: string | null; employeeId: string | null;
  localDay: string; localHour: number;
  satisfied: number; dissatisfied: number; flagged: number; visitors: number;
};

/** Adds one counted item (a vote, a visitor count…) to every cube × grain it belongs to. */
export function addToRollups(acc: Map<string, RollupDelta>, c: Countable): void {
  const buckets: Record<Grain, string> = {
    h: `${c.localDay}T${String(c.localHour).padStart(2, '0')}`,
    d: c.localDay,
    m: c.localDay.slice(0, 7),
  };
  const full: Record<Dim, string> = {
    location: c.locationId, touchpoint: c.touchpointId ?? '', employee: c.employeeId ?? '', device: c.deviceId,
  };
  for (const cube of CUBES) {
    const keep = (d: Dim): string => (cube.dims.includes(d) ? full[d] : '');
    for (const grain of GRAINS) {
      const row: RollupDelta = {
        org_id: c.orgId, cube: cube.name, grain, bucket: buckets[grain],
        location_id: keep('location'), touchpoint_id: keep('touchpoint'), employee_id: keep('employee'), device_id: keep('device'),
        satisfied: 0, dissatisfied: 0, flagged: 0, visitors: 0,
      };
      const key = `${row.org_id}|${row.cube}|${grain}|${row.bucket}|${row.location_id}|${row.touchpoint_id}|${row.employee_id}|${row.device_id}`;
      const hit = acc.get(key) ?? (acc.set(key, row), row);
      hit.satisfied += c.satisfied;
      hit.dissatisfied += c.dissatisfied;
      hit.flagged += c.flagged;
      hit.visitors += c.visitors;
    }
  }
}
