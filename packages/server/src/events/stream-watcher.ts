/**
 * Waits for new entries on many run streams over ONE blocking Redis connection per process,
 * however many clients are streaming. Subscribers read entries themselves (XRANGE on the
 * shared commands connection); the watcher only tells them when to look: it keeps one
 * `XREAD BLOCK` over every watched stream, each from the lowest position a waiter has, and
 * wakes a stream's waiters when it returns entries. A new waiter interrupts the pending XREAD
 * (CLIENT UNBLOCK) so its stream is included at once.
 */
import type { Redis } from "ioredis";

interface Waiter {
  afterSeq: number;
  resolve(woken: boolean): void;
}

export interface StreamWatcherOptions {
  /** Dedicated blocking connection (owned by the watcher). */
  blocking: Redis;
  /** Shared commands connection, for CLIENT UNBLOCK. */
  commands: Redis;
  /** Longest single XREAD block. Default 5 s. */
  blockMs?: number;
}

export class StreamWatcher {
  readonly #blocking: Redis;
  readonly #commands: Redis;
  readonly #blockMs: number;
  readonly #waiters = new Map<string, Set<Waiter>>();
  #clientId: number | undefined;
  #loop: Promise<void> | undefined;
  /** The XREAD in flight covers the current waiters; false once one it does not cover arrives. */
  #covered = true;
  #inFlight = false;
  #closed = false;

  constructor(options: StreamWatcherOptions) {
    this.#blocking = options.blocking;
    this.#commands = options.commands;
    this.#blockMs = options.blockMs ?? 5000;
    // A reconnected connection has a new client id.
    this.#blocking.on("close", () => {
      this.#clientId = undefined;
    });
  }

  /** Streams being watched right now. */
  get watchedCount(): number {
    return this.#waiters.size;
  }

  /**
   * Resolves true once `key` has an entry after `<afterSeq>-0` (or may have: a waiter is also
   * woken when the stream got entries it had seen), false after `timeoutMs`, on `signal`, on a
   * Redis error or at close. Never rejects.
   */
  wait(key: string, afterSeq: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.#closed || signal?.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      let set = this.#waiters.get(key);
      const lowered = !set || [...set].every((w) => w.afterSeq > afterSeq);
      if (!set) {
        set = new Set();
        this.#waiters.set(key, set);
      }
      const waiter: Waiter = {
        afterSeq,
        resolve: (woken) => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          const current = this.#waiters.get(key);
          if (current?.delete(waiter) && current.size === 0) this.#waiters.delete(key);
          resolve(woken);
        },
      };
      const onAbort = () => waiter.resolve(false);
      const timer = setTimeout(() => waiter.resolve(false), timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      set.add(waiter);
      if (lowered) this.#interrupt();
      this.#ensureLoop();
    });
  }

  /** Wakes every waiter (false) and stops watching. The blocking connection is the caller's to close. */
  close(): void {
    this.#closed = true;
    for (const set of [...this.#waiters.values()]) for (const w of [...set]) w.resolve(false);
    this.#interrupt();
  }

  #ensureLoop(): void {
    if (this.#loop) return;
    this.#loop = this.#run().finally(() => {
      this.#loop = undefined;
      // A waiter may have arrived as the loop was ending.
      if (this.#waiters.size > 0 && !this.#closed) this.#ensureLoop();
    });
  }

  async #run(): Promise<void> {
    while (this.#waiters.size > 0 && !this.#closed) {
      const keys = [...this.#waiters.keys()];
      const ids = keys.map((k) => {
        let min = Number.POSITIVE_INFINITY;
        for (const w of this.#waiters.get(k) ?? []) min = Math.min(min, w.afterSeq);
        return `${Number.isFinite(min) ? min : 0}-0`;
      });
      try {
        this.#clientId ??= Number(await this.#blocking.client("ID"));
        this.#covered = true;
        this.#inFlight = true;
        // COUNT 1: the waiters read the entries themselves; this only says which streams moved.
        const result = (await this.#blocking.xread("COUNT", 1, "BLOCK", this.#blockMs, "STREAMS", ...keys, ...ids)) as Array<
          [string, unknown[]]
        > | null;
        this.#inFlight = false;
        for (const [key] of result ?? []) for (const w of [...(this.#waiters.get(key) ?? [])]) w.resolve(true);
      } catch {
        this.#inFlight = false;
        // Redis is away: let the waiters fall back to the store, and pause before retrying.
        for (const set of [...this.#waiters.values()]) for (const w of [...set]) w.resolve(false);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** Makes the pending XREAD return so the next one covers the new waiters. */
  #interrupt(): void {
    this.#covered = false;
    if (!this.#inFlight) return;
    const id = this.#clientId;
    if (id === undefined) return;
    const attempt = (tries: number) => {
      if (this.#covered || !this.#inFlight || tries > 50) return;
      this.#commands.client("UNBLOCK", id).then(
        // 0: the XREAD has not reached Redis yet (or just returned); try again shortly.
        (unblocked) => {
          if (unblocked === 0) setTimeout(() => attempt(tries + 1), 2);
        },
        () => {},
      );
    };
    attempt(0);
  }
}
