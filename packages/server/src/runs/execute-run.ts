import {
  type Capabilities,
  type Clock,
  type CompiledWorkflow,
  type PreparedInputs,
  type RunLimits,
  runWorkflow,
} from "@tributary/engine";
import type { RunRow, Store } from "../store/types.js";
import { ActiveRun, type RunEventSink, type RunObserver } from "./active-run.js";
import type { RunServiceLogger } from "./run-logger.js";

export interface ExecuteRunOptions {
  store: Store;
  run: RunRow;
  compiled: CompiledWorkflow;
  caps: Capabilities;
  prepared: PreparedInputs;
  /** Dify `sys.user_id` (the end user's session id). */
  userId: string;
  clock: Clock;
  logger: RunServiceLogger;
  limits?: Partial<RunLimits> | undefined;
  subscriberBuffer: number;
  writeRetryDelayMs: number;
  batchWindowMs: number;
  sink?: RunEventSink | undefined;
  observer?: RunObserver | undefined;
  afterSeq?: number | undefined;
  onSettled(run: ActiveRun): void;
}

/**
 * Starts executing a run whose row exists: the engine in this process, its events through an
 * ActiveRun (numbered, fanned out, written in batches). The same path serves embedded mode and
 * queue workers. Returns at once; `handle.done` settles once the outcome is committed.
 */
export function executeRun(options: ExecuteRunOptions): ActiveRun {
  const { run } = options;
  const handle = new ActiveRun({
    store: options.store,
    run,
    clock: options.clock,
    logger: options.logger,
    subscriberBuffer: options.subscriberBuffer,
    writeRetryDelayMs: options.writeRetryDelayMs,
    batchWindowMs: options.batchWindowMs,
    ...(options.sink ? { sink: options.sink } : {}),
    ...(options.observer ? { observer: options.observer } : {}),
    ...(options.afterSeq !== undefined ? { afterSeq: options.afterSeq } : {}),
    onSettled: options.onSettled,
  });
  // Not awaited: the run executes in the background; ActiveRun reports its end through the store.
  runWorkflow(options.compiled, {
    inputs: options.prepared,
    caps: options.caps,
    runId: run.id,
    workflowId: run.workflowId,
    appId: run.appId,
    userId: options.userId,
    ...(options.limits ? { limits: options.limits } : {}),
    signal: handle.controller.signal,
    onEvent: handle.handleEngineEvent,
  }).then(
    () => handle.engineReturned(),
    (error: unknown) => handle.engineCrashed(error),
  );
  return handle;
}
