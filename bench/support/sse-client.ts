/**
 * A minimal streaming-run client for the SSE benchmarks: POSTs a run over a node:http agent and
 * notes when given markers (e.g. the `workflow_started` frame) first appear in the body. The
 * same client measures the real server and the bare one, so its own cost cancels out.
 */
import { type Agent, request } from "node:http";
import { performance } from "node:perf_hooks";

export interface StreamTimings {
  status: number;
  /** ms from sending the request to the first chunk holding each marker; NaN if never seen. */
  marks: number[];
  /** ms to the end of the response. */
  endMs: number;
  body: string;
}

export interface StreamOptions {
  url: string;
  headers: Record<string, string>;
  body: string;
  markers: readonly string[];
  agent: Agent;
  /** Stop reading (destroy the response) once every marker was seen; for held-open streams. */
  stopAfterMarkers?: boolean;
  /** Keep the body text (off for load loops: it only costs the client). */
  keepBody?: boolean;
  /** Called when marker `index` is first seen. */
  onMark?: (index: number, ms: number) => void;
}

export function streamRun(options: StreamOptions): Promise<StreamTimings> {
  const target = new URL(options.url);
  if (target.hostname !== "127.0.0.1") throw new Error(`load generators target 127.0.0.1 only, not ${target.hostname}`);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const marks = options.markers.map(() => Number.NaN);
    let seen = 0;
    let body = "";
    // Markers can straddle chunks: search the tail of the previous chunk too.
    let tail = "";
    const longest = Math.max(0, ...options.markers.map((m) => m.length));
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        method: "POST",
        agent: options.agent,
        headers: { ...options.headers, "Content-Length": Buffer.byteLength(options.body) },
      },
      (res) => {
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          if (options.keepBody) body += chunk;
          if (seen < marks.length) {
            const text = tail + chunk;
            const now = performance.now() - t0;
            options.markers.forEach((marker, i) => {
              if (Number.isNaN(marks[i]) && text.includes(marker)) {
                marks[i] = now;
                seen++;
                options.onMark?.(i, now);
              }
            });
            tail = text.slice(-longest);
            if (seen === marks.length && options.stopAfterMarkers) {
              resolve({ status: res.statusCode ?? 0, marks, endMs: now, body });
            }
          }
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, marks, endMs: performance.now() - t0, body }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}
