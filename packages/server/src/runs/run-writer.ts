import type { NewRunEvent, NodeExecutionUpsert, RunBatch, RunPatch, Store } from "../store/types.js";
import { groupCommitterFor } from "./group-commit.js";
import type { SequencedEvent } from "./types.js";

export interface CommittedBatch {
  lastSeq: number;
  events: number;
  final: boolean;
}

export interface RunWriterHooks {
  /** A batch is durable. Called in seq order. */
  onCommitted(batch: CommittedBatch): void;
  /** A batch failed twice; the writer dropped it and everything queued after it, and accepts nothing more. */
  onFailed(error: unknown): void;
}

export interface RunWriterOptions {
  /** Pause before the single retry of a failed batch. */
  retryDelayMs: number;
  /**
   * How long the first event of a batch may wait for company before it is written (the final
   * batch never waits). 0 = only what is emitted in the same tick is coalesced.
   */
  batchWindowMs: number;
}

/**
 * Persists one run's events and node executions, batched and serialised (and committed
 * together with other runs' batches of the same turn, see GroupCommitter):
 * everything appended within `batchWindowMs` of the first pending event (at least: within
 * the same tick) goes into one transaction, and whatever arrives while a transaction is in
 * flight goes into the next one (group commit), so bursts cost one commit each and a slow
 * disk makes batches bigger rather than queues longer. The final batch is written at once, so
 * a blocking client is not kept waiting by the window. `append` never waits: the engine is
 * never held up by the store.
 */
export class RunWriter {
  readonly #store: Store;
  readonly #runId: string;
  readonly #hooks: RunWriterHooks;
  readonly #options: RunWriterOptions;
  #events: NewRunEvent[] = [];
  #nodes = new Map<string, NodeExecutionUpsert>();
  #patch: RunPatch | undefined;
  /** performance.now() of the oldest unwritten event. */
  #firstPendingAt = 0;
  #ended = false;
  #timer: NodeJS.Timeout | undefined;
  #immediate = false;
  #writing = false;
  #hurry: (() => void) | undefined;
  #failed = false;

  constructor(store: Store, runId: string, hooks: RunWriterHooks, options: RunWriterOptions) {
    this.#store = store;
    this.#runId = runId;
    this.#hooks = hooks;
    this.#options = options;
  }

  append(event: SequencedEvent, createdAt: number, node?: NodeExecutionUpsert): void {
    if (this.#failed || this.#ended) return;
    if (!this.#hasPending()) this.#firstPendingAt = performance.now();
    this.#events.push({ seq: event.seq, type: event.event.type, payload: event.event, createdAt });
    if (node) this.#nodes.set(node.id, node);
    this.#kick(false);
  }

  /** The run's last batch: its final event, last node states and the run patch, in one transaction. */
  finish(event: SequencedEvent, createdAt: number, nodes: readonly NodeExecutionUpsert[], patch: RunPatch): void {
    if (this.#failed || this.#ended) return;
    this.#events.push({ seq: event.seq, type: event.event.type, payload: event.event, createdAt });
    for (const node of nodes) this.#nodes.set(node.id, node);
    this.#patch = patch;
    this.#ended = true;
    this.#kick(true);
  }

  #hasPending(): boolean {
    return this.#events.length > 0 || this.#nodes.size > 0 || this.#patch !== undefined;
  }

  #kick(urgent: boolean): void {
    if (this.#writing) {
      if (urgent) this.#hurry?.();
      return;
    }
    if (urgent || this.#options.batchWindowMs <= 0) {
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = undefined;
      if (this.#immediate) return;
      this.#immediate = true;
      setImmediate(() => {
        this.#immediate = false;
        void this.#drain();
      });
      return;
    }
    if (this.#timer || this.#immediate) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#drain();
    }, this.#options.batchWindowMs);
  }

  async #drain(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    while (!this.#failed && this.#hasPending()) {
      if (!this.#ended) {
        const wait = this.#firstPendingAt + this.#options.batchWindowMs - performance.now();
        if (wait > 0) await this.#pause(wait);
      }
      const batch: RunBatch = { runId: this.#runId, events: this.#events, nodeExecutions: [...this.#nodes.values()] };
      if (this.#patch) batch.runPatch = this.#patch;
      const final = this.#patch !== undefined;
      this.#events = [];
      this.#nodes = new Map();
      this.#patch = undefined;
      try {
        await writeWithRetry(this.#store, batch, this.#options.retryDelayMs);
      } catch (error) {
        this.#failed = true;
        this.#events = [];
        this.#nodes.clear();
        this.#patch = undefined;
        this.#hooks.onFailed(error);
        break;
      }
      const last = batch.events[batch.events.length - 1];
      this.#hooks.onCommitted({ lastSeq: last ? last.seq : 0, events: batch.events.length, final });
    }
    this.#writing = false;
  }

  /** Waits out the rest of the batch window, or less if the final event arrives. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#hurry = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#hurry = done;
    });
  }
}

/**
 * Writes through the process's group committer, so concurrent runs share commits. Each
 * attempt is all-or-nothing for this batch (a failed group is retried batch by batch inside
 * the committer), so one retry cannot duplicate anything.
 */
export async function writeWithRetry(store: Store, batch: RunBatch, retryDelayMs: number): Promise<void> {
  const committer = groupCommitterFor(store);
  try {
    await committer.write(batch);
  } catch {
    await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
    await committer.write(batch);
  }
}
