/**
 * Stored runs per second: async runs (start → template-transform → end) sent by autocannon
 * (core 1) as fast as the server (core 0) accepts them for a fixed time, then waited out; the
 * figure is runs actually persisted (succeeded, with their events and node executions) per
 * second from the first request to the last run stored. Against raw better-sqlite3 writing
 * the same rows with the same pragmas (raw-child.ts, also on core 0). The disk's fsync time
 * drifts with whatever else the machine does, so the two alternate in rounds, each raw pass
 * rewriting the runs the server stored in the round just before it.
 */
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { publishApp, runBody, runHeaders } from "../support/api.js";
import { type Child, pinSelf, SERVE_CHILD, startChild } from "../support/children.js";
import { load } from "../support/load.js";
import { printResult, round, sleep } from "../support/stats.js";
import { type StoredCounts, storedCounts, tempDataDir } from "../support/stored.js";
import { templateWorkflow } from "../support/workflows.js";

const RAW_CHILD = fileURLToPath(new URL("./raw-child.ts", import.meta.url));
const CONNECTIONS = 32;
const ROUNDS = 4;
const LOAD_SEC = 3;
const DRAIN_TIMEOUT_MS = 60_000;
const TARGET_RATIO = 0.5;

function runningCount(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare("select count(*) as n from runs where status = 'running'").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

const rowsOf = (c: StoredCounts) => c.runs + c.events + c.nodeExecutions;

export default async function main(): Promise<void> {
  const pinned = pinSelf(1);
  console.log(pinned ? "load generator pinned to core 1, server and raw baseline to core 0" : "taskset missing: nothing pinned");
  const data = tempDataDir("store");
  const rawDir = tempDataDir("store-raw");
  let server: Child | undefined;
  try {
    server = await startChild(SERVE_CHILD, { cpu: 0, env: { BENCH_SERVE: JSON.stringify({ dataDir: data.dir }) } });
    const serverUrl = server.url;
    const app = await publishApp(server.url, server.adminToken ?? "", templateWorkflow());
    const dbFile = join(data.dir, "tributary.db");
    const request = {
      url: `${serverUrl}/v1/workflows/run`,
      method: "POST" as const,
      headers: runHeaders(app.key),
      body: runBody({ name: "bench" }, "async"),
    };
    const drain = async () => {
      const deadline = performance.now() + DRAIN_TIMEOUT_MS;
      while (runningCount(dbFile) > 0) {
        if (performance.now() > deadline) throw new Error("runs still running a minute after the load stopped");
        await sleep(20);
      }
      return performance.now();
    };
    await load({ ...request, connections: 8, durationSec: 2 });
    await drain();

    const totals = {
      serverRuns: 0,
      serverSec: 0,
      rows: 0,
      notSucceeded: 0,
      refused: 0,
      twoRuns: 0,
      twoSec: 0,
      oneRuns: 0,
      oneSec: 0,
    };
    const roundRatios: number[] = [];
    let acceptP99 = 0;
    let drainAfter = 0;
    for (let round_ = 1; round_ <= ROUNDS; round_++) {
      const before = storedCounts(data.dir);
      const since = Date.now();
      const t0 = performance.now();
      const accepted = await load({ ...request, connections: CONNECTIONS, durationSec: LOAD_SEC });
      const loadEnd = performance.now();
      const drained = await drain();
      const after = storedCounts(data.dir);
      const stored = after.succeeded - before.succeeded;
      const seconds = (drained - t0) / 1000;
      const notSucceeded = after.runs - after.succeeded - (before.runs - before.succeeded);
      if (notSucceeded !== 0 || stored < accepted.requests - CONNECTIONS) {
        throw new Error(`accepted runs are missing from the store: ${stored} stored of ${accepted.requests} accepted`);
      }
      totals.serverRuns += stored;
      totals.serverSec += seconds;
      totals.rows += rowsOf(after) - rowsOf(before);
      totals.notSucceeded += notSucceeded;
      totals.refused += accepted.failures;
      acceptP99 = Math.max(acceptP99, accepted.p99Ms);
      drainAfter = Math.max(drainAfter, (drained - loadEnd) / 1000);

      const raw = await startChild(RAW_CHILD, {
        cpu: 0,
        env: { BENCH_RAW: JSON.stringify({ source: dbFile, dir: rawDir.dir, since, maxMs: 3_000 }) },
      });
      const r = await raw.result(60_000).finally(() => raw.stop());
      const twoRate = (r["two_tx_runs"] ?? 0) / (r["two_tx_seconds"] ?? Number.NaN);
      const oneRate = (r["one_tx_runs"] ?? 0) / (r["one_tx_seconds"] ?? Number.NaN);
      totals.twoRuns += r["two_tx_runs"] ?? 0;
      totals.twoSec += r["two_tx_seconds"] ?? 0;
      totals.oneRuns += r["one_tx_runs"] ?? 0;
      totals.oneSec += r["one_tx_seconds"] ?? 0;
      roundRatios.push(stored / seconds / twoRate);
      console.log(
        `round ${round_}: server ${stored} runs stored in ${round(seconds, 2)} s = ${round(stored / seconds, 0)} runs/s` +
          ` (${round((drained - loadEnd) / 1000, 2)} s after the load stopped);` +
          ` raw ${round(twoRate, 0)} runs/s with two commits per run, ${round(oneRate, 0)} with one; ratio ${round(stored / seconds / twoRate, 3)}`,
      );
    }

    const serverRate = totals.serverRuns / totals.serverSec;
    const twoRate = totals.twoRuns / totals.twoSec;
    const oneRate = totals.oneRuns / totals.oneSec;
    const figures: Record<string, number> = {
      runs_per_s: round(serverRate, 1),
      rows_per_run: round(totals.rows / totals.serverRuns, 2),
      rows_per_s: round((serverRate * totals.rows) / totals.serverRuns, 0),
      runs_stored: totals.serverRuns,
      runs_not_succeeded: totals.notSucceeded,
      runs_refused: totals.refused,
      accept_p99_ms_worst_round: acceptP99,
      drain_after_load_s_worst_round: round(drainAfter, 2),
      raw_two_tx_runs_per_s: round(twoRate, 1),
      raw_one_tx_runs_per_s: round(oneRate, 1),
      ratio_vs_raw_two_tx: round(serverRate / twoRate, 3),
      ratio_vs_raw_one_tx: round(serverRate / oneRate, 3),
      ratio_vs_raw_two_tx_min_round: round(Math.min(...roundRatios), 3),
      ratio_vs_raw_two_tx_max_round: round(Math.max(...roundRatios), 3),
    };
    console.log(
      `overall: server ${figures["runs_per_s"]} runs/s (${figures["rows_per_run"]} rows each), raw ${figures["raw_two_tx_runs_per_s"]} / ${figures["raw_one_tx_runs_per_s"]} runs/s` +
        ` (two / one commits per run): ratio ${figures["ratio_vs_raw_two_tx"]} / ${figures["ratio_vs_raw_one_tx"]}`,
    );
    printResult("store", figures, {
      metric: "stored_runs_per_s_ratio_vs_raw",
      value: figures["ratio_vs_raw_two_tx"] ?? Number.NaN,
      target: TARGET_RATIO,
      better: "higher",
    });
  } finally {
    await server?.stop();
    data.cleanup();
    rawDir.cleanup();
  }
}
