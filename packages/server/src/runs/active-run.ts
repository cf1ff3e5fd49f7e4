import {
  type Clock,
  type EngineEvent,
  errorMessage,
  type NodeFinishedEvent,
  type RunStoppedError,
  type WorkflowFinishedEvent,
} from "@tributary/engine";
import type { NodeExecutionUpsert, RunRow, RunStatus, Store } from "../store/types.js";
import { NodeExecutionTracker } from "./node-execution-tracker.js";
import { RunFeed } from "./run-feed.js";
import type { RunServiceLogger } from "./run-logger.js";
import { type CommittedBatch, RunWriter, writeWithRetry } from "./run-writer.js";
import { patchOf, syntheticFinished, syntheticNodeFinished } from "./synthetic-events.js";
import type { SequencedEvent } from "./types.js";

export const STORE_FAILURE_CODE = "store_write_failed";

/**
 * Where a run's events go live besides its in-memory feed (a worker: the run's Redis Stream).
 * Same contract as RunFeed: events as emitted, the final one only once it is committed.
 */
export interface RunEventSink {
  /** `durable`: the event is committed already (the final event). */
  publish(event: SequencedEvent, durable: boolean): void;
  /** Everything up to `seq` is in the store. */
  confirm(seq: number): void;
  /** No more events. */
  close(): void;
}

/** Watches a run's events as they happen (metrics). Must not throw or block. */
export interface RunObserver {
  nodeFinished?(event: NodeFinishedEvent): void;
  /** The run's final event, once committed. */
  runFinished?(event: WorkflowFinishedEvent): void;
}

export interface ActiveRunOptions {
  store: Store;
  run: RunRow;
  clock: Clock;
  logger: RunServiceLogger;
  subscriberBuffer: number;
  writeRetryDelayMs: number;
  batchWindowMs: number;
  /** Also publish every event here (besides `feed`). */
  sink?: RunEventSink;
  observer?: RunObserver;
  /**
   * The seq of the last event this run already has (a run retried after its worker died
   * continues numbering after the first attempt's events). Default 0.
   */
  afterSeq?: number;
  /**
   * Called once, synchronously, when the run is over in this process: its final event is
   * committed and published (or saving it failed for good). The service forgets the run here.
   */
  onSettled(run: ActiveRun): void;
}

/**
 * One run executing in this process: numbers the engine's events, feeds them to live
 * subscribers and the batched writer, and makes sure the run ends with a durable terminal
 * state whatever happens: the engine's own `workflow_finished`, a stop the engine does not
 * honour in time, an engine crash, or a store that refuses writes.
 */
export class ActiveRun {
  readonly run: RunRow;
  readonly feed: RunFeed;
  readonly controller = new AbortController();
  /** Resolves once the final state is committed; rejects only when the store refused even that. */
  readonly done: Promise<void>;
  readonly #options: ActiveRunOptions;
  readonly #tracker = new NodeExecutionTracker();
  readonly #writer: RunWriter;
  #seq: number;
  /** Engine events are ignored from here on: its outcome is known, or the run was ended without it. */
  #engineDetached = false;
  #final: SequencedEvent | undefined;
  #settled = false;
  #forceTimer: NodeJS.Timeout | undefined;
  #stopReason: RunStoppedError | undefined;
  #resolve!: () => void;
  #reject!: (error: unknown) => void;

  constructor(options: ActiveRunOptions) {
    this.#options = options;
    this.run = options.run;
    this.feed = new RunFeed(options.subscriberBuffer);
    this.#seq = Math.max(0, options.afterSeq ?? 0);
    this.done = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Callers await `done` when they care; an unobserved rejection must not crash the process.
    this.done.catch(() => {});
    this.#writer = new RunWriter(
      options.store,
      options.run.id,
      { onCommitted: (batch) => this.#committed(batch), onFailed: (error) => this.#writeFailed(error) },
      { retryDelayMs: options.writeRetryDelayMs, batchWindowMs: options.batchWindowMs },
    );
  }

  /** The engine's `onEvent`. Synchronous and non-blocking, as the engine requires. */
  readonly handleEngineEvent = (event: EngineEvent): void => {
    if (this.#engineDetached) return;
    if (event.type === "workflow_finished") {
      this.#engineDetached = true;
      // The engine reports every stop with its generic message; say why this one happened (e.g. shutdown).
      const reason = this.#stopReason;
      this.#queueFinal(event.status === "stopped" && reason ? { ...event, error: reason.message } : event);
      return;
    }
    this.#emit(event);
  };

  /** For `runWorkflow(...).then(...)`: the engine always emits `workflow_finished` before it resolves. */
  engineReturned(): void {
    if (!this.#engineDetached)
      this.#endWithoutEngine("failed", "The engine ended the run without reporting its outcome.", "internal_error");
  }

  engineCrashed(error: unknown): void {
    this.#options.logger.error({ runId: this.run.id, err: error }, "the engine threw while executing a run");
    if (!this.#engineDetached)
      this.#endWithoutEngine("failed", `The run failed unexpectedly: ${errorMessage(error)}`, "internal_error");
  }

  /**
   * Aborts the engine with `reason`; if it has not reported the outcome `graceMs` later the
   * run is ended here as stopped. false when the run's outcome was already known.
   */
  requestStop(reason: RunStoppedError, graceMs: number): boolean {
    if (this.#engineDetached) return false;
    this.#stopReason ??= reason;
    if (!this.controller.signal.aborted) this.controller.abort(reason);
    if (!this.#forceTimer) {
      // Not unref'd: during shutdown this timer may be all that keeps the process alive until the run is recorded.
      this.#forceTimer = setTimeout(() => {
        if (this.#engineDetached) return;
        this.#options.logger.warn(
          { runId: this.run.id, graceMs },
          "the engine did not end a stopped run in time; ending it without the engine",
        );
        this.#endWithoutEngine("stopped", reason.message, reason.code);
      }, graceMs);
    }
    return true;
  }

  #emit(event: EngineEvent): void {
    const sequenced: SequencedEvent = { seq: ++this.#seq, event };
    const node = this.#tracker.apply(event);
    this.feed.publish(sequenced);
    this.#options.sink?.publish(sequenced, false);
    if (event.type === "node_finished") this.#options.observer?.nodeFinished?.(event);
    this.#writer.append(sequenced, this.#options.clock.now(), node);
  }

  #queueFinal(event: WorkflowFinishedEvent, nodes: readonly NodeExecutionUpsert[] = []): void {
    this.#clearForceTimer();
    const sequenced: SequencedEvent = { seq: ++this.#seq, event };
    this.#final = sequenced;
    // Held back from live subscribers until committed: "finished" reaches a client only once it is on disk.
    this.#writer.finish(sequenced, this.#options.clock.now(), nodes, patchOf(event));
  }

  /** Ends the run with synthetic events in place of the engine's: node_finished for what still runs, then workflow_finished. */
  #endWithoutEngine(status: "stopped" | "failed", error: string, errorCode: string): void {
    this.#engineDetached = true;
    const now = this.#options.clock.now();
    for (const { ref, row } of this.#tracker.running()) {
      this.#emit(syntheticNodeFinished(this.run.id, ref, row.inputs ?? null, status, error, now));
    }
    this.#queueFinal(this.#syntheticFinal(status, error, errorCode, now));
  }

  #syntheticFinal(status: Exclude<RunStatus, "running">, error: string, errorCode: string, now: number): WorkflowFinishedEvent {
    const t = this.#tracker;
    return syntheticFinished(
      this.run,
      {
        totalTokens: t.totalTokens,
        totalPrice: t.totalPrice,
        currency: t.currency,
        totalSteps: t.steps,
        exceptionsCount: t.exceptionsCount,
      },
      status,
      error,
      errorCode,
      now,
    );
  }

  #committed(batch: CommittedBatch): void {
    if (batch.lastSeq > 0) {
      this.feed.confirm(batch.lastSeq);
      this.#options.sink?.confirm(batch.lastSeq);
    }
    if (batch.final) this.#settle();
  }

  /**
   * The writer gave up on a batch. The run cannot be recorded faithfully any more, so it is
   * ended: the engine is aborted (its further events are ignored) and the run is failed in
   * the store with a message saying why. If even that write fails the run stays `running`
   * in the store until orphan recovery at the next start.
   */
  #writeFailed(error: unknown): void {
    const { logger, store, clock, writeRetryDelayMs } = this.#options;
    logger.error({ runId: this.run.id, err: error }, "saving a run's events failed twice; failing the run");
    this.#engineDetached = true;
    this.#clearForceTimer();
    if (!this.controller.signal.aborted) this.controller.abort(new Error("The run's progress could not be saved."));
    const now = clock.now();
    const message = `The run was ended because saving its progress to the database failed: ${errorMessage(error)}`;
    const final: SequencedEvent = { seq: ++this.#seq, event: this.#syntheticFinal("failed", message, STORE_FAILURE_CODE, now) };
    this.#final = final;
    const patch = patchOf(final.event as WorkflowFinishedEvent);
    const nodes = this.#tracker
      .running()
      .map(({ row }) => ({ ...row, status: "failed" as const, error: message, finishedAt: now }));
    const full = {
      runId: this.run.id,
      events: [{ seq: final.seq, type: final.event.type, payload: final.event, createdAt: now }],
      nodeExecutions: nodes,
      runPatch: patch,
    };
    void writeWithRetry(store, full, writeRetryDelayMs)
      // The final event may be what the store refuses; the run's terminal state matters most.
      .catch(() =>
        writeWithRetry(store, { runId: this.run.id, events: [], nodeExecutions: [], runPatch: patch }, writeRetryDelayMs),
      )
      .then(
        () => this.#settle(),
        (lastError: unknown) => {
          logger.error(
            { runId: this.run.id, err: lastError },
            "could not mark the run failed in the store; it stays running until orphan recovery at the next start",
          );
          this.#settle(new Error(`The run could not be saved: ${errorMessage(lastError)}`, { cause: lastError }));
        },
      );
  }

  #settle(error?: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#clearForceTimer();
    if (this.#final) {
      this.feed.publish(this.#final, true);
      this.#options.sink?.publish(this.#final, true);
      // Only a committed outcome counts: a run whose final write failed is not "finished" in the store.
      if (!error) this.#options.observer?.runFinished?.(this.#final.event as WorkflowFinishedEvent);
    }
    this.feed.close();
    this.#options.sink?.close();
    this.#options.onSettled(this);
    if (error) this.#reject(error);
    else this.#resolve();
  }

  #clearForceTimer(): void {
    if (this.#forceTimer) clearTimeout(this.#forceTimer);
    this.#forceTimer = undefined;
  }
}
