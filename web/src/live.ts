// The live stream (GET /api/v1/orgs/{org}/live, PROTOCOL §5, or a wall link's) read with fetch
// (the session cookie goes with it). Reconnects with backoff; a stream silent for 45 s (three
// missed heartbeats) is treated as dead and reopened.

export type LiveVote = {
  id: string; deviceId: string; locationId: string; touchpointId: string | null; employeeId: string | null;
  button: 'satisfied' | 'dissatisfied'; ts: string; flagged: string[]; reason?: string | null;
};
export type LiveState = 'connecting' | 'open' | 'retrying' | 'denied';
export type LiveHandlers = {
  onVote(v: LiveVote): void;
  onState(s: LiveState): void;
  /** The stream was (re)opened after a gap or the server skipped votes: reload the figures. */
  onGap(): void;
};

const SILENCE_MS = 45_000;

export function connectLive(org: string, h: LiveHandlers, url = `/api/v1/orgs/${encodeURIComponent(org)}/live`): () => void {
  let stopped = false;
  let ctl: AbortController | null = null;
  let delay = 1000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let opened = 0;

  const run = async (): Promise<void> => {
    if (stopped) return;
    h.onState('connecting');
    ctl = new AbortController();
    const mine = ctl;
    let silence: ReturnType<typeof setTimeout> | undefined;
    const alive = (): void => {
      clearTimeout(silence);
      silence = setTimeout(() => mine.abort(), SILENCE_MS);
    };
    try {
      const res = await fetch(url, {
        headers: { accept: 'text/event-stream' }, credentials: 'same-origin',
        signal: mine.signal, cache: 'no-store',
      });
      if (res.status === 401 || res.status === 403 || res.status === 404) { h.onState('denied'); stopped = true; return; }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      h.onState('open');
      if (opened++ > 0) h.onGap(); // votes may have been stored while we were away
      delay = 1000;
      alive();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        alive();
        buf += value;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let event = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data += (data ? '\n' : '') + line.slice(5).replace(/^ /, '');
          }
          if (!data) continue;
          if (event === 'vote') {
            try { h.onVote(JSON.parse(data) as LiveVote); } catch { /* a malformed frame is skipped */ }
          } else if (event === 'dropped') h.onGap();
        }
      }
    } catch {
      /* network error or abort: retried below */
    } finally {
      clearTimeout(silence);
    }
    if (stopped) return;
    h.onState('retrying');
    timer = setTimeout(() => void run(), delay);
    delay = Math.min(delay * 2, 15_000);
  };
  void run();
  return () => {
    stopped = true;
    clearTimeout(timer);
    ctl?.abort();
  };
}
