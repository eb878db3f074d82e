// The end of a run: what the fleet sent (each event once, however often it was transmitted)
// against what the server stored (the scores API, by device, over the simulated dates) and what it
// said about duplicates. Stored must equal sent: nothing lost, nothing counted twice.
import { LOW_BATTERY, type Plan, type SimEvent } from './plan.ts';
import type { SimDevice, Stats } from './device.ts';
import { listDevices, scoresByDevice, type ApiClient } from './setup.ts';

export type Counts = { votes: number; satisfied: number; dissatisfied: number; flagged: number; visitorReports: number; people: number };
export type DeviceMismatch = { deviceId: string; name: string; sent: Counts; stored: Counts };

export type Reconciliation = {
  ok: boolean;
  /** Every way stored differs from sent, in words; empty when ok. */
  problems: string[];
  orgId: string; transport: 'http' | 'mqtt'; seed: number;
  devices: number; counters: number;
  /** Local dates the scores were read over. */
  from: string; to: string;
  planned: Counts;
  /** Unique events sent at least once. */
  sent: Counts;
  /** Read back: votes = satisfied + dissatisfied + flagged; visitor reports are not counted by the API (people are). */
  stored: Omit<Counts, 'visitorReports'> & { visitorReports: null };
  /** Event copies sent, first sends and re-sends alike. */
  transmissions: number;
  /** What the server said: accepted and duplicates summed over its answers (null: its acks carry ids only). */
  server: { accepted: number; duplicates: number; answered: number } | null;
  /** Events never acknowledged; events the server refused. */
  unacked: number; rejected: number;
  mismatchedDevices: DeviceMismatch[];
  batteries: { lowReported: number; lowOnServer: number | null };
  stats: Stats;
  /** From the first event sent to the last acknowledgement. */
  elapsedMs: number;
  eventsPerSecond: number; votesPerSecond: number;
};

const zero = (): Counts => ({ votes: 0, satisfied: 0, dissatisfied: 0, flagged: 0, visitorReports: 0, people: 0 });

function add(c: Counts, e: SimEvent): void {
  if (e.button === 'satisfied') { c.votes++; c.satisfied++; } else if (e.button === 'dissatisfied') { c.votes++; c.dissatisfied++; } else { c.visitorReports++; c.people += e.people; }
}

const utcDate = (ts: number): string => new Date(ts).toISOString().slice(0, 10);

export async function reconcile(api: ApiClient, o: {
  orgId: string; plan: Plan; devices: SimDevice[]; stats: Stats; transport: 'http' | 'mqtt'; seed: number; elapsedMs: number;
}): Promise<Reconciliation> {
  const { plan, devices, stats } = o;
  // Local days lie within a day of the UTC date, whatever the zone.
  const from = utcDate(plan.from - 86_400_000);
  const to = utcDate(plan.to + 86_400_000);
  const rows = new Map((await scoresByDevice(api, o.orgId, from, to)).map((r) => [r.key, r]));

  const planned = zero();
  const sent = zero();
  const stored = { ...zero(), visitorReports: null };
  const mismatchedDevices: DeviceMismatch[] = [];
  let unacked = 0;
  for (const d of devices) {
    const mine = zero();
    for (const e of d.plan.events) {
      add(planned, e);
      if (e.sends > 0) { add(sent, e); add(mine, e); }
    }
    unacked += d.unsettled();
    const r = rows.get(d.id);
    const theirs: Counts = {
      votes: r ? r.satisfied + r.dissatisfied + r.flagged : 0, satisfied: r?.satisfied ?? 0, dissatisfied: r?.dissatisfied ?? 0,
      flagged: r?.flagged ?? 0, visitorReports: 0, people: r?.visitors ?? 0,
    };
    stored.votes += theirs.votes; stored.satisfied += theirs.satisfied; stored.dissatisfied += theirs.dissatisfied;
    stored.flagged += theirs.flagged; stored.people += theirs.people;
    const matches = theirs.votes === mine.votes && theirs.people === mine.people
      && (theirs.flagged > 0 || (theirs.satisfied === mine.satisfied && theirs.dissatisfied === mine.dissatisfied));
    if (!matches) mismatchedDevices.push({ deviceId: d.id, name: d.plan.name, sent: mine, stored: theirs });
  }

  const problems: string[] = [];
  const unique = sent.votes + sent.visitorReports;
  if (stored.votes !== sent.votes) problems.push(`votes: ${sent.votes} sent, ${stored.votes} stored (${stored.votes > sent.votes ? 'doubled' : 'lost'}: ${Math.abs(stored.votes - sent.votes)})`);
  if (stored.flagged === 0 && (stored.satisfied !== sent.satisfied || stored.dissatisfied !== sent.dissatisfied)) {
    problems.push(`buttons: sent ${sent.satisfied} satisfied / ${sent.dissatisfied} dissatisfied, stored ${stored.satisfied} / ${stored.dissatisfied}`);
  }
  if (stored.people !== sent.people) problems.push(`visitors: ${sent.people} people sent, ${stored.people} stored`);
  if (mismatchedDevices.length) problems.push(`${mismatchedDevices.length} device(s) with stored ≠ sent`);
  if (unacked) problems.push(`${unacked} event(s) never acknowledged`);
  if (stats.rejected) problems.push(`${stats.rejected} event(s) refused by the server: ${stats.errors.slice(0, 3).join('; ')}`);
  const counted = o.transport === 'http' || stats.countsReported;
  if (stats.accepted > unique) problems.push(`server accepted ${stats.accepted} events but only ${unique} unique ones were sent`);
  if (o.transport === 'http') {
    // Every request answered: each unique event was accepted exactly once, every other copy was a duplicate.
    if (stats.unknownEvents === 0 && stats.accepted !== unique) problems.push(`server accepted ${stats.accepted} events but ${unique} unique ones were sent`);
    if (unique > stats.accepted + stats.unknownEvents) problems.push(`server accepted ${stats.accepted} events; ${unique} unique sent, ${stats.unknownEvents} without an answer`);
    if (stats.accepted + stats.duplicates !== stats.answeredEvents) {
      problems.push(`answers: accepted ${stats.accepted} + duplicates ${stats.duplicates} ≠ ${stats.answeredEvents} events answered`);
    }
  }
  // Over MQTT an acknowledgement can be lost for good (the server crashed after storing, before
  // publishing it; the broker's redelivery then comes back as duplicates), so accepted ≤ unique.

  let lowOnServer: number | null = null;
  try {
    const mine = new Set(devices.map((d) => d.id));
    lowOnServer = (await listDevices(api, o.orgId)).filter((d) => mine.has(d.id) && d.battery !== null && d.battery < LOW_BATTERY).length;
  } catch { /* informational only */ }

  const seconds = Math.max(o.elapsedMs, 1) / 1000;
  return {
    ok: problems.length === 0, problems, orgId: o.orgId, transport: o.transport, seed: o.seed,
    devices: devices.filter((d) => d.votes).length, counters: devices.filter((d) => !d.votes).length,
    from, to, planned, sent, stored, transmissions: stats.transmissions,
    server: counted ? { accepted: stats.accepted, duplicates: stats.duplicates, answered: stats.answeredEvents } : null,
    unacked, rejected: stats.rejected, mismatchedDevices,
    batteries: { lowReported: devices.filter((d) => d.lastBattery !== null && d.lastBattery < LOW_BATTERY).length, lowOnServer },
    stats, elapsedMs: o.elapsedMs, eventsPerSecond: unique / seconds, votesPerSecond: sent.votes / seconds,
  };
}

const n = (x: number): string => x.toLocaleString('en-US');
const s1 = (x: number): string => x.toLocaleString('en-US', { maximumFractionDigits: 1 });

/** The reconciliation as a plain-text table for a terminal. */
export function formatReconciliation(r: Reconciliation): string {
  const rows: Array<[string, string, string, string]> = [];
  const line = (label: string, sent: number | null, stored: number | null): void => {
    rows.push([label, sent === null ? '—' : n(sent), stored === null ? '—' : n(stored), sent === null || stored === null ? '' : stored === sent ? 'ok' : `${stored > sent ? '+' : ''}${n(stored - sent)}`]);
  };
  line('votes', r.sent.votes, r.stored.votes);
  line('  satisfied', r.sent.satisfied, r.stored.flagged ? null : r.stored.satisfied);
  line('  dissatisfied', r.sent.dissatisfied, r.stored.flagged ? null : r.stored.dissatisfied);
  if (r.stored.flagged) rows.push(['  held back (misuse filter)', '', n(r.stored.flagged), '']);
  if (r.counters) {
    line('visitor reports', r.sent.visitorReports, null);
    line('  people counted', r.sent.people, r.stored.people);
  }
  const w = [0, 1, 2, 3].map((i) => Math.max(...[['', 'sent (unique)', 'stored', 'check'], ...rows].map((x) => x[i]!.length)));
  const fmt = (x: [string, string, string, string]): string => `  ${x[0].padEnd(w[0]!)}  ${x[1].padStart(w[1]!)}  ${x[2].padStart(w[2]!)}  ${x[3]}`.trimEnd();
  const st = r.stats;
  const unique = r.sent.votes + r.sent.visitorReports;
  const out = [
    `Reconciliation — org ${r.orgId}, ${r.transport.toUpperCase()}, seed ${r.seed}, ${r.devices} voting device(s)${r.counters ? ` + ${r.counters} counter(s)` : ''}, local dates ${r.from} … ${r.to}`,
    fmt(['', 'sent (unique)', 'stored', 'check']),
    ...rows.map(fmt),
    '',
    `  transmissions   ${n(r.transmissions)} event copies in ${n(st.messages)} messages (${n(r.transmissions - unique)} re-sent)`,
    r.server
      ? `  server said     accepted ${n(r.server.accepted)} (unique sent ${n(unique)}), duplicates ${n(r.server.duplicates)}${r.transport === 'http' ? ` (expected ${n(r.server.answered - r.server.accepted)}: events answered − accepted)` : r.server.accepted < unique ? ` (${n(unique - r.server.accepted)} acceptances never acknowledged)` : ''}${st.unknownEvents ? `; ${n(st.unknownEvents)} events never answered` : ''}`
      : `  server said     ${n(st.acksReceived)} acknowledgements (ids only: no duplicate counts over MQTT)`,
    `  faults          ${n(st.outages)} outage(s) with ${n(st.buffered)} presses buffered offline; ${n(st.lostAcks)} acknowledgement(s) lost; ${n(st.sentAgain)} acknowledged batch(es) sent again; ${n(st.retries)} HTTP retries; ${n(st.timeouts)} events re-published after an ack timeout`,
    `  batteries       ${n(st.heartbeats)} heartbeats; ${n(r.batteries.lowReported)} device(s) reported a low battery${r.batteries.lowOnServer === null ? '' : ` (the server lists ${n(r.batteries.lowOnServer)})`}`,
    `  throughput      ${n(unique)} events in ${s1(r.elapsedMs / 1000)} s: ${n(Math.round(r.eventsPerSecond))} events/s, ${n(Math.round(r.votesPerSecond))} votes/s`,
  ];
  if (r.mismatchedDevices.length) {
    out.push('', '  devices with stored ≠ sent (votes, people):');
    for (const m of r.mismatchedDevices.slice(0, 10)) out.push(`    ${m.deviceId} ${m.name}: sent ${m.sent.votes}, ${m.sent.people}; stored ${m.stored.votes}, ${m.stored.people}`);
  }
  if (st.errors.length) out.push('', '  errors seen:', ...st.errors.slice(0, 8).map((e) => `    ${e}`));
  out.push('', r.ok ? '  OK: stored = unique sent — nothing lost, nothing doubled' : `  MISMATCH: ${r.problems.join('; ')}`);
  return out.join('\n');
}
