import type { RunBatch, Store } from "../store/types.js";

interface Pending {
  batch: RunBatch;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for the run writers of one process: batches submitted in the same event-loop
 * turn (up to the next `setImmediate`) are written in ONE transaction with `writeRunBatches`,
 * so concurrent runs share one commit. On SQLite (synchronous=FULL) every commit is an fsync
 * that blocks the event loop; sharing it is what lets throughput grow with concurrency.
 *
 * Durability is unchanged: a submitter's promise resolves only after the shared transaction
 * committed. Isolation is kept too: if the shared transaction fails nothing of it was written,
 * and every batch is then written alone, so a bad batch fails only its own run.
 *
 * Per-run ordering is the caller's job (RunWriter awaits each batch before submitting the
 * next); batches of one group are written in submission order anyway.
 */
export class GroupCommitter {
  readonly #store: Store;
  #pending: Pending[] = [];
  #scheduled = false;

  constructor(store: Store) {
    this.#store = store;
  }

  write(batch: RunBatch): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ batch, resolve, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      // setImmediate, not a microtask: writers whose drains fire in the same turn (the same
      // timers or check phase, or I/O callbacks of one poll) must all get in before the flush.
      setImmediate(() => {
        this.#scheduled = false;
        void this.#flush();
      });
    });
  }

  async #flush(): Promise<void> {
    const group = this.#pending;
    this.#pending = [];
    if (group.length === 1) {
      // Alone: the plain single-batch write, whose error names the run.
      await this.#alone(group[0] as Pending);
      return;
    }
    try {
      await this.#store.writeRunBatches(group.map((p) => p.batch));
    } catch {
      // Nothing of the group was written. One at a time, in order, so each submitter gets the
      // outcome (and error) of its own batch; this path is rare, so sharing does not matter here.
      for (const p of group) await this.#alone(p);
      return;
    }
    for (const p of group) p.resolve();
  }

  /** Never rejects: the outcome goes to the submitter, whatever the store does. */
  async #alone(p: Pending): Promise<void> {
    try {
      await this.#store.writeRunBatch(p.batch);
      p.resolve();
    } catch (error) {
      p.reject(error);
    }
  }
}

// One committer per store object: every run writer of the process (local runs and a worker's
// claimed runs alike) writes through the same store, so they all share commits without the
// committer having to be passed through the services.
const committers = new WeakMap<Store, GroupCommitter>();

export function groupCommitterFor(store: Store): GroupCommitter {
  let committer = committers.get(store);
  if (!committer) {
    committer = new GroupCommitter(store);
    committers.set(store, committer);
  }
  return committer;
}
