import { randomUUID } from "node:crypto";
import {
  type Capabilities,
  type Clock,
  type CompiledWorkflow,
  type NodeRegistry,
  type PreparedInputs,
  prepareInputs,
  type RunLimits,
  RunStoppedError,
  runWorkflow,
} from "@tributary/engine";
import type { AppRow, EndUserRow, NewRun, RunRow, Store } from "../store/types.js";
import { ActiveRun } from "./active-run.js";
import { ConcurrencyGate } from "./concurrency-gate.js";
import { IdempotencyConflictError, RunNotFoundError, RunServiceClosedError } from "./errors.js";
import { consoleRunLogger, type RunServiceLogger } from "./run-logger.js";
import { subscribeRun } from "./subscribe-run.js";
import type { RunService, SequencedEvent, StartedRun, StartRunRequest } from "./types.js";
import { WorkflowCache } from "./workflow-cache.js";

export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
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
}

export interface LocalRunService extends RunService {
  /** Runs executing in this process right now. */
  readonly activeRunCount: number;
}

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
    const { app, version, idempotency } = request;
    const compiled = workflows.get(version);
    const caps = capabilitiesFor(app);
    const now = clock.now();
    const windowStart = now - IDEMPOTENCY_WINDOW_MS;
    if (idempotency) {
      // A replay must not be refused by the concurrency limit, so look it up before taking a slot.
      const existing = await store.findRunByIdempotencyKey(app.id, idempotency.key, windowStart);
      if (existing) return replayed(existing, idempotency);
    }
    const prepared = await prepareInputs(compiled.startVariables, request.inputs, caps.files, request.files ?? []);
    const release = gate.acquire(app.id, app.maxConcurrency ?? defaultAppLimit);
    let run: RunRow;
    let endUser: EndUserRow;
    try {
      endUser = await store.getOrCreateEndUser({ appId: app.id, sessionId: request.user });
      const id = randomUUID();
      const newRun: NewRun = {
        id,
        taskId: randomUUID(),
        appId: app.id,
        workflowId: version.id,
        endUserId: endUser.id,
        inputs: runInputs(prepared, { user_id: endUser.sessionId, app_id: app.id, workflow_id: version.id, workflow_run_id: id }),
        responseMode: request.responseMode,
        triggeredFrom: request.triggeredFrom,
        owner,
        createdAt: now,
      };
      if (idempotency) {
        const result = await store.createRunIdempotent(
          { ...newRun, idempotencyKey: idempotency.key, idempotencyBodyHash: idempotency.bodyHash },
          windowStart,
        );
        if (!result.created) {
          release();
          return replayed(result.run, idempotency);
        }
        run = result.run;
      } else {
        run = await store.createRun(newRun);
      }
    } catch (error) {
      release();
      throw error;
    }
    launch(run, compiled, caps, prepared, endUser, release);
    return { run, created: true };
  }

  function launch(
    run: RunRow,
    compiled: CompiledWorkflow,
    caps: Capabilities,
    prepared: PreparedInputs,
    endUser: EndUserRow,
    release: () => void,
  ) {
    const handle = new ActiveRun({
      store,
      run,
      clock,
      logger,
      subscriberBuffer: tuning.subscriberBuffer,
      writeRetryDelayMs: tuning.writeRetryDelayMs,
      batchWindowMs: tuning.batchWindowMs,
      onSettled: () => {
        active.delete(run.id);
        runIdByTask.delete(run.taskId);
        release();
      },
    });
    active.set(run.id, handle);
    runIdByTask.set(run.taskId, run.id);
    // Not awaited: the run executes in the background; ActiveRun reports its end through the store.
    runWorkflow(compiled, {
      inputs: prepared,
      caps,
      runId: run.id,
      workflowId: run.workflowId,
      appId: run.appId,
      userId: endUser.sessionId,
      ...(options.limits?.run ? { limits: options.limits.run } : {}),
      signal: handle.controller.signal,
      onEvent: handle.handleEngineEvent,
    }).then(
      () => handle.engineReturned(),
      (error: unknown) => handle.engineCrashed(error),
    );
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
      return subscribeRun(
        { store, feedOf: (id) => active.get(id)?.feed, pageSize: tuning.storePageSize, pollMs: tuning.storePollMs },
        runId,
        afterSeq,
        signal,
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

function replayed(existing: RunRow, idempotency: { key: string; bodyHash: string }): StartedRun {
  if (existing.idempotencyBodyHash !== idempotency.bodyHash) throw new IdempotencyConflictError(idempotency.key, existing.id);
  return { run: existing, created: false };
}

/** Declared inputs plus `sys.*`, the shape Dify shows as a run's inputs (and the engine's workflow_started). */
function runInputs(prepared: PreparedInputs, sys: Record<string, string>): Record<string, unknown> {
  const inputs: Record<string, unknown> = { ...prepared.inputs, "sys.files": prepared.files };
  for (const [k, v] of Object.entries(sys)) inputs[`sys.${k}`] = v;
  return inputs;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
