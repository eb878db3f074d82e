// A streaming ZIP writer (PKWARE APPNOTE 6.3: deflate entries with data descriptors) over node:zlib,
// for the .xlsx writer. Entries are written one after the other straight into the output, so an entry
// of any size costs one deflate window of memory; backpressure is honoured end to end (the output's
// 'drain' pauses the deflater, the deflater's buffer pauses the caller through `drain()`).
// No ZIP64: an .xlsx sheet holds at most 1,048,576 rows, far below 4 GiB of XML; we refuse beyond.
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { createDeflateRaw, crc32 } from 'node:zlib';

export interface ZipEntry {
  write(chunk: string | Buffer): void;
  /** Resolves once the deflater and the output have room again (or the output is gone). */
  drain(): Promise<void>;
  end(): Promise<void>;
}

type Done = { name: Buffer; crc: number; csize: number; size: number; offset: number };

const MAX = 0xffff_ffff;
const FLAGS = 0x0008 | 0x0800; // sizes in a data descriptor; UTF-8 names

/** MS-DOS time and date of `d` (local fields: the format has no zone). */
function dos(d: Date): [number, number] {
  return [(d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1),
    ((Math.max(d.getFullYear(), 1980) - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate()];
}

/** Resolves on 'drain' or 'close' of `w`, leaving no listener behind. */
export function drainOrClose(w: Writable): Promise<void> {
  if (w.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => { w.off('drain', done); w.off('close', done); resolve(); };
    w.on('drain', done);
    w.on('close', done);
  });
}

export class ZipWriter {
  #out: Writable;
  #offset = 0;
  #done: Done[] = [];
  #open = false;
  #time: [number, number] = dos(new Date());

  constructor(out: Writable) { this.#out = out; }

  #put(b: Buffer): void {
    this.#offset += b.length;
    if (!this.#out.destroyed) this.#out.write(b);
  }

  /** Opens an entry; write its content, then `await end()` before opening the next. */
  entry(name: string): ZipEntry {
    if (this.#open) throw new Error('end the previous zip entry first');
    this.#open = true;
    const nameBuf = Buffer.from(name, 'utf8');
    const offset = this.#offset;
    const [time, date] = this.#time;
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0); h.writeUInt16LE(20, 4); h.writeUInt16LE(FLAGS, 6); h.writeUInt16LE(8, 8);
    h.writeUInt16LE(time, 10); h.writeUInt16LE(date, 12); h.writeUInt16LE(nameBuf.length, 26);
    this.#put(Buffer.concat([h, nameBuf]));
    const out = this.#out;
    const deflate = createDeflateRaw({ level: 6 });
    let crc = 0, size = 0, csize = 0;
    deflate.on('data', (c: Buffer) => {
      csize += c.length;
      this.#offset += c.length;
      if (out.destroyed) return;
      if (!out.write(c)) { deflate.pause(); void drainOrClose(out).then(() => deflate.resume()); }
    });
    return {
      write: (chunk) => {
        const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
        crc = crc32(b, crc);
        size += b.length;
        deflate.write(b);
      },
      drain: async () => {
        if (out.destroyed) return;
        if (deflate.writableNeedDrain) {
          await new Promise<void>((resolve) => {
            const done = (): void => { deflate.off('drain', done); out.off('close', done); resolve(); };
            deflate.on('drain', done);
            out.on('close', done);
          });
        }
        if (out.writableNeedDrain) await drainOrClose(out);
      },
      end: async () => {
        const ended = once(deflate, 'end');
        deflate.end();
        await ended;
        if (size > MAX || csize > MAX || offset > MAX) throw new Error(`zip entry ${name} exceeds 4 GiB (no ZIP64)`);
        const dd = Buffer.alloc(16);
        dd.writeUInt32LE(0x08074b50, 0); dd.writeUInt32LE(crc >>> 0, 4); dd.writeUInt32LE(csize, 8); dd.writeUInt32LE(size, 12);
        this.#put(dd);
        this.#done.push({ name: nameBuf, crc: crc >>> 0, csize, size, offset });
        this.#open = false;
      },
    };
  }

  /** Writes a whole entry held in memory (the small parts of a package). */
  async file(name: string, content: string | Buffer): Promise<void> {
    const e = this.entry(name);
    e.write(content);
    await e.end();
  }

  /** Writes the central directory. The caller ends the output. */
  async finish(): Promise<void> {
    if (this.#open) throw new Error('end the last zip entry first');
    const start = this.#offset;
    const [time, date] = this.#time;
    for (const d of this.#done) {
      const c = Buffer.alloc(46);
      c.writeUInt32LE(0x02014b50, 0); c.writeUInt16LE(20, 4); c.writeUInt16LE(20, 6); c.writeUInt16LE(FLAGS, 8); c.writeUInt16LE(8, 10);
      c.writeUInt16LE(time, 12); c.writeUInt16LE(date, 14); c.writeUInt32LE(d.crc, 16); c.writeUInt32LE(d.csize, 20); c.writeUInt32LE(d.size, 24);
      c.writeUInt16LE(d.name.length, 28); c.writeUInt32LE(d.offset, 42);
      this.#put(Buffer.concat([c, d.name]));
    }
    const e = Buffer.alloc(22);
    e.writeUInt32LE(0x06054b50, 0); e.writeUInt16LE(this.#done.length, 8); e.writeUInt16LE(this.#done.length, 10);
    e.writeUInt32LE(this.#offset - start, 12); e.writeUInt32LE(start, 16);
    this.#put(e);
    if (this.#out.writableNeedDrain) await drainOrClose(this.#out);
  }
}
