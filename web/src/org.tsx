// Everything the views of one organisation share: its settings, locations and touchpoints, and
// the live stream with its counter, the latest presses and a `version` that tells views to reload.
import { createContext, type ComponentChildren } from 'preact';
import { useContext, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, type Location, type OrgDetail, type Touchpoint } from './api.ts';
import { connectLive, type LiveState, type LiveVote } from './live.ts';
import type { Scoring } from './stats.ts';

/** A vote received on the stream, numbered in arrival order. */
export type Received = { n: number; at: number; v: LiveVote };

export type OrgData = {
  org: OrgDetail; scoring: Scoring;
  locations: Location[]; locById: Map<string, Location>;
  touchpoints: Touchpoint[]; tpById: Map<string, Touchpoint>;
};

export type OrgState = OrgData & {
  live: LiveState;
  /** Votes received since the page opened. */
  count: number;
  /** The latest received votes, newest first (at most KEEP). */
  received: Received[];
  /** Grows when views should reload from the server (after live votes, a gap, or a minute). */
  version: number;
};

const KEEP = 5000;
const RELOAD_AFTER_VOTES_MS = 2500;
const RELOAD_MIN_GAP_MS = 10_000;
const RELOAD_EVERY_MS = 60_000;
const FLUSH_MS = 200;

export const OrgContext = createContext<OrgState | null>(null);
export function useOrg(): OrgState {
  const s = useContext(OrgContext);
  if (!s) throw new Error('useOrg outside an organisation');
  return s;
}

export async function loadOrg(orgId: string): Promise<OrgData> {
  const o = encodeURIComponent(orgId);
  const [org, locs, tps] = await Promise.all([
    api<OrgDetail>(`/api/v1/orgs/${o}`),
    api<{ rows: Location[] }>(`/api/v1/orgs/${o}/locations`),
    api<{ rows: Touchpoint[] }>(`/api/v1/orgs/${o}/touchpoints`),
  ]);
  return {
    org, scoring: org.scoring,
    locations: locs.rows, locById: new Map(locs.rows.map((l) => [l.id, l])),
    touchpoints: tps.rows, tpById: new Map(tps.rows.map((t) => [t.id, t])),
  };
}

/** Provides OrgState for `data`, with its live stream open while mounted. */
export function OrgProvider({ data, children }: { data: OrgData; children: ComponentChildren }) {
  const [live, setLive] = useState<LiveState>('connecting');
  const [received, setReceived] = useState<Received[]>([]);
  const [count, setCount] = useState(0);
  const [version, setVersion] = useState(0);
  const pending = useRef<Received[]>([]);
  const seq = useRef(0);

  useEffect(() => {
    let flushTimer: ReturnType<typeof setTimeout> | undefined;
    let reloadTimer: ReturnType<typeof setTimeout> | undefined;
    let lastReload = Date.now();
    const reload = (): void => {
      clearTimeout(reloadTimer);
      reloadTimer = undefined;
      lastReload = Date.now();
      setVersion((v) => v + 1);
    };
    // Live votes are shown at once (views add them to the figures); the server's figures follow
    // a little later, at most every RELOAD_MIN_GAP_MS, so a busy org does not hammer the API.
    const scheduleReload = (): void => {
      if (reloadTimer) return;
      const wait = Math.max(RELOAD_AFTER_VOTES_MS, RELOAD_MIN_GAP_MS - (Date.now() - lastReload));
      reloadTimer = setTimeout(reload, wait);
    };
    const flush = (): void => {
      flushTimer = undefined;
      const batch = pending.current;
      pending.current = [];
      if (!batch.length) return;
      setCount((c) => c + batch.length);
      setReceived((r) => [...batch.reverse(), ...r].slice(0, KEEP));
      scheduleReload();
    };
    const stop = connectLive(data.org.id, {
      onVote(v) {
        pending.current.push({ n: ++seq.current, at: Date.now(), v });
        flushTimer ??= setTimeout(flush, FLUSH_MS);
      },
      onState: setLive,
      onGap: reload,
    });
    const every = setInterval(reload, RELOAD_EVERY_MS);
    const onVisible = (): void => { if (!document.hidden) reload(); };
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      stop();
      clearInterval(every);
      clearTimeout(flushTimer);
      clearTimeout(reloadTimer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [data.org.id]);

  const value = useMemo<OrgState>(() => ({ ...data, live, count, received, version }), [data, live, count, received, version]);
  return <OrgContext.Provider value={value}>{children}</OrgContext.Provider>;
}

/** The sequence number of the newest received vote now: votes after it are not in a load started now. */
export const mark = (s: OrgState): number => s.received[0]?.n ?? 0;

// The management pages change locations and touchpoints: they announce it, and the shell loads
// the organisation again (names, zones and hours everywhere follow at once).
const CHANGED = 'loyalty:org-changed';
export const orgChanged = (): void => { dispatchEvent(new Event(CHANGED)); };
/** A number that grows on every orgChanged(): a dependency that reloads the organisation. */
export function useOrgVersion(): number {
  const [v, setV] = useState(0);
  useEffect(() => {
    const l = (): void => setV((x) => x + 1);
    addEventListener(CHANGED, l);
    return () => removeEventListener(CHANGED, l);
  }, []);
  return v;
}
