// A text/event-stream read with fetch, for the live-stream tests (test/live*.test.ts): events in
// arrival order (comments as event ':'), each with its arrival time; a vote's data is kept raw (for
// byte-exact comparisons) and parsed once.
export type SseEvent = { event: string; data: string; at: number; v?: any };

export class SseStream {
  readonly events: SseEvent[] = [];
  readonly res: Response;
  readonly #ctl: AbortController;
  #wake: Array<() => void> = [];
  private constructor(res: Response, ctl: AbortController) {
    this.res = res;
    this.#ctl = ctl;
  }
  get status(): number { return this.res.status; }

  /** Opens the stream (a user's or device's bearer token, or none); when it is accepted, waits for the opening comment: subscribed. */
  static async open(url: string, token: string | null): Promise<SseStream> {
    const ctl = new AbortController();
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) }, signal: ctl.signal });
    const s = new SseStream(res, ctl);
    if (res.ok) {
      void s.#pump();
      await s.next((e) => e.event === ':');
    }
    return s;
  }

  async #pump(): Promise<void> {
    const reader = this.res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let event = 'message';
          const data: string[] = [];
          let comment = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comment = true;
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (!data.length && !comment) continue;
          const e: SseEvent = { event: data.length ? event : ':', data: data.join('\n'), at: performance.now() };
          if (e.event === 'vote') e.v = JSON.parse(e.data);
          this.events.push(e);
        }
        for (const w of this.#wake.splice(0)) w();
      }
    } catch { /* aborted */ }
  }

  /** Waits until an event satisfies `pred` and returns it. */
  async next(pred: (e: SseEvent) => boolean, timeoutMs = 5000): Promise<SseEvent> {
    let seen = 0;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      // Only the events that arrived since the last look are tested again.
      const hit = this.events.slice(seen).find(pred);
      seen = this.events.length;
      if (hit) return hit;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no matching event within ${timeoutMs} ms; got ${this.events.map((e) => `${e.event} ${e.data}`).join(' | ').slice(-600)}`);
      await new Promise<void>((r) => { const t = setTimeout(r, left); this.#wake.push(() => { clearTimeout(t); r(); }); });
    }
  }
  vote(id: string): Promise<SseEvent> { return this.next((e) => e.v?.id === id); }
  votes(): Array<{ raw: string; v: any }> { return this.events.filter((e) => e.event === 'vote').map((e) => ({ raw: e.data, v: e.v })); }
  count(id: string): number { return this.votes().filter((x) => x.v.id === id).length; }
  close(): void { this.#ctl.abort(); }
}
