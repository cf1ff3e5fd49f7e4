/**
 * The RunService of an API process in distributed mode. `start` validates the request, takes a
 * cluster-wide slot, creates the run row and queues a BullMQ job; a worker (any process running
 * `tributary worker`, or `serve --workers N`) executes it. Events come back through the run's
 * Redis Stream, so streaming, resuming, waiting and stopping work from any API process,
 * whichever worker executes the run.
 */
import { type Capabilities, type Clock, type NodeRegistry, RunStoppedError } from "@tributary/engine";
import type { Redis } from "ioredis";
import { StreamWatcher } from "../events/stream-watcher.js";
import { subscribeStream } from "../events/subscribe-stream.js";
import { admitRun } from "../runs/admit-run.js";
import { withTimeout } from "../runs/async-utils.js";
import { RunNotFoundError, RunServiceClosedError, RunServiceError, TooManyRunsError } from "../runs/errors.js";
import { consoleRunLogger, type RunServiceLogger } from "../runs/run-logger.js";
import { countedStream, type RunServiceMetrics } from "../runs/run-metrics.js";
import type { ProcessRunService, SequencedEvent, StartedRun, StartRunRequest } from "../runs/types.js";
import { WorkflowCache } from "../runs/workflow-cache.js";
import type { AppRow, RunRow, Store } from "../store/types.js";
import { ClusterLimits } from "./cluster-limits.js";
import { endQueuedRun } from "./end-run.js";
import { closeRedis, connectRedis, QUEUED_OWNER, RedisKeys, type RedisSettings } from "./redis.js";
import { RunQueue } from "./run-queue.js";
import { RunSignals } from "./run-signals.js";

export const QUEUE_UNAVAILABLE_CODE = "queue_unavailable";

/** Redis (the queue) did not take the run: nothing executes it, so the request fails and may be retried. */
export class QueueUnavailableError extends RunServiceError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(
      "service_unavailable",
      503,
      `The run could not be queued because Redis is not reachable (${detail}). Nothing was executed; retry the request.`,
      options,
    );
  }
}

export interface DistributedRunServiceOptions {
  store: Store;
  capabilities: Capabilities;
  /** The capabilities a run of `app` gets for its inputs (files scoped to the app). */
  capabilitiesFor?: (app: AppRow) => Capabilities;
  redis: RedisSettings;
  /** This process's id, for connection names and logs. */
  owner: string;
  limits?: {
    /** Per-app limit for apps whose `maxConcurrency` is null. */
    defaultAppConcurrency?: number | null;
    /** Runs in progress across the cluster. */
    maxConcurrentRuns?: number | null;
  };
  /** How long a finished run's stream stays in Redis (the final events this service writes itself). */
  eventStreamTtlSec: number;
  clock?: Clock;
  logger?: RunServiceLogger;
  metrics?: RunServiceMetrics;
  registry?: NodeRegistry;
  /** Runs executing in this process (an in-process worker), for `activeRunCount`. */
  activeRunCount?: () => number;
  tuning?: {
    /** Store poll interval (gaps, runs followed without Redis). Default 250 ms. */
    storePollMs?: number;
    /** Events per read. Default 500. */
    pageSize?: number;
    /** A silent stream is checked against the store this often. Default 2 s. */
    idleCheckMs?: number;
    /** How long a stream gap may wait for the store. Default 2 s. */
    gapWaitMs?: number;
    /** Blocking waits re-read the store at least this often (a `finished` notice may be missed). Default 1 s. */
    finishPollMs?: number;
    /** How long `stop` waits for the run to be recorded as ended. Default 10 s. */
    stopWaitMs?: number;
    /** How long `start` waits for Redis to accept the job. Default 5 s. */
    enqueueTimeoutMs?: number;
  };
}

export interface DistributedRunService extends ProcessRunService {
  readonly queue: RunQueue;
  readonly keys: RedisKeys;
}

export async function createDistributedRunService(options: DistributedRunServiceOptions): Promise<DistributedRunService> {
  const { store } = options;
  const logger = options.logger ?? consoleRunLogger;
  const clock = options.clock ?? options.capabilities.clock;
  const capabilitiesFor = options.capabilitiesFor ?? (() => options.capabilities);
  const defaultAppLimit = options.limits?.defaultAppConcurrency ?? null;
  const tuning = {
    storePollMs: options.tuning?.storePollMs ?? 250,
    pageSize: options.tuning?.pageSize ?? 500,
    idleCheckMs: options.tuning?.idleCheckMs ?? 2000,
    gapWaitMs: options.tuning?.gapWaitMs ?? 2000,
    finishPollMs: options.tuning?.finishPollMs ?? 1000,
    stopWaitMs: options.tuning?.stopWaitMs ?? 10_000,
    enqueueTimeoutMs: options.tuning?.enqueueTimeoutMs ?? 5000,
  };
  const keys = new RedisKeys(options.redis.prefix);
  const redis = connectRedis(options.redis, "commands", `api:${options.owner}`);
  const blocking = connectRedis(options.redis, "blocking", `api:${options.owner}`);
  const subscriber = connectRedis(options.redis, "subscriber", `api:${options.owner}`);
  const connections = [redis, blocking, subscriber];
  try {
    await pingOrExplain(redis, options.redis.url);
  } catch (error) {
    await Promise.all(connections.map(closeRedis));
    throw error;
  }
  const queue = new RunQueue(redis, keys);
  const limits = new ClusterLimits(redis, keys, options.limits?.maxConcurrentRuns ?? null);
  const signals = new RunSignals(subscriber, keys, { finished: true });
  const watcher = new StreamWatcher({ blocking, commands: redis });
  const workflows = new WorkflowCache({ registry: options.registry });
  const endDeps = { store, redis, keys, limits, eventStreamTtlSec: options.eventStreamTtlSec, logger, metrics: options.metrics };
  const streamDeps = {
    store,
    redis,
    keys,
    watcher,
    pageSize: tuning.pageSize,
    pollMs: tuning.storePollMs,
    idleCheckMs: tuning.idleCheckMs,
    gapWaitMs: tuning.gapWaitMs,
  };
  // Aborted at shutdown: ends open streams and blocking waits (their clients resume or poll elsewhere).
  const lifetime = new AbortController();
  const starting = new Set<Promise<unknown>>();
  let openStreams = 0;
  let closed = false;
  let shutdownPromise: Promise<void> | undefined;

  async function startRun(request: StartRunRequest): Promise<StartedRun> {
    const admission = await admitRun(
      {
        store,
        clock,
        workflows,
        capabilitiesFor,
        owner: QUEUED_OWNER,
        acquire: async (app, runId) => {
          try {
            await withTimeout(
              limits.acquire(app.id, runId, app.maxConcurrency ?? defaultAppLimit, clock.now()),
              tuning.enqueueTimeoutMs,
              "Redis did not answer in time",
            );
          } catch (error) {
            if (error instanceof TooManyRunsError) throw error;
            throw new QueueUnavailableError(`taking a run slot failed: ${(error as Error).message}`, { cause: error });
          }
          return () => {
            limits
              .release(app.id, runId)
              .catch((error: unknown) => logger.warn({ runId, err: error }, "could not free a run slot"));
          };
        },
      },
      request,
    );
    if (admission.replayed) return admission.replayed;
    const { run } = admission.admitted;
    try {
      await withTimeout(queue.enqueue(run.id), tuning.enqueueTimeoutMs, "Redis did not answer in time");
    } catch (error) {
      // The row exists: record why nothing will execute it, so it is not left running.
      await endQueuedRun(endDeps, run, {
        status: "failed",
        error: `The run could not be queued (Redis: ${(error as Error).message}); nothing was executed.`,
        errorCode: QUEUE_UNAVAILABLE_CODE,
      }).catch((endError: unknown) =>
        logger.error({ runId: run.id, err: endError }, "could not record a run that failed to queue"),
      );
      throw new QueueUnavailableError((error as Error).message, { cause: error });
    }
    options.metrics?.runStarted(run.responseMode);
    return { run, created: true };
  }

  async function waitForFinish(runId: string, signal?: AbortSignal): Promise<RunRow> {
    const combined = signal ? AbortSignal.any([signal, lifetime.signal]) : lifetime.signal;
    for (;;) {
      combined.throwIfAborted();
      const watch = signals.watchFinished(runId, tuning.finishPollMs, combined);
      let run: RunRow | undefined;
      try {
        run = await store.getRun(runId);
      } catch (error) {
        watch.cancel();
        throw error;
      }
      if (!run) {
        watch.cancel();
        throw new RunNotFoundError(runId);
      }
      if (run.status !== "running") {
        watch.cancel();
        return run;
      }
      await watch.done;
    }
  }

  async function* subscribe(runId: string, afterSeq: number, signal?: AbortSignal): AsyncGenerator<SequencedEvent> {
    const combined = signal ? AbortSignal.any([signal, lifetime.signal]) : lifetime.signal;
    openStreams++;
    try {
      yield* subscribeStream(streamDeps, runId, afterSeq, combined);
    } finally {
      openStreams--;
    }
  }

  async function stop(runIdOrTaskId: string): Promise<boolean> {
    const run = (await store.getRun(runIdOrTaskId)) ?? (await store.getRunByTaskId(runIdOrTaskId));
    if (run?.status !== "running") return false;
    // Left for a worker that takes the run after the broadcast below (or missed it in a reconnect).
    await redis.set(keys.stopFlag(run.id), "1", "PX", 3_600_000);
    if (run.owner === QUEUED_OWNER) {
      const where = await queue.withdraw(run.id);
      if (where === "removed" || where === "missing") {
        const current = await store.getRun(run.id);
        // No worker has it (taken out of the queue, or its job was lost with Redis): end it here.
        if (current?.status === "running" && current.owner === QUEUED_OWNER) {
          await endQueuedRun(endDeps, current, { status: "stopped", error: new RunStoppedError().message, errorCode: "stopped" });
          return true;
        }
      }
    }
    await redis.publish(keys.stopChannel, run.id);
    // Answer once the run is really over and recorded, as in embedded mode; bounded, because a run
    // whose worker died ends only when stalled-run detection notices.
    try {
      await waitForFinish(run.id, AbortSignal.timeout(tuning.stopWaitMs));
    } catch {
      // Still running after the wait: the stop stays pending (flag and broadcast); report it as requested.
    }
    return true;
  }

  async function shutdownAll(graceMs: number): Promise<void> {
    closed = true;
    await Promise.allSettled([...starting]);
    // Streams of runs about to finish may end by themselves within the grace period.
    const deadline = Date.now() + graceMs;
    while (openStreams > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    lifetime.abort(new RunServiceClosedError());
    watcher.close();
    signals.wakeAll();
    await queue.close().catch(() => {});
    await Promise.all(connections.map(closeRedis));
  }

  return {
    queue,
    keys,
    get activeRunCount() {
      return options.activeRunCount?.() ?? 0;
    },
    async start(request) {
      if (closed) throw new RunServiceClosedError();
      const pending = startRun(request);
      starting.add(pending);
      try {
        return await pending;
      } finally {
        starting.delete(pending);
      }
    },
    waitForFinish,
    subscribe(runId, afterSeq = 0, signal) {
      return countedStream(options.metrics, subscribe(runId, afterSeq, signal));
    },
    stop,
    shutdown(shutdownOptions) {
      shutdownPromise ??= shutdownAll(Math.max(0, shutdownOptions?.graceMs ?? 10_000));
      return shutdownPromise;
    },
  };
}

/** Fails fast with a message an operator can act on when Redis is not there at start-up. */
export async function pingOrExplain(redis: Redis, url: string, timeoutMs = 10_000): Promise<void> {
  try {
    await withTimeout(redis.ping(), timeoutMs, `no answer within ${timeoutMs} ms`);
  } catch (error) {
    throw new Error(
      `Redis is not reachable at ${redactUrl(url)} (${(error as Error).message}). Start it, or fix TRIBUTARY_REDIS_URL; unset it to run embedded (one process, no Redis).`,
      { cause: error },
    );
  }
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparseable URL)";
  }
}
