/**
 * Redis connections and key names of distributed mode. Every key, channel and queue starts with
 * the deployment's prefix (`TRIBUTARY_REDIS_PREFIX`), so several deployments or test runs share
 * one Redis without seeing each other.
 */
import { Redis, type RedisOptions } from "ioredis";

export interface RedisSettings {
  url: string;
  prefix: string;
}

export type ConnectionRole = "commands" | "blocking" | "subscriber";

/**
 * A connection that reconnects forever (ioredis' default back-off, capped at 2 s). Commands on
 * `commands` connections give up after ~10 s without Redis, so an HTTP request fails with a
 * clear error rather than hanging; `blocking` and `subscriber` connections wait for Redis to
 * come back, which is what a long poll or a subscription wants.
 */
export function connectRedis(settings: RedisSettings, role: ConnectionRole, name: string): Redis {
  const options: RedisOptions = {
    connectionName: `${settings.prefix}:${name}:${role}`,
    maxRetriesPerRequest: role === "commands" ? 20 : null,
    retryStrategy: (times) => Math.min(times * 50, 2000),
  };
  const redis = new Redis(settings.url, options);
  // Connection errors are retried by ioredis and surface on the commands that fail; without a
  // listener Node would print each one as an unhandled 'error' event.
  redis.on("error", () => {});
  return redis;
}

/** Closes a connection without waiting for a Redis that may be gone. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === "end") return;
  try {
    await Promise.race([redis.quit(), new Promise((resolve) => setTimeout(resolve, 1000))]);
  } catch {
    // Already closing or unreachable: disconnect below.
  }
  redis.disconnect();
}

/** Key and channel names under one prefix. */
export class RedisKeys {
  readonly prefix: string;
  constructor(prefix: string) {
    this.prefix = prefix;
  }
  /** BullMQ's own prefix: its keys are `<prefix>:runs:…`. */
  get bullPrefix(): string {
    return this.prefix;
  }
  readonly queueName = "runs";
  /** The run's event stream: entry id `<seq>-0` for event `seq`. */
  runEvents(runId: string): string {
    return `${this.prefix}:run:${runId}:events`;
  }
  /** Set while a stop of the run is pending, for a worker that takes the run after the broadcast. */
  stopFlag(runId: string): string {
    return `${this.prefix}:run:${runId}:stop`;
  }
  /** Pub/Sub: run ids to stop. */
  get stopChannel(): string {
    return `${this.prefix}:stop`;
  }
  /** Pub/Sub: run ids whose outcome was just committed. */
  get finishedChannel(): string {
    return `${this.prefix}:finished`;
  }
  /** Sorted set of the app's runs in progress (admitted, not finished), scored by admission time. */
  appSlots(appId: string): string {
    return `${this.prefix}:slots:app:${appId}`;
  }
  /** Same, across apps. */
  get globalSlots(): string {
    return `${this.prefix}:slots:all`;
  }
  /** Apps with a slots set, for reconciliation. */
  get slotApps(): string {
    return `${this.prefix}:slots:apps`;
  }
  /** A worker process's liveness key (expires unless renewed). */
  workerAlive(owner: string): string {
    return `${this.prefix}:worker:${owner}`;
  }
  /** Held by whichever worker reconciles store and Redis this round. */
  get reconcileLock(): string {
    return `${this.prefix}:reconcile`;
  }
}

/** The marker `runs.owner` holds while a run waits in the queue (no worker has taken it yet). */
export const QUEUED_OWNER = "queued";
