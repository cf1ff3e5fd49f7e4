/**
 * Run commands and notices over Redis Pub/Sub, one subscriber connection per process:
 * `stop` (an API process asks whichever worker executes the run to stop it) and `finished`
 * (a run's outcome is committed, so blocking requests waiting for it may answer). Pub/Sub
 * delivers only to processes connected at that moment; both uses have a fallback — a stop flag
 * key workers also check, and store polling for waiters — so a message lost in a reconnect
 * costs latency, not correctness.
 */
import type { Redis } from "ioredis";
import type { RedisKeys } from "./redis.js";

export class RunSignals {
  readonly #keys: RedisKeys;
  readonly #stopHandlers = new Set<(runId: string) => void>();
  readonly #finishWaiters = new Map<string, Set<() => void>>();
  #ready: Promise<void>;

  constructor(subscriber: Redis, keys: RedisKeys, channels: { stop?: boolean; finished?: boolean }) {
    this.#keys = keys;
    const wanted = [...(channels.stop ? [keys.stopChannel] : []), ...(channels.finished ? [keys.finishedChannel] : [])];
    // ioredis re-subscribes by itself after a reconnect.
    this.#ready = wanted.length > 0 ? subscriber.subscribe(...wanted).then(() => {}) : Promise.resolve();
    this.#ready.catch(() => {});
    subscriber.on("message", (channel: string, runId: string) => {
      if (channel === keys.stopChannel) for (const h of this.#stopHandlers) h(runId);
      else if (channel === keys.finishedChannel) this.#notifyFinished(runId);
    });
  }

  /** Resolves once the subscriptions are active (rejects if Redis refused them). */
  ready(): Promise<void> {
    return this.#ready;
  }

  onStop(handler: (runId: string) => void): void {
    this.#stopHandlers.add(handler);
  }

  /**
   * Resolves `done` when `finished` is announced for the run, after `timeoutMs`, or when
   * `signal` aborts, whichever is first; the caller checks the store either way. Register
   * before reading the store, so an announcement between the read and the wait is not missed.
   */
  watchFinished(runId: string, timeoutMs: number, signal?: AbortSignal): { done: Promise<void>; cancel(): void } {
    let finish!: () => void;
    const done = new Promise<void>((resolve) => {
      let set = this.#finishWaiters.get(runId);
      if (!set) {
        set = new Set();
        this.#finishWaiters.set(runId, set);
      }
      const waiter = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", waiter);
        const current = this.#finishWaiters.get(runId);
        if (current?.delete(waiter) && current.size === 0) this.#finishWaiters.delete(runId);
        resolve();
      };
      finish = waiter;
      const timer = setTimeout(waiter, timeoutMs);
      signal?.addEventListener("abort", waiter, { once: true });
      set.add(waiter);
      if (signal?.aborted) waiter();
    });
    return { done, cancel: () => finish() };
  }

  /** Wakes every waiter (they look at the store and find out for themselves). */
  wakeAll(): void {
    for (const set of [...this.#finishWaiters.values()]) for (const done of [...set]) done();
  }

  #notifyFinished(runId: string): void {
    for (const done of [...(this.#finishWaiters.get(runId) ?? [])]) done();
  }

  get keys(): RedisKeys {
    return this.#keys;
  }
}
