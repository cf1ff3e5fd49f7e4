import type { TextChunkEvent } from "@tributary/engine";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Harness, harnesses } from "../store/store-test-harness.js";
import type { Store } from "../store/types.js";
import { type InstrumentedStore, instrumentStore, seedApp, typicalWorkflow } from "./run-test-kit.js";
import { type CommittedBatch, RunWriter } from "./run-writer.js";
import type { SequencedEvent } from "./types.js";

const chunk = (runId: string, seq: number): SequencedEvent => {
  const event: TextChunkEvent = { type: "text_chunk", runId, nodeId: "llm", text: `t${seq}`, fromVariableSelector: [] };
  return { seq, event };
};

interface Tracked {
  runId: string;
  writer: RunWriter;
  committed: (CommittedBatch & { at: number })[];
  failed: unknown[];
  settled: Promise<void>;
}

describe.each(harnesses().map((h) => [h.name, h] as [string, Harness]))("run writers on %s", (_name, harness) => {
  let real: Store;
  let store: InstrumentedStore;

  beforeAll(() => harness.setup());
  afterAll(() => harness.teardown());
  beforeEach(async () => {
    real = await (await harness.fresh()).open();
    store = instrumentStore(real);
  });
  afterEach(() => real.close());

  async function newRunIds(n: number): Promise<string[]> {
    const { app, version } = await seedApp(store, typicalWorkflow());
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const run = await store.createRun({
        id: `run-${i}-${Math.random().toString(36).slice(2, 8)}`,
        taskId: `task-${i}-${Math.random().toString(36).slice(2, 8)}`,
        appId: app.id,
        workflowId: version.id,
        inputs: {},
        responseMode: "blocking",
        triggeredFrom: "app-run",
        createdAt: Date.now(),
      });
      ids.push(run.id);
    }
    return ids;
  }

  function track(runId: string, batchWindowMs = 0): Tracked {
    const committed: Tracked["committed"] = [];
    const failed: unknown[] = [];
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const hooks = {
      onCommitted: (batch: CommittedBatch) => {
        committed.push({ ...batch, at: performance.now() });
        if (batch.final) settle();
      },
      onFailed: (error: unknown) => {
        failed.push(error);
        settle();
      },
    };
    const writer = new RunWriter(store, runId, hooks, { retryDelayMs: 5, batchWindowMs });
    return { runId, writer, committed, failed, settled };
  }

  it("commits the final batches of N concurrent runs in fewer transactions than runs", async () => {
    const n = 20;
    const runs = (await newRunIds(n)).map((id) => track(id));
    const before = store.transactions;
    // Every run finishes in the same turn, as runs finishing together in the server do.
    for (const r of runs) {
      r.writer.append(chunk(r.runId, 1), Date.now());
      r.writer.finish(chunk(r.runId, 2), Date.now(), [], { status: "succeeded", finishedAt: Date.now() });
    }
    await Promise.all(runs.map((r) => r.settled));
    const transactions = store.transactions - before;
    console.log(`[group commit ${harness.name}] ${n} runs finishing together: ${transactions} transaction(s)`);
    expect(transactions).toBeLessThan(n);
    expect(transactions).toBe(1);
    for (const r of runs) {
      expect(r.failed).toEqual([]);
      expect(r.committed.map((c) => [c.lastSeq, c.final])).toEqual([[2, true]]);
      // Released only once the shared transaction committed.
      const log = store.batches.find((b) => b.runId === r.runId);
      expect(log?.ok).toBe(true);
      expect(r.committed[0]?.at).toBeGreaterThanOrEqual(log?.committedAt ?? Number.POSITIVE_INFINITY);
      expect((await store.listRunEvents(r.runId)).map((e) => e.seq)).toEqual([1, 2]);
      expect((await store.getRun(r.runId))?.status).toBe("succeeded");
    }
  });

  it("fails only the run whose batch is refused when it shares a transaction with others", async () => {
    const good = (await newRunIds(5)).map((id) => track(id));
    const bad = track("no-such-run");
    const all = [...good, bad];
    for (const r of all) r.writer.finish(chunk(r.runId, 1), Date.now(), [], { status: "succeeded", finishedAt: Date.now() });
    await Promise.all(all.map((r) => r.settled));
    expect(bad.failed).toHaveLength(1);
    expect(String(bad.failed[0])).toMatch(/no-such-run.*nothing was written/);
    expect(bad.committed).toEqual([]);
    for (const r of good) {
      expect(r.failed).toEqual([]);
      expect(r.committed.map((c) => c.final)).toEqual([true]);
      expect((await store.getRun(r.runId))?.status).toBe("succeeded");
      expect((await store.listRunEvents(r.runId)).map((e) => e.seq)).toEqual([1]);
    }
  });

  it("keeps each run's batches in order while transactions are shared and slow", async () => {
    const runs = (await newRunIds(4)).map((id) => track(id));
    // A slow disk: batches pile up behind each commit and must still land in seq order per run.
    store.beforeWrite = () => new Promise((resolve) => setTimeout(resolve, 15));
    const last = 30;
    for (let seq = 1; seq < last; seq++) {
      for (const r of runs) r.writer.append(chunk(r.runId, seq), Date.now());
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    for (const r of runs) r.writer.finish(chunk(r.runId, last), Date.now(), [], { status: "succeeded" });
    await Promise.all(runs.map((r) => r.settled));
    for (const r of runs) {
      expect(r.failed).toEqual([]);
      const seqs = r.committed.map((c) => c.lastSeq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(seqs.at(-1)).toBe(last);
      expect(r.committed.filter((c) => c.final)).toHaveLength(1);
      expect((await store.listRunEvents(r.runId)).map((e) => e.seq)).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    }
    // Several runs' batches went into the same transactions.
    expect(store.transactions).toBeLessThan(store.batches.length);
  });
});
