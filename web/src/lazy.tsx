// Pages most visits never open (management, access, alerts, reports, review) load on first use, so
// the first load carries the overview and little else. Vite splits each import() into its own chunk.
import { h, type ComponentType, type FunctionComponent } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ErrorNote } from './components.tsx';

export function lazyPage<P extends object>(load: () => Promise<ComponentType<P>>): FunctionComponent<P> {
  let loaded: ComponentType<P> | undefined;
  let pending: Promise<ComponentType<P>> | undefined;
  return function LazyPage(props: P) {
    const [page, setPage] = useState<{ c: ComponentType<P> } | undefined>(loaded ? { c: loaded } : undefined);
    const [error, setError] = useState<unknown>(null);
    useEffect(() => {
      if (page) return;
      let live = true;
      pending ??= load().then((c) => (loaded = c));
      pending.then((c) => { if (live) setPage({ c }); }, (e: unknown) => { pending = undefined; if (live) setError(e); });
      return () => { live = false; };
    }, []);
    if (error) return <ErrorNote error={error} />;
    return page ? h(page.c, props) : <p class="empty muted" aria-busy="true">…</p>;
  };
}
