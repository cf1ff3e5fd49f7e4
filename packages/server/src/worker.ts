/**
 * `tributary worker`: a process that executes queued runs in a distributed deployment. Same
 * package and configuration as `serve` (TRIBUTARY_DATABASE_URL=postgres://…,
 * TRIBUTARY_REDIS_URL=redis://…, the same TRIBUTARY_SECRET_KEY and files directory), no public
 * HTTP: optionally `/metrics` and `/healthz` on TRIBUTARY_METRICS_PORT. SIGTERM lets in-flight
 * runs finish within the grace period, stops the rest, then exits.
 */
import { createHmac } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { NodeRegistry } from "@tributary/engine";
import { createServerCapabilities, type ServerCapabilities, type ServerCapabilitiesOptions } from "./capabilities.js";
import { type Config, ConfigError, type ConfigOverrides, loadConfig, publicBaseUrl } from "./config.js";
import { ServerFiles } from "./files/server-files.js";
import { createLogger, type Logger } from "./logger.js";
import { createMetrics, type Metrics } from "./metrics/metrics.js";
import { redactUrl } from "./queue/distributed-run-service.js";
import { closeRedis, connectRedis, RedisKeys } from "./queue/redis.js";
import { RunQueue } from "./queue/run-queue.js";
import { createRunWorker, type RunWorker } from "./queue/run-worker.js";
import { installSignalHandlers, processOwnerId } from "./serve.js";
import { loadOrCreateSecretKey, SECRET_KEY_ENV, SECRET_KEY_FILE } from "./store/credentials-cipher.js";
import { openStore } from "./store/open-store.js";
import type { Store } from "./store/types.js";

/** Runs a worker process executes at once unless told otherwise. */
export const DEFAULT_WORKER_CONCURRENCY = 8;

export interface WorkerProcessOptions extends ConfigOverrides {
  /** Environment to read TRIBUTARY_* from. Default `process.env`. */
  env?: Record<string, string | undefined>;
  logger?: Logger;
  sandbox?: ServerCapabilitiesOptions["sandbox"];
  registry?: NodeRegistry;
  /** Shut down gracefully on SIGINT/SIGTERM. Default true. */
  handleSignals?: boolean;
  /** Where the start-up line goes. Default: stdout. */
  print?: (text: string) => void;
}

export interface WorkerHandle {
  config: Config;
  store: Store;
  worker: RunWorker;
  metrics: Metrics;
  /** `http://host:port` of /metrics and /healthz, when TRIBUTARY_METRICS_PORT is set. */
  metricsUrl: string | undefined;
  /** Graceful shutdown (finishes in-flight runs within the grace period); safe to call more than once. */
  close(): Promise<void>;
}

export async function startWorker(options: WorkerProcessOptions = {}): Promise<WorkerHandle> {
  const env = options.env ?? process.env;
  const config = loadConfig(env, options);
  if (config.redisUrl === undefined || !config.databaseUrl) {
    throw new ConfigError([
      "tributary worker executes runs of a distributed deployment: set TRIBUTARY_DATABASE_URL=postgres://… and TRIBUTARY_REDIS_URL=redis://… (the same as the API processes').",
    ]);
  }
  // A worker must decrypt what the API processes stored: a key of its own would fail every provider call.
  if (!env[SECRET_KEY_ENV]?.trim() && !existsSync(join(config.dataDir, SECRET_KEY_FILE))) {
    throw new ConfigError([
      `${SECRET_KEY_ENV}: a worker needs the API processes' secret key; set it (or point --data-dir at a directory holding their ${SECRET_KEY_FILE}).`,
    ]);
  }
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const print = options.print ?? ((text: string) => process.stdout.write(`${text}\n`));
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, env });
  let capabilities: ServerCapabilities | undefined;
  let worker: RunWorker | undefined;
  let metricsServer: Server | undefined;
  try {
    const secret = loadOrCreateSecretKey(config.dataDir, env);
    const files = new ServerFiles({
      config,
      store,
      signingKey: createHmac("sha256", secret).update("tributary file url signing v1").digest(),
      // File URLs in outputs point at the API processes (TRIBUTARY_PUBLIC_URL), not at this worker.
      baseUrl: () => publicBaseUrl(config, config.port),
    });
    await files.init();
    const caps = createServerCapabilities({
      store,
      config,
      files,
      env,
      ...(options.sandbox ? { sandbox: options.sandbox } : config.sandboxWarm ? {} : { sandbox: { warm: false } }),
    });
    capabilities = caps;
    const metrics = createMetrics();
    const owner = processOwnerId();
    const concurrency = config.workers ?? DEFAULT_WORKER_CONCURRENCY;
    const redis = { url: config.redisUrl, prefix: config.redisPrefix };
    worker = await createRunWorker({
      store,
      capabilities: caps,
      capabilitiesFor: (app) => caps.forApp(app.id),
      redis,
      owner,
      concurrency,
      lockMs: config.workerLockMs,
      stalledCheckMs: config.stalledCheckMs,
      maxRunRetries: config.maxRunRetries,
      eventStreamTtlSec: config.eventStreamTtlSec,
      logger,
      metrics,
      ...(options.registry ? { registry: options.registry } : {}),
    });
    const running = worker;
    metrics.setActiveRunsSource(() => running.activeRunCount);
    let metricsUrl: string | undefined;
    let depthQueue: RunQueue | undefined;
    const depthRedis = config.metricsPort !== null ? connectRedis(redis, "commands", `worker-metrics:${owner}`) : undefined;
    if (depthRedis) {
      depthQueue = new RunQueue(depthRedis, new RedisKeys(config.redisPrefix));
      const queue = depthQueue;
      metrics.setQueueDepthSource(() => queue.depth());
      metricsServer = await serveMetrics(metrics, config.host, config.metricsPort ?? 0);
      metricsUrl = `http://${config.host}:${(metricsServer.address() as AddressInfo).port}`;
    }
    logger.info(
      { owner, concurrency, redis: redactUrl(config.redisUrl), prefix: config.redisPrefix, metricsUrl },
      "worker started",
    );
    print(
      `Tributary worker ${owner} is executing runs from ${redactUrl(config.redisUrl)} (prefix ${config.redisPrefix}), ${concurrency} at once${metricsUrl ? `; metrics at ${metricsUrl}/metrics` : ""}`,
    );

    let closing: Promise<void> | undefined;
    let uninstall = () => {};
    const server = metricsServer;
    const handle: WorkerHandle = {
      config,
      store,
      worker: running,
      metrics,
      metricsUrl,
      close() {
        closing ??= (async () => {
          logger.info({ activeRuns: running.activeRunCount, graceMs: config.shutdownGraceMs }, "worker shutting down");
          await running.close(config.shutdownGraceMs);
          if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
          await depthQueue?.close().catch(() => {});
          if (depthRedis) await closeRedis(depthRedis);
          await caps.close();
          await store.close();
          uninstall();
          logger.info({}, "worker shut down");
        })();
        return closing;
      },
    };
    if (options.handleSignals !== false) uninstall = installSignalHandlers(() => handle.close(), logger);
    return handle;
  } catch (error) {
    await worker?.close(0).catch(() => {});
    metricsServer?.close();
    await capabilities?.close().catch(() => {});
    await store.close().catch(() => {});
    throw error;
  }
}

function serveMetrics(metrics: Metrics, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/healthz") {
      res.writeHead(200, { "Content-Type": "application/json" }).end('{"status":"ok"}');
      return;
    }
    if (path !== "/metrics") {
      res.writeHead(404, { "Content-Type": "text/plain" }).end("Not found: this worker serves /metrics and /healthz.\n");
      return;
    }
    metrics.render().then(
      ({ contentType, body }) => res.writeHead(200, { "Content-Type": contentType }).end(body),
      (error: unknown) => res.writeHead(500, { "Content-Type": "text/plain" }).end(`metrics failed: ${String(error)}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
