// A small history router: real paths (/orgs/…/locations/…), so links can be opened in new tabs
// and shared; the server answers every such path with index.html.
import { h, type ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set<() => void>();
const notify = (): void => { for (const l of listeners) l(); };
addEventListener('popstate', notify);

export function navigate(to: string, o: { replace?: boolean } = {}): void {
  if (to === location.pathname + location.search) return;
  if (o.replace) history.replaceState(null, '', to); else history.pushState(null, '', to);
  notify();
  if (!o.replace) scrollTo(0, 0);
}

export function useLocation(): { path: string; query: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = (): void => setTick((n) => n + 1);
    listeners.add(l);
    return () => { listeners.delete(l); };
  }, []);
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

/** Matches "/orgs/:org/locations/:loc" against a path; null when it does not fit. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/');
  const s = path.replace(/\/+$/, '').split('/');
  if (p.length !== s.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const a = p[i]!;
    const b = s[i]!;
    if (a.startsWith(':')) {
      if (!b) return null;
      try { out[a.slice(1)] = decodeURIComponent(b); } catch { return null; }
    } else if (a !== b) return null;
  }
  return out;
}

/** Sets one query parameter of the current address (null removes it), keeping the others. */
export function withQuery(changes: Record<string, string | null>): string {
  const q = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) if (v === null) q.delete(k); else q.set(k, v);
  const s = q.toString();
  return location.pathname + (s ? `?${s}` : '');
}

type LinkProps = { href: string; class?: string; children?: ComponentChildren; 'aria-current'?: 'page' | undefined; title?: string };
export function Link(props: LinkProps) {
  const onClick = (e: MouseEvent): void => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(props.href);
  };
  return h('a', { ...props, onClick }, props.children);
}
