import { type Capabilities, type Clock, type NodeRegistry, type RunLimits, RunStoppedError } from "@tributary/engine";
import type { AppRow, RunRow, Store } from "../store/types.js";
import type { ActiveRun } from "./active-run.js";
import { type AdmittedRun, admitRun } from "./admit-run.js";
import { abortable, delay } from "./async-utils.js";
import { ConcurrencyGate } from "./concurrency-gate.js";
import { RunNotFoundError, RunServiceClosedError } from "./errors.js";
import { executeRun } from "./execute-run.js";
import { consoleRunLogger, type RunServiceLogger } from "./run-logger.js";
import { countedStream, type RunServiceMetrics } from "./run-metrics.js";
import { subscribeRun } from "./subscribe-run.js";
import type { ProcessRunService, SequencedEvent, StartedRun, StartRunRequest } from "./types.js";
import { WorkflowCache } from "./workflow-cache.js";

export { IDEMPOTENCY_WINDOW_MS } from "./admit-run.js";
export const SHUTDOWN_STOP_MESSAGE = "The server shut down while the run was in progress.";

export interface LocalRunServiceLimits {
  /** Runs executing at once in this process, across apps. Default: no limit. */
  maxConcurrentRuns?: number;
  /** Per-app limit for apps whose `maxConcurrency` is null (config `TRIBUTARY_APP_CONCURRENCY`). Default: none. */
  defaultAppConcurrency?: number | null;
  /** Engine limits for every run (steps, run time, …); Dify's defaults otherwise. */
  run?: Partial<RunLimits>;
}

export interface LocalRunServiceTuning {
  /** Events a live subscriber may lag behind before it is switched to reading the store. Default 1000. */
  subscriberBuffer?: number;
  /** After a stop, how long the engine gets to end the run before the service ends it. Default 750 ms. */
  stopGraceMs?: number;
  /**
   * How long an event may wait for others to share its transaction (the final batch never
   * waits). Default 50 ms: a token stream costs at most 20 commits per second instead of one per token.
   */
  batchWindowMs?: number;
  /** Pause before retrying a failed batch write. Default 200 ms. */
  writeRetryDelayMs?: number;
  /** Poll interval for runs executing in another process. Default 250 ms. */
  storePollMs?: number;
  /** Events per store read when a subscriber catches up. Default 500. */
  storePageSize?: number;
  /** Compiled workflows kept. Default 256. */
  compiledCacheSize?: number;
}

export interface LocalRunServiceOptions {
  store: Store;
  capabilities: Capabilities;
  /**
   * The capabilities a run of `app` gets (e.g. files scoped to the app's uploads), used for
   * its inputs and its execution. Default: `capabilities` for every app.
   */
  capabilitiesFor?: (app: AppRow) => Capabilities;
  /** This process's id, recorded on its runs (`runs.owner`). */
  owner: string;
  limits?: LocalRunServiceLimits;
  /** Default: `capabilities.clock`. */
  clock?: Clock;
  logger?: RunServiceLogger;
  /** Node types runs may use. Default: the engine's registry. */
  registry?: NodeRegistry;
  tuning?: LocalRunServiceTuning;
  metrics?: RunServiceMetrics;
}

export type LocalRunService = ProcessRunService;

/**
 * Embedded-mode RunService: the engine runs in this process, events go to live subscribers
 * at once and to the store in batches (see ActiveRun / RunWriter / RunFeed).
 */
export function createLocalRunService(options: LocalRunServiceOptions): LocalRunService {
  const { store, owner } = options;
  const capabilitiesFor = options.capabilitiesFor ?? (() => options.capabilities);
  const clock = options.clock ?? options.capabilities.clock;
  const defaultAppLimit = options.limits?.defaultAppConcurrency ?? null;
  const logger = options.logger ?? consoleRunLogger;
  const tuning = {
    subscriberBuffer: options.tuning?.subscriberBuffer ?? 1000,
    stopGraceMs: options.tuning?.stopGraceMs ?? 750,
    writeRetryDelayMs: options.tuning?.writeRetryDelayMs ?? 200,
    batchWindowMs: options.tuning?.batchWindowMs ?? 50,
    storePollMs: options.tuning?.storePollMs ?? 250,
    storePageSize: options.tuning?.storePageSize ?? 500,
  };
  const workflows = new WorkflowCache({ maxEntries: options.tuning?.compiledCacheSize, registry: options.registry });
  const gate = new ConcurrencyGate(options.limits?.maxConcurrentRuns);
  const active = new Map<string, ActiveRun>();
  const runIdByTask = new Map<string, string>();
  const starting = new Set<Promise<unknown>>();
  let closed = false;
  let shutdownPromise: Promise<void> | undefined;

  async function startRun(request: StartRunRequest): Promise<StartedRun> {
    const admission = await admitRun(
      {
        store,
        clock,
        workflows,
        capabilitiesFor,
        owner,
        // Synchronous: two concurrent starts cannot both take the last slot.
        acquire: (app) => gate.acquire(app.id, app.maxConcurrency ?? defaultAppLimit),
      },
      request,
    );
    if (admission.replayed) return admission.replayed;
    launch(admission.admitted);
    options.metrics?.runStarted(admission.admitted.run.responseMode);
    return { run: admission.admitted.run, created: true };
  }

  function launch({ run, compiled, caps, prepared, endUser, release }: AdmittedRun) {
    const handle = executeRun({
      store,
      run,
      compiled,
      caps,
      prepared,
      userId: endUser.sessionId,
      clock,
      logger,
      limits: options.limits?.run,
      subscriberBuffer: tuning.subscriberBuffer,
      writeRetryDelayMs: tuning.writeRetryDelayMs,
      batchWindowMs: tuning.batchWindowMs,
      observer: options.metrics,
      onSettled: () => {
        active.delete(run.id);
        runIdByTask.delete(run.taskId);
        release();
      },
    });
    active.set(run.id, handle);
    runIdByTask.set(run.taskId, run.id);
  }

  function find(runIdOrTaskId: string): ActiveRun | undefined {
    return active.get(runIdOrTaskId) ?? active.get(runIdByTask.get(runIdOrTaskId) ?? "");
  }

  async function waitForStoredFinish(runId: string, signal?: AbortSignal): Promise<RunRow> {
    for (;;) {
      signal?.throwIfAborted();
      const local = active.get(runId);
      if (local) await abortable(local.done, signal);
      const run = await store.getRun(runId);
      if (!run) throw new RunNotFoundError(runId);
      if (run.status !== "running") return run;
      // Running but not here: another process executes it (or it is an orphan awaiting recovery).
      if (!active.has(runId)) await abortable(delay(tuning.storePollMs), signal);
    }
  }

  async function shutdownAll(graceMs: number): Promise<void> {
    closed = true;
    await Promise.allSettled([...starting]);
    const inFlight = [...active.values()];
    if (inFlight.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(inFlight.map((r) => r.done)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    const remaining = [...active.values()];
    for (const run of remaining) run.requestStop(new RunStoppedError(SHUTDOWN_STOP_MESSAGE), tuning.stopGraceMs);
    await Promise.allSettled(remaining.map((r) => r.done));
  }

  return {
    get activeRunCount() {
      return active.size;
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

    waitForFinish: waitForStoredFinish,

    subscribe(runId: string, afterSeq = 0, signal?: AbortSignal): AsyncIterable<SequencedEvent> {
      return countedStream(
        options.metrics,
        subscribeRun(
          { store, feedOf: (id) => active.get(id)?.feed, pageSize: tuning.storePageSize, pollMs: tuning.storePollMs },
          runId,
          afterSeq,
          signal,
        ),
      );
    },

    async stop(runIdOrTaskId) {
      const run = find(runIdOrTaskId);
      if (!run) return false;
      const stopped = run.requestStop(new RunStoppedError(), tuning.stopGraceMs);
      // Answer once the run is really over and recorded, so "stopped" is never a promise about the future.
      await run.done.catch(() => {});
      return stopped;
    },

    shutdown(shutdownOptions) {
      shutdownPromise ??= shutdownAll(Math.max(0, shutdownOptions?.graceMs ?? 10_000));
      return shutdownPromise;
    },
  };
}
