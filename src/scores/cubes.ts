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
    const loc = cube.dims.includes('location') ? full.location : '';
    const tp = cube.dims.includes('touchpoint') ? full.touchpoint : '';
    const emp = cube.dims.includes('employee') ? full.employee : '';
    const dev = cube.dims.includes('device') ? full.device : '';
    for (const grain of GRAINS) {
      const bucket = buckets[grain];
      const key = `${c.orgId}|${cube.name}|${grain}|${bucket}|${loc}|${tp}|${emp}|${dev}`;
      let hit = acc.get(key);
      if (!hit) {
        // The row object is made only for a key not yet in the batch.
        hit = {
          org_id: c.orgId, cube: cube.name, grain, bucket,
          location_id: loc, touchpoint_id: tp, employee_id: emp, device_id: dev,
          satisfied: 0, dissatisfied: 0, flagged: 0, visitors: 0,
        };
        acc.set(key, hit);
      }
      hit.satisfied += c.satisfied;
      hit.dissatisfied += c.dissatisfied;
      hit.flagged += c.flagged;
      hit.visitors += c.visitors;
    }
  }
}

/**
 * Adds many counted items at once: they are first summed per (org, device, location, touchpoint,
 * employee, local day, hour) — everything a rollup key is made of — and each such group goes
 * through addToRollups once. A device's offline buffer of 1000 presses covers a few dozen
 * device-hours, so this builds ~30 × 15 keys instead of 15,000. The sums are the same: every
 * rollup key is a function of the group key, and addition is associative.
 */
export function addAllToRollups(acc: Map<string, RollupDelta>, items: Iterable<Countable>): void {
  const groups = new Map<string, Countable>();
  for (const c of items) {
    const key = `${c.orgId}|${c.deviceId}|${c.locationId}|${c.touchpointId ?? ''}|${c.employeeId ?? ''}|${c.localDay}|${c.localHour}`;
    const g = groups.get(key);
    if (g) {
      g.satisfied += c.satisfied;
      g.dissatisfied += c.dissatisfied;
      g.flagged += c.flagged;
      g.visitors += c.visitors;
    } else {
      groups.set(key, { ...c });
    }
  }
  for (const g of groups.values()) addToRollups(acc, g);
}
