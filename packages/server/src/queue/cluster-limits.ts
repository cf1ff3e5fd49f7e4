/**
 * Per-app and global concurrency limits across the cluster. A run holds a slot from admission
 * (before its row exists) until its outcome is committed, whichever process admits or ends it.
 * A slot is a member of a Redis sorted set (run id, scored by admission time); checking the
 * counts and adding the member happen in one Lua script, so two API processes cannot both take
 * the last slot. Slots of runs that ended without releasing (a crash between two steps) are
 * pruned by reconciliation against the store.
 */
import type { Redis } from "ioredis";
import { TooManyRunsError } from "../runs/errors.js";
import type { RedisKeys } from "./redis.js";

// KEYS: app set, global set, apps index. ARGV: run id, now, app limit (-1 = none), global limit (-1 = none), app id.
const ACQUIRE = `
local appLimit = tonumber(ARGV[3])
local globalLimit = tonumber(ARGV[4])
if appLimit >= 0 and redis.call('ZCARD', KEYS[1]) >= appLimit then return 1 end
if globalLimit >= 0 and redis.call('ZCARD', KEYS[2]) >= globalLimit then return 2 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[5])
return 0
`;

export class ClusterLimits {
  readonly #redis: Redis;
  readonly #keys: RedisKeys;
  readonly #globalLimit: number | null;

  constructor(redis: Redis, keys: RedisKeys, globalLimit: number | null) {
    this.#redis = redis;
    this.#keys = keys;
    this.#globalLimit = globalLimit;
  }

  /** Takes a slot for `runId` or throws TooManyRunsError. */
  async acquire(appId: string, runId: string, appLimit: number | null, now = Date.now()): Promise<void> {
    const result = await this.#redis.eval(
      ACQUIRE,
      3,
      this.#keys.appSlots(appId),
      this.#keys.globalSlots,
      this.#keys.slotApps,
      runId,
      String(now),
      String(appLimit ?? -1),
      String(this.#globalLimit ?? -1),
      appId,
    );
    if (result === 1) throw new TooManyRunsError("app", appLimit ?? 0);
    if (result === 2) throw new TooManyRunsError("server", this.#globalLimit ?? 0);
  }

  /** Gives the run's slot back (idempotent). */
  async release(appId: string, runId: string): Promise<void> {
    await this.#redis.multi().zrem(this.#keys.appSlots(appId), runId).zrem(this.#keys.globalSlots, runId).exec();
  }

  /**
   * Makes the slots match the store's runs in progress: adds the missing ones (Redis lost them
   * in a restart) and removes those of runs no longer running that were admitted before
   * `admittedBefore` (later ones may belong to an admission whose row is being created now).
   */
  async reconcile(
    running: ReadonlyArray<{ id: string; appId: string; createdAt: number }>,
    admittedBefore: number,
  ): Promise<number> {
    const live = new Set(running.map((r) => r.id));
    const add = this.#redis.multi();
    for (const r of running) {
      add.zadd(this.#keys.appSlots(r.appId), "NX", r.createdAt, r.id);
      add.zadd(this.#keys.globalSlots, "NX", r.createdAt, r.id);
      add.sadd(this.#keys.slotApps, r.appId);
    }
    await add.exec();
    let pruned = 0;
    const sets = [
      this.#keys.globalSlots,
      ...(await this.#redis.smembers(this.#keys.slotApps)).map((a) => this.#keys.appSlots(a)),
    ];
    for (const key of sets) {
      const members = await this.#redis.zrangebyscore(key, "-inf", `(${admittedBefore}`);
      const stale = members.filter((m) => !live.has(m));
      if (stale.length > 0) pruned += await this.#redis.zrem(key, ...stale);
    }
    return pruned;
  }
}
