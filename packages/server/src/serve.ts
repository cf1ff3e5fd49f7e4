/**
 * `tributary serve`: one process with the store, the run service and the HTTP server. Start-up
 * fails orphaned runs of a previous process, and on a fresh install imports the examples and
 * prints a ready-to-paste curl. Shutdown (SIGINT/SIGTERM or `close()`) lets runs finish within
 * the grace period, stops the rest, then closes connections and the store: no run is left
 * `running`.
 *
 * With TRIBUTARY_REDIS_URL (and PostgreSQL) the process is an API process of a distributed
 * deployment (see docs/scale-out.md): runs are queued for workers — `tributary worker`, or
 * `workers` executed in this process — and orphan recovery is left to the workers' stalled-run
 * detection, since other processes' runs are not orphans.
 */
import { createHmac, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { NodeRegistry } from "@tributary/engine";
import { createAppFromWorkflow, parseWorkflowSource } from "./admin/import-workflow.js";
import { createServerCapabilities, type ServerCapabilities, type ServerCapabilitiesOptions } from "./capabilities.js";
import { ADMIN_TOKEN_FILE, type Config, type ConfigOverrides, loadConfig, publicBaseUrl } from "./config.js";
import { ServerFiles } from "./files/server-files.js";
import { createApp } from "./http/app.js";
import { type RunningServer, startServer } from "./http/server.js";
import { createLogger, type Logger } from "./logger.js";
import { createMetrics, type Metrics } from "./metrics/metrics.js";
import type { RunWorker } from "./queue/run-worker.js";
import { createLocalRunService, type ProcessRunService, recoverOrphans } from "./runs/index.js";
import { generateAppApiKey } from "./store/api-key-hash.js";
import { loadOrCreateSecretKey } from "./store/credentials-cipher.js";
import { openStore } from "./store/open-store.js";
import type { Store } from "./store/types.js";

export interface ServeOptions extends ConfigOverrides {
  /** Environment to read TRIBUTARY_* from. Default `process.env`. */
  env?: Record<string, string | undefined>;
  logger?: Logger;
  /** Code sandbox pool; `warm: false` starts its workers on the first code run instead of at start-up. */
  sandbox?: ServerCapabilitiesOptions["sandbox"];
  /** Node types runs may use. Default: the engine's registry. */
  registry?: NodeRegistry;
  /** Import `examples/*.yml` when the store holds no app yet. Default true. */
  importExamples?: boolean;
  /** Default: the repository's `examples/`. */
  examplesDir?: string;
  /** Shut down gracefully on SIGINT/SIGTERM. Default true. */
  handleSignals?: boolean;
  /** Where the start-up banner goes. Default: stdout. */
  print?: (text: string) => void;
  /** SSE idle ping interval (tests shorten it). Default 10 s. */
  pingIntervalMs?: number;
}

export interface ImportedExample {
  file: string;
  appId: string;
  workflowId: string;
  name: string;
  apiKey: string;
  /** Made-up inputs it surely succeeds with; null when it needs an LLM, code-parsable input, HTTP or a file. */
  sampleInputs: Record<string, unknown> | null;
}

export interface ServeHandle {
  /** Base URL, e.g. http://127.0.0.1:8080. */
  url: string;
  port: number;
  config: Config;
  store: Store;
  runs: ProcessRunService;
  /** Distributed mode with `workers` > 0: the queue worker executing runs in this process. */
  worker: RunWorker | undefined;
  metrics: Metrics;
  examples: ImportedExample[];
  /** Graceful shutdown; safe to call more than once. */
  close(): Promise<void>;
}

const DEFAULT_EXAMPLES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../../examples");

export async function serve(options: ServeOptions = {}): Promise<ServeHandle> {
  const config = loadConfig(options.env ?? process.env, options);
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const print = options.print ?? ((text: string) => process.stdout.write(`${text}\n`));

  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, env: options.env ?? process.env });
  let running: RunningServer | undefined;
  let runs: ProcessRunService | undefined;
  let worker: RunWorker | undefined;
  let capabilities: ServerCapabilities | undefined;
  const distributed = config.redisUrl !== undefined;
  const workers = distributed ? (config.workers ?? 0) : 0;
  try {
    if (!distributed && config.workers) {
      logger.warn(
        { workers: config.workers },
        "workers only apply in distributed mode (TRIBUTARY_REDIS_URL); this process executes every run itself",
      );
    }
    if (!distributed) {
      const recovered = await recoverOrphans(store);
      if (recovered > 0) logger.warn({ runs: recovered }, "marked runs left running by a previous process as failed");
    }

    let port = config.port;
    const secret = loadOrCreateSecretKey(config.dataDir, options.env ?? process.env);
    const files = new ServerFiles({
      config,
      store,
      // A key of its own, derived so that the credentials key is never used for two purposes.
      signingKey: createHmac("sha256", secret).update("tributary file url signing v1").digest(),
      baseUrl: () => publicBaseUrl(config, port),
    });
    await files.init();

    const caps = createServerCapabilities({
      store,
      config,
      files,
      env: options.env ?? process.env,
      // An API process that executes no runs never needs the code sandbox's warm workers.
      ...(options.sandbox
        ? { sandbox: options.sandbox }
        : !config.sandboxWarm || (distributed && workers === 0)
          ? { sandbox: { warm: false } }
          : {}),
    });
    capabilities = caps;
    const owner = processOwnerId();
    const metrics = createMetrics();
    // Runs resolve only their own app's uploads.
    const capabilitiesFor = (app: { id: string }) => caps.forApp(app.id);
    if (config.redisUrl !== undefined) {
      // BullMQ and ioredis load only in distributed mode: they cost ~150 ms of start-up.
      const [{ createDistributedRunService }, { createRunWorker }] = await Promise.all([
        import("./queue/distributed-run-service.js"),
        import("./queue/run-worker.js"),
      ]);
      const redis = { url: config.redisUrl, prefix: config.redisPrefix };
      if (workers > 0) {
        worker = await createRunWorker({
          store,
          capabilities: caps,
          capabilitiesFor,
          redis,
          owner,
          concurrency: workers,
          lockMs: config.workerLockMs,
          stalledCheckMs: config.stalledCheckMs,
          maxRunRetries: config.maxRunRetries,
          eventStreamTtlSec: config.eventStreamTtlSec,
          logger,
          metrics,
          ...(options.registry ? { registry: options.registry } : {}),
        });
      }
      const inProcess = worker;
      const service = await createDistributedRunService({
        store,
        capabilities: caps,
        capabilitiesFor,
        redis,
        owner,
        limits: { defaultAppConcurrency: config.appConcurrency, maxConcurrentRuns: config.maxConcurrentRuns },
        eventStreamTtlSec: config.eventStreamTtlSec,
        logger,
        metrics,
        activeRunCount: () => inProcess?.activeRunCount ?? 0,
        ...(options.registry ? { registry: options.registry } : {}),
      });
      metrics.setQueueDepthSource(() => service.queue.depth());
      runs = service;
    } else {
      runs = createLocalRunService({
        store,
        capabilities: caps,
        capabilitiesFor,
        owner,
        logger,
        limits: {
          defaultAppConcurrency: config.appConcurrency,
          ...(config.maxConcurrentRuns !== null ? { maxConcurrentRuns: config.maxConcurrentRuns } : {}),
        },
        metrics,
        ...(options.registry ? { registry: options.registry } : {}),
      });
    }
    const service = runs;
    metrics.setActiveRunsSource(() => service.activeRunCount);
    const app = createApp({
      config,
      store,
      runs,
      files,
      logger,
      metrics,
      ...(options.registry ? { registry: options.registry } : {}),
      ...(options.pingIntervalMs !== undefined ? { pingIntervalMs: options.pingIntervalMs } : {}),
    });
    running = await startServer({ fetch: app.fetch, port: config.port, host: config.host });
    port = running.port;
    const url = publicBaseUrl({ publicUrl: null, host: config.host }, port);

    const fresh = (await store.listApps({ includeDeleted: true, limit: 1 })).total === 0;
    const { imported: examples, skipped } =
      fresh && options.importExamples !== false
        ? await importExamples(store, options.examplesDir ?? DEFAULT_EXAMPLES_DIR, logger, options.registry)
        : { imported: [], skipped: [] };

    logger.info(
      {
        url,
        dataDir: config.dataDir,
        database: store.dialect,
        mode: distributed ? "distributed" : "embedded",
        workers,
        examples: examples.length,
      },
      "tributary is listening",
    );
    print(banner(url, config, examples, skipped));

    let uninstall = () => {};
    const handle = makeHandle({
      url,
      port,
      config,
      store,
      runs,
      worker,
      metrics,
      capabilities: caps,
      running,
      examples,
      logger,
      afterClose: () => uninstall(),
    });
    if (options.handleSignals !== false) uninstall = installSignalHandlers(() => handle.close(), logger);
    return handle;
  } catch (error) {
    await runs?.shutdown({ graceMs: 0 }).catch(() => {});
    await worker?.close(0).catch(() => {});
    await running?.close({ forceAfterMs: 0 }).catch(() => {});
    await capabilities?.close().catch(() => {});
    await store.close().catch(() => {});
    throw error;
  }
}

function makeHandle(parts: {
  url: string;
  port: number;
  config: Config;
  store: Store;
  runs: ProcessRunService;
  worker: RunWorker | undefined;
  metrics: Metrics;
  capabilities: ServerCapabilities;
  running: RunningServer;
  examples: ImportedExample[];
  logger: Logger;
  afterClose: () => void;
}): ServeHandle {
  let closing: Promise<void> | undefined;
  const { running, runs, worker, capabilities, store, logger, config } = parts;
  return {
    url: parts.url,
    port: parts.port,
    config,
    store,
    runs,
    worker,
    metrics: parts.metrics,
    examples: parts.examples,
    close() {
      closing ??= (async () => {
        logger.info({ activeRuns: runs.activeRunCount, graceMs: config.shutdownGraceMs }, "shutting down");
        // Stop taking connections first; streams of running runs stay open until their runs end.
        const serverClosed = running.close({ forceAfterMs: config.shutdownGraceMs + 5_000 });
        await Promise.all([runs.shutdown({ graceMs: config.shutdownGraceMs }), worker?.close(config.shutdownGraceMs)]);
        await serverClosed;
        await capabilities.close();
        await store.close();
        parts.afterClose();
        logger.info({}, "shut down");
      })();
      return closing;
    },
  };
}

/** This process's id as recorded on the runs it executes (`runs.owner`): host, pid and a random suffix. */
export function processOwnerId(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/** SIGINT/SIGTERM: graceful shutdown; a second signal exits at once. Returns the uninstaller. */
export function installSignalHandlers(close: () => Promise<void>, logger: Logger): () => void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      logger.warn({ signal }, "second signal: exiting without waiting for runs (they are marked failed at the next start)");
      process.exit(1);
    }
    signalled = true;
    logger.info({ signal }, "signal received, shutting down");
    close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
}

/** Imports every example that validates (logging those that do not) and creates a key for each. */
export async function importExamples(
  store: Store,
  dir: string,
  logger: Logger,
  registry?: NodeRegistry,
): Promise<{ imported: ImportedExample[]; skipped: string[] }> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /\.ya?ml$/i.test(n)).sort();
  } catch (error) {
    logger.warn({ dir, err: error }, "no examples directory; starting without example apps");
    return { imported: [], skipped: [] };
  }
  const imported: ImportedExample[] = [];
  const skipped: string[] = [];
  for (const file of names) {
    try {
      const parsed = parseWorkflowSource(await readFile(join(dir, file), "utf8"), registry);
      const { app, version } = await createAppFromWorkflow(store, parsed);
      const key = generateAppApiKey();
      await store.createApiKey({ appId: app.id, keyHash: key.keyHash, prefix: key.prefix, name: "example" });
      imported.push({
        file,
        appId: app.id,
        workflowId: version.id,
        name: app.name,
        apiKey: key.token,
        sampleInputs: sampleInputs(parsed.dsl as unknown as Record<string, unknown>),
      });
    } catch (error) {
      skipped.push(file);
      logger.warn({ file, problem: (error as Error).message }, "example not imported");
    }
  }
  return { imported, skipped };
}

/**
 * Node types whose result does not depend on what the made-up sample text means (no LLM key,
 * no code that parses its input), so the printed curl is sure to succeed.
 */
const SAMPLE_SAFE_NODE_TYPES = new Set([
  "start",
  "end",
  "answer",
  "template-transform",
  "if-else",
  "variable-aggregator",
  "variable-assigner",
]);

/** Sample inputs for an example's curl, from its start node; null when a sample might fail. */
export function sampleInputs(dsl: Record<string, unknown>): Record<string, unknown> | null {
  const nodes = ((dsl["workflow"] as { graph?: { nodes?: Array<{ data?: Record<string, unknown> }> } })?.graph?.nodes ?? []).map(
    (n) => n.data ?? {},
  );
  if (nodes.some((d) => d["type"] !== undefined && !SAMPLE_SAFE_NODE_TYPES.has(String(d["type"])))) return null;
  const start = nodes.find((d) => d["type"] === "start");
  const inputs: Record<string, unknown> = {};
  for (const v of (start?.["variables"] as Array<Record<string, unknown>> | undefined) ?? []) {
    const name = String(v["variable"]);
    if (v["default"] !== undefined && v["default"] !== null && v["default"] !== "") {
      inputs[name] = v["default"];
      continue;
    }
    switch (v["type"]) {
      case "file":
      case "file-list":
        if (v["required"]) return null;
        break;
      case "select":
        inputs[name] = (v["options"] as string[] | undefined)?.[0] ?? "";
        break;
      case "number":
        inputs[name] = 3;
        break;
      case "checkbox":
        inputs[name] = true;
        break;
      case "json_object":
        inputs[name] = {};
        break;
      default:
        inputs[name] = name === "name" ? "Ada" : "Hello from Tributary";
    }
  }
  return inputs;
}

function banner(url: string, config: Config, examples: ImportedExample[], skipped: string[]): string {
  const lines = [`Tributary is listening on ${url}`, `  data: ${config.dataDir}`, `  OpenAPI: ${url}/openapi.json`];
  if (config.adminTokenSource === "generated") {
    lines.push(`  admin token (also in ${join(config.dataDir, ADMIN_TOKEN_FILE)}): ${config.adminToken}`);
  } else {
    lines.push(
      `  admin token: ${config.adminTokenSource === "env" ? "TRIBUTARY_ADMIN_TOKEN" : join(config.dataDir, ADMIN_TOKEN_FILE)}`,
    );
  }
  if (examples.length > 0) {
    lines.push("", `Imported ${examples.length} example app${examples.length === 1 ? "" : "s"}:`);
    for (const e of examples) lines.push(`  ${e.name.padEnd(28)} ${e.apiKey}`);
    const runnable = examples.find((e) => e.sampleInputs !== null);
    if (runnable?.sampleInputs) lines.push("", `Try "${runnable.name}":`, exampleCurl(url, runnable, runnable.sampleInputs));
  }
  if (skipped.length > 0) {
    lines.push("", `Not imported (they do not validate here; the log says why): ${skipped.join(", ")}`);
  }
  return lines.join("\n");
}

/** A copy-paste curl for the first example that runs offline with sample inputs. */
export function exampleCurl(url: string, example: ImportedExample, inputs: Record<string, unknown>): string {
  const body = JSON.stringify({ inputs, user: "me", response_mode: "blocking" });
  return [
    `curl -s ${url}/v1/workflows/run \\`,
    `  -H "Authorization: Bearer ${example.apiKey}" -H "Content-Type: application/json" \\`,
    `  -d '${body.replace(/'/g, "'\\''")}'`,
  ].join("\n");
}
