// The dashboard's API client. Until accounts (cookies) arrive, it signs in through
// POST /api/v1/auth/token and keeps the API token in localStorage, sent as a Bearer header.
// A wall display keeps its token (from the link's #token=) in sessionStorage, apart from the
// signed-in user's.

export type Org = { id: string; name: string; partnerId: string | null };
export type OrgDetail = Org & { scoring: { minSample: number; thresholds: number[] } };
export type Location = { id: string; orgId: string; name: string; timezone: string; openingHours: Record<string, string[][]> | null };
export type Touchpoint = { id: string; orgId: string; name: string; locationId: string | null; channel: string | null };
export type ScoreRow = {
  key: string; label: string; satisfied: number; dissatisfied: number; total: number;
  share: number | null; wilson: [number, number] | null; score: number | null;
  visitors: number | null; responseRate: number | null; flagged: number;
};
export type ScoreBy = 'location' | 'touchpoint' | 'employee' | 'device' | 'day' | 'hour' | 'weekday' | 'weekdayhour' | 'total';
export type ScoreFilter = { locationId?: string | undefined; touchpointId?: string | undefined; employeeId?: string | undefined };

const TOKEN_KEY = 'loyalty.token';
const WALL_KEY = 'loyalty.wall-token';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const storage = (kind: 'local' | 'session'): Storage | null => {
  try { return kind === 'local' ? localStorage : sessionStorage; } catch { return null; }
};

/** `expired`: the server refused the token (not a sign-out by the user). */
type Listener = (expired: boolean) => void;
const listeners = new Set<Listener>();
export const onAuthChange = (l: Listener): (() => void) => { listeners.add(l); return () => listeners.delete(l); };

let wallMode = false;
let token: string | null = null;

/** Reads the token: a #token= in the address (kept, then removed from the address bar), else the stored one. */
export function initAuth(forWall: boolean): void {
  wallMode = forWall;
  const key = wallMode ? WALL_KEY : TOKEN_KEY;
  const store = storage(wallMode ? 'session' : 'local');
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    store?.setItem(key, decodeURIComponent(m[1]!));
    history.replaceState(history.state, '', location.pathname + location.search);
  }
  token = store?.getItem(key) ?? null;
}

export const currentToken = (): string | null => token;

export function setToken(t: string | null, expired = false): void {
  token = t;
  const store = storage(wallMode ? 'session' : 'local');
  const key = wallMode ? WALL_KEY : TOKEN_KEY;
  if (t) store?.setItem(key, t); else store?.removeItem(key);
  for (const l of listeners) l(expired);
}

export async function api<T>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers['authorization'] = `Bearer ${token}`;
  if (init.json !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers, ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}) });
  } catch {
    throw new ApiError(0, 'network', 'the server cannot be reached');
  }
  let body: unknown = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    const e = (body as { error?: { code?: string; message?: string } } | null)?.error;
    const err = new ApiError(res.status, e?.code ?? 'http', e?.message ?? `HTTP ${res.status}`);
    // A token that stopped working signs the user out (the sign-in page says why).
    if (res.status === 401 && token && !path.endsWith('/auth/token')) setToken(null, true);
    throw err;
  }
  return body as T;
}

export async function signIn(email: string, password: string): Promise<void> {
  const r = await api<{ token: string }>('/api/v1/auth/token', { method: 'POST', json: { email, password } });
  setToken(r.token);
}

export async function scores(org: string, from: string, to: string, by: ScoreBy, f: ScoreFilter = {}): Promise<ScoreRow[]> {
  const q = new URLSearchParams({ from, to, by });
  if (f.locationId) q.set('locationId', f.locationId);
  if (f.touchpointId) q.set('touchpointId', f.touchpointId);
  if (f.employeeId) q.set('employeeId', f.employeeId);
  return (await api<{ rows: ScoreRow[] }>(`/api/v1/orgs/${encodeURIComponent(org)}/scores?${q}`)).rows;
}
