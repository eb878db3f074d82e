// The demo organisation: who and what it is made of, and how its customers vote. Both the seed
// (90 days of history) and the live demo traffic draw from this one model.
//
// The story the numbers tell:
//  - a chain of four coffee points in four time zones (Berlin has DST, the Russian ones do not);
//  - busy lunch and evening hours, busier weekends;
//  - Novosibirsk is clearly the weakest location (~72 % satisfied), and worst at its evening
//    peak, when the queue at the counter grows (most of its "why" is "queue");
//  - one waiter in Moscow, Pavel Smirnov, is clearly weaker than every colleague (~65 % against
//    ~90 %), and his customers mostly blame "staff".
import type { DeviceKind, OpeningHours, Weekday } from '../domain/types.ts';
import { pickWeighted, type Rng } from './random.ts';

export const DEMO_PARTNER_NAME = 'Demo Integrator';
export const DEMO_ORG_NAME = 'Coffee Point (demo)';
export const DEMO_USER = { email: 'owner@demo.local', password: 'demo-password', name: 'Demo Owner' } as const;

export const REASONS = ['queue', 'staff', 'quality', 'price'] as const;
export type Reason = (typeof REASONS)[number];
type ReasonMix = Record<Reason, number>;

export type TouchpointName = 'Counter' | 'Cash desk' | 'Tables';
export const TOUCHPOINTS: ReadonlyArray<{ name: TouchpointName; channel: string; weight: number }> = [
  { name: 'Counter', channel: 'counter', weight: 0.4 },
  { name: 'Cash desk', channel: 'counter', weight: 0.3 },
  { name: 'Tables', channel: 'table', weight: 0.3 },
];

export type LocationSpec = {
  key: string; name: string; timezone: string; openingHours: OpeningHours;
  /** Votes on an ordinary weekday, before the weekday factor and day-to-day noise. */
  perDay: number;
  /** Share of satisfied customers on an ordinary hour. */
  base: number;
  /** A worse stretch of the day (local hours [from, to)), e.g. the evening queue. */
  dip?: { from: number; to: number; share: number; reasons: ReasonMix };
};

const every = (from: string, to: string, days: Weekday[]): OpeningHours =>
  Object.fromEntries(days.map((d) => [d, [[from, to]]])) as OpeningHours;
const WEEKDAYS_MF: Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri'];

// Opening hours are whole hours on purpose: scores bucket votes by local hour.
export const LOCATIONS: readonly LocationSpec[] = [
  {
    key: 'msk', name: 'Tverskaya 12', timezone: 'Europe/Moscow', perDay: 240, base: 0.915,
    openingHours: { ...every('08:00', '22:00', WEEKDAYS_MF), ...every('09:00', '23:00', ['sat', 'sun']) },
  },
  {
    key: 'ekb', name: 'Yekaterinburg, Lenina 5', timezone: 'Asia/Yekaterinburg', perDay: 135, base: 0.9,
    openingHours: { ...every('08:00', '21:00', [...WEEKDAYS_MF, 'sat']), ...every('10:00', '20:00', ['sun']) },
  },
  {
    key: 'nsk', name: 'Novosibirsk, Krasny 30', timezone: 'Asia/Novosibirsk', perDay: 160, base: 0.79,
    openingHours: every('08:00', '22:00', [...WEEKDAYS_MF, 'sat', 'sun']),
    dip: { from: 17, to: 21, share: 0.58, reasons: { queue: 0.7, staff: 0.1, quality: 0.12, price: 0.08 } },
  },
  {
    key: 'ber', name: 'Berlin Mitte', timezone: 'Europe/Berlin', perDay: 170, base: 0.925,
    openingHours: { ...every('07:00', '19:00', WEEKDAYS_MF), ...every('08:00', '20:00', ['sat']), ...every('09:00', '18:00', ['sun']) },
  },
];

export type EmployeeSpec = {
  key: string; name: string; location: string; role: 'cashier' | 'waiter';
  /** Overrides the location's share: this person's own level. */
  share?: number; reasons?: ReasonMix;
};

export const EMPLOYEES: readonly EmployeeSpec[] = [
  { key: 'anna', name: 'Anna Petrova', location: 'msk', role: 'cashier' },
  { key: 'olga', name: 'Olga Ivanova', location: 'msk', role: 'waiter' },
  { key: 'pavel', name: 'Pavel Smirnov', location: 'msk', role: 'waiter', share: 0.64, reasons: { queue: 0.08, staff: 0.66, quality: 0.16, price: 0.1 } },
  { key: 'dmitry', name: 'Dmitry Kozlov', location: 'ekb', role: 'cashier' },
  { key: 'elena', name: 'Elena Popova', location: 'ekb', role: 'waiter' },
  { key: 'sergey', name: 'Sergey Volkov', location: 'nsk', role: 'cashier' },
  { key: 'maria', name: 'Maria Sokolova', location: 'nsk', role: 'waiter' },
  { key: 'lukas', name: 'Lukas Weber', location: 'ber', role: 'cashier' },
  { key: 'sophie', name: 'Sophie Becker', location: 'ber', role: 'waiter' },
  { key: 'jonas', name: 'Jonas Fischer', location: 'ber', role: 'waiter' },
];

export type DeviceSpec = {
  name: string; kind: DeviceKind; location: string; touchpoint: TouchpointName; employee: string | null;
  /** Share of the location's votes that go through this device. */
  weight: number;
};

/** A panel on the counter (no one person), a panel at the cash desk rating its cashier, a fob per waiter. */
export const DEVICES: readonly DeviceSpec[] = LOCATIONS.flatMap((l) => {
  const tp = (n: TouchpointName): number => TOUCHPOINTS.find((t) => t.name === n)!.weight;
  const cashier = EMPLOYEES.find((e) => e.location === l.key && e.role === 'cashier');
  const waiters = EMPLOYEES.filter((e) => e.location === l.key && e.role === 'waiter');
  return [
    { name: `${l.name} · counter panel`, kind: 'panel' as const, location: l.key, touchpoint: 'Counter' as const, employee: null, weight: tp('Counter') },
    { name: `${l.name} · cash desk panel`, kind: 'panel' as const, location: l.key, touchpoint: 'Cash desk' as const, employee: cashier?.key ?? null, weight: tp('Cash desk') },
    ...waiters.map((w) => ({
      name: `${l.name} · fob ${w.name.split(' ')[0]}`, kind: 'fob' as const, location: l.key, touchpoint: 'Tables' as const, employee: w.key,
      weight: tp('Tables') / waiters.length,
    })),
  ];
});

const DEFAULT_REASONS: ReasonMix = { queue: 0.3, staff: 0.2, quality: 0.32, price: 0.18 };
/** Share of dissatisfied votes that carry a reason (the panel's optional second press). */
const REASON_RATE = 0.55;

/** Relative number of presses in a local hour: morning coffee, lunch and an evening peak. */
export function hourWeight(hour: number): number {
  const h = hour + 0.5;
  const bump = (centre: number, width: number, height: number): number => height * Math.exp(-(((h - centre) / width) ** 2));
  return 0.3 + bump(8.7, 1, 0.55) + bump(13.2, 1.3, 1.05) + bump(18.6, 1.6, 0.85);
}

/** Weekends are busier; Friday a little. */
export const WEEKDAY_FACTOR: Record<Weekday, number> = { mon: 0.88, tue: 0.9, wed: 0.95, thu: 1, fri: 1.12, sat: 1.45, sun: 1.3 };

const isPeak = (hour: number): boolean => (hour >= 12 && hour < 14) || (hour >= 17 && hour < 20);
const isWeekend = (d: Weekday): boolean => d === 'sat' || d === 'sun';

/** Probability that a press at this device, at this local hour and weekday, is white (satisfied). */
export function satisfiedProbability(dev: DeviceSpec, hour: number, weekday: Weekday): { p: number; reasons: ReasonMix } {
  const loc = LOCATIONS.find((l) => l.key === dev.location)!;
  const emp = dev.employee ? EMPLOYEES.find((e) => e.key === dev.employee) : undefined;
  let p = loc.base;
  let reasons = DEFAULT_REASONS;
  if (loc.dip && hour >= loc.dip.from && hour < loc.dip.to) {
    p = loc.dip.share;
    reasons = loc.dip.reasons;
  }
  if (emp?.share !== undefined) {
    p = Math.min(p, emp.share);
    reasons = emp.reasons ?? reasons;
  }
  // A crowded weekend peak costs a little everywhere.
  if (isWeekend(weekday) && isPeak(hour)) p -= 0.025;
  return { p, reasons };
}

/** One press: the button, and for some dissatisfied presses a reason. */
export function press(rng: Rng, dev: DeviceSpec, hour: number, weekday: Weekday): { button: 'satisfied' | 'dissatisfied'; reason?: Reason } {
  const { p, reasons } = satisfiedProbability(dev, hour, weekday);
  if (rng() < p) return { button: 'satisfied' };
  if (rng() >= REASON_RATE) return { button: 'dissatisfied' };
  return { button: 'dissatisfied', reason: pickWeighted(rng, REASONS, (r) => reasons[r]) };
}
