import type { EngineEvent } from "@tributary/engine";
import type { RunEventRow, Store } from "../store/types.js";
import { sleep } from "./async-utils.js";
import { RunNotFoundError } from "./errors.js";
import type { RunFeed } from "./run-feed.js";
import type { SequencedEvent } from "./types.js";

export interface SubscribeDeps {
  store: Store;
  /** The run's live feed when it executes in this process. */
  feedOf(runId: string): RunFeed | undefined;
  /** Events per store read. */
  pageSize: number;
  /** How often to look for new stored events of a run running in another process. */
  pollMs: number;
}

/**
 * A run's events after `afterSeq`, without gap or duplicate: stored events first, then live
 * ones from the feed (see `RunFeed.attach` for how the two meet), ending after
 * `workflow_finished`. A subscriber cut off for falling behind starts over from the store at
 * the last event it got, so it reads at its own pace. Runs not executing here are read from
 * the store (polled while they still run elsewhere). Rejects on the first `next()` with
 * RunNotFoundError when the run does not exist.
 */
export async function* subscribeRun(
  deps: SubscribeDeps,
  runId: string,
  afterSeq = 0,
  signal?: AbortSignal,
): AsyncGenerator<SequencedEvent, void, undefined> {
  if (!deps.feedOf(runId) && !(await deps.store.getRun(runId))) throw new RunNotFoundError(runId);
  let last = Math.max(0, Math.floor(afterSeq));
  for (;;) {
    if (signal?.aborted) return;
    const attached = deps.feedOf(runId)?.attach();
    if (!attached) {
      yield* storedTail(deps, runId, last, signal);
      return;
    }
    const { subscription, storeHoldsUpTo } = attached;
    try {
      // Catch up from the store on what the subscription does not hold.
      catchUp: while (last < storeHoldsUpTo) {
        const page = await deps.store.listRunEvents(runId, { afterSeq: last, limit: deps.pageSize });
        if (page.length === 0) break;
        for (const row of page) {
          if (row.seq > storeHoldsUpTo) break catchUp;
          const event = toSequenced(row);
          yield event;
          last = event.seq;
          if (event.event.type === "workflow_finished") return;
          if (signal?.aborted) return;
        }
        if (subscription.overflowed) break;
      }
      while (!subscription.overflowed) {
        for (let event = subscription.take(); event; event = subscription.take()) {
          if (event.seq <= last) continue;
          yield event;
          last = event.seq;
          if (event.event.type === "workflow_finished") return;
          if (signal?.aborted) return;
        }
        if (subscription.overflowed) break;
        // Closed without a final event we could see: it is in the store.
        if (subscription.ended) break;
        await subscription.wait(signal);
        if (signal?.aborted) return;
      }
    } finally {
      subscription.detach();
    }
    // Overflowed or ended: go round again from `last`; the store has or will have the rest.
  }
}

/** A run's stored events after `afterSeq`, polling while it runs elsewhere, ending after `workflow_finished` or once it is over. */
export async function* storedTail(
  deps: Pick<SubscribeDeps, "store" | "pageSize" | "pollMs">,
  runId: string,
  afterSeq: number,
  signal: AbortSignal | undefined,
): AsyncGenerator<SequencedEvent, void, undefined> {
  let last = afterSeq;
  let finishedSeen = false;
  for (;;) {
    const page = await deps.store.listRunEvents(runId, { afterSeq: last, limit: deps.pageSize });
    for (const row of page) {
      const event = toSequenced(row);
      yield event;
      last = event.seq;
      if (event.event.type === "workflow_finished") return;
      if (signal?.aborted) return;
    }
    if (page.length === deps.pageSize) continue;
    // A terminal run writes its last events and its status in one transaction, so one more read after
    // seeing the status gets everything.
    if (finishedSeen) return;
    const run = await deps.store.getRun(runId);
    if (run?.status !== "running") {
      finishedSeen = true;
      continue;
    }
    await sleep(deps.pollMs, signal);
    if (signal?.aborted) return;
  }
}

export function toSequenced(row: RunEventRow): SequencedEvent {
  return { seq: row.seq, event: row.payload as EngineEvent };
}
