/**
 * Blocking runs over HTTP: start → template-transform → end, every run and node execution
 * persisted in embedded SQLite, the server pinned to core 0 and autocannon (this process) to
 * core 1, at 1, 10 and 50 connections; against a bare `node:http` server answering a small
 * JSON to the same request, under the same pinning, in the same run.
 */
import { blockingRun, publishApp, runBody, runHeaders } from "../support/api.js";
import { BARE_CHILD, type Child, pinSelf, SERVE_CHILD, startChild } from "../support/children.js";
import { type LoadResult, load } from "../support/load.js";
import { printResult, round } from "../support/stats.js";
import { storedCounts, tempDataDir } from "../support/stored.js";
import { templateWorkflow } from "../support/workflows.js";

const CONNECTIONS = [1, 10, 50] as const;
const DURATION_SEC = 6;
const WARMUP_SEC = 3;
const TARGET_RATIO = 0.2;
const TARGET_P99_MS = 10;

export default async function main(): Promise<void> {
  const pinned = pinSelf(1);
  console.log(pinned ? "load generator pinned to core 1, servers to core 0" : "taskset missing: nothing pinned");
  const data = tempDataDir("http");
  let server: Child | undefined;
  let bare: Child | undefined;
  try {
    server = await startChild(SERVE_CHILD, { cpu: 0, env: { BENCH_SERVE: JSON.stringify({ dataDir: data.dir }) } });
    bare = await startChild(BARE_CHILD, { cpu: 0, env: { BENCH_BARE: JSON.stringify({ mode: "json" }) } });
    const app = await publishApp(server.url, server.adminToken ?? "", templateWorkflow());
    const out = await blockingRun(server.url, app.key, { name: "bench" });
    if (out["greeting"] !== "Hello, bench!") throw new Error(`unexpected output ${JSON.stringify(out)}`);

    const body = runBody({ name: "bench" }, "blocking");
    const runTarget = (connections: number, durationSec: number) =>
      load({
        url: `${(server as Child).url}/v1/workflows/run`,
        connections,
        durationSec,
        method: "POST",
        headers: runHeaders(app.key),
        body,
        verifyBody: (b) => b.includes('"status":"succeeded"'),
      });
    const bareTarget = (connections: number, durationSec: number) =>
      load({
        url: `${(bare as Child).url}/v1/workflows/run`,
        connections,
        durationSec,
        method: "POST",
        headers: runHeaders(app.key),
        body,
      });
    // JIT, statement caches and the SQLite file's first pages, on both sides.
    await runTarget(10, WARMUP_SEC);
    await bareTarget(10, WARMUP_SEC);

    const figures: Record<string, number> = {};
    let okRuns = 0;
    for (const connections of CONNECTIONS) {
      // Bare first, then the server, per level: both see the same minute of machine noise.
      const b = await bareTarget(connections, DURATION_SEC);
      const s = await runTarget(connections, DURATION_SEC);
      okRuns += Math.round(s.rps * DURATION_SEC);
      record(figures, `c${connections}`, s, b);
      console.log(
        `${String(connections).padStart(2)} connections: server ${round(s.rps, 0)} runs/s p50 ${s.p50Ms} ms p99 ${s.p99Ms} ms` +
          ` (failures ${s.failures}); bare ${round(b.rps, 0)} req/s p99 ${b.p99Ms} ms (failures ${b.failures});` +
          ` ratio ${round(s.rps / b.rps, 3)}`,
      );
    }
    await server.stop();
    server = undefined;
    const stored = storedCounts(data.dir);
    figures["stored_runs"] = stored.runs;
    figures["stored_runs_not_succeeded"] = stored.runs - stored.succeeded;
    figures["stored_node_executions_per_run"] = round(stored.nodeExecutions / stored.runs, 2);
    figures["stored_events_per_run"] = round(stored.events / stored.runs, 2);
    console.log(
      `stored: ${stored.runs} runs (${stored.runs - stored.succeeded} not succeeded), ` +
        `${round(stored.nodeExecutions / stored.runs, 2)} node executions and ${round(stored.events / stored.runs, 2)} events per run` +
        ` (measured runs answered: ~${okRuns})`,
    );
    if (stored.runs - stored.succeeded !== 0 || stored.nodeExecutions < stored.runs * 3) {
      throw new Error("some runs were not persisted completely");
    }
    console.log(`p99 at 10 connections: ${figures["c10_p99_ms"]} ms (target ≤ ${TARGET_P99_MS} ms)`);
    printResult("http", figures, {
      metric: "runs_per_s_ratio_vs_bare_c10",
      value: figures["c10_ratio_vs_bare"] ?? Number.NaN,
      target: TARGET_RATIO,
      better: "higher",
    });
  } finally {
    await server?.stop();
    await bare?.stop();
    data.cleanup();
  }
}

function record(figures: Record<string, number>, prefix: string, s: LoadResult, b: LoadResult): void {
  figures[`${prefix}_runs_per_s`] = round(s.rps, 1);
  figures[`${prefix}_p50_ms`] = s.p50Ms;
  figures[`${prefix}_p99_ms`] = s.p99Ms;
  figures[`${prefix}_failures`] = s.failures;
  figures[`${prefix}_bare_req_per_s`] = round(b.rps, 1);
  figures[`${prefix}_bare_p99_ms`] = b.p99Ms;
  figures[`${prefix}_ratio_vs_bare`] = round(s.rps / b.rps, 3);
}
