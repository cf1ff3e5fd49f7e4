/**
 * Time to first SSE event: streaming runs of start → template-transform → end at 1 and 100
 * concurrent clients (each a closed loop: the next run once the previous stream ended), time
 * from sending the request to the `workflow_started` frame and to the `workflow_finished`
 * frame; against a bare node:http server answering the same request with the same frames
 * (captured from the real server first), both pinned to core 0, the clients on core 1.
 */
import { Agent } from "node:http";
import { performance } from "node:perf_hooks";
import { publishApp, runBody, runHeaders } from "../support/api.js";
import { BARE_CHILD, type Child, pinSelf, SERVE_CHILD, startChild } from "../support/children.js";
import { streamRun } from "../support/sse-client.js";
import { percentile, printResult, round } from "../support/stats.js";
import { tempDataDir } from "../support/stored.js";
import { templateWorkflow } from "../support/workflows.js";

const CLIENTS = [1, 100] as const;
const DURATION_MS = 7_000;
const WARMUP_MS = 2_000;
/** Untimed start of each phase: connections open (see the README on accept starvation). */
const CONNECT_MS = 1_500;
const TARGET_P99_RATIO = 2;
const STARTED = '"event":"workflow_started"';
const FINISHED = '"event":"workflow_finished"';
/** The first bytes of every stream (sent before any event): admission and response headers. */
const PING = "event: ping";

interface Phase {
  pingMs: number[];
  startedMs: number[];
  finishedMs: number[];
  /** Each client's first stream, on a connection just opened (ms to workflow_finished). */
  firstRequestMs: number[];
  streams: number;
  failures: number;
}

/**
 * `clients` closed loops on one keep-alive agent: first `warmupMs` untimed (the connections are
 * opened and accepted then; their first requests are reported separately), then `durationMs`
 * timed. A stream counts if it carried both frames.
 */
async function phase(url: string, key: string, clients: number, warmupMs: number, durationMs: number): Promise<Phase> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const result: Phase = { pingMs: [], startedMs: [], finishedMs: [], firstRequestMs: [], streams: 0, failures: 0 };
  const body = runBody({ name: "bench" }, "streaming");
  const t0 = performance.now();
  const measureFrom = t0 + warmupMs;
  const deadline = measureFrom + durationMs;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      let first = true;
      while (performance.now() < deadline) {
        const sent = performance.now();
        try {
          const t = await streamRun({ url, headers: runHeaders(key), body, markers: [PING, STARTED, FINISHED], agent });
          const [ping, started, finished] = t.marks as [number, number, number];
          const ok = t.status === 200 && !Number.isNaN(started) && !Number.isNaN(finished);
          if (first) result.firstRequestMs.push(ok ? finished : Number.POSITIVE_INFINITY);
          first = false;
          if (sent < measureFrom) continue;
          if (!ok) {
            result.failures++;
            continue;
          }
          result.pingMs.push(ping);
          result.startedMs.push(started);
          result.finishedMs.push(finished);
          result.streams++;
        } catch {
          first = false;
          if (sent >= measureFrom) result.failures++;
        }
      }
    }),
  );
  agent.destroy();
  return result;
}

export default async function main(): Promise<void> {
  const pinned = pinSelf(1);
  console.log(pinned ? "clients pinned to core 1, servers to core 0" : "taskset missing: nothing pinned");
  const data = tempDataDir("sse");
  let server: Child | undefined;
  let bare: Child | undefined;
  try {
    server = await startChild(SERVE_CHILD, { cpu: 0, env: { BENCH_SERVE: JSON.stringify({ dataDir: data.dir }) } });
    const app = await publishApp(server.url, server.adminToken ?? "", templateWorkflow());
    const runUrl = `${server.url}/v1/workflows/run`;

    // The bare server replays exactly the frames the real one sends for this workflow.
    const agent = new Agent({ keepAlive: false });
    const sample = await streamRun({
      url: runUrl,
      headers: runHeaders(app.key),
      body: runBody({ name: "bench" }, "streaming"),
      markers: [STARTED, FINISHED],
      agent,
      keepBody: true,
    });
    const frames = sample.body
      .split("\n\n")
      .filter((f) => f.includes("data: "))
      .map((f) => `${f}\n\n`);
    if (!frames.some((f) => f.includes(STARTED)) || !frames.some((f) => f.includes(FINISHED))) {
      throw new Error(`unexpected stream: ${sample.body.slice(0, 500)}`);
    }
    console.log(`captured ${frames.length} frames (${sample.body.length} bytes) from the real server`);
    bare = await startChild(BARE_CHILD, { cpu: 0, env: { BENCH_BARE: JSON.stringify({ mode: "sse", frames }) } });
    const bareUrl = `${bare.url}/v1/workflows/run`;

    // JIT and statement caches on both sides.
    await phase(runUrl, app.key, 10, 0, WARMUP_MS);
    await phase(bareUrl, app.key, 10, 0, WARMUP_MS);

    const figures: Record<string, number> = {};
    const ratios: number[] = [];
    for (const clients of CLIENTS) {
      const b = await phase(bareUrl, app.key, clients, CONNECT_MS, DURATION_MS);
      const s = await phase(runUrl, app.key, clients, CONNECT_MS, DURATION_MS);
      const p = (samples: number[], q: number) => round(percentile(samples, q), 2);
      const prefix = `c${clients}`;
      figures[`${prefix}_streams_per_s`] = round(s.streams / (DURATION_MS / 1000), 1);
      figures[`${prefix}_bare_streams_per_s`] = round(b.streams / (DURATION_MS / 1000), 1);
      figures[`${prefix}_failures`] = s.failures + b.failures;
      figures[`${prefix}_new_connection_first_stream_max_ms`] = p(s.firstRequestMs, 100);
      figures[`${prefix}_bare_new_connection_first_stream_max_ms`] = p(b.firstRequestMs, 100);
      for (const [name, sv, bv] of [
        ["ping", s.pingMs, b.pingMs],
        ["started", s.startedMs, b.startedMs],
        ["finished", s.finishedMs, b.finishedMs],
      ] as const) {
        figures[`${prefix}_${name}_p50_ms`] = p(sv, 50);
        figures[`${prefix}_${name}_p99_ms`] = p(sv, 99);
        figures[`${prefix}_bare_${name}_p50_ms`] = p(bv, 50);
        figures[`${prefix}_bare_${name}_p99_ms`] = p(bv, 99);
        figures[`${prefix}_${name}_max_ms`] = p(sv, 100);
        const ratio = round(percentile(sv, 99) / percentile(bv, 99), 2);
        figures[`${prefix}_${name}_p99_ratio_vs_bare`] = ratio;
        // The target is about events; the ping (first bytes) only shows where the wait is.
        if (name !== "ping") ratios.push(ratio);
        console.log(
          `${String(clients).padStart(3)} clients, ${name === "ping" ? "first bytes      " : `workflow_${name.padEnd(8)}`}: server p50 ${p(sv, 50)} ms p99 ${p(sv, 99)} ms;` +
            ` max ${p(sv, 100)} ms; bare p50 ${p(bv, 50)} ms p99 ${p(bv, 99)} ms; p99 ratio ${ratio}`,
        );
      }
      console.log(
        `${String(clients).padStart(3)} clients: server ${figures[`${prefix}_streams_per_s`]} streams/s, bare ${figures[`${prefix}_bare_streams_per_s`]} streams/s, failures ${figures[`${prefix}_failures`]};` +
          ` first stream on a new connection: server max ${p(s.firstRequestMs, 100)} ms, bare max ${p(b.firstRequestMs, 100)} ms`,
      );
    }
    printResult("sse", figures, {
      metric: "p99_ratio_vs_bare_worst",
      value: Math.max(...ratios),
      target: TARGET_P99_RATIO,
      better: "lower",
    });
  } finally {
    await server?.stop();
    await bare?.stop();
    data.cleanup();
  }
}
