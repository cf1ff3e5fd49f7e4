import type { SequencedEvent } from "./types.js";

/**
 * The live side of one run's event stream, in memory. Events are published as the engine
 * emits them (before they are on disk, so streaming clients see them at once), except the
 * final `workflow_finished`, which the run publishes only after it is committed. The feed
 * also remembers the published events not yet confirmed durable: a subscriber attaching
 * mid-run gets those from here and everything older from the store, which closes the race
 * between reading the store and attaching to the live feed.
 */
export class RunFeed {
  readonly #subscribers = new Set<FeedSubscription>();
  /** Published, not yet committed; ascending seq. */
  #unconfirmed: SequencedEvent[] = [];
  #lastPublishedSeq = 0;
  #closed = false;
  readonly #bufferLimit: number;

  constructor(bufferLimit: number) {
    this.#bufferLimit = Math.max(1, bufferLimit);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  /** `durable`: already committed (the final event), so no subscriber needs it from memory later. */
  publish(event: SequencedEvent, durable = false): void {
    if (this.#closed) return;
    this.#lastPublishedSeq = event.seq;
    if (!durable) this.#unconfirmed.push(event);
    for (const sub of this.#subscribers) sub.push(event);
  }

  /** Everything up to `seq` is in the store now. */
  confirm(seq: number): void {
    let drop = 0;
    while (drop < this.#unconfirmed.length && (this.#unconfirmed[drop] as SequencedEvent).seq <= seq) drop++;
    if (drop > 0) this.#unconfirmed = this.#unconfirmed.slice(drop);
  }

  /** No more events: subscribers drain what they hold and end. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unconfirmed = [];
    for (const sub of this.#subscribers) sub.end();
    this.#subscribers.clear();
  }

  /**
   * Attaches a subscriber that starts with the published-but-unconfirmed events, so that
   * "store up to `storeHoldsUpTo`" + "this subscription" covers the stream without a gap.
   * undefined once the feed is closed (everything is in the store then).
   */
  attach(): { subscription: FeedSubscription; storeHoldsUpTo: number } | undefined {
    if (this.#closed) return undefined;
    const first = this.#unconfirmed[0];
    const storeHoldsUpTo = first ? first.seq - 1 : this.#lastPublishedSeq;
    const subscription = new FeedSubscription(this.#bufferLimit, this.#unconfirmed, (s) => this.#subscribers.delete(s));
    this.#subscribers.add(subscription);
    return { subscription, storeHoldsUpTo };
  }
}

/**
 * One subscriber's bounded queue. Pushing never blocks: a subscriber more than `limit`
 * events behind is cut off (`overflowed`) and catches up from the store instead, so a slow
 * client costs memory for at most `limit` events and never slows the engine or other clients.
 */
export class FeedSubscription {
  #queue: SequencedEvent[];
  #head = 0;
  #overflowed = false;
  #ended = false;
  #wake: (() => void) | undefined;
  readonly #limit: number;
  readonly #detach: (s: FeedSubscription) => void;

  constructor(limit: number, initial: readonly SequencedEvent[], detach: (s: FeedSubscription) => void) {
    this.#limit = limit;
    // The unconfirmed snapshot is already held by the run's write queue; it does not count as backlog.
    this.#queue = [...initial];
    this.#detach = detach;
  }

  get overflowed(): boolean {
    return this.#overflowed;
  }

  /** The feed closed: nothing more will be pushed. */
  get ended(): boolean {
    return this.#ended;
  }

  push(event: SequencedEvent): void {
    if (this.#overflowed || this.#ended) return;
    if (this.#queue.length - this.#head >= this.#limit) {
      this.#overflowed = true;
      this.#queue = [];
      this.#head = 0;
      this.#detach(this);
    } else {
      this.#queue.push(event);
    }
    this.#notify();
  }

  end(): void {
    this.#ended = true;
    this.#notify();
  }

  take(): SequencedEvent | undefined {
    if (this.#head >= this.#queue.length) return undefined;
    const event = this.#queue[this.#head++];
    // Compact now and then so a long run does not keep every consumed event alive.
    if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return event;
  }

  /** Resolves when there is something to take, the feed ended, the subscriber overflowed, or `signal` aborted. */
  wait(signal?: AbortSignal): Promise<void> {
    if (this.#head < this.#queue.length || this.#overflowed || this.#ended || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const onAbort = () => this.#notify();
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#wake = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
    });
  }

  detach(): void {
    this.#detach(this);
    this.#queue = [];
    this.#head = 0;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
