/**
 * The seam between protocol adapters and run execution. Embedded mode implements it
 * in-process (engine in this process, events fanned out in memory and written to the store
 * in batches); distributed mode will implement it with BullMQ dispatch and Redis Streams.
 * Adapters (Dify, VectorVein, native) only translate to and from these types.
 */
import type { EngineEvent } from "@tributary/engine";
import type { AppRow, ResponseMode, RunRow, WorkflowVersionRow } from "../store/types.js";

export interface StartRunRequest {
  app: AppRow;
  /** The version to run (the app's current one unless the client pinned a workflow_id). */
  version: WorkflowVersionRow;
  /** Raw inputs as the client sent them; validated against the start node here. */
  inputs: Record<string, unknown>;
  /** `sys.files` references (Dify `files`). */
  files?: unknown[];
  /** Dify `user` (end-user session id). */
  user: string;
  responseMode: ResponseMode;
  /** Dify `triggered_from` (`app-run`, `open-api`, …). */
  triggeredFrom: string;
  /** With an Idempotency-Key: the same key and body within 24 h return the existing run. */
  idempotency?: { key: string; bodyHash: string };
}

export interface StartedRun {
  run: RunRow;
  /** false when an idempotent request matched an existing run. */
  created: boolean;
}

/** An engine event with its per-run sequence number (the SSE id / Last-Event-ID). */
export interface SequencedEvent {
  seq: number;
  event: EngineEvent;
}

export interface RunService {
  /**
   * Checks inputs (throws InputValidationError), the app's concurrency limit (throws
   * TooManyRunsError), creates the run row and starts executing. Resolves once the run row
   * exists, before the run finishes.
   */
  start(request: StartRunRequest): Promise<StartedRun>;
  /** Resolves with the stored run once it has finished and everything is on disk. */
  waitForFinish(runId: string, signal?: AbortSignal): Promise<RunRow>;
  /**
   * The run's events after `afterSeq` (0 = from the start): stored ones first, then live
   * ones, ending after `workflow_finished`. Never skips or repeats an event.
   */
  subscribe(runId: string, afterSeq?: number, signal?: AbortSignal): AsyncIterable<SequencedEvent>;
  /** Stops a running run (by run id or task id); the run ends `stopped` within 1 s. false if not running. */
  stop(runIdOrTaskId: string): Promise<boolean>;
  /** Fails or finishes in-flight runs so none is left `running`, then resolves. */
  shutdown(options?: { graceMs?: number }): Promise<void>;
}

/** A run service as a server process holds it: the seam plus what this process executes. */
export interface ProcessRunService extends RunService {
  /** Runs executing in this process right now. */
  readonly activeRunCount: number;
}
