/** A bounded autocannon run against 127.0.0.1, reduced to the figures the benchmarks report. */
import autocannon from "autocannon";

export interface LoadOptions {
  /** Several URLs share the connections between them (connections should be a multiple). */
  url: string | string[];
  connections: number;
  durationSec: number;
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
  /** Counts responses whose body does not satisfy it as mismatches. */
  verifyBody?: (body: string) => boolean;
}

export interface LoadResult {
  /** Completed 2xx requests per second over the whole duration. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Connection errors, timeouts, non-2xx answers and bodies that failed verification. */
  failures: number;
}

export async function load(options: LoadOptions): Promise<LoadResult> {
  for (const url of [options.url].flat()) {
    const { hostname } = new URL(url);
    if (hostname !== "127.0.0.1") throw new Error(`load generators target 127.0.0.1 only, not ${hostname}`);
  }
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationSec,
    method: options.method ?? "GET",
    timeout: 10,
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.body !== undefined ? { body: options.body } : {}),
    ...(options.verifyBody ? { verifyBody: options.verifyBody } : {}),
  });
  const ok = Object.entries(result.statusCodeStats)
    .filter(([code]) => code.startsWith("2"))
    .reduce((sum, [, s]) => sum + Number(s.count), 0);
  return {
    rps: (ok - result.mismatches) / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    failures: result.errors + result.non2xx + result.mismatches,
  };
}
