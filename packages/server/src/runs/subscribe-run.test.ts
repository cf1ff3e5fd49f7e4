import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Harness, harnesses } from "../store/store-test-harness.js";
import type { AppRow, Store, WorkflowVersionRow } from "../store/types.js";
import { RunNotFoundError } from "./errors.js";
import { createLocalRunService, type LocalRunService, type LocalRunServiceTuning } from "./local-run-service.js";
import type { RunServiceLogger } from "./run-logger.js";
import { instrumentStore, seedApp, sleepyWorkflow, testCapabilities, testRegistry } from "./run-test-kit.js";
import type { SequencedEvent, StartRunRequest } from "./types.js";

const silent: RunServiceLogger = { warn: () => {}, error: () => {} };

async function collect(events: AsyncIterable<SequencedEvent>, perEventDelayMs = 0): Promise<SequencedEvent[]> {
  const out: SequencedEvent[] = [];
  for await (const e of events) {
    out.push(e);
    if (perEventDelayMs > 0) await new Promise((r) => setTimeout(r, perEventDelayMs));
  }
  return out;
}

const seqs = (events: SequencedEvent[]) => events.map((e) => e.seq);
const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
/** The live event as the store would give it back. */
const asStored = (e: SequencedEvent) => JSON.parse(JSON.stringify(e.event)) as unknown;

describe.each(harnesses().map((h) => [h.name, h] as [string, Harness]))("subscribe on %s", (_name, harness) => {
  let store: Store;
  let service: LocalRunService | undefined;
  let app: AppRow;
  let version: WorkflowVersionRow;

  beforeAll(() => harness.setup());
  afterAll(() => harness.teardown());
  beforeEach(async () => {
    store = await (await harness.fresh()).open();
    // About 60 events over ~250 ms: chunks 3 ms apart, like tokens from a provider.
    ({ app, version } = await seedApp(store, sleepyWorkflow({ sleeps: 3, ms: 20, chunks: 50, gapMs: 3 })));
  });
  afterEach(async () => {
    await service?.shutdown({ graceMs: 0 });
    service = undefined;
    await store.close();
  });

  function makeService(tuning: LocalRunServiceTuning = {}): LocalRunService {
    service = createLocalRunService({
      store,
      capabilities: testCapabilities(),
      owner: "test",
      registry: testRegistry,
      logger: silent,
      tuning,
    });
    return service;
  }

  const request = (): StartRunRequest => ({
    app,
    version,
    inputs: {},
    user: "u",
    responseMode: "streaming",
    triggeredFrom: "app-run",
  });

  async function expectMatchesStore(runId: string, got: SequencedEvent[], afterSeq = 0) {
    const stored = await store.listRunEvents(runId, { afterSeq });
    expect(seqs(got)).toEqual(stored.map((e) => e.seq));
    expect(got.map(asStored)).toEqual(stored.map((e) => e.payload));
    // Empty only when the subscriber started after the last event (the run ended as it attached).
    if (afterSeq === 0 || stored.length > 0) expect(got.at(-1)?.event.type).toBe("workflow_finished");
  }

  it("streams a run from the start, ending after workflow_finished", async () => {
    const svc = makeService();
    const { run } = await svc.start(request());
    const got = await collect(svc.subscribe(run.id, 0));
    expect(got[0]?.event.type).toBe("workflow_started");
    expect(seqs(got)).toEqual(range(1, got.length));
    expect(got.filter((e) => e.event.type === "text_chunk")).toHaveLength(50);
    await expectMatchesStore(run.id, got);
  });

  it("resumes from the middle, during the run and after it", async () => {
    const svc = makeService();
    const { run } = await svc.start(request());
    const first: SequencedEvent[] = [];
    for await (const e of svc.subscribe(run.id)) {
      first.push(e);
      if (first.length === 10) break;
    }
    const rest = await collect(svc.subscribe(run.id, 10));
    expect(rest[0]?.seq).toBe(11);
    await expectMatchesStore(run.id, rest, 10);
    await svc.waitForFinish(run.id);
    const afterEnd = await collect(svc.subscribe(run.id, 25));
    await expectMatchesStore(run.id, afterEnd, 25);
  });

  it("yields a finished run's stored events and ends", async () => {
    const svc = makeService();
    const { run } = await svc.start(request());
    await svc.waitForFinish(run.id);
    const all = await collect(svc.subscribe(run.id));
    await expectMatchesStore(run.id, all);
    const last = all.at(-1)?.seq ?? 0;
    expect(await collect(svc.subscribe(run.id, last))).toEqual([]);
    expect(seqs(await collect(svc.subscribe(run.id, last - 1)))).toEqual([last]);
  });

  it("gives concurrent subscribers the same complete stream", async () => {
    const svc = makeService();
    const { run } = await svc.start(request());
    const all = await Promise.all(range(1, 8).map(() => collect(svc.subscribe(run.id))));
    for (const got of all) await expectMatchesStore(run.id, got);
  });

  for (const batchWindowMs of [0, 20, 200]) {
    it(`attaches mid-run without gap or duplicate (batch window ${batchWindowMs} ms)`, async () => {
      const svc = makeService({ batchWindowMs });
      const { run } = await svc.start(request());
      const subscribers: Array<{ afterSeq: number; events: Promise<SequencedEvent[]> }> = [];
      let sawUnstored = false;
      // Attach every few ms while the run goes on, from the start and from what is stored at that moment.
      for (let i = 0; i < 40 && svc.activeRunCount > 0; i++) {
        const stored = await store.listRunEvents(run.id);
        const afterSeq = stored.at(-1)?.seq ?? 0;
        subscribers.push({ afterSeq: 0, events: collect(svc.subscribe(run.id, 0)) });
        subscribers.push({ afterSeq, events: collect(svc.subscribe(run.id, afterSeq)) });
        subscribers.push({
          afterSeq: Math.floor(afterSeq / 2),
          events: collect(svc.subscribe(run.id, Math.floor(afterSeq / 2))),
        });
        await new Promise((r) => setTimeout(r, 5));
        if ((await store.listRunEvents(run.id)).length < afterSeq + 2 && svc.activeRunCount > 0) sawUnstored = true;
      }
      expect(subscribers.length).toBeGreaterThan(9);
      for (const s of subscribers) await expectMatchesStore(run.id, await s.events, s.afterSeq);
      if (batchWindowMs === 200) expect(sawUnstored).toBe(true);
    });
  }

  it("does not let a slow subscriber hold up the run or other subscribers", async () => {
    const counted = instrumentStore(store);
    service = createLocalRunService({
      store: counted,
      capabilities: testCapabilities(),
      owner: "test",
      registry: testRegistry,
      logger: silent,
      tuning: { subscriberBuffer: 5 },
    });
    const svc = service;
    const { run } = await svc.start(request());
    let fastDoneAt = 0;
    const fast = collect(svc.subscribe(run.id)).then((events) => {
      fastDoneAt = performance.now();
      return events;
    });
    const slow = collect(svc.subscribe(run.id), 8);
    const finished = await svc.waitForFinish(run.id);
    const finishedAt = performance.now();
    expect(finished.status).toBe("succeeded");
    const fastEvents = await fast;
    const slowEvents = await slow;
    const slowDoneAt = performance.now();
    // ~60 events x 8 ms: the slow reader ends long after the run did; the run and the fast reader did not wait for it.
    expect(slowDoneAt - finishedAt).toBeGreaterThan(200);
    expect(fastDoneAt).toBeLessThanOrEqual(finishedAt + 50);
    await expectMatchesStore(run.id, fastEvents);
    await expectMatchesStore(run.id, slowEvents);
    // Subscribers attached at the start read nothing from the store unless cut off: the slow one was.
    expect(counted.reads.listRunEvents).toBeGreaterThan(0);
  });

  it("ends when the caller aborts, and rejects unknown runs", async () => {
    const svc = makeService();
    await expect(collect(svc.subscribe("no-such-run"))).rejects.toBeInstanceOf(RunNotFoundError);
    const { run } = await svc.start(request());
    const controller = new AbortController();
    const got: SequencedEvent[] = [];
    const reading = (async () => {
      for await (const e of svc.subscribe(run.id, 0, controller.signal)) got.push(e);
    })();
    await new Promise((r) => setTimeout(r, 40));
    controller.abort();
    await reading;
    expect(got.length).toBeGreaterThan(0);
    expect(got.at(-1)?.event.type).not.toBe("workflow_finished");
    await svc.waitForFinish(run.id);
  });

  it("follows a run executing in another process through the store", async () => {
    // Two services on one database: the second does not execute the run, so it reads and polls the store.
    const runner = makeService();
    const watcher = createLocalRunService({
      store,
      capabilities: testCapabilities(),
      owner: "watcher",
      registry: testRegistry,
      logger: silent,
      tuning: { storePollMs: 20 },
    });
    const { run } = await runner.start(request());
    await new Promise((r) => setTimeout(r, 30));
    const got = await collect(watcher.subscribe(run.id, 0));
    await expectMatchesStore(run.id, got);
    expect((await watcher.waitForFinish(run.id)).status).toBe("succeeded");
    await watcher.shutdown();
  });
});
