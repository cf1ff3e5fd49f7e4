/**
 * The pieces of distributed mode on their own, against the real Redis (a key prefix of this
 * test run) and PostgreSQL: cluster-wide run slots, the one-connection stream watcher, and the
 * subscriber's fall-backs to the store when the run's stream lacks events (trimmed, lost in a
 * Redis restart, or never published).
 */
import type { EngineEvent } from "@tributary/engine";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { entryId, StreamSink } from "../src/events/run-event-stream.js";
import { StreamWatcher } from "../src/events/stream-watcher.js";
import { subscribeStream } from "../src/events/subscribe-stream.js";
import { ClusterLimits } from "../src/queue/cluster-limits.js";
import { closeRedis, connectRedis, RedisKeys } from "../src/queue/redis.js";
import { TooManyRunsError } from "../src/runs/errors.js";
import { seedApp, typicalWorkflow } from "../src/runs/run-test-kit.js";
import type { SequencedEvent } from "../src/runs/types.js";
import { postgresHarness, type TestDatabase } from "../src/store/store-test-harness.js";
import type { RunRow, Store } from "../src/store/types.js";
import { dropPrefix, holdRedis, REDIS_URL, redisAvailable, testPrefix } from "./support/redis.js";

describe.skipIf(!redisAvailable)("distributed building blocks (Redis + PostgreSQL)", () => {
  const harness = postgresHarness();
  let releaseRedis: (() => Promise<void>) | undefined;
  let database: TestDatabase;
  let store: Store;
  let redis: Redis;
  let blocking: Redis;
  let keys: RedisKeys;
  let prefix: string;
  const quiet = { warn: () => {}, error: () => {} };

  beforeAll(async () => {
    releaseRedis = await holdRedis("shared");
    prefix = testPrefix();
    keys = new RedisKeys(prefix);
    redis = connectRedis({ url: REDIS_URL, prefix }, "commands", "test");
    blocking = connectRedis({ url: REDIS_URL, prefix }, "blocking", "test");
    await harness.setup();
    database = await harness.fresh();
    store = await database.open();
  });
  afterAll(async () => {
    await store?.close();
    await harness.teardown();
    await Promise.all([redis, blocking].filter(Boolean).map(closeRedis));
    if (prefix) await dropPrefix(prefix);
    await releaseRedis?.();
  });

  async function newRun(): Promise<RunRow> {
    const { app, version } = await seedApp(store, typicalWorkflow());
    return store.createRun({
      id: crypto.randomUUID(),
      taskId: crypto.randomUUID(),
      appId: app.id,
      workflowId: version.id,
      inputs: {},
      responseMode: "streaming",
      triggeredFrom: "app-run",
      owner: "queued",
      createdAt: Date.now(),
    });
  }

  const started = (runId: string): EngineEvent => ({
    type: "workflow_started",
    runId,
    workflowId: "w",
    inputs: {},
    createdAt: 1,
  });
  const chunk = (runId: string, text: string): EngineEvent =>
    ({ type: "text_chunk", runId, text, fromVariableSelector: ["n", "text"] }) as unknown as EngineEvent;
  const finished = (runId: string): EngineEvent => ({
    type: "workflow_finished",
    runId,
    workflowId: "w",
    status: "succeeded",
    outputs: {},
    error: null,
    errorCode: null,
    elapsedMs: 1,
    totalTokens: 0,
    totalPrice: 0,
    currency: "USD",
    totalSteps: 0,
    exceptionsCount: 0,
    createdAt: 1,
    finishedAt: 2,
  });
  const store_ = (runId: string, events: SequencedEvent[], final = false) =>
    store.writeRunBatch({
      runId,
      events: events.map((e) => ({ seq: e.seq, type: e.event.type, payload: e.event, createdAt: Date.now() })),
      nodeExecutions: [],
      ...(final ? { runPatch: { status: "succeeded", outputs: {}, finishedAt: Date.now() } } : {}),
    });
  const xadd = (runId: string, e: SequencedEvent) =>
    redis.xadd(keys.runEvents(runId), entryId(e.seq), "e", JSON.stringify(e.event));
  async function collect(iterable: AsyncIterable<SequencedEvent>): Promise<number[]> {
    const seqs: number[] = [];
    for await (const e of iterable) seqs.push(e.seq);
    return seqs;
  }

  it("run slots: the limit holds under concurrent admissions across 'processes', and frees on release", async () => {
    const other = connectRedis({ url: REDIS_URL, prefix }, "commands", "test-2");
    try {
      const a = new ClusterLimits(redis, keys, 6);
      const b = new ClusterLimits(other, keys, 6);
      const attempts = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).acquire("app-1", `run-${i}`, 4)),
      );
      expect(attempts.filter((r) => r.status === "fulfilled")).toHaveLength(4);
      const refused = attempts.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => r.reason);
      expect(refused.every((e) => e instanceof TooManyRunsError && e.scope === "app")).toBe(true);
      // The global limit counts every app.
      await a.acquire("app-2", "run-x", null);
      await a.acquire("app-2", "run-y", null);
      await expect(a.acquire("app-3", "run-z", null)).rejects.toMatchObject({ scope: "server", status: 429 });
      const holders = await redis.zrange(keys.appSlots("app-1"), "0", "-1");
      await a.release("app-1", holders[0] as string);
      await a.acquire("app-3", "run-z", null);
      // Reconciliation: slots of runs the store does not know as running go (once old enough), running ones come back.
      const pruned = await a.reconcile([{ id: "run-back", appId: "app-4", createdAt: Date.now() }], Date.now() + 1);
      expect(pruned).toBeGreaterThan(0);
      expect(await redis.zrange(keys.globalSlots, "0", "-1")).toEqual(["run-back"]);
    } finally {
      await closeRedis(other);
    }
  });

  it("the stream watcher wakes waiters on many streams over one connection, including ones added while it blocks", async () => {
    const watcher = new StreamWatcher({ blocking, commands: redis, blockMs: 5000 });
    try {
      const first = watcher.wait(`${prefix}:w:1`, 0, 5000);
      await new Promise((r) => setTimeout(r, 50));
      // Arrives while the XREAD above blocks: must be covered at once, not after 5 s.
      const second = watcher.wait(`${prefix}:w:2`, 0, 5000);
      await new Promise((r) => setTimeout(r, 50));
      const t0 = performance.now();
      await redis.xadd(`${prefix}:w:2`, "1-0", "e", "{}");
      expect(await second).toBe(true);
      expect(performance.now() - t0).toBeLessThan(500);
      await redis.xadd(`${prefix}:w:1`, "1-0", "e", "{}");
      expect(await first).toBe(true);
      // A timeout is a plain false.
      expect(await watcher.wait(`${prefix}:w:3`, 0, 100)).toBe(false);
    } finally {
      watcher.close();
    }
  });

  it("a subscriber reads the stream live, fills a gap from the store, and follows a run whose stream is gone through the store", async () => {
    const watcher = new StreamWatcher({ blocking, commands: redis });
    const deps = { store, redis, keys, watcher, pageSize: 100, pollMs: 20, idleCheckMs: 200, gapWaitMs: 500 };
    try {
      // Gap: the stream lost 1..2 (e.g. trimmed); the store has them.
      const gapRun = await newRun();
      const gapEvents: SequencedEvent[] = [
        { seq: 1, event: started(gapRun.id) },
        { seq: 2, event: chunk(gapRun.id, "a") },
        { seq: 3, event: chunk(gapRun.id, "b") },
      ];
      await store_(gapRun.id, gapEvents.slice(0, 2));
      await xadd(gapRun.id, gapEvents[2] as SequencedEvent);
      const reading = collect(subscribeStream(deps, gapRun.id, 0));
      await new Promise((r) => setTimeout(r, 50));
      // Live through the sink, as a worker publishes.
      const sink = new StreamSink({ redis, keys, runId: gapRun.id, ttlSec: 60, logger: quiet });
      await store_(gapRun.id, [gapEvents[2] as SequencedEvent, { seq: 4, event: finished(gapRun.id) }], true);
      sink.publish({ seq: 4, event: finished(gapRun.id) }, true);
      expect(await reading).toEqual([1, 2, 3, 4]);
      expect(await redis.ttl(keys.runEvents(gapRun.id))).toBeGreaterThan(0);

      // No stream at all (Redis lost it): the store carries the run to its end.
      const lost = await newRun();
      await store_(lost.id, [{ seq: 1, event: started(lost.id) }]);
      const following = collect(subscribeStream(deps, lost.id, 0));
      await new Promise((r) => setTimeout(r, 300));
      await store_(lost.id, [{ seq: 2, event: finished(lost.id) }], true);
      expect(await following).toEqual([1, 2]);

      // Resuming a finished run after its stream expired: the store alone.
      expect(await collect(subscribeStream(deps, lost.id, 1))).toEqual([2]);
      await expect(collect(subscribeStream(deps, "no-such-run", 0))).rejects.toMatchObject({ status: 404 });
    } finally {
      watcher.close();
    }
  });
});
