// Loading data in views: the previous answer stays on screen while a new one loads (no flashes,
// no layout jumps); a failure is shown and retried.
import { useEffect, useRef, useState } from 'preact/hooks';

export type Loaded<T> = { data: T | undefined; error: unknown; loading: boolean };

export function useData<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({ data: undefined, error: null, loading: true });
  const [retry, setRetry] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => { if (mine === seq.current) setState({ data, error: null, loading: false }); },
      (error: unknown) => {
        if (mine !== seq.current) return;
        setState((s) => ({ ...s, error, loading: false }));
        if ((error as { status?: number }).status !== 401) timer = setTimeout(() => setRetry((n) => n + 1), 5000);
      },
    );
    return () => clearTimeout(timer);
  }, [...deps, retry]);
  return state;
}
