// One simulated device at run time: it keeps a buffer of presses not yet acknowledged and sends
// them in batches (at most `window` unanswered at a time), goes offline and comes back with its
// buffer, loses acknowledgements and sends batches again, and reports its battery. The transport
// (HTTP or MQTT) is a Link; the Link reports back through answered/failed/rejected (HTTP, one
// answer per request) or acked (MQTT, acknowledgements by event id).
import { LOSE_ACK, SEND_AGAIN, eventId, seqOf, type PlannedDevice, type SimEvent } from './plan.ts';

export type Settings = {
  /** Most events in one message (the protocol allows 1000). */
  maxBatch: number;
  /** Most unanswered messages a device keeps in flight. */
  window: number;
  heartbeatMs: number;
  /** MQTT: events not acknowledged within this are published again (doubling per attempt, up to 8×). */
  ackTimeoutMs: number;
  /** Pause before re-sending after a lost acknowledgement, and the base of the HTTP back-off. */
  retryMs: number;
};

export type Stats = {
  /** Event copies sent, first sends and re-sends alike. */
  transmissions: number;
  /** Events sent at least once. */
  sent: number;
  messages: number;
  /** Events in messages the server answered with accepted/duplicates counts. */
  answeredEvents: number;
  accepted: number;
  duplicates: number;
  /** MQTT: whether acknowledgements carried accepted/duplicates counts. */
  countsReported: boolean;
  /** HTTP: events in requests whose answer never came (network error or timeout): maybe stored. */
  unknownEvents: number;
  acksReceived: number;
  /** Acknowledgements the devices "lost" (ignored), so they sent those events again. */
  lostAcks: number;
  /** Acknowledged batches sent again anyway. */
  sentAgain: number;
  outages: number;
  /** Events pressed while their device was offline, sent after it came back. */
  buffered: number;
  /** HTTP attempts that failed (network, 5xx, 429) and were retried. */
  retries: number;
  /** MQTT: events published again because no acknowledgement came in time. */
  timeouts: number;
  /** Events the server refused (4xx): never expected, always a failure. */
  rejected: number;
  heartbeats: number;
  heartbeatFailures: number;
  /** Unique events acknowledged so far. */
  ackedUnique: number;
  errors: string[];
};

export const newStats = (): Stats => ({
  transmissions: 0, sent: 0, messages: 0, answeredEvents: 0, accepted: 0, duplicates: 0, countsReported: false, unknownEvents: 0,
  acksReceived: 0, lostAcks: 0, sentAgain: 0, outages: 0, buffered: 0, retries: 0, timeouts: 0, rejected: 0,
  heartbeats: 0, heartbeatFailures: 0, ackedUnique: 0, errors: [],
});

export function noteError(stats: Stats, message: string): void {
  if (stats.errors.length < 20 && !stats.errors.includes(message)) stats.errors.push(message);
}

export type Batch = {
  events: SimEvent[];
  /** A deliberate re-send of an acknowledged batch. */
  again: boolean;
  sentAt: number;
  /** Events of this batch still waiting for their acknowledgement (MQTT). */
  open: number;
  /** MQTT: when its unacknowledged events are published again. */
  deadline: number;
  /** The JSON body: `{"events":[…]}`. */
  body: string;
};

export type HeartbeatBody = { battery: number; rssi: number; firmware: string; buffered: number };

export interface Link {
  /** HTTP: every message gets one answer with counts. MQTT: acknowledgements come by event id, maybe never. */
  readonly perRequest: boolean;
  /** Going online (MQTT: connect and subscribe to the acks); resolves once the device can send. */
  connect(): Promise<void>;
  /** Going offline (MQTT: disconnect once the broker has taken what was published). */
  disconnect(): Promise<void>;
  /** Sends a batch; the outcome comes back through the device's answered/failed/rejected or acked. */
  send(batch: Batch): void;
  heartbeat(body: HeartbeatBody): Promise<void>;
  close(): Promise<void>;
}

const REJECTED = 4;

/** A FIFO with cheap removal from the front and re-queueing at the front. */
class Buffer {
  #items: SimEvent[] = [];
  #head = 0;
  #front: SimEvent[] = [];
  get size(): number { return this.#items.length - this.#head + this.#front.length; }
  push(e: SimEvent): void { this.#items.push(e); }
  /** Puts events back before everything else, keeping their order. */
  unshift(events: SimEvent[]): void { this.#front = events.concat(this.#front); }
  /** Up to `n` events not acknowledged meanwhile, oldest first. */
  take(n: number): SimEvent[] {
    const out: SimEvent[] = [];
    let f = 0;
    while (out.length < n && f < this.#front.length) { const e = this.#front[f++]!; if (!e.acked) out.push(e); }
    if (f) this.#front = this.#front.slice(f);
    while (out.length < n && this.#head < this.#items.length) { const e = this.#items[this.#head++]!; if (!e.acked) out.push(e); }
    if (this.#head > 4096 && this.#head * 2 > this.#items.length) { this.#items = this.#items.slice(this.#head); this.#head = 0; }
    return out;
  }
}

export type DeviceRun = { settings: Settings; stats: Stats; now(): number; fleetLink(device: SimDevice): Link };

export class SimDevice {
  readonly plan: PlannedDevice;
  readonly id: string;
  readonly token: string;
  readonly link: Link;
  state: 'online' | 'offline' | 'connecting' = 'offline';
  /** Presses released so far (this device's own sequence). */
  released = 0;
  lastBattery: number | null = null;
  readonly #run: DeviceRun;
  readonly #buffer = new Buffer();
  readonly #again: SimEvent[][] = [];
  readonly #inflight = new Set<Batch>();
  /** In-flight batch of each unacknowledged event (MQTT), by seq. */
  readonly #batchOf = new Map<number, Batch>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #offlineSince = 0;
  #outageDone = false;
  #failures = 0;
  #nextHeartbeat = Infinity;
  #leaving: Promise<void> = Promise.resolve();

  constructor(plan: PlannedDevice, credentials: { id: string; token: string }, run: DeviceRun) {
    this.plan = plan;
    this.id = credentials.id;
    this.token = credentials.token;
    this.#run = run;
    this.link = run.fleetLink(this);
  }

  get votes(): boolean { return this.plan.kind !== 'counter'; }
  get pending(): number { return this.#buffer.size; }
  /** Nothing left to send, to wait for or to retry. */
  get idle(): boolean { return this.released === this.plan.events.length && !this.#buffer.size && !this.#again.length && !this.#inflight.size && !this.#timers.size; }

  async start(): Promise<void> {
    await this.link.connect();
    this.state = 'online';
    this.#nextHeartbeat = this.#run.now() + this.plan.heartbeatPhase * this.#run.settings.heartbeatMs;
  }

  /** The device's next press happens now. */
  press(e: SimEvent): void {
    this.released++;
    const o = this.plan.outage;
    if (o && e.seq === o.from && this.state === 'online') this.#goOffline();
    if (this.state !== 'online') this.#run.stats.buffered++;
    this.#buffer.push(e);
    this.pump();
  }

  /** Called on every tick of the run: return from an outage, heartbeats, MQTT ack timeouts. */
  tick(now: number): void {
    const o = this.plan.outage;
    if (this.state === 'offline' && o && !this.#outageDone && this.released >= o.to && now - this.#offlineSince >= o.minMs) void this.#comeBack();
    if (this.state === 'online' && now >= this.#nextHeartbeat) this.heartbeat();
    if (this.#inflight.size) this.#checkTimeouts(now);
  }

  /** Sends what the buffer holds, as long as the window allows. */
  pump(): void {
    const s = this.#run.settings;
    while (this.state === 'online' && this.#inflight.size < s.window) {
      const again = this.#again.shift();
      if (again) { this.#send(again, true); continue; }
      const events = this.#buffer.take(s.maxBatch);
      if (!events.length) break;
      this.#send(events, false);
    }
  }

  heartbeat(): void {
    const s = this.#run.stats;
    this.#nextHeartbeat = this.#run.now() + this.#run.settings.heartbeatMs;
    this.lastBattery = Math.max(1, Math.round(this.plan.battery - this.released / 500));
    s.heartbeats++;
    this.link.heartbeat({ battery: this.lastBattery, rssi: this.plan.rssi, firmware: this.plan.firmware, buffered: this.#buffer.size })
      .catch((e: unknown) => { s.heartbeatFailures++; noteError(s, `heartbeat: ${e instanceof Error ? e.message : String(e)}`); });
  }

  #send(events: SimEvent[], again: boolean): void {
    const s = this.#run.stats;
    const parts = events.map((e) => this.#json(e));
    const sentAt = this.#run.now();
    let attempts = 1;
    for (const e of events) {
      if (e.sends++ === 0) s.sent++;
      else if (e.sends > attempts) attempts = e.sends;
    }
    const deadline = sentAt + this.#run.settings.ackTimeoutMs * Math.min(8, 2 ** (attempts - 1));
    const batch: Batch = { events, again, sentAt, open: 0, deadline, body: `{"events":[${parts.join(',')}]}` };
    s.transmissions += events.length;
    s.messages++;
    // Over MQTT a batch sent again is fire-and-forget: its events are acknowledged already.
    if (!again || this.link.perRequest) {
      this.#inflight.add(batch);
      if (!again) for (const e of events) { this.#batchOf.set(e.seq, batch); batch.open++; }
    }
    this.link.send(batch);
  }

  #json(e: SimEvent): string {
    const id = eventId(this.plan.kind, e.seq);
    if (!this.votes) return `{"id":"${id}","ts":${e.ts},"in":${e.people}}`;
    // Panels send epoch milliseconds, fobs ISO-8601: both forms of the protocol are exercised.
    const ts = this.plan.kind === 'fob' ? `"${new Date(e.ts).toISOString()}"` : String(e.ts);
    return `{"id":"${id}","ts":${ts},"button":"${e.button}"${e.reason ? `,"reason":"${e.reason}"` : ''}}`;
  }

  #settle(e: SimEvent): void {
    if (e.acked) return;
    e.acked = true;
    this.#run.stats.ackedUnique++;
  }

  // A message's faults are its first event's marks, so a share of events marked is that share of
  // messages whatever their size.

  /** Lost on purpose: the acknowledgement of a message led by an unacknowledged LOSE_ACK event is ignored, once. */
  #loses(events: SimEvent[]): boolean {
    const first = events[0];
    if (!first || first.acked || !(first.marks & LOSE_ACK)) return false;
    first.marks &= ~LOSE_ACK;
    this.#run.stats.lostAcks++;
    return true;
  }

  /** After a message is acknowledged: if a SEND_AGAIN event leads it, the device sends it once more, later. */
  #maybeSendAgain(batch: Batch): void {
    const first = batch.events[0];
    if (batch.again || !first || !(first.marks & SEND_AGAIN)) return;
    first.marks &= ~SEND_AGAIN;
    this.#run.stats.sentAgain++;
    this.#later(this.#run.settings.retryMs, () => this.#again.push(batch.events));
  }

  #later(ms: number, f: () => void): void {
    const t = setTimeout(() => { this.#timers.delete(t); f(); this.pump(); }, ms);
    this.#timers.add(t);
  }

  // --- outcomes, HTTP: one answer per request

  answered(batch: Batch, accepted: number, duplicates: number): void {
    const s = this.#run.stats;
    this.#inflight.delete(batch);
    this.#failures = 0;
    s.answeredEvents += batch.events.length;
    s.accepted += accepted;
    s.duplicates += duplicates;
    if (!batch.again) {
      for (const e of batch.events) this.#batchOf.delete(e.seq);
      if (this.#loses(batch.events)) {
        this.#later(this.#run.settings.retryMs, () => this.#buffer.unshift(batch.events.filter((e) => !e.acked)));
        return;
      }
      for (const e of batch.events) this.#settle(e);
      this.#maybeSendAgain(batch);
    }
    this.pump();
  }

  /** No answer (`unknown`: the server may have stored it) or a refusal to retry (5xx, 429). */
  failed(batch: Batch, why: string, unknown: boolean, retryAfterMs?: number): void {
    const s = this.#run.stats;
    this.#inflight.delete(batch);
    s.retries++;
    if (unknown) s.unknownEvents += batch.events.length;
    noteError(s, why);
    this.#failures++;
    const delay = retryAfterMs ?? Math.min(5000, this.#run.settings.retryMs * 2 ** Math.min(this.#failures, 6));
    // A deliberate re-send of acknowledged events that fails is simply dropped.
    if (batch.again) return;
    for (const e of batch.events) this.#batchOf.delete(e.seq);
    this.#later(delay, () => this.#buffer.unshift(batch.events.filter((e) => !e.acked)));
  }

  /** The server refused the batch for good (400, 401, 403, 409…): a bug in the simulator or the server. */
  rejected(batch: Batch, why: string): void {
    const s = this.#run.stats;
    this.#inflight.delete(batch);
    noteError(s, why);
    if (batch.again) return;
    for (const e of batch.events) {
      this.#batchOf.delete(e.seq);
      if (!e.acked && !(e.marks & REJECTED)) { e.marks |= REJECTED; s.rejected++; }
    }
    this.pump();
  }

  // --- outcomes, MQTT: acknowledgements by event id

  acked(ids: string[], counts?: { accepted: number; duplicates: number }): void {
    const s = this.#run.stats;
    s.acksReceived++;
    if (counts) {
      s.countsReported = true;
      s.answeredEvents += ids.length;
      s.accepted += counts.accepted;
      s.duplicates += counts.duplicates;
    }
    const events: SimEvent[] = [];
    for (const id of ids) {
      const e = this.plan.events[seqOf(id)];
      if (e && eventId(this.plan.kind, e.seq) === id) events.push(e);
    }
    if (this.#loses(events)) return; // as if it never came: the ack timeout re-publishes them
    for (const e of events) {
      if (e.acked) continue;
      this.#settle(e);
      const b = this.#batchOf.get(e.seq);
      if (!b) continue;
      this.#batchOf.delete(e.seq);
      if (--b.open === 0 && this.#inflight.delete(b)) this.#maybeSendAgain(b);
    }
    this.pump();
  }

  /** The server published on this device's error topic. */
  error(message: string): void {
    noteError(this.#run.stats, `device ${this.id}: ${message}`);
  }

  #checkTimeouts(now: number): void {
    if (this.link.perRequest) return;
    const late: SimEvent[] = [];
    for (const b of this.#inflight) {
      if (now < b.deadline) continue;
      this.#inflight.delete(b);
      for (const e of b.events) {
        if (e.acked || this.#batchOf.get(e.seq) !== b) continue;
        this.#batchOf.delete(e.seq);
        late.push(e);
      }
    }
    if (!late.length) return;
    this.#run.stats.timeouts += late.length;
    this.#buffer.unshift(late);
    this.pump();
  }

  #goOffline(): void {
    this.state = 'offline';
    this.#offlineSince = this.#run.now();
    this.#run.stats.outages++;
    this.#leaving = this.link.disconnect().catch((e: unknown) => noteError(this.#run.stats, `disconnect: ${e instanceof Error ? e.message : String(e)}`));
  }

  async #comeBack(): Promise<void> {
    this.state = 'connecting';
    try {
      await this.#leaving;
      await this.link.connect();
      this.#outageDone = true;
      this.state = 'online';
      this.heartbeat(); // "I am back, with this many presses buffered"
      this.pump();
    } catch (e) {
      noteError(this.#run.stats, `reconnect: ${e instanceof Error ? e.message : String(e)}`);
      this.state = 'offline';
      this.#offlineSince = this.#run.now();
    }
  }

  /** Events neither acknowledged nor refused. */
  unsettled(): number {
    let n = 0;
    for (const e of this.plan.events) if (!e.acked && !(e.marks & REJECTED)) n++;
    return n;
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await this.#leaving;
    await this.link.close();
  }
}
