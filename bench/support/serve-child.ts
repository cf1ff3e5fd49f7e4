/**
 * Child-process entry: the real server (`serve`, as `tributary serve` runs it) for a benchmark
 * to load from another process, usually pinned to its own core with `taskset`. Options come
 * in BENCH_SERVE (JSON); the URL and admin token go back over the IPC channel, and the parent
 * can ask for the process's memory after a full GC (started with `--expose-gc`).
 */
import { serve } from "@tributary/server";
import { handleParentMessages, sendToParent } from "./child-ipc.js";

interface ServeChildOptions {
  dataDir: string;
  databaseUrl?: string;
  logLevel?: "info" | "warn" | "silent";
  /** Hosts workflows may call although private (the gate server of the memory benchmark). */
  httpAllowList?: string[];
}

const options = JSON.parse(process.env["BENCH_SERVE"] ?? "{}") as ServeChildOptions;
const handle = await serve({
  env: {},
  port: 0,
  host: "127.0.0.1",
  dataDir: options.dataDir,
  ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
  logLevel: options.logLevel ?? "info",
  importExamples: false,
  print: () => {},
  shutdownGraceMs: 2_000,
  httpAllowList: options.httpAllowList ?? [],
  // No workload here runs code; warm workers would spend the server's core loading Pyodide
  // while the measurement starts, and would add their heaps to the memory figures.
  sandbox: { warm: false },
});
handleParentMessages();
sendToParent({ type: "ready", url: handle.url, adminToken: handle.config.adminToken });
