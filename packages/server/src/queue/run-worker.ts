/**
 * Executes queued runs: a BullMQ worker whose jobs are run ids. For each job the run's row is
 * read, claimed (`runs.owner` = this process) and executed by the same ActiveRun / RunWriter
 * machinery as embedded mode, with its events also published to the run's Redis Stream.
 *
 * Failure handling rests on BullMQ's leases: while a run executes, the job's lock is renewed;
 * a worker that dies stops renewing, and another worker's stalled-job check moves the job back
 * to the queue within `lockMs + stalledCheckMs`-ish. Whoever takes it then sees a run another
 * process had claimed, and either retries it from the start (if the app allows it) or fails it
 * with a clear error. After `maxRunRetries` stalls BullMQ fails the job itself and the run is
 * failed from the `failed` event. Either way the run never stays `running`.
 */
import {
  type Capabilities,
  type Clock,
  errorMessage,
  type NodeRegistry,
  type RunLimits,
  RunStoppedError,
} from "@tributary/engine";
import { type Job, Worker } from "bullmq";
import { lastStreamSeq, publishEnded, StreamSink } from "../events/run-event-stream.js";
import type { ActiveRun } from "../runs/active-run.js";
import { endRunOutsideEngine, lastStoredSeq } from "../runs/end-run.js";
import { executeRun } from "../runs/execute-run.js";
import { preparedFromRunInputs } from "../runs/run-inputs.js";
import { consoleRunLogger, type RunServiceLogger } from "../runs/run-logger.js";
import type { RunServiceMetrics } from "../runs/run-metrics.js";
import { WorkflowCache } from "../runs/workflow-cache.js";
import type { AppRow, JsonObject, RunRow, Store } from "../store/types.js";
import { ClusterLimits } from "./cluster-limits.js";
import { endQueuedRun } from "./end-run.js";
import { closeRedis, connectRedis, QUEUED_OWNER, RedisKeys, type RedisSettings } from "./redis.js";
import { type RunJobData, RunQueue } from "./run-queue.js";
import { RunSignals } from "./run-signals.js";

export const WORKER_LOST_CODE = "worker_lost";
export const WORKER_SHUTDOWN_MESSAGE = "The worker shut down while the run was in progress.";
const LOST = "The worker executing this run stopped (it crashed, was killed, or lost Redis for longer than its lease)";

export function lostMessage(reason: "not-allowed" | "exhausted", retries: number): string {
  return reason === "not-allowed"
    ? `${LOST}. The run was not retried: its app does not allow retrying runs from the start (set app.retry_on_worker_loss: true in the workflow DSL to allow it).`
    : `${LOST}, and it had been retried from the start ${retries} time${retries === 1 ? "" : "s"} already, the most allowed (TRIBUTARY_MAX_RUN_RETRIES).`;
}
export const RETRYING_MESSAGE = `${LOST}; the run is being retried from the start.`;

/** Whether the workflow allows a run to be executed again from the start after its worker died. */
export function allowsRetryOnWorkerLoss(dsl: JsonObject): boolean {
  const app = dsl["app"];
  return typeof app === "object" && app !== null && (app as Record<string, unknown>)["retry_on_worker_loss"] === true;
}

export interface RunWorkerOptions {
  store: Store;
  capabilities: Capabilities;
  /** The capabilities a run of `app` executes with (files scoped to the app). */
  capabilitiesFor?: (app: AppRow) => Capabilities;
  redis: RedisSettings;
  /** This process's id: recorded as the owner of the runs it executes. */
  owner: string;
  /** Runs executed at once. */
  concurrency: number;
  /** Lease on a run being executed; renewed at half of it. */
  lockMs: number;
  /** Interval of the stalled-run check (cluster-wide: one check per interval whichever worker does it). */
  stalledCheckMs: number;
  /** Retries from the start after worker loss, for apps that allow it. */
  maxRunRetries: number;
  eventStreamTtlSec: number;
  /** Engine limits for every run. */
  runLimits?: Partial<RunLimits>;
  clock?: Clock;
  logger?: RunServiceLogger;
  metrics?: RunServiceMetrics;
  registry?: NodeRegistry;
  tuning?: {
    /** After a stop, how long the engine gets before the run is ended without it. Default 750 ms. */
    stopGraceMs?: number;
    batchWindowMs?: number;
    writeRetryDelayMs?: number;
    /** How often pending stop flags of executing runs are checked (a missed broadcast). Default 500 ms. */
    stopPollMs?: number;
    /** How often store and Redis are reconciled (queued runs Redis lost, stale slots). Default 30 s. */
    reconcileIntervalMs?: number;
  };
}

export interface RunWorker {
  readonly owner: string;
  /** Runs executing in this process right now. */
  readonly activeRunCount: number;
  /** Re-queues runs Redis lost and rebuilds run slots from the store (cluster-wide lock; false if another worker holds it). */
  reconcile(): Promise<boolean>;
  /**
   * Takes no new runs, lets in-flight ones finish for `graceMs`, stops the rest (they end
   * `stopped`), then closes its connections.
   */
  close(graceMs?: number): Promise<void>;
}

export async function createRunWorker(options: RunWorkerOptions): Promise<RunWorker> {
  const { store, owner } = options;
  const logger = options.logger ?? consoleRunLogger;
  const clock = options.clock ?? options.capabilities.clock;
  const capabilitiesFor = options.capabilitiesFor ?? (() => options.capabilities);
  const tuning = {
    stopGraceMs: options.tuning?.stopGraceMs ?? 750,
    batchWindowMs: options.tuning?.batchWindowMs ?? 50,
    writeRetryDelayMs: options.tuning?.writeRetryDelayMs ?? 200,
    stopPollMs: options.tuning?.stopPollMs ?? 500,
    reconcileIntervalMs: options.tuning?.reconcileIntervalMs ?? 30_000,
  };
  const keys = new RedisKeys(options.redis.prefix);
  const redis = connectRedis(options.redis, "commands", `worker:${owner}`);
  const subscriber = connectRedis(options.redis, "subscriber", `worker:${owner}`);
  const bullConnection = connectRedis(options.redis, "blocking", `worker:${owner}`);
  const connections = [redis, subscriber, bullConnection];
  const queue = new RunQueue(redis, keys);
  const limits = new ClusterLimits(redis, keys, null);
  const signals = new RunSignals(subscriber, keys, { stop: true });
  const workflows = new WorkflowCache({ registry: options.registry });
  const endDeps = { store, redis, keys, limits, eventStreamTtlSec: options.eventStreamTtlSec, logger, metrics: options.metrics };
  const active = new Map<string, ActiveRun>();
  const timers: NodeJS.Timeout[] = [];
  let closing: Promise<void> | undefined;

  const heartbeat = () =>
    redis.set(keys.workerAlive(owner), String(Date.now()), "PX", options.lockMs).catch(() => {
      // Redis away: the next beat renews it. Runs keep executing; the store has their progress.
    });
  await heartbeat();
  await signals.ready();

  signals.onStop((runId) => active.get(runId)?.requestStop(new RunStoppedError(), tuning.stopGraceMs));

  const stopPending = async () => {
    if (active.size === 0) return;
    const ids = [...active.keys()];
    const flags = await redis.mget(...ids.map((id) => keys.stopFlag(id))).catch(() => []);
    flags.forEach((flag, i) => {
      const id = ids[i];
      if (flag !== null && flag !== undefined && id) active.get(id)?.requestStop(new RunStoppedError(), tuning.stopGraceMs);
    });
  };

  /** A run another process had claimed: is that process gone? */
  async function ownerGone(run: RunRow, job: Job<RunJobData>): Promise<boolean> {
    if (job.stalledCounter > 0) return true;
    if (!run.owner || run.owner === owner) return true;
    return (await redis.exists(keys.workerAlive(run.owner))) === 0;
  }

  async function processJob(job: Job<RunJobData>): Promise<void> {
    const { runId } = job.data;
    // A second job for a run executing here (its lock lapsed while this process was busy): this process still has it.
    if (active.has(runId)) return;
    const run = await store.getRun(runId);
    if (run?.status !== "running") return;
    // Taken before: by a worker that died (stalled job, or a job re-queued by reconciliation) — or this is a
    // duplicate job for a run a live worker still executes, which is that worker's business.
    const taken = run.owner !== QUEUED_OWNER;
    if (taken && !(await ownerGone(run, job))) return;
    // Stopped while queued, or while its worker was dying: the stop wins over failing or retrying it.
    if ((await redis.exists(keys.stopFlag(runId))) === 1) {
      await endQueuedRun(endDeps, run, { status: "stopped", error: new RunStoppedError().message, errorCode: "stopped" });
      return;
    }
    const version = await store.getWorkflowVersion(run.workflowId);
    let afterSeq = 0;
    if (taken) {
      if (!version || !allowsRetryOnWorkerLoss(version.dsl)) {
        logger.warn({ runId, previousOwner: run.owner }, "a run's worker died; failing the run (its app does not allow retries)");
        await endQueuedRun(endDeps, run, { status: "failed", error: lostMessage("not-allowed", 0), errorCode: WORKER_LOST_CODE });
        return;
      }
      logger.warn(
        { runId, previousOwner: run.owner, stalled: job.stalledCounter },
        "a run's worker died; retrying the run from the start",
      );
      const streamSeq = await lastStreamSeq(redis, keys, runId).catch(() => 0);
      const closed = await endRunOutsideEngine(store, run, {
        status: "failed",
        error: RETRYING_MESSAGE,
        errorCode: WORKER_LOST_CODE,
        afterSeq: Math.max(await lastStoredSeq(store, runId), streamSeq),
        now: clock.now(),
        final: false,
      });
      await publishEnded(redis, keys, runId, closed.events, options.eventStreamTtlSec).catch(() => {});
      afterSeq = closed.events.at(-1)?.seq ?? Math.max(await lastStoredSeq(store, runId), streamSeq);
    }
    const app = await store.getApp(run.appId, { includeDeleted: true });
    let compiled: ReturnType<WorkflowCache["get"]>;
    try {
      if (!version || !app) throw new Error("its app or workflow version no longer exists");
      compiled = workflows.get(version);
    } catch (error) {
      await endQueuedRun(endDeps, run, {
        status: "failed",
        error: `This worker cannot execute the run: ${errorMessage(error)}. Workers must run the same Tributary version as the API processes.`,
        errorCode: "internal_error",
      });
      return;
    }
    const endUser = run.endUserId ? await store.getEndUser(run.endUserId) : undefined;
    // Claim it: from now on a stalled job of this run means this process died.
    await store.writeRunBatch({ runId, events: [], nodeExecutions: [], runPatch: { owner } });
    const claimed: RunRow = { ...run, owner };
    const handle = executeRun({
      store,
      run: claimed,
      compiled,
      caps: capabilitiesFor(app),
      prepared: preparedFromRunInputs(run.inputs),
      userId: endUser?.sessionId ?? "",
      clock,
      logger,
      limits: options.runLimits,
      subscriberBuffer: 1000,
      writeRetryDelayMs: tuning.writeRetryDelayMs,
      batchWindowMs: tuning.batchWindowMs,
      sink: new StreamSink({ redis, keys, runId, ttlSec: options.eventStreamTtlSec, logger }),
      observer: options.metrics,
      afterSeq,
      onSettled: () => {
        active.delete(runId);
        limits.release(run.appId, runId).catch(() => {});
      },
    });
    active.set(runId, handle);
    // A stop that arrived between the check above and registering the run.
    if ((await redis.exists(keys.stopFlag(runId)).catch(() => 0)) === 1)
      handle.requestStop(new RunStoppedError(), tuning.stopGraceMs);
    await handle.done.catch((error: unknown) => logger.error({ runId, err: error }, "a run's outcome could not be saved"));
  }

  const worker = new Worker<RunJobData>(keys.queueName, processJob, {
    connection: bullConnection,
    prefix: keys.bullPrefix,
    name: owner,
    concurrency: Math.max(1, options.concurrency),
    lockDuration: options.lockMs,
    stalledInterval: options.stalledCheckMs,
    maxStalledCount: options.maxRunRetries,
    // Started below, once the heartbeat and the first reconciliation are done.
    autorun: false,
  });
  let redisTrouble = false;
  worker.on("error", (error) => {
    if (redisTrouble) return;
    redisTrouble = true;
    logger.warn({ err: error }, "the queue worker lost Redis; it keeps retrying (runs in progress continue)");
  });
  // After BullMQ gave up on a job (stalled more often than allowed, or the processor kept failing): the run must not stay running.
  worker.on("failed", (job, error) => {
    const runId = job?.data.runId;
    if (!job || !runId) return;
    const stalled = /stalled/i.test(error.message);
    // A processor error with attempts left: BullMQ runs the job again shortly.
    if (!stalled && job.attemptsMade < (job.opts.attempts ?? 1)) return;
    void (async () => {
      const run = await store.getRun(runId);
      if (run?.status !== "running" || active.has(runId)) return;
      const version = await store.getWorkflowVersion(run.workflowId);
      const retriable = version !== undefined && allowsRetryOnWorkerLoss(version.dsl);
      await endQueuedRun(endDeps, run, {
        status: "failed",
        error: stalled
          ? retriable
            ? lostMessage("exhausted", options.maxRunRetries)
            : lostMessage("not-allowed", 0)
          : `The run could not be executed: ${error.message}`,
        errorCode: stalled ? WORKER_LOST_CODE : "internal_error",
      });
    })().catch((e: unknown) => logger.error({ runId, err: e }, "could not fail a run BullMQ gave up on"));
  });

  async function reconcile(): Promise<boolean> {
    const got = await redis.set(keys.reconcileLock, owner, "PX", Math.max(1000, tuning.reconcileIntervalMs - 500), "NX");
    if (got !== "OK") return false;
    const running: RunRow[] = [];
    for (let page = 1; ; page++) {
      const result = await store.listRuns({ status: "running", page, limit: 1000 });
      for (const entry of result.items) running.push(entry.run);
      if (!result.hasMore) break;
    }
    let requeued = 0;
    for (const run of running) {
      if (active.has(run.id)) continue;
      const state = await queue.state(run.id);
      if (state === "queued" || state === "active") continue;
      // No live job: Redis lost it (restart), or it ended without ending the run.
      if (run.owner === QUEUED_OWNER) {
        await queue.requeue(run.id, 0);
        requeued++;
      } else if (!run.owner || (await redis.exists(keys.workerAlive(run.owner))) === 0) {
        // The delay gives a live worker whose heartbeat Redis lost time to renew it before anyone judges the run lost.
        await queue.requeue(run.id, options.lockMs);
        requeued++;
      }
    }
    const pruned = await limits.reconcile(running, clock.now() - 60_000);
    if (requeued > 0 || pruned > 0) logger.warn({ requeued, prunedSlots: pruned }, "reconciled runs between the store and Redis");
    return true;
  }

  const safeReconcile = () => {
    reconcile().catch((error: unknown) => logger.warn({ err: error }, "reconciling runs with Redis failed; retrying later"));
  };
  // After Redis comes back (possibly empty): re-queue what it lost, once live workers had time to renew heartbeats.
  let wasDown = false;
  redis.on("close", () => {
    wasDown = true;
  });
  redis.on("ready", () => {
    if (!wasDown) return;
    wasDown = false;
    redisTrouble = false;
    void heartbeat();
    timers.push(setTimeout(safeReconcile, options.lockMs));
  });

  timers.push(setInterval(() => void heartbeat(), Math.max(250, Math.floor(options.lockMs / 3))));
  timers.push(setInterval(() => void stopPending(), tuning.stopPollMs));
  timers.push(setInterval(safeReconcile, tuning.reconcileIntervalMs));
  for (const t of timers) t.unref();
  await reconcile().catch((error: unknown) => logger.warn({ err: error }, "reconciling runs with Redis at start failed"));
  void worker.run().catch((error: unknown) => logger.error({ err: error }, "the queue worker stopped"));
  await worker.waitUntilReady();

  async function closeAll(graceMs: number): Promise<void> {
    const closed = worker.close();
    let timer: NodeJS.Timeout | undefined;
    // Not unref'd: it may be what keeps the process alive until in-flight runs are stopped and recorded.
    const stopAfterGrace = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        for (const run of active.values()) run.requestStop(new RunStoppedError(WORKER_SHUTDOWN_MESSAGE), tuning.stopGraceMs);
        resolve();
      }, graceMs);
    });
    await Promise.race([closed, stopAfterGrace]);
    await closed;
    clearTimeout(timer);
    for (const t of timers) clearInterval(t);
    await redis.del(keys.workerAlive(owner)).catch(() => {});
    await queue.close().catch(() => {});
    await Promise.all(connections.map(closeRedis));
  }

  return {
    owner,
    get activeRunCount() {
      return active.size;
    },
    reconcile,
    close(graceMs = 10_000) {
      closing ??= closeAll(Math.max(0, graceMs));
      return closing;
    },
  };
}
