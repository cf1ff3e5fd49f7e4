/**
 * The BullMQ queue runs wait in until a worker takes them. A job carries only the run id, and
 * its job id IS the run id: adding a run twice (a retried enqueue, reconciliation after a
 * Redis restart) is a no-op while the job exists, and the worker reads everything else from
 * the run's row.
 */
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { RedisKeys } from "./redis.js";

export interface RunJobData {
  runId: string;
}

/** Where a run's job is, seen from an API process about to stop the run. */
export type Withdrawal = "removed" | "active" | "finished" | "missing";

export class RunQueue {
  readonly queue: Queue<RunJobData>;

  constructor(connection: Redis, keys: RedisKeys) {
    this.queue = new Queue<RunJobData>(keys.queueName, {
      connection,
      prefix: keys.bullPrefix,
      defaultJobOptions: {
        // A run's own failure is its outcome, recorded in the store; the job fails only when the worker could
        // not even begin (store unreachable), which is worth a couple more tries.
        attempts: 3,
        backoff: { type: "exponential", delay: 1000 },
        // Kept an hour: a finished run's job id stays taken, so a late duplicate enqueue is a no-op.
        removeOnComplete: { age: 3600, count: 10_000 },
        removeOnFail: { age: 24 * 3600, count: 10_000 },
      },
    });
    // Connection trouble surfaces on the calls that fail; this only keeps Node from printing it as unhandled.
    this.queue.on("error", () => {});
  }

  /** Queues the run (idempotent per run id). `delayMs` holds it back before workers may take it. */
  async enqueue(runId: string, delayMs = 0): Promise<void> {
    await this.queue.add("run", { runId }, { jobId: runId, ...(delayMs > 0 ? { delay: delayMs } : {}) });
  }

  /** Where the run's job is: waiting for a worker, executing, ended, or gone. */
  async state(runId: string): Promise<"queued" | "active" | "ended" | "missing"> {
    const job = await this.queue.getJob(runId);
    if (!job) return "missing";
    const state = await job.getState();
    if (state === "active") return "active";
    if (state === "completed" || state === "failed") return "ended";
    if (state === "unknown") return "missing";
    return "queued";
  }

  /** Queues the run again, replacing a job that ended (its id would make the add a no-op). */
  async requeue(runId: string, delayMs: number): Promise<void> {
    const job = await this.queue.getJob(runId);
    if (job) await this.queue.remove(runId);
    await this.enqueue(runId, delayMs);
  }

  /** Takes the run out of the queue if no worker has taken it yet. */
  async withdraw(runId: string): Promise<Withdrawal> {
    const job = await this.queue.getJob(runId);
    if (!job) return "missing";
    const state = await job.getState();
    if (state === "active") return "active";
    if (state === "completed" || state === "failed") return "finished";
    if (state === "unknown") return "missing";
    // Waiting, delayed or prioritised: remove it unless a worker locked it a moment ago.
    return (await this.queue.remove(runId)) === 1 ? "removed" : "active";
  }

  /** Jobs by state, for /metrics. */
  async depth(): Promise<Record<string, number>> {
    const counts = await this.queue.getJobCounts("waiting", "active", "delayed", "prioritized");
    return {
      waiting: (counts["waiting"] ?? 0) + (counts["prioritized"] ?? 0),
      active: counts["active"] ?? 0,
      delayed: counts["delayed"] ?? 0,
    };
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
