// `loyalty start --demo` / `loyalty demo`: a believable demo organisation with ~90 days of votes,
// and a trickle of live presses so the first page visibly moves. Everything goes through the
// ordinary service functions and the real ingest path (prepareVotes → writeVotes), so
// attribution and local-time bucketing are exactly what production does. See model.ts for the
// story the numbers tell.
import type { Store } from '../store/db.ts';
import type { AppContext } from '../http/context.ts';
import { Refs, type DeviceRef } from '../store/refs.ts';
import { prepareVisitors, prepareVotes } from '../ingest/pipeline.ts';
import { writeVisitors, writeVotes } from '../ingest/write.ts';
import { ingestHeartbeat, ingestVisitors, ingestVotes } from '../ingest/service.ts';
import type { DevicePrincipal } from '../domain/types.ts';
import { isOpenAt } from '../misuse/rules.ts';
import type { PreparedVote, VoteEvent } from '../ingest/vote.ts';
import { createEmployee, createLocation, createOrg, createPartner, createTouchpoint, listLocations } from '../orgs/orgs.ts';
import { createDevice, listDevices } from '../devices/devices.ts';
import { createUser } from '../accounts/accounts.ts';
import { DEVICE_SETTING_DEFAULTS } from '../devices/settings.ts';
import { addDays, localParts, todayIn, weekdayOf, zoneOffset } from '../domain/time.ts';
import {
  DEMO_ORG_NAME, DEMO_PARTNER_NAME, DEMO_USER, DEVICES, EMPLOYEES, LOCATIONS, TOUCHPOINTS, WEEKDAY_FACTOR,
  hourWeight, press, type DeviceSpec,
} from './model.ts';
import { mulberry32, pickWeighted, poisson } from './random.ts';

export { DEMO_ORG_NAME, DEMO_PARTNER_NAME, DEMO_USER } from './model.ts';

/** Votes per writeVotes call: one durable transaction each. */
const CHUNK = 1000;
const SEED = 20_261_120;

export type SeedOptions = {
  log(m: string): void;
  /** The end of the seeded history (epoch ms); default now. */
  now?: number;
  /** How many local days of history, today included; default 90. */
  days?: number;
};

type Event = VoteEvent & { parsedTs: number };

const hhmm = (s: string): number => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));

/** The instant at which the wall clock of `tz` shows `day` + `minuteOfDay` (+ seconds); null inside a DST gap. */
export function wallToUtc(tz: string, day: string, minuteOfDay: number, seconds: number): number | null {
  const wall = Date.parse(`${day}T00:00:00Z`) + minuteOfDay * 60_000 + seconds * 1000;
  let ts = wall - zoneOffset(tz, wall);
  ts = wall - zoneOffset(tz, ts);
  const p = localParts(tz, ts);
  return p.day === day && p.minuteOfDay === minuteOfDay ? ts : null;
}

// Presses per hour are scaled so a 14-hour ordinary weekday gets about `perDay` votes.
const REFERENCE_DAY = Array.from({ length: 14 }, (_, i) => hourWeight(8 + i)).reduce((a, b) => a + b, 0);

/** Share of passers-by who press a button: what the door counters' figures imply (PRODUCT.md: response rate). */
const DEMO_RESPONSE_RATE = 0.11;
export type VisitorEvent = { id: string; ts: number; parsedTs: number; in: number };

/**
 * Generates the demo history: vote events per device name, in time order, with their ids, and
 * per location the door counter's hourly visitor counts (its own random stream, so the votes do
 * not change when the counters do).
 */
export function generateHistory(now: number, days: number, seed = SEED): { votes: Map<string, Event[]>; visitors: Map<string, VisitorEvent[]> } {
  const rng = mulberry32(seed);
  const doorRng = mulberry32(seed ^ 0x5eed);
  const visitors = new Map<string, VisitorEvent[]>(LOCATIONS.map((l) => [l.key, []]));
  const byDevice = new Map<string, Array<Omit<Event, 'id'>>>(DEVICES.map((d) => [d.name, []]));
  for (const loc of LOCATIONS) {
    const devices = DEVICES.filter((d) => d.location === loc.key);
    const today = todayIn(loc.timezone, now);
    for (let i = days - 1; i >= 0; i--) {
      const day = addDays(today, -i);
      const weekday = weekdayOf(day);
      // Day-to-day noise and a gentle growth over the period.
      const dayFactor = WEEKDAY_FACTOR[weekday] * (0.88 + 0.24 * rng()) * (0.95 + 0.1 * ((days - i) / days));
      for (const [open, close] of loc.openingHours[weekday] ?? []) {
        const from = hhmm(open);
        const to = hhmm(close) > from ? hhmm(close) : 24 * 60; // the demo has no overnight intervals
        for (let h = Math.floor(from / 60); h * 60 < to; h++) {
          const start = Math.max(from, h * 60);
          const end = Math.min(to, (h + 1) * 60);
          const expected = (loc.perDay * hourWeight(h) / REFERENCE_DAY) * dayFactor * ((end - start) / 60);
          const n = poisson(rng, expected);
          const counted = wallToUtc(loc.timezone, day, end - 1, 59);
          if (counted !== null && counted <= now) {
            const list = visitors.get(loc.key)!;
            list.push({ id: `door-${list.length + 1}`, ts: counted, parsedTs: counted, in: poisson(doorRng, expected / DEMO_RESPONSE_RATE) });
          }
          for (let k = 0; k < n; k++) {
            const minute = start + Math.floor(rng() * (end - start));
            const ts = wallToUtc(loc.timezone, day, minute, Math.floor(rng() * 60));
            const dev = pickWeighted(rng, devices, (d) => d.weight);
            const vote = press(rng, dev, h, weekday);
            if (ts === null || ts > now) continue;
            byDevice.get(dev.name)!.push({ ts, parsedTs: ts, ...vote });
          }
        }
      }
    }
  }
  const out = new Map<string, Event[]>();
  for (const [name, list] of byDevice) {
    list.sort((a, b) => a.parsedTs - b.parsedTs);
    // A real panel ignores another press of the same button within its repeat window (device setting
    // repeatWindowSeconds): drop those, so the demo's honest history holds nothing the misuse filter flags.
    const last = new Map<string, number>();
    const sent = list.filter((e) => {
      const prev = last.get(e.button);
      last.set(e.button, e.parsedTs);
      return prev === undefined || e.parsedTs - prev >= DEVICE_SETTING_DEFAULTS.repeatWindowSeconds * 1000;
    });
    out.set(name, sent.map((e, i) => ({ id: `demo-${String(i + 1).padStart(6, '0')}`, ...e })));
  }
  return { votes: out, visitors };
}

export async function seedDemo(store: Store, o: SeedOptions): Promise<{ orgId: string; orgName: string; votes: number }> {
  const started = Date.now();
  const now = o.now ?? Date.now();
  const days = o.days ?? 90;
  if (!Number.isInteger(days) || days < 1) throw new Error('days must be a positive integer');
  const exists = await store.db.selectFrom('orgs').select('id').where('name', '=', DEMO_ORG_NAME).executeTakeFirst();
  if (exists) throw new Error(`the demo organisation "${DEMO_ORG_NAME}" already exists`);

  // The organisation, built with the same service functions the API uses.
  const partner = await createPartner(store, DEMO_PARTNER_NAME);
  const org = await createOrg(store, DEMO_ORG_NAME, partner.id);
  await createUser(store, { email: DEMO_USER.email, name: DEMO_USER.name, role: 'org-admin', password: DEMO_USER.password, orgId: org.id });
  const locationId = new Map<string, string>();
  const touchpointId = new Map<string, string>();
  for (const l of LOCATIONS) {
    const loc = await createLocation(store, org.id, { name: l.name, timezone: l.timezone, openingHours: l.openingHours });
    locationId.set(l.key, loc.id);
    for (const t of TOUCHPOINTS) {
      const tp = await createTouchpoint(store, org.id, { name: t.name, locationId: loc.id, channel: t.channel });
      touchpointId.set(`${l.key}/${t.name}`, tp.id);
    }
  }
  const employeeId = new Map<string, string>();
  for (const e of EMPLOYEES) employeeId.set(e.key, (await createEmployee(store, org.id, e.name)).id);
  const deviceRef = new Map<string, DeviceRef>();
  for (const d of DEVICES) {
    const dev = await createDevice(store, org.id, {
      kind: d.kind, name: d.name, locationId: locationId.get(d.location)!,
      touchpointId: touchpointId.get(`${d.location}/${d.touchpoint}`)!, employeeId: d.employee ? employeeId.get(d.employee)! : null,
    });
    deviceRef.set(d.name, { id: dev.id, orgId: org.id, kind: d.kind });
  }
  const doorRef = new Map<string, DeviceRef>();
  for (const l of LOCATIONS) {
    const dev = await createDevice(store, org.id, { kind: 'counter', name: `${l.name} · door counter`, locationId: locationId.get(l.key)!, touchpointId: null, employeeId: null });
    doorRef.set(l.key, { id: dev.id, orgId: org.id, kind: 'counter' });
  }
  o.log(`demo: "${DEMO_ORG_NAME}" with ${LOCATIONS.length} locations, ${EMPLOYEES.length} employees, ${DEVICES.length} panels and fobs, ${LOCATIONS.length} door counters; sign in as ${DEMO_USER.email} / ${DEMO_USER.password}`);

  // The history, through the real ingest steps.
  const history = generateHistory(now, days);
  const refs = new Refs(store);
  const votes: PreparedVote[] = [];
  for (const [name, events] of history.votes) {
    votes.push(...await prepareVotes(events, { device: deviceRef.get(name)!, refs, receivedAt: now }));
  }
  for (const [key, events] of history.visitors) {
    const device = doorRef.get(key)!;
    for (let i = 0; i < events.length; i += CHUNK) {
      await writeVisitors(store, await prepareVisitors(events.slice(i, i + CHUNK), { device, refs, receivedAt: now }));
    }
  }
  o.log(`demo: ${votes.length} votes over ${days} days prepared in ${Date.now() - started} ms; storing…`);

  let stored = 0;
  let lastLog = Date.now();
  for (let i = 0; i < votes.length; i += CHUNK) {
    stored += (await writeVotes(store, votes.slice(i, i + CHUNK))).length;
    if (Date.now() - lastLog > 2000) {
      o.log(`demo: stored ${stored} of ${votes.length} votes`);
      lastLog = Date.now();
    }
  }
  o.log(`demo: ${stored} votes stored in ${Date.now() - started} ms`);
  return { orgId: org.id, orgName: DEMO_ORG_NAME, votes: stored };
}

type LiveDevice = { ref: DevicePrincipal; spec: DeviceSpec; timezone: string; door: DevicePrincipal | undefined };

/** Demo batteries: steady for most devices, one fob running low so the fleet view has something to show. */
function demoBattery(name: string, rng: () => number): number {
  if (name.endsWith('fob Jonas')) return 9 + Math.round(rng() * 3);
  return 55 + Math.round(rng() * 40);
}

/**
 * Live demo traffic: every 2–6 s one demo panel or fob is pressed, at the current time, through
 * the same ingest service as a real device (the door counter sees the people too), and every few
 * minutes each demo device sends a heartbeat. Returns a function that stops it.
 */
export function startDemoTraffic(ctx: AppContext, o: { log(m: string): void }): () => void {
  const rng = mulberry32(Date.now() >>> 0);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let beat: NodeJS.Timeout | undefined;
  let devices: LiveDevice[] | null = null;
  let everyDevice: Array<{ principal: DevicePrincipal; name: string }> = [];
  let n = 0;

  const load = async (): Promise<LiveDevice[]> => {
    const org = await ctx.store.db.selectFrom('orgs').select('id').where('name', '=', DEMO_ORG_NAME).executeTakeFirst();
    if (!org) return [];
    const zones = new Map((await listLocations(ctx.store, org.id)).map((l) => [l.id, l.timezone]));
    const all = await listDevices(ctx.store, org.id);
    const principal = (d: (typeof all)[number]): DevicePrincipal => ({ kind: 'device', deviceId: d.id, orgId: org.id, deviceKind: d.kind });
    everyDevice = all.map((d) => ({ principal: principal(d), name: d.name ?? d.id }));
    const doors = new Map(all.filter((d) => d.kind === 'counter' && d.locationId).map((d) => [d.locationId!, principal(d)]));
    const out: LiveDevice[] = [];
    for (const d of all) {
      const spec = DEVICES.find((s) => s.name === d.name);
      const tz = d.locationId ? zones.get(d.locationId) : undefined;
      if (spec && tz && (d.kind === 'panel' || d.kind === 'fob')) out.push({ ref: principal(d), spec, timezone: tz, door: doors.get(d.locationId!) });
    }
    return out;
  };

  const heartbeats = async (): Promise<void> => {
    for (const d of everyDevice) {
      await ingestHeartbeat(ctx, d.principal, { battery: demoBattery(d.name, rng), rssi: -50 - Math.round(rng() * 30), firmware: '1.4.2', buffered: 0 });
    }
  };

  const tick = async (): Promise<void> => {
    if (!devices) {
      devices = await load();
      await heartbeats();
    }
    if (!devices.length) {
      o.log('demo traffic: no demo organisation in this store; not pressing anything');
      stopped = true;
      return;
    }
    const now = Date.now();
    // Customers press where a café is open; when all are closed a late press still happens, and
    // the misuse filter flags it as off-hours — the filter at work, in the demo too.
    const open = devices.filter((x) => isOpenAt({ timezone: x.timezone, openingHours: LOCATIONS.find((l) => l.key === x.spec.location)!.openingHours }, now));
    const d = pickWeighted(rng, open.length ? open : devices, (x) => x.spec.weight);
    const local = localParts(d.timezone, now);
    const vote = press(rng, d.spec, local.hour, local.weekday);
    const r = await ingestVotes(ctx, d.ref, { events: [{ id: `live-${now}-${++n}`, ts: now, button: vote.button, ...(vote.reason ? { reason: vote.reason } : {}) }] }, now);
    // The door counter sees the people who walked past without pressing, too.
    if (d.door) await ingestVisitors(ctx, d.door, { events: [{ id: `live-door-${now}-${n}`, ts: now, in: poisson(rng, 1 / DEMO_RESPONSE_RATE) }] }, now);
    o.log(`demo traffic: ${d.spec.name} pressed ${vote.button}${vote.reason ? ` (${vote.reason})` : ''}; accepted ${r.accepted}`);
  };

  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      tick().catch((e: unknown) => o.log(`demo traffic: ${e instanceof Error ? e.message : String(e)}`)).finally(schedule);
    }, 2000 + Math.floor(rng() * 4000));
    timer.unref();
  };
  schedule();
  beat = setInterval(() => { heartbeats().catch((e: unknown) => o.log(`demo heartbeats: ${e instanceof Error ? e.message : String(e)}`)); }, 4 * 60_000);
  beat.unref();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    if (beat) clearInterval(beat);
  };
}
