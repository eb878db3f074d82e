// The part of autocannon's programmatic API the benchmarks use (the package ships no types).
declare module 'autocannon' {
  export type Request = {
    method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer;
    setupRequest?: (req: Request, context: Record<string, unknown>) => Request | null | undefined;
  };
  export type Histogram = { average: number; mean: number; stddev: number; min: number; max: number; p50: number; p90: number; p97_5: number; p99: number };
  export type Options = {
    url: string; connections?: number; duration?: number; pipelining?: number; timeout?: number;
    method?: string; headers?: Record<string, string>; body?: string | Buffer; requests?: Request[];
  };
  export type Result = {
    requests: Histogram & { total: number; sent: number };
    latency: Histogram;
    errors: number; timeouts: number; non2xx: number; '2xx': number; duration: number;
  };
  function autocannon(opts: Options): Promise<Result>;
  export default autocannon;
}
