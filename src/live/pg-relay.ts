// Multi-node live stream on PostgreSQL (README "### Live stream"). Every node NOTIFYs the votes of
// each of its durable commits on a channel named after the store's schema, and LISTENs there on a
// dedicated connection (not from the pool: a pooled connection is handed to other queries, and a
// LISTEN belongs to its session), publishing the other nodes' votes into its own LiveHub. So a
// press stored by any node reaches every open stream of the deployment.
//
// Payloads carry the votes themselves, chunked under PostgreSQL's 8,000-byte limit, rather than
// ids to read back: a read-back would cost every node one query per commit of every other node and
// add a round trip to the latency, and a vote is ~200 bytes, so a chunk holds ~40 and the usual
// commit (a few votes) is one notification. The chunks of a batch go in one statement, i.e. one
// transaction, which PostgreSQL delivers whole and in order; batches go one at a time on this
// node's connection, so every listener sees this node's commits in commit order.
//
// The same connection sends and listens (one extra connection per node, and sending is ordered by
// the connection's own query queue). When it drops, it is reopened with exponential backoff; votes
// committed meanwhile wait (bounded) and are sent after the reconnect. What may have been lost —
// other nodes' notifications while this node was not listening, a batch whose send failed — is
// announced as a gap: the reconnected node tells its own streams, and a node that failed to send
// flags its next payload so every listener tells theirs (`event: dropped`, hub.gap()).
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import type { HubVote, LiveHub } from './hub.ts';

/** PostgreSQL refuses payloads of 8,000 bytes or more; the margin covers the JSON envelope. */
export const MAX_PAYLOAD_BYTES = 7_900;
/** Chunks sent per statement: bounds one statement's size (~0.5 MB) after a backlog. */
const CHUNKS_PER_STATEMENT = 64;
/** Wire format version: a node of another version is detected and treated as a gap, not misread. */
const FORMAT = 1;

/** One vote on the wire: [eventId, orgId, deviceId, locationId, touchpointId, employeeId, button, ts (epoch ms), flags, reason]. */
type WireVote = [string, string, string, string, string | null, string | null, string, number, string[], string | null];
/** One notification: format, sending node, a gap flag (that node lost some of its votes before these), the votes. */
type Payload = { f: number; n: string; g?: 1; v: WireVote[] };

/**
 * The channel of a store's schema: `lb_live` for the default schema, `lb_live:<schema>` otherwise
 * (a hash when that would pass PostgreSQL's 63-byte identifier limit, so long names cannot collide
 * by truncation). Instances sharing a database but not a schema never see each other's votes.
 */
export function liveChannel(schema: string | null): string {
  if (!schema) return 'lb_live';
  const name = `lb_live:${schema}`;
  return Buffer.byteLength(name) <= 63 ? name : `lb_live:${createHash('sha256').update(schema).digest('hex').slice(0, 40)}`;
}

const toWire = (v: HubVote): WireVote =>
  [v.eventId, v.orgId, v.deviceId, v.locationId, v.touchpointId, v.employeeId, v.button, v.ts, v.flags, v.reason];

const fromWire = (w: WireVote): HubVote => ({
  eventId: w[0], orgId: w[1], deviceId: w[2], locationId: w[3], touchpointId: w[4], employeeId: w[5],
  button: w[6] as HubVote['button'], ts: w[7], flags: w[8], reason: w[9],
});

/**
 * Splits votes into payloads of at most MAX_PAYLOAD_BYTES (UTF-8), in order, each with how many
 * votes it holds; at most `maxChunks` of them (the rest is left for the next call). Only the first
 * carries the gap flag. A vote is far below the limit (ids and reason are ≤ 64 characters).
 */
export function encodePayloads(node: string, votes: readonly HubVote[], gap = false, maxChunks = Infinity): Array<{ text: string; votes: number }> {
  const out: Array<{ text: string; votes: number }> = [];
  const open = (flag: boolean): string => `{"f":${FORMAT},"n":${JSON.stringify(node)}${flag ? ',"g":1' : ''},"v":[`;
  let head = open(gap);
  let parts: string[] = [];
  let bytes = Buffer.byteLength(head) + 2;
  for (const v of votes) {
    const s = JSON.stringify(toWire(v));
    const b = Buffer.byteLength(s) + 1;
    if (parts.length && bytes + b > MAX_PAYLOAD_BYTES) {
      out.push({ text: `${head}${parts.join(',')}]}`, votes: parts.length });
      if (out.length >= maxChunks) return out;
      head = open(false);
      parts = [];
      bytes = Buffer.byteLength(head) + 2;
    }
    parts.push(s);
    bytes += b;
  }
  if (parts.length || gap) out.push({ text: `${head}${parts.join(',')}]}`, votes: parts.length });
  return out;
}

/** A payload read back: null when it is not one this version understands. */
export function decodePayload(text: string): { node: string; gap: boolean; votes: HubVote[] } | null {
  let p: Payload;
  try { p = JSON.parse(text) as Payload; } catch { return null; }
  if (!p || p.f !== FORMAT || typeof p.n !== 'string' || !Array.isArray(p.v)) return null;
  if (!p.v.every((w) => Array.isArray(w) && w.length === 10)) return null;
  return { node: p.n, gap: p.g === 1, votes: p.v.map(fromWire) };
}

export type PgRelayOptions = {
  /** The dedicated connection's settings (Store.pgConnection). */
  connection: pg.ClientConfig;
  /** The store's schema: names the channel. */
  schema: string | null;
  /** First reconnect delay, doubled on each failure up to maxBackoffMs; default 100 ms … 10 s. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** How often an idle connection is checked with a query (a silently dead peer sends no error); default 15 s, answer within 5 s. */
  checkMs?: number;
  checkTimeoutMs?: number;
  /** Votes that may wait for the connection; beyond that they are dropped and announced as a gap. Default 100,000. */
  maxPending?: number;
  /** Connection problems, for the log; the relay keeps retrying on its own. */
  onError?: (err: unknown, what: string) => void;
};

export type PgRelayStats = {
  /** Notifications (chunks) and votes sent and received from other nodes; reconnects after a drop. */
  sentChunks: number; sentVotes: number; receivedChunks: number; receivedVotes: number;
  reconnects: number; lostVotes: number; unreadable: number;
};

export class PgRelay {
  /** Random per process: tells this node's own notifications apart (PostgreSQL echoes them to the sender). */
  readonly node = randomBytes(9).toString('base64url');
  readonly channel: string;
  readonly stats: PgRelayStats = { sentChunks: 0, sentVotes: 0, receivedChunks: 0, receivedVotes: 0, reconnects: 0, lostVotes: 0, unreadable: 0 };
  readonly #hub: LiveHub;
  readonly #o: Required<Omit<PgRelayOptions, 'onError'>> & Pick<PgRelayOptions, 'onError'>;
  #client: pg.Client | null = null;
  #connected = false;
  #everConnected = false;
  #closing = false;
  #pending: HubVote[] = [];
  /** Votes of ours that may not have reached the others: flags the next payload. */
  #lost = false;
  #sending: Promise<void> | null = null;
  #backoff: number;
  #retry: NodeJS.Timeout | null = null;
  #check: NodeJS.Timeout | null = null;
  #connectedAt = 0;

  constructor(hub: LiveHub, o: PgRelayOptions) {
    this.#hub = hub;
    this.#o = {
      minBackoffMs: 100, maxBackoffMs: 10_000, checkMs: 15_000, checkTimeoutMs: 5_000, maxPending: 100_000, ...o,
    };
    this.#backoff = this.#o.minBackoffMs;
    this.channel = liveChannel(o.schema);
  }

  /** True while listening. */
  get connected(): boolean { return this.#connected; }
  /** The listening connection's backend pid (pg_stat_activity), null while disconnected. */
  get pid(): number | null { return this.#connected ? (this.#client as unknown as { processID: number | null }).processID ?? null : null; }

  /** Opens the connection; if that fails, keeps retrying in the background (the server starts anyway). */
  async start(): Promise<void> {
    await this.#connect();
  }

  /** Called with each durable commit's votes, in commit order. Never throws and never waits. */
  publish(votes: readonly HubVote[]): void {
    if (this.#closing || !votes.length) return;
    const room = this.#o.maxPending - this.#pending.length;
    if (room < votes.length) {
      this.#lost = true;
      this.stats.lostVotes += votes.length - Math.max(0, room);
    }
    for (let i = 0; i < votes.length && i < room; i++) this.#pending.push(votes[i]!);
    this.#kick();
  }

  /** Sends what is pending (briefly, if connected), then closes the connection and stops retrying. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = null;
    this.#stopCheck();
    // The votes committed last are owed to the other nodes' streams: flush them first (bounded).
    if (this.#connected) {
      this.#kick(true);
      const flushed = (async () => { while (this.#sending) await this.#sending; })();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([flushed, new Promise((r) => { timer = setTimeout(r, 2_000); })]);
      clearTimeout(timer);
    }
    const c = this.#client;
    this.#client = null;
    this.#connected = false;
    if (c) await c.end().catch(() => {});
  }

  #kick(closing = false): void {
    if (this.#sending || !this.#connected || (this.#closing && !closing)) return;
    if (!this.#pending.length && !this.#lost) return;
    this.#sending = this.#sendLoop().finally(() => { this.#sending = null; });
  }

  /** One statement at a time on our connection: the listeners get our batches in commit order. */
  async #sendLoop(): Promise<void> {
    while (this.#connected && this.#client && (this.#pending.length || this.#lost)) {
      const client = this.#client;
      const chunks = encodePayloads(this.node, this.#pending, this.#lost, CHUNKS_PER_STATEMENT);
      const batch = this.#pending.splice(0, chunks.reduce((n, c) => n + c.votes, 0));
      this.#lost = false;
      try {
        await client.query('select pg_notify($1, p) from unnest($2::text[]) as p', [this.channel, chunks.map((c) => c.text)]);
        this.stats.sentChunks += chunks.length;
        this.stats.sentVotes += batch.length;
      } catch (err) {
        // Sent or not is unknown (a broken connection): never send twice, announce a gap instead.
        this.#lost = true;
        this.stats.lostVotes += batch.length;
        this.#o.onError?.(err, 'live relay: NOTIFY failed');
        if (client === this.#client) this.#dropped(client, err);
        return;
      }
    }
  }

  async #connect(): Promise<void> {
    if (this.#closing) return;
    const client = new pg.Client({ connectionTimeoutMillis: 10_000, ...this.#o.connection, application_name: 'loyalty-live-relay', keepAlive: true });
    this.#client = client;
    client.on('error', (err) => { if (client === this.#client) this.#dropped(client, err); });
    client.on('end', () => { if (client === this.#client) this.#dropped(client, new Error('connection ended')); });
    client.on('notification', (m) => { if (m.channel === this.channel) this.#receive(m.payload ?? ''); });
    try {
      await client.connect();
      await client.query(`listen "${this.channel.replace(/"/g, '""')}"`);
    } catch (err) {
      if (client === this.#client) this.#dropped(client, err);
      return;
    }
    if (client !== this.#client || this.#closing) { await client.end().catch(() => {}); return; }
    const reconnect = this.#everConnected;
    this.#connected = true;
    this.#everConnected = true;
    this.#connectedAt = Date.now();
    this.#startCheck(client);
    if (reconnect) {
      this.stats.reconnects++;
      // Other nodes' votes stored while we were not listening never reach our streams: say so.
      this.#hub.gap();
    }
    this.#kick();
  }

  /** The connection is gone (or useless): forget it and reconnect after the backoff. */
  #dropped(client: pg.Client, err: unknown): void {
    if (client !== this.#client) return;
    const wasConnected = this.#connected;
    this.#client = null;
    this.#connected = false;
    this.#stopCheck();
    client.removeAllListeners('notification');
    client.on('error', () => {}); // a late error of the abandoned client must not crash the process
    void client.end().catch(() => {});
    if (this.#closing) return;
    this.#o.onError?.(err, wasConnected ? 'live relay: connection lost, reconnecting' : 'live relay: cannot connect, retrying');
    // A connection that lived longer than the longest wait was healthy: start the backoff over.
    if (wasConnected && Date.now() - this.#connectedAt >= this.#o.maxBackoffMs) this.#backoff = this.#o.minBackoffMs;
    const wait = this.#backoff * (0.75 + Math.random() / 2); // jitter: nodes cut off together do not return in lockstep
    this.#backoff = Math.min(this.#backoff * 2, this.#o.maxBackoffMs);
    this.#retry = setTimeout(() => { this.#retry = null; void this.#connect(); }, wait);
    this.#retry.unref();
  }

  #startCheck(client: pg.Client): void {
    this.#check = setInterval(() => {
      if (this.#sending) return; // a query is under way: it fails on its own if the connection is dead
      const t = setTimeout(() => this.#dropped(client, new Error('live relay: health check timed out')), this.#o.checkTimeoutMs);
      t.unref();
      client.query('select 1').then(() => clearTimeout(t), (err: unknown) => { clearTimeout(t); this.#dropped(client, err); });
    }, this.#o.checkMs);
    this.#check.unref();
  }

  #stopCheck(): void {
    if (this.#check) clearInterval(this.#check);
    this.#check = null;
  }

  #receive(text: string): void {
    if (!this.#hub.stats.connections) return; // nobody to tell: skip the parsing
    const p = decodePayload(text);
    if (!p) {
      // A node of another version (or garbage): its votes cannot be shown, so the streams are told.
      this.stats.unreadable++;
      this.#hub.gap();
      return;
    }
    if (p.node === this.node) return;
    this.stats.receivedChunks++;
    this.stats.receivedVotes += p.votes.length;
    if (p.gap) this.#hub.gap();
    if (p.votes.length) this.#hub.publish(p.votes);
  }
}
