// One device message, whichever broker it came through: the transport-independent ingest service
// (same validation, idempotency and errors as HTTP), sorted into what the transport must do next.
import { AppError } from '../domain/errors.ts';
import type { DevicePrincipal } from '../domain/types.ts';
import { handleDeviceMessage, MESSAGE_KINDS, type IngestContext, type MessageKind } from '../ingest/service.ts';
import type { InboundLeaf } from './topics.ts';

export type AckBody = { ids: string[]; accepted: number; duplicates: number };

export type Outcome =
  /** Durably stored: acknowledge the message; publish `ack` (null for a heartbeat, which has no ids). */
  | { status: 'stored'; ack: AckBody | null }
  /** The message itself is wrong: publish `error` and acknowledge it all the same, or it would come back forever. */
  | { status: 'rejected'; error: AppError };

const isMessageKind = (leaf: string): leaf is MessageKind => Object.hasOwn(MESSAGE_KINDS, leaf);

/** Client errors (4xx) are the message's fault; anything else is the server's and must not be acknowledged. */
export const isPermanent = (e: unknown): e is AppError => e instanceof AppError && e.status < 500;

/**
 * Resolves with what to tell the device; throws when the message could not be stored for a reason
 * that is not its own (store down, a bug): the caller must then NOT acknowledge it.
 */
export async function processMessage(ctx: IngestContext, device: DevicePrincipal, leaf: InboundLeaf, payload: Uint8Array): Promise<Outcome> {
  if (!isMessageKind(leaf)) {
    return { status: 'rejected', error: new AppError('not_found', `${leaf} messages are not accepted by this server version`) };
  }
  try {
    const out = await handleDeviceMessage(ctx, device, leaf, payload);
    if (out.message === 'heartbeat') return { status: 'stored', ack: null };
    return { status: 'stored', ack: { ids: out.ids, accepted: out.result.accepted, duplicates: out.result.duplicates } };
  } catch (e) {
    if (isPermanent(e)) return { status: 'rejected', error: e };
    throw e;
  }
}

export const encode = (body: unknown): Buffer => Buffer.from(JSON.stringify(body));

/** Promises still being stored, so a graceful stop can wait for them before closing connections. */
export class InFlight {
  #pending = new Set<Promise<unknown>>();
  get size(): number { return this.#pending.size; }
  track<T>(p: Promise<T>): Promise<T> {
    const settled = p.then(() => {}, () => {});
    this.#pending.add(settled);
    void settled.then(() => this.#pending.delete(settled));
    return p;
  }
  async drain(): Promise<void> {
    while (this.#pending.size) await Promise.all(this.#pending);
  }
}

/** Minimal logger shape (pino and Fastify's logger both fit). */
export type Log = {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
};
