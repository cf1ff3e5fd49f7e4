/**
 * Micro-measure, not a test: throughput of `writeRunBatch` for one typical run step burst
 * (8 events + 2 node executions + the run's final patch = 11 rows, one transaction) through the
 * store on a SQLite file, against raw better-sqlite3 prepared statements writing the same rows
 * with the same pragmas. Run: `npx tsx packages/server/src/store/write-run-batch.measure.ts [dir] [batches]`
 * (dir defaults to the OS temp dir; pass /dev/shm to take fsync out and see pure CPU overhead).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { createSqliteStore } from "./sqlite-store.js";
import type { NewRunEvent, NodeExecutionUpsert, RunPatch, Store } from "./types.js";

const ROWS_PER_BATCH = 11;
const baseDir = process.argv[2] ?? tmpdir();
const batches = Number(process.argv[3] ?? 2000);

function burst(runId: string, t: number): { events: NewRunEvent[]; nodes: NodeExecutionUpsert[]; patch: RunPatch } {
  const ref = (n: number) => ({
    id: `${runId}-n${n}`,
    nodeId: `node_${n}`,
    nodeType: n === 1 ? "llm" : "end",
    title: n === 1 ? "LLM" : "End",
    index: n,
    predecessorNodeId: n === 1 ? "start" : "node_1",
    iterationId: null,
    iterationIndex: null,
    loopId: null,
    loopIndex: null,
    createdAt: t,
  });
  const metadata = { totalTokens: 120, promptTokens: 80, completionTokens: 40, totalPrice: 0.00024, currency: "USD" };
  const payloads: Array<[string, unknown]> = [
    ["node_started", { type: "node_started", runId, execution: ref(1) }],
    ...Array.from({ length: 4 }, (_, i): [string, unknown] => [
      "text_chunk",
      {
        type: "text_chunk",
        runId,
        nodeId: "node_1",
        text: `chunk ${i} of the answer, `,
        fromVariableSelector: ["node_1", "text"],
      },
    ]),
    [
      "node_finished",
      {
        type: "node_finished",
        runId,
        execution: ref(1),
        status: "succeeded",
        inputs: { prompt: "Summarise the following text in one paragraph." },
        processData: { model: "gpt-4o-mini" },
        outputs: { text: "chunk 0 of the answer, chunk 1 of the answer, chunk 2 of the answer, chunk 3 of the answer" },
        error: null,
        errorType: null,
        elapsedMs: 812.4,
        metadata,
        finishedAt: t + 812,
      },
    ],
    ["node_started", { type: "node_started", runId, execution: ref(2) }],
    [
      "workflow_finished",
      { type: "workflow_finished", runId, status: "succeeded", outputs: { answer: "…" }, totalTokens: 120, finishedAt: t + 815 },
    ],
  ];
  const events = payloads.map(([type, payload], i) => ({ seq: i + 3, type, payload, createdAt: t + i }));
  const nodes: NodeExecutionUpsert[] = [
    {
      ...ref(1),
      status: "succeeded",
      inputs: { prompt: "Summarise the following text in one paragraph." },
      processData: { model: "gpt-4o-mini" },
      outputs: { text: "chunk 0 of the answer, chunk 1 of the answer" },
      elapsedMs: 812.4,
      metadata,
      finishedAt: t + 812,
    },
    { ...ref(2), status: "succeeded", inputs: {}, outputs: { answer: "…" }, elapsedMs: 0.3, finishedAt: t + 815 },
  ];
  const patch: RunPatch = {
    status: "succeeded",
    outputs: { answer: "chunk 0 of the answer, chunk 1 of the answer" },
    error: null,
    totalTokens: 120,
    totalPrice: 0.00024,
    currency: "USD",
    totalSteps: 3,
    exceptionsCount: 0,
    elapsedMs: 815.2,
    finishedAt: t + 815,
  };
  return { events, nodes, patch };
}

async function seedRuns(store: Store, count: number): Promise<string[]> {
  const app = await store.createApp({ name: "bench" });
  const version = await store.createWorkflowVersion({ appId: app.id, dsl: {}, sourceText: "", sourceFormat: "dify-yaml" });
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = `run-${i}`;
    await store.createRun({
      id,
      taskId: `task-${i}`,
      appId: app.id,
      workflowId: version.id,
      inputs: { text: "hello" },
      responseMode: "streaming",
      triggeredFrom: "app-run",
      owner: "bench",
      createdAt: Date.now(),
    });
    ids.push(id);
  }
  return ids;
}

async function measureStore(dir: string): Promise<number> {
  const store = await createSqliteStore({ file: join(dir, "store.db"), secretKey: randomBytes(32) });
  const ids = await seedRuns(store, batches);
  const work = ids.map((id, i) => ({ id, ...burst(id, 1_700_000_000_000 + i) }));
  const start = process.hrtime.bigint();
  for (const w of work) await store.writeRunBatch({ runId: w.id, events: w.events, nodeExecutions: w.nodes, runPatch: w.patch });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await store.close();
  return seconds;
}

async function measureRaw(dir: string): Promise<number> {
  // Same schema as the store (created by its migrations), then written around it.
  const file = join(dir, "raw.db");
  const store = await createSqliteStore({ file, secretKey: randomBytes(32) });
  const ids = await seedRuns(store, batches);
  await store.close();
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("busy_timeout = 5000");
  db.pragma("foreign_keys = ON");
  const insertEvent = db.prepare("insert into run_events (run_id, seq, type, payload, created_at) values (?, ?, ?, ?, ?)");
  const upsertNode = db.prepare(
    `insert into node_executions (run_id, id, node_id, node_type, title, execution_index, predecessor_node_id,
       iteration_id, iteration_index, loop_id, loop_index, status, inputs, process_data, outputs, error, error_type,
       retry_count, elapsed_ms, metadata, created_at, finished_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     on conflict (run_id, id) do update set status = excluded.status, inputs = excluded.inputs,
       process_data = excluded.process_data, outputs = excluded.outputs, error = excluded.error,
       error_type = excluded.error_type, retry_count = excluded.retry_count, elapsed_ms = excluded.elapsed_ms,
       metadata = excluded.metadata, finished_at = excluded.finished_at`,
  );
  const updateRun = db.prepare(
    `update runs set status = ?, outputs = ?, error = ?, total_tokens = ?, total_price = ?, currency = ?,
       total_steps = ?, exceptions_count = ?, elapsed_ms = ?, finished_at = ? where id = ?`,
  );
  const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));
  const write = db.transaction((w: { id: string } & ReturnType<typeof burst>) => {
    for (const e of w.events) insertEvent.run(w.id, e.seq, e.type, JSON.stringify(e.payload), e.createdAt);
    for (const n of w.nodes) {
      upsertNode.run(
        w.id,
        n.id,
        n.nodeId,
        n.nodeType,
        n.title,
        n.index,
        n.predecessorNodeId ?? null,
        n.iterationId ?? null,
        n.iterationIndex ?? null,
        n.loopId ?? null,
        n.loopIndex ?? null,
        n.status,
        json(n.inputs),
        json(n.processData),
        json(n.outputs),
        n.error ?? null,
        n.errorType ?? null,
        n.retryCount ?? 0,
        n.elapsedMs ?? null,
        json(n.metadata),
        n.createdAt,
        n.finishedAt ?? null,
      );
    }
    const p = w.patch;
    updateRun.run(
      p.status,
      json(p.outputs),
      p.error ?? null,
      p.totalTokens,
      p.totalPrice,
      p.currency,
      p.totalSteps,
      p.exceptionsCount,
      p.elapsedMs,
      p.finishedAt,
      w.id,
    );
  });
  const work = ids.map((id, i) => ({ id, ...burst(id, 1_700_000_000_000 + i) }));
  const start = process.hrtime.bigint();
  for (const w of work) write.immediate(w);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  db.close();
  return seconds;
}

function report(label: string, seconds: number): void {
  const perBatchUs = (seconds / batches) * 1e6;
  console.log(
    `${label.padEnd(34)} ${String(Math.round(batches / seconds)).padStart(7)} batches/s  ` +
      `${String(Math.round((batches * ROWS_PER_BATCH) / seconds)).padStart(8)} rows/s  ${perBatchUs.toFixed(0).padStart(6)} µs/batch`,
  );
}

const dir = mkdtempSync(join(baseDir, "tributary-measure-"));
try {
  console.log(`${batches} batches of ${ROWS_PER_BATCH} rows (8 events + 2 node executions + run finish), dir ${dir}`);
  // Alternate and repeat so neither side benefits from running second on a warm page cache.
  for (let round = 1; round <= 2; round++) {
    report(`round ${round} raw better-sqlite3`, await measureRaw(dir));
    report(`round ${round} store.writeRunBatch (Kysely)`, await measureStore(dir));
    rmSync(join(dir, "raw.db"), { force: true });
    rmSync(join(dir, "store.db"), { force: true });
    for (const suffix of ["-wal", "-shm"]) {
      rmSync(join(dir, `raw.db${suffix}`), { force: true });
      rmSync(join(dir, `store.db${suffix}`), { force: true });
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
