import type { Redis } from "ioredis";
import type { RedisKeys } from "../queue/redis.js";
import { sleep, withTimeout } from "../runs/async-utils.js";
import { RunNotFoundError } from "../runs/errors.js";
import { storedTail, toSequenced } from "../runs/subscribe-run.js";
import type { SequencedEvent } from "../runs/types.js";
import type { Store } from "../store/types.js";
import { decodeEntry, type StreamEntry } from "./run-event-stream.js";
import type { StreamWatcher } from "./stream-watcher.js";

export interface StreamSubscribeDeps {
  store: Store;
  redis: Redis;
  keys: RedisKeys;
  watcher: StreamWatcher;
  /** Entries / rows per read. */
  pageSize: number;
  /** Store poll interval while waiting for a gap to be stored, or following a run without Redis. */
  pollMs: number;
  /** How long to wait on a silent stream before looking at the store (Redis trouble, a run ended without it). */
  idleCheckMs: number;
  /** How long a gap in the stream may wait for the store before it is skipped (events a dead worker never saved). */
  gapWaitMs: number;
}

/**
 * A run's events after `afterSeq` in a distributed deployment, read by whichever API process
 * the client reached: from the run's Redis Stream while it runs (entry `<seq>-0` = event
 * `seq`), from the store for what the stream no longer has (trimmed, expired, or lost in a
 * Redis restart) and for finished runs. Reads always continue from the last seq yielded, from
 * either source, so the client sees every event once, in order, ending after
 * `workflow_finished`. Rejects on the first `next()` with RunNotFoundError for unknown runs.
 */
export async function* subscribeStream(
  deps: StreamSubscribeDeps,
  runId: string,
  afterSeq = 0,
  signal?: AbortSignal,
): AsyncGenerator<SequencedEvent, void, undefined> {
  const { store, redis, watcher } = deps;
  const run = await store.getRun(runId);
  if (!run) throw new RunNotFoundError(runId);
  let last = Math.max(0, Math.floor(afterSeq));
  if (run.status !== "running") {
    yield* storedTail(deps, runId, last, signal);
    return;
  }
  const key = deps.keys.runEvents(runId);
  let gapSince: number | undefined;
  for (;;) {
    if (signal?.aborted) return;
    let entries: SequencedEvent[] | undefined;
    try {
      // Bounded: while Redis is away the store feeds the client instead (see below).
      const read = redis.xrange(key, `(${last}-0`, "+", "COUNT", deps.pageSize) as Promise<StreamEntry[]>;
      read.catch(() => {});
      const raw = await withTimeout(read, deps.idleCheckMs, "Redis did not answer");
      entries = raw.map(decodeEntry).filter((e): e is SequencedEvent => e !== undefined);
    } catch {
      entries = undefined;
    }
    const first = entries?.[0];
    if (entries && first) {
      if (first.seq > last + 1) {
        // The stream lacks what comes before `first`: the store has it, or will once its batch commits.
        const page = await store.listRunEvents(runId, { afterSeq: last, limit: deps.pageSize });
        const fill = page.filter((row) => row.seq < first.seq);
        if (fill.length > 0) {
          gapSince = undefined;
          for (const row of fill) {
            const event = toSequenced(row);
            yield event;
            last = event.seq;
            if (event.event.type === "workflow_finished" || signal?.aborted) return;
          }
          continue;
        }
        gapSince ??= Date.now();
        if (Date.now() - gapSince < deps.gapWaitMs) {
          await sleep(deps.pollMs, signal);
          continue;
        }
        // Never stored: events of an attempt whose worker died before saving them. Go on without them.
      }
      gapSince = undefined;
      for (const event of entries) {
        if (event.seq <= last) continue;
        yield event;
        last = event.seq;
        if (event.event.type === "workflow_finished" || signal?.aborted) return;
      }
      continue;
    }
    if (await watcher.wait(key, last, deps.idleCheckMs, signal)) continue;
    if (signal?.aborted) return;
    // Quiet for a while: maybe Redis is away or the run ended without its stream; the store knows.
    const page = await store.listRunEvents(runId, { afterSeq: last, limit: deps.pageSize });
    if (page.length > 0) {
      for (const row of page) {
        const event = toSequenced(row);
        yield event;
        last = event.seq;
        if (event.event.type === "workflow_finished" || signal?.aborted) return;
      }
      continue;
    }
    const current = await store.getRun(runId);
    if (current?.status !== "running") {
      yield* storedTail(deps, runId, last, signal);
      return;
    }
  }
}
