// A device over HTTP (PROTOCOL.md §2): each batch is one request, answered with accepted/duplicates
// once durably stored. No answer at all means "maybe stored": the device sends the same events again.
import type { Batch, HeartbeatBody, Link, SimDevice } from './device.ts';
import type { Fetch } from './setup.ts';

export type HttpLinkOptions = { url: string; fetch: Fetch; timeoutMs: number };

/** Whether a failed fetch certainly never reached the server (so nothing of it can have been stored). */
function neverArrived(e: unknown): boolean {
  const code = (e as { cause?: { code?: unknown } } | null)?.cause?.code;
  return code === 'ECONNREFUSED';
}

export function httpLink(device: SimDevice, o: HttpLinkOptions): Link {
  const base = o.url.replace(/\/+$/, '');
  const path = device.votes ? '/api/v1/ingest/votes' : '/api/v1/ingest/visitors';
  const headers = { authorization: `Bearer ${device.token}`, 'content-type': 'application/json' };
  const heartbeats = new Set<Promise<unknown>>();
  const post = (p: string, body: string): Promise<Response> =>
    o.fetch(base + p, { method: 'POST', headers, body, signal: AbortSignal.timeout(o.timeoutMs) });

  return {
    perRequest: true,
    async connect() {},
    async disconnect() {},
    send(batch: Batch) {
      post(path, batch.body).then(async (res) => {
        const text = await res.text();
        if (res.status === 200) {
          let r: { accepted?: unknown; duplicates?: unknown };
          try { r = JSON.parse(text) as typeof r; } catch { r = {}; }
          if (typeof r.accepted === 'number' && typeof r.duplicates === 'number') device.answered(batch, r.accepted, r.duplicates);
          else device.failed(batch, `${path} → 200 with an unexpected body: ${text.slice(0, 200)}`, true);
        } else if (res.status === 429 || res.status >= 500) {
          const after = Number(res.headers.get('retry-after'));
          device.failed(batch, `${path} → ${res.status}: ${text.slice(0, 200)}`, false, Number.isFinite(after) && after > 0 ? after * 1000 : undefined);
        } else {
          device.rejected(batch, `${path} → ${res.status}: ${text.slice(0, 300)}`);
        }
      }, (e: unknown) => {
        device.failed(batch, `${path}: ${e instanceof Error ? `${e.message}${(e.cause as Error | undefined)?.message ? ` (${(e.cause as Error).message})` : ''}` : String(e)}`, !neverArrived(e));
      });
    },
    heartbeat(body: HeartbeatBody) {
      const p = post('/api/v1/ingest/heartbeat', JSON.stringify(body)).then(async (res) => {
        const text = await res.text();
        if (!res.ok) throw new Error(`heartbeat → ${res.status}: ${text.slice(0, 200)}`);
      });
      heartbeats.add(p);
      void p.finally(() => heartbeats.delete(p)).catch(() => {});
      return p;
    },
    async close() { await Promise.allSettled([...heartbeats]); },
  };
}
