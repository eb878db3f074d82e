// The live stream's fan-out (PROTOCOL.md §5): the group committer calls publish() with the votes
// of each durable commit, and every open stream of that organisation (limited to a manager's
// locations) gets one `event: vote` per vote, written in the same tick.
//
// Memory is bounded per connection. Writes go straight to the socket while it keeps up; once the
// socket's own buffer is full (write() returned false), frames wait in a queue of at most
// `maxQueuedBytes`. Frames beyond that are dropped and counted; when the socket drains, the queue is
// flushed and an `event: dropped` with the count tells the client to reload its figures. A
// connection that stays blocked for `stallMs` is closed (clients reconnect). Comment lines every
// `heartbeatMs` keep proxies and load balancers from closing a quiet stream.
import type { Writable } from 'node:stream';
import type { PreparedVote } from '../ingest/vote.ts';

/** One `event: vote` as sent (PROTOCOL.md §5; `reason` is an extension). */
export type LiveVote = {
  id: string; deviceId: string; locationId: string; touchpointId: string | null; employeeId: string | null;
  button: string; ts: string; flagged: string[]; reason: string | null;
};

export type LiveOptions = {
  /** Interval of `: ping` comments; default 15 s (proxies commonly time out idle streams at 30–60 s). */
  heartbeatMs?: number;
  /** Frames a connection may have waiting behind a full socket; default 256 KiB (~1,000 votes). */
  maxQueuedBytes?: number;
  /** A connection blocked this long is closed; default 60 s. */
  stallMs?: number;
};

export type LiveFilter = { orgId: string; /** null = every location of the org */ locations: readonly string[] | null };

/** The part of a Node writable (an HTTP response) the hub uses. */
export type LiveSink = Pick<Writable, 'write' | 'cork' | 'uncork' | 'once' | 'removeListener' | 'end' | 'destroy' | 'writableEnded' | 'destroyed'>;

export type LiveStats = { connections: number; published: number; sent: number; dropped: number; stalled: number };

/** What the hub needs of a stored vote: a local commit's PreparedVote, or one relayed from another node (pg-relay.ts). */
export type HubVote = Pick<PreparedVote, 'orgId' | 'eventId' | 'deviceId' | 'locationId' | 'touchpointId' | 'employeeId' | 'button' | 'ts' | 'flags' | 'reason'>;

/**
 * `event: dropped` when the number is unknown: this node's feed of other nodes' votes was
 * interrupted (pg-relay.ts), so any number of them may be missing. Clients reload as for a count.
 */
export const GAP_FRAME = `event: dropped\ndata: ${JSON.stringify({ count: null, cause: 'cluster' })}\n\n`;

export const toLiveVote = (v: HubVote): LiveVote => ({
  id: v.eventId, deviceId: v.deviceId, locationId: v.locationId, touchpointId: v.touchpointId, employeeId: v.employeeId,
  button: v.button, ts: new Date(v.ts).toISOString(), flagged: v.flags, reason: v.reason,
});

export const sseFrame = (event: string, data: unknown): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

class Subscriber {
  readonly filter: LiveFilter;
  readonly #locations: Set<string> | null;
  readonly #sink: LiveSink;
  readonly #hub: LiveHub;
  #queue: string[] = [];
  #queuedBytes = 0;
  #dropped = 0;
  #blockedSince = 0;
  #closed = false;
  /** Inside send()'s writing loop (a synchronous 'drain' must not start a second, re-entrant send). */
  #writing = false;
  readonly #onDrain = (): void => this.#drain();

  constructor(hub: LiveHub, sink: LiveSink, filter: LiveFilter) {
    this.#hub = hub;
    this.#sink = sink;
    this.filter = filter;
    this.#locations = filter.locations ? new Set(filter.locations) : null;
  }

  get closed(): boolean { return this.#closed || this.#sink.destroyed || this.#sink.writableEnded; }
  get queuedBytes(): number { return this.#queuedBytes; }
  get dropped(): number { return this.#dropped; }

  sees(locationId: string): boolean { return this.#locations === null || this.#locations.has(locationId); }

  /** Sends frames in order: straight to the socket while it accepts, then into the bounded queue. */
  send(frames: string[]): void {
    if (this.closed || !frames.length) return;
    const stats = this.#hub.stats;
    let i = 0;
    this.#writing = true;
    try {
      // uncork() may flush everything and emit 'drain' synchronously, unblocking us (#drain sees
      // #writing and leaves the rest to this loop): then keep writing, or the rest would sit in
      // the queue with no 'drain' left to come.
      while (!this.#blockedSince && i < frames.length && !this.closed) {
        // Corked: the frames of one commit leave in one write to the socket.
        this.#sink.cork();
        try {
          while (i < frames.length) {
            const ok = this.#sink.write(frames[i++]!);
            stats.sent++;
            if (!ok) { this.#block(); break; }
          }
        } finally {
          this.#sink.uncork();
        }
      }
    } finally {
      this.#writing = false;
    }
    const max = this.#hub.options.maxQueuedBytes;
    for (; i < frames.length; i++) {
      const f = frames[i]!;
      if (this.#queuedBytes + f.length > max) { this.#dropped++; stats.dropped++; continue; }
      this.#queue.push(f);
      this.#queuedBytes += f.length;
    }
  }

  /** A heartbeat comment, only to a connection that is keeping up (a blocked one has data pending anyway). */
  ping(now: number): void {
    if (this.closed) return;
    if (this.#blockedSince) {
      if (now - this.#blockedSince >= this.#hub.options.stallMs) {
        this.#hub.stats.stalled++;
        this.close(true);
      }
      return;
    }
    if (!this.#sink.write(': ping\n\n')) this.#block();
  }

  #block(): void {
    this.#blockedSince = Date.now();
    this.#sink.once('drain', this.#onDrain);
  }

  #drain(): void {
    this.#blockedSince = 0;
    if (this.closed || this.#writing) return;
    const frames = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    const dropped = this.#dropped;
    this.#dropped = 0;
    if (dropped) frames.push(sseFrame('dropped', { count: dropped }));
    this.send(frames);
  }

  /** Unsubscribes; `destroy` also closes the connection (a stalled client), otherwise the stream is ended. */
  close(destroy = false): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#sink.removeListener('drain', this.#onDrain);
    this.#hub.remove(this);
    if (destroy) this.#sink.destroy();
    else if (!this.#sink.writableEnded && !this.#sink.destroyed) this.#sink.end();
  }
}

export type LiveSubscription = { close(destroy?: boolean): void; readonly queuedBytes: number; readonly dropped: number };

export class LiveHub {
  readonly options: Required<LiveOptions>;
  readonly stats: LiveStats = { connections: 0, published: 0, sent: 0, dropped: 0, stalled: 0 };
  readonly #byOrg = new Map<string, Set<Subscriber>>();
  #timer: NodeJS.Timeout | null = null;

  constructor(o: LiveOptions = {}) {
    this.options = { heartbeatMs: o.heartbeatMs ?? 15_000, maxQueuedBytes: o.maxQueuedBytes ?? 256 * 1024, stallMs: o.stallMs ?? 60_000 };
  }

  /** Called with the votes of each durable commit. Must not throw: the commit is already acknowledged. */
  publish(votes: readonly HubVote[]): void {
    if (!this.#byOrg.size) return;
    try {
      // Frames are built once per vote and shared by every connection that sees it.
      const perOrg = new Map<string, Array<{ locationId: string; frame: string }>>();
      for (const v of votes) {
        if (!this.#byOrg.has(v.orgId)) continue;
        let list = perOrg.get(v.orgId);
        if (!list) perOrg.set(v.orgId, list = []);
        list.push({ locationId: v.locationId, frame: sseFrame('vote', toLiveVote(v)) });
      }
      for (const [orgId, list] of perOrg) {
        this.stats.published += list.length;
        for (const sub of this.#byOrg.get(orgId) ?? []) {
          sub.send(list.filter((x) => sub.sees(x.locationId)).map((x) => x.frame));
        }
      }
    } catch {
      // A broken socket must never fail the ingest path that called us; its close event cleans up.
    }
  }

  /** Tells every open stream it may have missed votes (`event: dropped`, GAP_FRAME); it then reloads its figures. */
  gap(): void {
    try {
      for (const set of this.#byOrg.values()) for (const sub of set) sub.send([GAP_FRAME]);
    } catch {
      // As in publish: a broken socket is cleaned up by its close event.
    }
  }

  subscribe(sink: LiveSink, filter: LiveFilter): LiveSubscription {
    const sub = new Subscriber(this, sink, filter);
    let set = this.#byOrg.get(filter.orgId);
    if (!set) this.#byOrg.set(filter.orgId, set = new Set());
    set.add(sub);
    this.stats.connections++;
    this.#startTimer();
    return sub;
  }

  /** @internal by Subscriber.close */
  remove(sub: Subscriber): void {
    const set = this.#byOrg.get(sub.filter.orgId);
    if (!set?.delete(sub)) return;
    this.stats.connections--;
    if (!set.size) this.#byOrg.delete(sub.filter.orgId);
    if (!this.#byOrg.size) this.#stopTimer();
  }

  /** Ends every stream (server shutdown). */
  closeAll(): void {
    for (const set of [...this.#byOrg.values()]) for (const sub of [...set]) sub.close();
    this.#stopTimer();
  }

  #startTimer(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      const now = Date.now();
      for (const set of [...this.#byOrg.values()]) for (const sub of [...set]) sub.ping(now);
    }, this.options.heartbeatMs);
    this.#timer.unref();
  }

  #stopTimer(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
