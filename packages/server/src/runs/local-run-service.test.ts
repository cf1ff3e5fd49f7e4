import { InputValidationError } from "@tributary/engine";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Harness, harnesses } from "../store/store-test-harness.js";
import type { AppRow, Store, WorkflowVersionRow } from "../store/types.js";
import { STORE_FAILURE_CODE } from "./active-run.js";
import { IdempotencyConflictError, RunServiceClosedError, TooManyRunsError } from "./errors.js";
import {
  createLocalRunService,
  type LocalRunService,
  type LocalRunServiceOptions,
  SHUTDOWN_STOP_MESSAGE,
} from "./local-run-service.js";
import { ORPHAN_MESSAGE, recoverOrphans } from "./recover-orphans.js";
import type { RunServiceLogger } from "./run-logger.js";
import {
  dsl,
  edge,
  endNode,
  type InstrumentedStore,
  instrumentStore,
  node,
  seedApp,
  sleepyWorkflow,
  startNode,
  testCapabilities,
  testRegistry,
  typicalWorkflow,
} from "./run-test-kit.js";
import type { SequencedEvent, StartRunRequest } from "./types.js";

const quietLogger = (): RunServiceLogger & { lines: string[] } => {
  const lines: string[] = [];
  return { lines, warn: (_d, m) => lines.push(`warn: ${m}`), error: (_d, m) => lines.push(`error: ${m}`) };
};

async function collect(events: AsyncIterable<SequencedEvent>): Promise<SequencedEvent[]> {
  const out: SequencedEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

describe.each(harnesses().map((h) => [h.name, h] as [string, Harness]))("local run service on %s", (_name, harness) => {
  let real: Store;
  let store: InstrumentedStore;
  let service: LocalRunService | undefined;
  let logger: ReturnType<typeof quietLogger>;

  beforeAll(() => harness.setup());
  afterAll(() => harness.teardown());
  beforeEach(async () => {
    real = await (await harness.fresh()).open();
    store = instrumentStore(real);
    logger = quietLogger();
  });
  afterEach(async () => {
    await service?.shutdown({ graceMs: 0 });
    service = undefined;
    await real.close();
  });

  function makeService(options: Partial<LocalRunServiceOptions> = {}): LocalRunService {
    service = createLocalRunService({
      store,
      capabilities: testCapabilities(),
      owner: "test-process",
      registry: testRegistry,
      logger,
      ...options,
      tuning: { writeRetryDelayMs: 10, ...options.tuning },
    });
    return service;
  }

  const request = (
    app: AppRow,
    version: WorkflowVersionRow,
    inputs: Record<string, unknown> = {},
    extra: Partial<StartRunRequest> = {},
  ): StartRunRequest => ({
    app,
    version,
    inputs,
    user: "user-1",
    responseMode: "blocking",
    triggeredFrom: "app-run",
    ...extra,
  });

  it("runs a workflow and stores its events in order, with seq and complete node executions", async () => {
    const svc = makeService();
    const { app, version } = await seedApp(store, typicalWorkflow());
    const { run, created } = await svc.start(request(app, version, { items: { list: ["a", "b", "c"] } }));
    expect(created).toBe(true);
    expect(run.status).toBe("running");
    expect(run.taskId).not.toBe(run.id);
    expect(run.owner).toBe("test-process");
    expect(run.inputs).toMatchObject({
      items: { list: ["a", "b", "c"] },
      "sys.user_id": "user-1",
      "sys.app_id": app.id,
      "sys.workflow_id": version.id,
      "sys.workflow_run_id": run.id,
    });

    const finished = await svc.waitForFinish(run.id);
    expect(finished).toMatchObject({ status: "succeeded", outputs: { out: ["a", "b", "c"] }, error: null });
    expect(finished.finishedAt).not.toBeNull();
    expect(finished.totalSteps).toBeGreaterThan(0);

    const events = await store.listRunEvents(run.id);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events[0]?.type).toBe("workflow_started");
    expect(events.at(-1)?.type).toBe("workflow_finished");
    expect(events.map((e) => (e.payload as { type: string }).type)).toEqual(events.map((e) => e.type));
    const started = events[0]?.payload as { inputs: Record<string, unknown> };
    expect(started.inputs).toMatchObject({ "sys.user_id": "user-1", "sys.app_id": app.id, "sys.workflow_id": version.id });

    const nodes = await store.listNodeExecutions(run.id);
    const startedCount = events.filter((e) => e.type === "node_started").length;
    expect(nodes).toHaveLength(startedCount);
    expect(nodes.length).toBe(finished.totalSteps);
    for (const n of nodes) {
      expect(n.status).toBe("succeeded");
      expect(n.finishedAt).not.toBeNull();
      expect(n.elapsedMs).not.toBeNull();
    }
    const bodies = nodes.filter((n) => n.nodeId === "pick");
    expect(bodies.map((n) => [n.iterationId, n.iterationIndex])).toEqual([
      ["it", 0],
      ["it", 1],
      ["it", 2],
    ]);
    expect(svc.activeRunCount).toBe(0);
  });

  it("batches writes: a run costs far fewer transactions than it has events", async () => {
    const workloads = [
      { label: "core nodes, 5 iteration items", doc: typicalWorkflow(), inputs: { items: { list: ["a", "b", "c", "d", "e"] } } },
      { label: "3 x 5 ms sleeps + 20 chunks", doc: sleepyWorkflow({ sleeps: 3, ms: 5, chunks: 20 }), inputs: {} },
      {
        label: "3 x 30 ms sleeps + 60 chunks 5 ms apart",
        doc: sleepyWorkflow({ sleeps: 3, ms: 30, chunks: 60, gapMs: 5 }),
        inputs: {},
      },
    ];
    for (const windowMs of [50, 0]) {
      const svc = makeService({ tuning: { batchWindowMs: windowMs } });
      for (const w of workloads) {
        const { app, version } = await seedApp(store, w.doc);
        const { run } = await svc.start(request(app, version, w.inputs));
        await svc.waitForFinish(run.id);
        const events = (await store.listRunEvents(run.id)).length;
        const batches = store.batches.filter((x) => x.runId === run.id);
        expect(batches.every((x) => x.ok)).toBe(true);
        expect(batches.reduce((sum, x) => sum + x.events, 0)).toBe(events);
        expect(batches.filter((x) => x.final)).toHaveLength(1);
        expect(batches.at(-1)?.final).toBe(true);
        expect(batches.length).toBeLessThan(events);
        // Core nodes emit a whole run in one burst: one transaction.
        if (w === workloads[0]) expect(batches).toHaveLength(1);
        // Figures for the report.
        console.log(
          `[batching ${harness.name}, window ${windowMs} ms] ${w.label}: ${events} events in ${batches.length} ` +
            `transaction(s), ${(events / batches.length).toFixed(1)} events/transaction`,
        );
      }
      await svc.shutdown();
    }
  });

  it("resolves waitForFinish and sends workflow_finished live only after the final batch is committed", async () => {
    const svc = makeService();
    const { app, version } = await seedApp(store, sleepyWorkflow({ sleeps: 1, ms: 5, chunks: 2 }));
    let finalWriteEndedAt = 0;
    store.beforeWrite = async (batch) => {
      if (batch.runPatch?.status) {
        await new Promise((r) => setTimeout(r, 150));
        finalWriteEndedAt = performance.now();
      }
    };
    const { run } = await svc.start(request(app, version));
    let liveFinishedAt = 0;
    const live = (async () => {
      for await (const e of svc.subscribe(run.id, 0))
        if (e.event.type === "workflow_finished") liveFinishedAt = performance.now();
    })();
    const done = await svc.waitForFinish(run.id);
    const resolvedAt = performance.now();
    await live;
    expect(done.status).toBe("succeeded");
    expect(finalWriteEndedAt).toBeGreaterThan(0);
    expect(resolvedAt).toBeGreaterThanOrEqual(finalWriteEndedAt);
    expect(liveFinishedAt).toBeGreaterThanOrEqual(finalWriteEndedAt);
    const final = store.batches.find((b) => b.runId === run.id && b.final);
    expect(final?.ok).toBe(true);
    expect(resolvedAt).toBeGreaterThanOrEqual(final?.committedAt ?? Number.POSITIVE_INFINITY);
  });

  it("stops a run within 1 s, by run id or task id", async () => {
    const svc = makeService();
    const { app, version } = await seedApp(
      store,
      dsl([startNode(), node("wait", "test-sleep", { ms: 30_000 }), endNode({})], [edge("start", "wait"), edge("wait", "end")]),
    );
    for (const by of ["run", "task"] as const) {
      const { run } = await svc.start(request(app, version));
      await new Promise((r) => setTimeout(r, 30));
      const t0 = performance.now();
      expect(await svc.stop(by === "run" ? run.id : run.taskId)).toBe(true);
      const stoppedIn = performance.now() - t0;
      const row = await svc.waitForFinish(run.id);
      expect(stoppedIn).toBeLessThan(1000);
      expect(row).toMatchObject({ status: "stopped", errorCode: "stopped" });
      const nodes = await store.listNodeExecutions(run.id);
      expect(nodes.find((n) => n.nodeId === "wait")?.status).toBe("stopped");
      expect(await svc.stop(run.id)).toBe(false);
    }
    expect(await svc.stop("no-such-run")).toBe(false);
  });

  it("ends a stopped run itself when a node ignores the stop", async () => {
    const svc = makeService({ tuning: { stopGraceMs: 300 } });
    const { app, version } = await seedApp(
      store,
      dsl([startNode(), node("stuck", "test-hang"), endNode({})], [edge("start", "stuck"), edge("stuck", "end")]),
    );
    const { run } = await svc.start(request(app, version));
    const events = collect(svc.subscribe(run.id));
    await new Promise((r) => setTimeout(r, 20));
    const t0 = performance.now();
    expect(await svc.stop(run.id)).toBe(true);
    expect(performance.now() - t0).toBeLessThan(1000);
    const row = await svc.waitForFinish(run.id);
    expect(row).toMatchObject({ status: "stopped", error: "The run was stopped." });
    const types = (await events).map((e) => e.event.type);
    expect(types.slice(-2)).toEqual(["node_finished", "workflow_finished"]);
    const nodes = await store.listNodeExecutions(run.id);
    expect(nodes.find((n) => n.nodeId === "stuck")?.status).toBe("stopped");
    expect(logger.lines.some((l) => l.includes("did not end a stopped run in time"))).toBe(true);
  });

  it("enforces the app's concurrency limit and the server-wide one", async () => {
    const svc = makeService({ limits: { maxConcurrentRuns: 2 } });
    const doc = dsl(
      [startNode(), node("wait", "test-sleep", { ms: 30_000 }), endNode({})],
      [edge("start", "wait"), edge("wait", "end")],
    );
    const one = await seedApp(store, doc, { maxConcurrency: 1 });
    const first = await svc.start(request(one.app, one.version));
    const refused = svc.start(request(one.app, one.version));
    await expect(refused).rejects.toBeInstanceOf(TooManyRunsError);
    await expect(refused).rejects.toMatchObject({ code: "too_many_requests", status: 429, scope: "app" });

    const other = await seedApp(store, doc);
    await svc.start(request(other.app, other.version));
    await expect(svc.start(request(other.app, other.version))).rejects.toMatchObject({
      code: "too_many_requests",
      scope: "server",
    });

    await svc.stop(first.run.id);
    const again = await svc.start(request(one.app, one.version));
    expect(again.created).toBe(true);
    expect((await store.listRuns({ appId: one.app.id })).total).toBe(2);
  });

  it("applies the default per-app limit to apps without their own, and uses per-app capabilities", async () => {
    const seenApps: string[] = [];
    const svc = makeService({
      limits: { defaultAppConcurrency: 1 },
      capabilitiesFor: (app) => {
        seenApps.push(app.id);
        return testCapabilities();
      },
    });
    const doc = dsl(
      [startNode(), node("wait", "test-sleep", { ms: 30_000 }), endNode({})],
      [edge("start", "wait"), edge("wait", "end")],
    );
    const plain = await seedApp(store, doc);
    const roomy = await seedApp(store, doc, { maxConcurrency: 2 });
    await svc.start(request(plain.app, plain.version));
    await expect(svc.start(request(plain.app, plain.version))).rejects.toMatchObject({ code: "too_many_requests", limit: 1 });
    await svc.start(request(roomy.app, roomy.version));
    await svc.start(request(roomy.app, roomy.version));
    expect(seenApps).toContain(roomy.app.id);
    expect(seenApps).toContain(plain.app.id);
  });

  it("returns the same run for a repeated Idempotency-Key and body, and refuses a different body", async () => {
    const svc = makeService();
    const doc = dsl(
      [startNode(), node("wait", "test-sleep", { ms: 30_000 }), endNode({})],
      [edge("start", "wait"), edge("wait", "end")],
    );
    const { app, version } = await seedApp(store, doc, { maxConcurrency: 1 });
    const idem = { key: "key-1", bodyHash: "hash-a" };
    const first = await svc.start(request(app, version, {}, { idempotency: idem }));
    expect(first.created).toBe(true);
    expect(first.run.idempotencyKey).toBe("key-1");
    // The replay is answered even though the app is at its concurrency limit.
    const replay = await svc.start(request(app, version, {}, { idempotency: idem }));
    expect(replay).toMatchObject({ created: false, run: { id: first.run.id } });
    const conflict = svc.start(request(app, version, { x: 1 }, { idempotency: { key: "key-1", bodyHash: "hash-b" } }));
    await expect(conflict).rejects.toBeInstanceOf(IdempotencyConflictError);
    await expect(conflict).rejects.toMatchObject({ code: "idempotency_conflict", runId: first.run.id });
    await expect(conflict).rejects.toThrow(/Idempotency-Key "key-1" was already used/);
    expect((await store.listRuns({ appId: app.id })).total).toBe(1);
    await svc.stop(first.run.id);
  });

  it("creates one run when the same Idempotency-Key arrives concurrently", async () => {
    const svc = makeService();
    const { app, version } = await seedApp(store, sleepyWorkflow({ sleeps: 1, ms: 1, chunks: 1 }));
    const idem = { key: "same", bodyHash: "h" };
    const results = await Promise.all([1, 2, 3].map(() => svc.start(request(app, version, {}, { idempotency: idem }))));
    expect(new Set(results.map((r) => r.run.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    await svc.waitForFinish(results[0]!.run.id);
    expect((await store.listRuns({ appId: app.id })).total).toBe(1);
  });

  it("rejects invalid inputs before any run row exists", async () => {
    const svc = makeService();
    const doc = dsl(
      [startNode([{ variable: "age", type: "number", required: true }]), endNode({ age: ["start", "age"] })],
      [edge("start", "end")],
    );
    const { app, version } = await seedApp(store, doc);
    await expect(svc.start(request(app, version, {}))).rejects.toBeInstanceOf(InputValidationError);
    await expect(svc.start(request(app, version, { age: "abc" }))).rejects.toThrow("age in input form must be a valid number");
    expect((await store.listRuns({ appId: app.id })).total).toBe(0);
    expect(svc.activeRunCount).toBe(0);
    const ok = await svc.start(request(app, version, { age: "42" }));
    expect((await svc.waitForFinish(ok.run.id)).outputs).toEqual({ age: 42 });
  });

  it("shuts down: finishes what it can within the grace period, stops the rest, leaves nothing running", async () => {
    const svc = makeService();
    const quick = await seedApp(store, sleepyWorkflow({ sleeps: 1, ms: 50, chunks: 1 }));
    const slow = await seedApp(
      store,
      dsl([startNode(), node("wait", "test-sleep", { ms: 30_000 }), endNode({})], [edge("start", "wait"), edge("wait", "end")]),
    );
    const a = await svc.start(request(quick.app, quick.version));
    const b = await svc.start(request(slow.app, slow.version));
    const c = await svc.start(request(slow.app, slow.version));
    const t0 = performance.now();
    await svc.shutdown({ graceMs: 300 });
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(svc.activeRunCount).toBe(0);
    expect((await store.getRun(a.run.id))?.status).toBe("succeeded");
    for (const r of [b.run, c.run]) {
      expect(await store.getRun(r.id)).toMatchObject({ status: "stopped", error: SHUTDOWN_STOP_MESSAGE });
      expect((await store.listRunEvents(r.id)).at(-1)?.type).toBe("workflow_finished");
    }
    expect(await store.countRunningRuns(quick.app.id)).toBe(0);
    expect(await store.countRunningRuns(slow.app.id)).toBe(0);
    await expect(svc.start(request(quick.app, quick.version))).rejects.toBeInstanceOf(RunServiceClosedError);
  });

  it("recovers orphans: runs left running by a dead process are failed at start", async () => {
    const { app, version } = await seedApp(store, typicalWorkflow());
    const orphan = await store.createRun({
      id: "orphan-run",
      taskId: "orphan-task",
      appId: app.id,
      workflowId: version.id,
      inputs: {},
      responseMode: "streaming",
      triggeredFrom: "app-run",
      owner: "dead-process",
      createdAt: Date.now() - 1000,
    });
    await store.writeRunBatch({
      runId: orphan.id,
      events: [],
      nodeExecutions: [
        { id: "ne-1", nodeId: "start", nodeType: "start", title: "start", index: 1, status: "running", createdAt: Date.now() },
      ],
    });
    expect(await recoverOrphans(store)).toBe(1);
    expect(await store.getRun(orphan.id)).toMatchObject({ status: "failed", error: ORPHAN_MESSAGE });
    expect((await store.listNodeExecutions(orphan.id))[0]?.status).toBe("failed");
    expect(await recoverOrphans(store)).toBe(0);
  });

  it("retries a failed batch write once and loses nothing", async () => {
    const svc = makeService();
    const { app, version } = await seedApp(store, sleepyWorkflow({ sleeps: 2, ms: 5, chunks: 3 }));
    let failures = 0;
    store.beforeWrite = () => {
      if (failures === 0) {
        failures++;
        throw new Error("disk hiccup");
      }
    };
    const { run } = await svc.start(request(app, version));
    const row = await svc.waitForFinish(run.id);
    expect(failures).toBe(1);
    expect(row.status).toBe("succeeded");
    const events = await store.listRunEvents(run.id);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)?.type).toBe("workflow_finished");
  });

  it("fails the run in the store with a clear error when writes keep failing", async () => {
    const svc = makeService();
    const { app, version } = await seedApp(store, sleepyWorkflow({ sleeps: 3, ms: 10, chunks: 3 }));
    // Every batch carrying events from seq 3 on is refused; a bare run patch still goes through.
    store.beforeWrite = (batch) => {
      if (batch.events.some((e) => e.seq >= 3)) throw new Error("database is full");
    };
    const { run } = await svc.start(request(app, version));
    const live = collect(svc.subscribe(run.id));
    const row = await svc.waitForFinish(run.id);
    expect(row.status).toBe("failed");
    expect(row.errorCode).toBe(STORE_FAILURE_CODE);
    expect(row.error).toMatch(/saving its progress to the database failed: .*database is full/);
    expect(row.finishedAt).not.toBeNull();
    const liveEvents = await live;
    expect(liveEvents.at(-1)?.event).toMatchObject({ type: "workflow_finished", status: "failed" });
    const nodes = await store.listNodeExecutions(run.id);
    expect(nodes.every((n) => n.status !== "running")).toBe(true);
    expect(logger.lines.some((l) => l.startsWith("error: saving a run's events failed twice"))).toBe(true);
    expect(svc.activeRunCount).toBe(0);
  });

  it("waits for a run finished elsewhere and reports unknown runs", async () => {
    const svc = makeService();
    await expect(svc.waitForFinish("nope")).rejects.toMatchObject({ code: "not_found" });
    const { app, version } = await seedApp(store, sleepyWorkflow({ sleeps: 1, ms: 1, chunks: 1 }));
    const { run } = await svc.start(request(app, version));
    await svc.waitForFinish(run.id);
    expect((await svc.waitForFinish(run.id)).status).toBe("succeeded");
    const aborted = new AbortController();
    const slow = await seedApp(
      store,
      dsl([startNode(), node("wait", "test-sleep", { ms: 30_000 }), endNode({})], [edge("start", "wait"), edge("wait", "end")]),
    );
    const long = await svc.start(request(slow.app, slow.version));
    const waiting = svc.waitForFinish(long.run.id, aborted.signal);
    aborted.abort(new Error("client went away"));
    await expect(waiting).rejects.toThrow("client went away");
    expect((await store.getRun(long.run.id))?.status).toBe("running");
  });
});
