// Finds QoS 1 PUBLISH packets in the raw bytes an MQTT 5 broker sends, as they arrive, so the
// external consumer can start storing messages that mqtt.js has received but not yet handed over
// (mqtt.js hands over one packet at a time; see external.ts). Only a hint: what mqtt.js itself
// parses is what gets acknowledged, and a packet found here is used only if it matches that exactly.
// On anything unexpected the scanner stops for the rest of the connection (no more hints).
import { Transform, type TransformCallback } from 'node:stream';

export type ScannedPublish = { messageId: number; topic: string; payload: Buffer };

const PUBLISH = 3;
/** Bytes of an unfinished packet kept across chunks before giving up (the broker's packets are far smaller). */
const MAX_PENDING = 64 * 1024 * 1024;

/** Variable byte integer (MQTT 5 §1.5.5) at `at`: [value, bytes used], or null when incomplete/invalid. */
function varint(buf: Buffer, at: number): [number, number] | null | 'invalid' {
  let value = 0;
  let mult = 1;
  for (let i = 0; i < 4; i++) {
    if (at + i >= buf.length) return null;
    const b = buf[at + i]!;
    value += (b & 0x7f) * mult;
    if (!(b & 0x80)) return [value, i + 1];
    mult *= 128;
  }
  return 'invalid';
}

export class PublishScanner {
  readonly #onPublish: (p: ScannedPublish) => void;
  #pending: Buffer = Buffer.alloc(0);
  #stopped = false;
  constructor(onPublish: (p: ScannedPublish) => void) { this.#onPublish = onPublish; }

  get stopped(): boolean { return this.#stopped; }

  push(chunk: Buffer): void {
    if (this.#stopped) return;
    try {
      const buf = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
      let off = 0;
      for (;;) {
        if (buf.length - off < 2) break;
        const len = varint(buf, off + 1);
        if (len === 'invalid') return this.stop();
        if (!len) break;
        const start = off + 1 + len[1];
        const end = start + len[0];
        if (end > buf.length) break;
        if (buf[off]! >> 4 === PUBLISH) this.#publish(buf[off]!, buf.subarray(start, end));
        off = end;
      }
      // Copy the unfinished rest, so a large chunk is not kept alive by a small tail.
      this.#pending = off === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(off));
      if (this.#pending.length > MAX_PENDING) this.stop();
    } catch {
      this.stop();
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#pending = Buffer.alloc(0);
  }

  #publish(first: number, body: Buffer): void {
    if (((first >> 1) & 3) !== 1) return; // QoS 1 only: the ones whose PUBACK waits for the store
    const topicLength = body.readUInt16BE(0);
    const topic = body.toString('utf8', 2, 2 + topicLength);
    let at = 2 + topicLength;
    const messageId = body.readUInt16BE(at);
    at += 2;
    const props = varint(body, at);
    if (!props || props === 'invalid') return this.stop();
    at += props[1] + props[0];
    if (at > body.length) return this.stop();
    if (!topic) return; // a topic alias: never used towards us (we advertise no alias maximum), skip
    this.#onPublish({ messageId, topic, payload: body.subarray(at) });
  }
}

/**
 * Passes MQTT bytes through unchanged, refusing (with an error) any packet whose declared size
 * exceeds `limit` as soon as its header arrives, before its body is buffered anywhere: aedes would
 * otherwise collect a packet of any size (up to MQTT's 256 MB), even a CONNECT from a stranger.
 */
export class PacketSizeGuard extends Transform {
  readonly #limit: number;
  /** Bytes of the current packet's body still to pass; -1 while reading a fixed header. */
  #remaining = -1;
  #header: number[] = [];
  constructor(limit: number) { super(); this.#limit = limit; }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.#remaining > 0) {
        const n = Math.min(this.#remaining, chunk.length - i);
        this.#remaining -= n;
        i += n;
        if (this.#remaining === 0) this.#remaining = -1;
        continue;
      }
      // Fixed header: the type byte, then 1 to 4 bytes of remaining length.
      this.#header.push(chunk[i++]!);
      if (this.#header.length === 1) continue;
      const len = varint(Buffer.from(this.#header), 1);
      if (len === 'invalid') return done(new Error('malformed MQTT packet length'));
      if (!len) continue;
      this.#header = [];
      if (len[0] > this.#limit) return done(new Error(`MQTT packet of ${len[0]} bytes exceeds the limit of ${this.#limit}`));
      this.#remaining = len[0] === 0 ? -1 : len[0];
    }
    done(null, chunk);
  }
}
