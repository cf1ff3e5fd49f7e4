import type { Redis } from "ioredis";
import { lastStreamSeq, publishEnded } from "../events/run-event-stream.js";
import { endRunOutsideEngine, lastStoredSeq } from "../runs/end-run.js";
import type { RunServiceLogger } from "../runs/run-logger.js";
import type { RunServiceMetrics } from "../runs/run-metrics.js";
import type { RunRow, Store } from "../store/types.js";
import type { ClusterLimits } from "./cluster-limits.js";
import type { RedisKeys } from "./redis.js";

export interface EndRunDeps {
  store: Store;
  redis: Redis;
  keys: RedisKeys;
  limits: ClusterLimits;
  eventStreamTtlSec: number;
  logger: RunServiceLogger;
  metrics?: RunServiceMetrics | undefined;
}

/**
 * Ends a run no engine executes any more (stopped while queued, its worker died, it cannot be
 * executed): its final events go to the store in one transaction, numbered after the last event
 * anywhere (the stream may hold events of a dead worker that never reached the store), then to
 * the run's stream, and its slot is freed. false when the run had already ended.
 */
export async function endQueuedRun(
  deps: EndRunDeps,
  run: RunRow,
  outcome: { status: "stopped" | "failed"; error: string; errorCode: string },
): Promise<boolean> {
  const current = await deps.store.getRun(run.id);
  if (current?.status !== "running") return false;
  const streamSeq = await lastStreamSeq(deps.redis, deps.keys, run.id).catch(() => 0);
  const afterSeq = Math.max(await lastStoredSeq(deps.store, run.id), streamSeq);
  const ended = await endRunOutsideEngine(deps.store, current, { ...outcome, afterSeq, now: Date.now(), final: true });
  if (ended.final) deps.metrics?.runFinished?.(ended.final);
  await publishEnded(deps.redis, deps.keys, run.id, ended.events, deps.eventStreamTtlSec).catch((error: unknown) =>
    deps.logger.warn(
      { runId: run.id, err: error },
      "could not publish a run's final events to Redis; subscribers read them from the store",
    ),
  );
  await deps.limits.release(run.appId, run.id).catch(() => {});
  return true;
}
