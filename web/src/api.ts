// The dashboard's API client. Signed in by the session cookie (POST /api/v1/auth/session), which
// the browser sends by itself; every request carries the CSRF header. A wall display needs no
// sign-in: its link's secret is the credential (Wall.tsx).

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

export type Me = { id: string; email: string; name: string; role: string; orgId: string | null; partnerId: string | null; locationIds: string[] | null };

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** The request field the server named (forms show the message next to it), and the whole error object. */
  readonly field: string | undefined;
  readonly detail: Record<string, unknown> | undefined;
  constructor(status: number, code: string, message: string, detail?: Record<string, unknown>) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = typeof detail?.['field'] === 'string' ? detail['field'] : undefined;
    this.detail = detail;
  }
}

/** `expired`: the server refused the session (not a sign-out by the user). */
type Listener = (expired: boolean) => void;
const listeners = new Set<Listener>();
export const onAuthChange = (l: Listener): (() => void) => { listeners.add(l); return () => listeners.delete(l); };

/** undefined: not asked yet; null: signed out. */
let me: Me | null | undefined;
export const currentUser = (): Me | null | undefined => me;

function setUser(u: Me | null, expired = false): void {
  me = u;
  for (const l of listeners) l(expired);
}

/**
 * Before the first render. Signing in is a session cookie now (HttpOnly: scripts on the page
 * never see it); a token an older version kept in localStorage, or a #token= in an old link, is
 * thrown away rather than kept where any script could read it.
 */
export function initAuth(_forWall: boolean): void {
  try { localStorage.removeItem('loyalty.token'); sessionStorage.removeItem('loyalty.wall-token'); } catch { /* private mode */ }
  if (/(?:^#|&)token=/.test(location.hash)) history.replaceState(history.state, '', location.pathname + location.search);
}

/** Asks the server who is signed in (the cookie decides). */
export async function loadMe(): Promise<Me | null> {
  try {
    setUser(await api<Me>('/api/v1/auth/me'));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) setUser(null);
    else throw e;
  }
  return me ?? null;
}

export async function api<T>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
  // The CSRF header: the server refuses state-changing cookie requests without it (README "Accounts and access").
  const headers: Record<string, string> = { accept: 'application/json', 'x-loyalty-csrf': '1' };
  if (init.json !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { credentials: 'same-origin', ...init, headers, ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}) });
  } catch {
    throw new ApiError(0, 'network', 'the server cannot be reached');
  }
  let body: unknown = null;
  if (res.status !== 204) { try { body = await res.json(); } catch { /* not JSON */ } }
  if (!res.ok) {
    const e = (body as { error?: { code?: string; message?: string; field?: string } } | null)?.error;
    const err = new ApiError(res.status, e?.code ?? 'http', e?.message ?? `HTTP ${res.status}`, e ?? undefined);
    // A session that stopped working signs the user out (the sign-in page says why).
    if (res.status === 401 && me && !path.startsWith('/api/v1/auth/session')) setUser(null, true);
    throw err;
  }
  return body as T;
}

export async function signIn(email: string, password: string): Promise<void> {
  const r = await api<{ user: Me }>('/api/v1/auth/session', { method: 'POST', json: { email, password } });
  setUser(r.user);
}

export async function signOut(): Promise<void> {
  try { await api('/api/v1/auth/session', { method: 'DELETE' }); } catch { /* signed out anyway */ }
  setUser(null);
}

/** Accepts an invite (name + password) or the first admin's setup link (plus email); signed in after. */
export async function acceptLink(kind: 'invite' | 'setup', secret: string, body: { name: string; password: string; email?: string }): Promise<void> {
  const path = kind === 'invite' ? `/api/v1/invites/${encodeURIComponent(secret)}/accept` : `/api/v1/setup/${encodeURIComponent(secret)}`;
  const r = await api<{ user: Me }>(path, { method: 'POST', json: body });
  setUser(r.user);
}

export async function scores(org: string, from: string, to: string, by: ScoreBy, f: ScoreFilter = {}): Promise<ScoreRow[]> {
  const q = new URLSearchParams({ from, to, by });
  if (f.locationId) q.set('locationId', f.locationId);
  if (f.touchpointId) q.set('touchpointId', f.touchpointId);
  if (f.employeeId) q.set('employeeId', f.employeeId);
  return (await api<{ rows: ScoreRow[] }>(`/api/v1/orgs/${encodeURIComponent(org)}/scores?${q}`)).rows;
}
