// The simulator's side of the admin API (PROTOCOL.md §1 and §4): it builds its fleet the way an
// integrator would — an organisation (or an existing one), locations, touchpoints, employees and
// devices, keeping each device's token — and reads the scores back at the end.
import { TOUCHPOINTS } from '../demo/model.ts';
import type { Plan } from './plan.ts';

export type Fetch = typeof fetch;

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) { super(message); this.status = status; }
}

/** A JSON client of the server's HTTP API with one bearer token. */
export class ApiClient {
  readonly base: string;
  readonly #token: string;
  readonly #fetch: Fetch;
  constructor(base: string, token: string, f: Fetch = fetch) {
    this.base = base.replace(/\/+$/, '');
    this.#token = token;
    this.#fetch = f;
  }
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.#fetch(this.base + path, {
      method,
      headers: { authorization: `Bearer ${this.#token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    if (!res.ok) throw new ApiError(res.status, `${method} ${path} → ${res.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  }
}

/** Runs `f` over `items` with at most `limit` calls at a time, keeping the order of results. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, f: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export type FleetDevice = { id: string; token: string };
export type Fleet = { orgId: string; devices: FleetDevice[] };

/** Creates the plan's organisation (unless `orgId` is given), locations, touchpoints, employees and devices. */
export async function createFleet(api: ApiClient, plan: Plan, o: { orgId?: string | undefined; name: string; concurrency?: number }): Promise<Fleet> {
  const limit = o.concurrency ?? 16;
  const orgId = o.orgId ?? (await api.call<{ id: string }>('POST', '/api/v1/orgs', { name: o.name })).id;
  const org = `/api/v1/orgs/${encodeURIComponent(orgId)}`;
  const locationIds = await mapLimit(plan.locations, limit, async (l) =>
    (await api.call<{ id: string }>('POST', `${org}/locations`, { name: l.name, timezone: l.timezone, openingHours: l.openingHours })).id);
  const touchpoints = new Map<string, string>();
  await mapLimit(plan.locations.flatMap((l) => TOUCHPOINTS.map((t) => ({ l, t }))), limit, async ({ l, t }) => {
    const tp = await api.call<{ id: string }>('POST', `${org}/touchpoints`, { name: t.name, locationId: locationIds[l.index], channel: t.channel });
    touchpoints.set(`${l.index}/${t.name}`, tp.id);
  });
  const employees = new Map<string, string>();
  await mapLimit(plan.employees, limit, async (e) => {
    employees.set(e.key, (await api.call<{ id: string }>('POST', `${org}/employees`, { name: e.name })).id);
  });
  const devices = await mapLimit(plan.devices, limit, async (d) => {
    const body = {
      kind: d.kind, name: d.name, locationId: locationIds[d.location],
      ...(d.touchpoint ? { touchpointId: touchpoints.get(`${d.location}/${d.touchpoint}`) } : {}),
      ...(d.employee ? { employeeId: employees.get(d.employee) } : {}),
    };
    const created = await api.call<{ id: string; token: string }>('POST', `${org}/devices`, body);
    return { id: created.id, token: created.token };
  });
  return { orgId, devices };
}

export type ScoreRow = { key: string; satisfied: number; dissatisfied: number; flagged: number; visitors: number | null };
export type DeviceRow = { id: string; battery: number | null; lastSeenAt: string | null; buffered: number | null };

/** Scores of the org by device over local dates [from, to]. */
export async function scoresByDevice(api: ApiClient, orgId: string, from: string, to: string): Promise<ScoreRow[]> {
  const q = new URLSearchParams({ from, to, by: 'device' });
  return (await api.call<{ rows: ScoreRow[] }>('GET', `/api/v1/orgs/${encodeURIComponent(orgId)}/scores?${q}`)).rows;
}

export async function listDevices(api: ApiClient, orgId: string): Promise<DeviceRow[]> {
  return (await api.call<{ rows: DeviceRow[] }>('GET', `/api/v1/orgs/${encodeURIComponent(orgId)}/devices`)).rows;
}
