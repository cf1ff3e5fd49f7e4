/**
 * One contract, every implementation: each case runs against SQLite (temp file) and PostgreSQL
 * (a throwaway `tributary_test_<random>` database). Set TRIBUTARY_TEST_PG_URL=skip to run only
 * SQLite on a machine without PostgreSQL.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { apiKeyDisplayPrefix, generateAppApiKey, hashApiKey } from "./api-key-hash.js";
import { CredentialDecryptError } from "./credentials-cipher.js";
import { type Harness, harnesses, type TestDatabase, testKey } from "./store-test-harness.js";
import type { AppRow, NewRun, NodeExecutionUpsert, RunStatus, Store, WorkflowVersionRow } from "./types.js";

const T0 = 1_700_000_000_000;

describe.each(harnesses().map((h) => [h.name, h] as [string, Harness]))("Store contract: %s", (_name, harness) => {
  let db: TestDatabase;
  let store: Store;
  let clock: number;
  const now = () => clock;

  beforeAll(() => harness.setup());
  afterAll(() => harness.teardown());

  beforeEach(async () => {
    clock = T0;
    db = await harness.fresh();
    store = await db.open({ now });
  });
  afterEach(() => store.close());

  async function seedApp(name = "App"): Promise<{ app: AppRow; version: WorkflowVersionRow }> {
    const app = await store.createApp({ name });
    const version = await store.createWorkflowVersion({
      appId: app.id,
      dsl: { app: { name }, workflow: { graph: { nodes: [], edges: [] } } },
      sourceText: `app:\n  name: ${name}\n`,
      sourceFormat: "dify-yaml",
    });
    return { app: (await store.getApp(app.id))!, version };
  }

  let runCounter = 0;
  function runInput(appId: string, workflowId: string, extra: Partial<NewRun> = {}): NewRun {
    runCounter += 1;
    return {
      id: `run-${runCounter}-${Math.random().toString(36).slice(2, 8)}`,
      taskId: `task-${runCounter}-${Math.random().toString(36).slice(2, 8)}`,
      appId,
      workflowId,
      inputs: { query: "hello" },
      responseMode: "blocking",
      triggeredFrom: "app-run",
      createdAt: clock,
      ...extra,
    };
  }

  function nodeExec(id: string, index: number, extra: Partial<NodeExecutionUpsert> = {}): NodeExecutionUpsert {
    return {
      id,
      nodeId: `node-${index}`,
      nodeType: "llm",
      title: `Node ${index}`,
      index,
      status: "running",
      createdAt: T0 + index,
      ...extra,
    };
  }

  // ------------------------------------------------------------------------------------------
  describe("apps", () => {
    it("creates with defaults and reads back", async () => {
      const app = await store.createApp({ name: "Summariser" });
      expect(app).toMatchObject({
        name: "Summariser",
        description: "",
        tags: [],
        icon: null,
        images: [],
        enabled: true,
        maxConcurrency: null,
        currentVersionId: null,
        createdAt: T0,
        updatedAt: T0,
        deletedAt: null,
      });
      expect(await store.getApp(app.id)).toEqual(app);
      expect(await store.getApp("nope")).toBeUndefined();
    });

    it("keeps every field, including JSON ones and a caller id", async () => {
      const app = await store.createApp({
        id: "app-fixed",
        name: "Full",
        description: "desc ✓",
        tags: ["a", "b"],
        icon: { type: "emoji", value: "🤖", background: "#FFEAD5" },
        images: ["https://x/y.png"],
        enabled: false,
        maxConcurrency: 3,
      });
      expect(app.id).toBe("app-fixed");
      expect(await store.getApp("app-fixed")).toEqual(app);
      await expect(store.createApp({ id: "app-fixed", name: "dup" })).rejects.toThrow();
    });

    it("lists newest first with paging, totals and case-insensitive name search", async () => {
      for (let i = 1; i <= 5; i++) {
        clock = T0 + i;
        await store.createApp({ name: i % 2 ? `Alpha ${i}` : `beta ${i}` });
      }
      clock = T0 + 6;
      await store.createApp({ name: "100% done_x" });
      const first = await store.listApps({ page: 1, limit: 2 });
      expect(first.items.map((a) => a.name)).toEqual(["100% done_x", "Alpha 5"]);
      expect(first).toMatchObject({ total: 6, page: 1, limit: 2, hasMore: true });
      const last = await store.listApps({ page: 3, limit: 2 });
      expect(last.items.map((a) => a.name)).toEqual(["beta 2", "Alpha 1"]);
      expect(last.hasMore).toBe(false);
      const alpha = await store.listApps({ search: "ALPHA" });
      expect(alpha.items.map((a) => a.name)).toEqual(["Alpha 5", "Alpha 3", "Alpha 1"]);
      expect(alpha.total).toBe(3);
      // LIKE wildcards in the search text are literal characters.
      expect((await store.listApps({ search: "%" })).items.map((a) => a.name)).toEqual(["100% done_x"]);
      expect((await store.listApps({ search: "e_" })).total).toBe(1);
      expect((await store.listApps({ page: 99 })).items).toEqual([]);
    });

    it("updates only the given fields", async () => {
      const app = await store.createApp({ name: "Old", description: "keep", tags: ["t"] });
      clock = T0 + 1000;
      const updated = await store.updateApp(app.id, {
        name: "New",
        icon: { type: "link", value: "https://i", background: null },
        maxConcurrency: 5,
        enabled: false,
      });
      expect(updated).toMatchObject({
        name: "New",
        description: "keep",
        tags: ["t"],
        icon: { type: "link", value: "https://i", background: null },
        maxConcurrency: 5,
        enabled: false,
        createdAt: T0,
        updatedAt: T0 + 1000,
      });
      expect(await store.getApp(app.id)).toEqual(updated);
      const cleared = await store.updateApp(app.id, { icon: null, maxConcurrency: null, tags: [] });
      expect(cleared).toMatchObject({ icon: null, maxConcurrency: null, tags: [], name: "New" });
      expect(await store.updateApp("missing", { name: "x" })).toBeUndefined();
    });

    it("soft-deletes: hidden by default, visible on request, not updatable", async () => {
      const app = await store.createApp({ name: "Gone" });
      await store.createApp({ name: "Stays" });
      clock = T0 + 5;
      expect(await store.deleteApp(app.id)).toBe(true);
      expect(await store.deleteApp(app.id)).toBe(false);
      expect(await store.deleteApp("missing")).toBe(false);
      expect(await store.getApp(app.id)).toBeUndefined();
      expect(await store.getApp(app.id, { includeDeleted: true })).toMatchObject({ deletedAt: T0 + 5 });
      expect((await store.listApps()).items.map((a) => a.name)).toEqual(["Stays"]);
      expect((await store.listApps({ includeDeleted: true })).total).toBe(2);
      expect(await store.updateApp(app.id, { name: "back" })).toBeUndefined();
    });
  });

  // ------------------------------------------------------------------------------------------
  describe("workflow versions", () => {
    it("numbers versions per app and makes the newest current", async () => {
      const app = await store.createApp({ name: "A" });
      const other = await store.createApp({ name: "B" });
      const v1 = await store.createWorkflowVersion({
        appId: app.id,
        dsl: { n: 1 },
        sourceText: "n: 1",
        sourceFormat: "dify-yaml",
      });
      clock = T0 + 1;
      const v2 = await store.createWorkflowVersion({
        id: "wf-fixed",
        appId: app.id,
        dsl: { n: 2, nested: { list: [1, "two", null] } },
        sourceText: '{"n":2}',
        sourceFormat: "dify-json",
      });
      const o1 = await store.createWorkflowVersion({ appId: other.id, dsl: {}, sourceText: "", sourceFormat: "dify-yaml" });
      expect([v1.version, v2.version, o1.version]).toEqual([1, 2, 1]);
      expect(v2.id).toBe("wf-fixed");
      expect((await store.getApp(app.id))?.currentVersionId).toBe("wf-fixed");
      expect(await store.getWorkflowVersion("wf-fixed")).toEqual({
        id: "wf-fixed",
        appId: app.id,
        version: 2,
        dsl: { n: 2, nested: { list: [1, "two", null] } },
        sourceText: '{"n":2}',
        sourceFormat: "dify-json",
        createdAt: T0 + 1,
      });
      expect((await store.listWorkflowVersions(app.id)).map((v) => v.version)).toEqual([2, 1]);
      expect(await store.getWorkflowVersion("nope")).toBeUndefined();
      expect(await store.listWorkflowVersions("nope")).toEqual([]);
    });

    it("refuses a version for a missing or deleted app and writes nothing", async () => {
      await expect(
        store.createWorkflowVersion({ id: "orphan", appId: "missing", dsl: {}, sourceText: "", sourceFormat: "x" }),
      ).rejects.toThrow(/no such app/);
      const app = await store.createApp({ name: "A" });
      await store.deleteApp(app.id);
      await expect(
        store.createWorkflowVersion({ id: "orphan2", appId: app.id, dsl: {}, sourceText: "", sourceFormat: "x" }),
      ).rejects.toThrow(/no such app/);
      expect(await store.getWorkflowVersion("orphan")).toBeUndefined();
      expect(await store.getWorkflowVersion("orphan2")).toBeUndefined();
    });

    it("assigns distinct numbers to concurrent publishes", async () => {
      const app = await store.createApp({ name: "A" });
      const versions = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          store.createWorkflowVersion({ appId: app.id, dsl: { i }, sourceText: String(i), sourceFormat: "x" }),
        ),
      );
      expect(versions.map((v) => v.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
      const current = (await store.getApp(app.id))?.currentVersionId;
      expect(versions.find((v) => v.version === 6)?.id).toBe(current);
    });
  });

  // ------------------------------------------------------------------------------------------
  describe("app API keys", () => {
    it("creates, finds by hash with its app, lists, touches and deletes", async () => {
      const { app } = await seedApp();
      const generated = generateAppApiKey();
      expect(generated.token).toMatch(/^app-[A-Za-z0-9]{24}$/);
      expect(generated.keyHash).toBe(hashApiKey(generated.token));
      expect(generated.prefix).toBe(apiKeyDisplayPrefix(generated.token));

      const key = await store.createApiKey({ appId: app.id, keyHash: generated.keyHash, prefix: generated.prefix, name: "ci" });
      clock = T0 + 1;
      const key2 = await store.createApiKey({ appId: app.id, keyHash: hashApiKey("app-other"), prefix: "app-othe" });
      expect(key).toMatchObject({ appId: app.id, name: "ci", lastUsedAt: null, createdAt: T0 });
      expect(key2.name).toBeNull();

      const found = await store.findApiKeyByHash(hashApiKey(generated.token));
      expect(found?.key).toEqual(key);
      expect(found?.app).toEqual(app);
      expect(await store.findApiKeyByHash(hashApiKey("app-unknown"))).toBeUndefined();
      expect((await store.listApiKeys(app.id)).map((k) => k.id)).toEqual([key.id, key2.id]);

      await store.touchApiKey(key.id, T0 + 50);
      await store.touchApiKey(key.id, T0 + 20); // late, out-of-order request
      expect((await store.findApiKeyByHash(key.keyHash))?.key.lastUsedAt).toBe(T0 + 50);

      expect(await store.deleteApiKey("another-app", key.id)).toBe(false);
      expect(await store.deleteApiKey(app.id, key.id)).toBe(true);
      expect(await store.deleteApiKey(app.id, key.id)).toBe(false);
      expect(await store.findApiKeyByHash(key.keyHash)).toBeUndefined();
      expect((await store.listApiKeys(app.id)).map((k) => k.id)).toEqual([key2.id]);
    });

    it("rejects a duplicate hash and hides keys of deleted apps", async () => {
      const { app } = await seedApp();
      await store.createApiKey({ appId: app.id, keyHash: "h1", prefix: "app-" });
      await expect(store.createApiKey({ appId: app.id, keyHash: "h1", prefix: "app-" })).rejects.toThrow();
      await expect(store.createApiKey({ appId: "missing", keyHash: "h2", prefix: "app-" })).rejects.toThrow();
      await store.deleteApp(app.id);
      expect(await store.findApiKeyByHash("h1")).toBeUndefined();
    });
  });

  // ------------------------------------------------------------------------------------------
  describe("end users", () => {
    it("gets or creates one user per (app, session id)", async () => {
      const { app } = await seedApp("A");
      const { app: other } = await seedApp("B");
      const u1 = await store.getOrCreateEndUser({ appId: app.id, sessionId: "alice" });
      expect(u1).toMatchObject({ appId: app.id, sessionId: "alice", type: "service_api", isAnonymous: false, createdAt: T0 });
      expect(await store.getOrCreateEndUser({ appId: app.id, sessionId: "alice", type: "ignored" })).toEqual(u1);
      const u2 = await store.getOrCreateEndUser({ appId: other.id, sessionId: "alice", isAnonymous: true });
      expect(u2.id).not.toBe(u1.id);
      expect(u2.isAnonymous).toBe(true);
      expect(await store.getEndUser(u1.id)).toEqual(u1);
      expect(await store.getEndUser("nope")).toBeUndefined();
    });

    it("creates a single row under concurrent calls", async () => {
      const { app } = await seedApp();
      const users = await Promise.all(
        Array.from({ length: 8 }, () => store.getOrCreateEndUser({ appId: app.id, sessionId: "bob" })),
      );
      expect(new Set(users.map((u) => u.id)).size).toBe(1);
      const [count] = await db.query("select count(*) as n from end_users");
      expect(Number(count?.["n"])).toBe(1);
    });
  });

  // ------------------------------------------------------------------------------------------
  describe("runs", () => {
    it("creates and reads by id and by task id", async () => {
      const { app, version } = await seedApp();
      const user = await store.getOrCreateEndUser({ appId: app.id, sessionId: "u" });
      const run = await store.createRun(
        runInput(app.id, version.id, {
          endUserId: user.id,
          responseMode: "streaming",
          owner: "proc-1",
          inputs: { a: 1, nested: { b: [true] } },
        }),
      );
      expect(run).toMatchObject({
        status: "running",
        outputs: null,
        error: null,
        errorCode: null,
        endUserId: user.id,
        owner: "proc-1",
        inputs: { a: 1, nested: { b: [true] } },
        responseMode: "streaming",
        triggeredFrom: "app-run",
        idempotencyKey: null,
        totalTokens: 0,
        totalPrice: 0,
        currency: "USD",
        totalSteps: 0,
        exceptionsCount: 0,
        elapsedMs: 0,
        createdAt: T0,
        finishedAt: null,
      });
      expect(await store.getRun(run.id)).toEqual(run);
      expect(await store.getRunByTaskId(run.taskId)).toEqual(run);
      expect(await store.getRun("nope")).toBeUndefined();
      expect(await store.getRunByTaskId("nope")).toBeUndefined();
    });

    it("rejects a duplicate id or task id and an unknown app/workflow", async () => {
      const { app, version } = await seedApp();
      const run = await store.createRun(runInput(app.id, version.id));
      await expect(store.createRun({ ...runInput(app.id, version.id), id: run.id })).rejects.toThrow();
      await expect(store.createRun({ ...runInput(app.id, version.id), taskId: run.taskId })).rejects.toThrow();
      await expect(store.createRun(runInput("missing", version.id))).rejects.toThrow();
      await expect(store.createRun(runInput(app.id, "missing"))).rejects.toThrow();
    });

    it("counts running runs per app", async () => {
      const { app, version } = await seedApp("A");
      const { app: other, version: otherVersion } = await seedApp("B");
      const r1 = await store.createRun(runInput(app.id, version.id));
      await store.createRun(runInput(app.id, version.id));
      await store.createRun(runInput(other.id, otherVersion.id));
      expect(await store.countRunningRuns(app.id)).toBe(2);
      await store.writeRunBatch({ runId: r1.id, events: [], nodeExecutions: [], runPatch: { status: "succeeded" } });
      expect(await store.countRunningRuns(app.id)).toBe(1);
      expect(await store.countRunningRuns("missing")).toBe(0);
    });

    it("finds a run by idempotency key inside the window only", async () => {
      const { app, version } = await seedApp("A");
      const { app: other } = await seedApp("B");
      await store.createRun(
        runInput(app.id, version.id, { idempotencyKey: "k1", idempotencyBodyHash: "old", createdAt: T0 - 10 }),
      );
      const recent = await store.createRun(
        runInput(app.id, version.id, { idempotencyKey: "k1", idempotencyBodyHash: "body", createdAt: T0 }),
      );
      expect(await store.findRunByIdempotencyKey(app.id, "k1", T0 - 100)).toEqual(recent);
      expect((await store.findRunByIdempotencyKey(app.id, "k1", T0 - 100))?.idempotencyBodyHash).toBe("body");
      expect(await store.findRunByIdempotencyKey(app.id, "k1", T0 + 1)).toBeUndefined();
      expect(await store.findRunByIdempotencyKey(other.id, "k1", 0)).toBeUndefined();
      expect(await store.findRunByIdempotencyKey(app.id, "k2", 0)).toBeUndefined();
    });

    it("creates one run for concurrent idempotent requests", async () => {
      const { app, version } = await seedApp();
      const results = await Promise.all(
        Array.from({ length: 6 }, () =>
          store.createRunIdempotent(
            { ...runInput(app.id, version.id), idempotencyKey: "same", idempotencyBodyHash: "h" },
            T0 - 60_000,
          ),
        ),
      );
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.run.id)).size).toBe(1);
      // Outside the window the key may be used again.
      clock = T0 + 120_000;
      const again = await store.createRunIdempotent(
        { ...runInput(app.id, version.id, { createdAt: clock }), idempotencyKey: "same", idempotencyBodyHash: "h" },
        clock - 60_000,
      );
      expect(again.created).toBe(true);
    });
  });

  // ------------------------------------------------------------------------------------------
  describe("run logs (listRuns)", () => {
    async function seedLogs() {
      const { app, version } = await seedApp("A");
      const { app: other, version: otherVersion } = await seedApp("B");
      const v2 = await store.createWorkflowVersion({ appId: app.id, dsl: {}, sourceText: "", sourceFormat: "x" });
      const alice = await store.getOrCreateEndUser({ appId: app.id, sessionId: "alice" });
      const bob = await store.getOrCreateEndUser({ appId: app.id, sessionId: "bob" });
      const specs: Array<{ status: RunStatus; inputs: object; outputs?: object; error?: string; user?: string; wf?: string }> = [
        { status: "succeeded", inputs: { q: "Weather in Paris" }, outputs: { answer: "Sunny" }, user: alice.id },
        { status: "failed", inputs: { q: "x" }, error: "Timeout talking to OpenAI", user: bob.id },
        { status: "succeeded", inputs: { q: "Café ÜBER" }, outputs: { answer: "50% off_now" }, user: alice.id, wf: v2.id },
        { status: "running", inputs: { q: "pending" }, user: bob.id, wf: v2.id },
        { status: "stopped", inputs: { q: "halt" } },
      ];
      const ids: string[] = [];
      for (const [i, s] of specs.entries()) {
        const run = await store.createRun(
          runInput(app.id, s.wf ?? version.id, {
            inputs: s.inputs as Record<string, unknown>,
            endUserId: s.user ?? null,
            createdAt: T0 + i * 1000,
          }),
        );
        ids.push(run.id);
        if (s.status !== "running") {
          await store.writeRunBatch({
            runId: run.id,
            events: [],
            nodeExecutions: [],
            runPatch: {
              status: s.status,
              outputs: (s.outputs ?? {}) as Record<string, unknown>,
              error: s.error ?? null,
              finishedAt: T0 + i * 1000 + 10,
            },
          });
        }
      }
      await store.createRun(runInput(other.id, otherVersion.id, { createdAt: T0 + 99_000 }));
      return { app, ids, alice, v2 };
    }

    it("lists newest first with total, paging and joined end user and version", async () => {
      const { app, ids, alice } = await seedLogs();
      const page1 = await store.listRuns({ appId: app.id, limit: 2 });
      expect(page1.items.map((e) => e.run.id)).toEqual([ids[4], ids[3]]);
      expect(page1).toMatchObject({ total: 5, page: 1, limit: 2, hasMore: true });
      const page3 = await store.listRuns({ appId: app.id, limit: 2, page: 3 });
      expect(page3.items.map((e) => e.run.id)).toEqual([ids[0]]);
      expect(page3.hasMore).toBe(false);
      expect(page3.items[0]?.endUser).toEqual(alice);
      expect(page3.items[0]?.workflowVersion).toBe(1);
      expect(page1.items[0]?.endUser).toBeNull();
      expect(page1.items[1]?.workflowVersion).toBe(2);
      expect((await store.listRuns()).total).toBe(6);
    });

    it("filters by status, keyword, time range and end-user session", async () => {
      const { app, ids } = await seedLogs();
      const idsOf = async (q: Parameters<Store["listRuns"]>[0]) =>
        (await store.listRuns({ appId: app.id, ...q })).items.map((e) => e.run.id);
      expect(await idsOf({ status: "succeeded" })).toEqual([ids[2], ids[0]]);
      expect(await idsOf({ status: ["failed", "stopped"] })).toEqual([ids[4], ids[1]]);
      expect(await idsOf({ status: [] })).toHaveLength(5);
      expect(await idsOf({ keyword: "paris" })).toEqual([ids[0]]); // inputs, case-insensitive
      expect(await idsOf({ keyword: "SUNNY" })).toEqual([ids[0]]); // outputs
      expect(await idsOf({ keyword: "openai" })).toEqual([ids[1]]); // error
      expect(await idsOf({ keyword: "café über" })).toEqual([ids[2]]); // non-ASCII case folding
      expect(await idsOf({ keyword: "50%" })).toEqual([ids[2]]);
      expect(await idsOf({ keyword: "%" })).toEqual([ids[2]]); // wildcard is literal
      expect(await idsOf({ keyword: "50_" })).toEqual([]); // "_" is literal too, so it does not match "50%"
      expect(await idsOf({ keyword: "off_now" })).toEqual([ids[2]]);
      expect(await idsOf({ createdAfter: T0 + 1000, createdBefore: T0 + 3000 })).toEqual([ids[3], ids[2], ids[1]]);
      expect(await idsOf({ createdAfter: T0 + 3500 })).toEqual([ids[4]]);
      expect(await idsOf({ endUserSessionId: "bob" })).toEqual([ids[3], ids[1]]);
      expect(await idsOf({ endUserSessionId: "bob", status: "running" })).toEqual([ids[3]]);
      const combined = await store.listRuns({ appId: app.id, endUserSessionId: "alice", keyword: "e", limit: 1 });
      expect(combined.total).toBe(2);
      expect(combined.hasMore).toBe(true);
    });
  });

  // ------------------------------------------------------------------------------------------
  describe("writeRunBatch, events and node executions", () => {
    it("appends events, upserts node executions and finishes the run in one call", async () => {
      const { app, version } = await seedApp();
      const run = await store.createRun(runInput(app.id, version.id));
      await store.writeRunBatch({
        runId: run.id,
        events: [
          { seq: 1, type: "workflow_started", payload: { type: "workflow_started", inputs: { q: 1 } }, createdAt: T0 },
          { seq: 2, type: "node_started", payload: { n: 1 }, createdAt: T0 + 1 },
        ],
        nodeExecutions: [nodeExec("ne-1", 1)],
      });
      expect(await store.listNodeExecutions(run.id)).toEqual([
        {
          id: "ne-1",
          runId: run.id,
          nodeId: "node-1",
          nodeType: "llm",
          title: "Node 1",
          index: 1,
          predecessorNodeId: null,
          iterationId: null,
          iterationIndex: null,
          loopId: null,
          loopIndex: null,
          status: "running",
          inputs: null,
          processData: null,
          outputs: null,
          error: null,
          errorType: null,
          retryCount: 0,
          elapsedMs: null,
          metadata: null,
          createdAt: T0 + 1,
          finishedAt: null,
        },
      ]);
      const metadata = { totalTokens: 30, promptTokens: 10, completionTokens: 20, totalPrice: 0.0012, currency: "USD" };
      await store.writeRunBatch({
        runId: run.id,
        events: [
          { seq: 3, type: "text_chunk", payload: { text: "hé" }, createdAt: T0 + 2 },
          { seq: 4, type: "node_finished", payload: { n: 1 }, createdAt: T0 + 3 },
          { seq: 5, type: "workflow_finished", payload: { status: "succeeded" }, createdAt: T0 + 4 },
        ],
        nodeExecutions: [
          nodeExec("ne-1", 1, {
            status: "succeeded",
            inputs: { prompt: "p" },
            processData: { model: "m" },
            outputs: { text: "hé" },
            elapsedMs: 12.5,
            metadata,
            finishedAt: T0 + 3,
            createdAt: T0 + 999, // ignored on update: creation time is fixed at first write
          }),
        ],
        runPatch: {
          status: "succeeded",
          outputs: { answer: "hé" },
          totalTokens: 30,
          totalPrice: 0.0012,
          currency: "USD",
          totalSteps: 3,
          exceptionsCount: 0,
          elapsedMs: 4.25,
          finishedAt: T0 + 4,
        },
      });
      const [exec] = await store.listNodeExecutions(run.id);
      expect(exec).toMatchObject({
        status: "succeeded",
        inputs: { prompt: "p" },
        processData: { model: "m" },
        outputs: { text: "hé" },
        elapsedMs: 12.5,
        metadata,
        createdAt: T0 + 1,
        finishedAt: T0 + 3,
      });
      expect(await store.getRun(run.id)).toMatchObject({
        status: "succeeded",
        outputs: { answer: "hé" },
        totalTokens: 30,
        totalPrice: 0.0012,
        totalSteps: 3,
        elapsedMs: 4.25,
        finishedAt: T0 + 4,
        error: null,
      });
      const events = await store.listRunEvents(run.id);
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(events[0]).toEqual({
        runId: run.id,
        seq: 1,
        type: "workflow_started",
        payload: { type: "workflow_started", inputs: { q: 1 } },
        createdAt: T0,
      });
      expect(events[2]?.payload).toEqual({ text: "hé" });
    });

    it("returns events ordered by seq whatever the write order, and resumes after a seq", async () => {
      const { app, version } = await seedApp();
      const run = await store.createRun(runInput(app.id, version.id));
      const other = await store.createRun(runInput(app.id, version.id));
      const ev = (seq: number) => ({ seq, type: "text_chunk", payload: { seq }, createdAt: T0 });
      await store.writeRunBatch({ runId: run.id, events: [ev(10), ev(2), ev(7)], nodeExecutions: [] });
      await store.writeRunBatch({ runId: run.id, events: [ev(1), ev(11)], nodeExecutions: [] });
      await store.writeRunBatch({ runId: other.id, events: [ev(1), ev(3)], nodeExecutions: [] });
      expect((await store.listRunEvents(run.id)).map((e) => e.seq)).toEqual([1, 2, 7, 10, 11]);
      expect((await store.listRunEvents(run.id, { afterSeq: 2 })).map((e) => e.seq)).toEqual([7, 10, 11]);
      expect((await store.listRunEvents(run.id, { afterSeq: 2, limit: 2 })).map((e) => e.seq)).toEqual([7, 10]);
      expect(await store.listRunEvents(run.id, { afterSeq: 11 })).toEqual([]);
      expect((await store.listRunEvents(other.id)).map((e) => e.seq)).toEqual([1, 3]);
      expect(await store.listRunEvents("nope")).toEqual([]);
    });

    it("keeps the last state when one batch carries an execution twice, and orders by index", async () => {
      const { app, version } = await seedApp();
      const run = await store.createRun(runInput(app.id, version.id));
      await store.writeRunBatch({
        runId: run.id,
        events: [],
        nodeExecutions: [
          nodeExec("b", 2),
          nodeExec("a", 1),
          nodeExec("b", 2, { status: "failed", error: "boom", errorType: "NodeError", retryCount: 2 }),
          nodeExec("c", 3, { iterationId: "it-1", iterationIndex: 0, loopId: "l", loopIndex: 4, predecessorNodeId: "node-2" }),
        ],
      });
      const execs = await store.listNodeExecutions(run.id);
      expect(execs.map((e) => e.id)).toEqual(["a", "b", "c"]);
      expect(execs[1]).toMatchObject({ status: "failed", error: "boom", errorType: "NodeError", retryCount: 2 });
      expect(execs[2]).toMatchObject({
        iterationId: "it-1",
        iterationIndex: 0,
        loopId: "l",
        loopIndex: 4,
        predecessorNodeId: "node-2",
      });
    });

    it("writes nothing of a batch that fails (duplicate seq)", async () => {
      const { app, version } = await seedApp();
      const run = await store.createRun(runInput(app.id, version.id));
      await store.writeRunBatch({
        runId: run.id,
        events: [{ seq: 1, type: "workflow_started", payload: {}, createdAt: T0 }],
        nodeExecutions: [nodeExec("ne-1", 1)],
      });
      const failing = store.writeRunBatch({
        runId: run.id,
        events: [
          { seq: 2, type: "node_finished", payload: {}, createdAt: T0 },
          { seq: 1, type: "dup", payload: {}, createdAt: T0 },
        ],
        nodeExecutions: [nodeExec("ne-1", 1, { status: "succeeded" }), nodeExec("ne-2", 2)],
        runPatch: { status: "succeeded", finishedAt: T0 + 1 },
      });
      await expect(failing).rejects.toThrow(/nothing was written/);
      expect((await store.listRunEvents(run.id)).map((e) => e.type)).toEqual(["workflow_started"]);
      expect((await store.listNodeExecutions(run.id)).map((e) => [e.id, e.status])).toEqual([["ne-1", "running"]]);
      expect(await store.getRun(run.id)).toMatchObject({ status: "running", finishedAt: null });
    });

    it("writes nothing when the run patch fails (unknown run) or events name an unknown run", async () => {
      await expect(
        store.writeRunBatch({
          runId: "ghost",
          events: [{ seq: 1, type: "x", payload: {}, createdAt: T0 }],
          nodeExecutions: [nodeExec("n", 1)],
          runPatch: { status: "failed" },
        }),
      ).rejects.toThrow(/ghost/);
      await expect(
        store.writeRunBatch({ runId: "ghost", events: [{ seq: 1, type: "x", payload: {}, createdAt: T0 }], nodeExecutions: [] }),
      ).rejects.toThrow(/ghost/);
      expect(await store.listRunEvents("ghost")).toEqual([]);
      expect(await store.listNodeExecutions("ghost")).toEqual([]);
      // An empty batch is a no-op, not an error.
      await store.writeRunBatch({ runId: "ghost", events: [], nodeExecutions: [] });
    });

    it("handles batches larger than one statement", async () => {
      const { app, version } = await seedApp();
      const run = await store.createRun(runInput(app.id, version.id));
      const events = Array.from({ length: 1234 }, (_, i) => ({
        seq: i + 1,
        type: "text_chunk",
        payload: { i },
        createdAt: T0 + i,
      }));
      const nodes = Array.from({ length: 450 }, (_, i) => nodeExec(`n${i}`, i + 1));
      await store.writeRunBatch({ runId: run.id, events, nodeExecutions: nodes });
      const read = await store.listRunEvents(run.id);
      expect(read).toHaveLength(1234);
      expect(read.at(-1)?.seq).toBe(1234);
      expect(await store.listNodeExecutions(run.id)).toHaveLength(450);
    });
  });

  // ------------------------------------------------------------------------------------------
  describe("writeRunBatches (group commit)", () => {
    const ev = (seq: number, type = "node_started") => ({ seq, type, payload: { seq }, createdAt: T0 + seq });

    it("writes batches of several runs in one call, in order, as writeRunBatch would one by one", async () => {
      const { app, version } = await seedApp();
      const a = await store.createRun(runInput(app.id, version.id));
      const b = await store.createRun(runInput(app.id, version.id));
      await store.writeRunBatches([
        { runId: a.id, events: [ev(1), ev(2)], nodeExecutions: [nodeExec("a-1", 1)] },
        { runId: b.id, events: [ev(1)], nodeExecutions: [nodeExec("b-1", 1)], runPatch: { status: "failed", error: "x" } },
        // A second batch of run a in the same group: its upsert and patch apply after the first.
        {
          runId: a.id,
          events: [ev(3, "workflow_finished")],
          nodeExecutions: [nodeExec("a-1", 1, { status: "succeeded", finishedAt: T0 + 3 })],
          runPatch: { status: "succeeded", finishedAt: T0 + 3 },
        },
        // Empty batches are skipped, as by writeRunBatch, even for an unknown run.
        { runId: "ghost", events: [], nodeExecutions: [] },
      ]);
      expect((await store.listRunEvents(a.id)).map((e) => [e.seq, e.type])).toEqual([
        [1, "node_started"],
        [2, "node_started"],
        [3, "workflow_finished"],
      ]);
      expect((await store.listNodeExecutions(a.id)).map((n) => [n.id, n.status])).toEqual([["a-1", "succeeded"]]);
      expect(await store.getRun(a.id)).toMatchObject({ status: "succeeded", finishedAt: T0 + 3 });
      expect((await store.listRunEvents(b.id)).map((e) => e.seq)).toEqual([1]);
      expect(await store.getRun(b.id)).toMatchObject({ status: "failed", error: "x" });
      await store.writeRunBatches([]);
    });

    it("writes nothing of any batch when one of them fails", async () => {
      const { app, version } = await seedApp();
      const a = await store.createRun(runInput(app.id, version.id));
      const b = await store.createRun(runInput(app.id, version.id));
      await store.writeRunBatch({ runId: b.id, events: [ev(1)], nodeExecutions: [] });
      const good = {
        runId: a.id,
        events: [ev(1)],
        nodeExecutions: [nodeExec("a-1", 1)],
        runPatch: { status: "succeeded" as const },
      };
      // Duplicate seq in the second batch.
      await expect(
        store.writeRunBatches([good, { runId: b.id, events: [ev(2), ev(1)], nodeExecutions: [nodeExec("b-1", 1)] }]),
      ).rejects.toThrow(/nothing was written/);
      // Unknown run in the last batch.
      await expect(
        store.writeRunBatches([good, { runId: "ghost", events: [], nodeExecutions: [], runPatch: { status: "failed" } }]),
      ).rejects.toThrow(/ghost/);
      expect(await store.listRunEvents(a.id)).toEqual([]);
      expect(await store.listNodeExecutions(a.id)).toEqual([]);
      expect(await store.getRun(a.id)).toMatchObject({ status: "running" });
      expect((await store.listRunEvents(b.id)).map((e) => e.seq)).toEqual([1]);
      expect(await store.listNodeExecutions(b.id)).toEqual([]);
      // The good batch alone still goes through afterwards.
      await store.writeRunBatches([good]);
      expect(await store.getRun(a.id)).toMatchObject({ status: "succeeded" });
    });
  });

  // ------------------------------------------------------------------------------------------
  describe("failOrphanedRuns", () => {
    it("fails running runs and their running node executions, leaving finished ones alone", async () => {
      const { app, version } = await seedApp();
      const a = await store.createRun(runInput(app.id, version.id, { owner: "dead", createdAt: T0 }));
      const b = await store.createRun(runInput(app.id, version.id, { owner: null, createdAt: T0 + 10 }));
      const done = await store.createRun(runInput(app.id, version.id, { owner: "dead" }));
      await store.writeRunBatch({
        runId: a.id,
        events: [],
        nodeExecutions: [nodeExec("finished", 1, { status: "succeeded", finishedAt: T0 + 1 }), nodeExec("stuck", 2)],
      });
      await store.writeRunBatch({
        runId: done.id,
        events: [],
        nodeExecutions: [],
        runPatch: { status: "succeeded", finishedAt: T0 + 5 },
      });
      clock = T0 + 1000;
      expect(await store.failOrphanedRuns({}, "Tributary restarted while this run was in progress.")).toBe(2);
      expect(await store.getRun(a.id)).toMatchObject({
        status: "failed",
        error: "Tributary restarted while this run was in progress.",
        errorCode: "orphaned",
        finishedAt: T0 + 1000,
        elapsedMs: 1000,
      });
      expect((await store.getRun(b.id))?.elapsedMs).toBe(990);
      expect(await store.getRun(done.id)).toMatchObject({ status: "succeeded", finishedAt: T0 + 5, error: null });
      const execs = await store.listNodeExecutions(a.id);
      expect(execs.map((e) => [e.id, e.status, e.error])).toEqual([
        ["finished", "succeeded", null],
        ["stuck", "failed", "Tributary restarted while this run was in progress."],
      ]);
      expect(execs[1]?.finishedAt).toBe(T0 + 1000);
      expect(await store.failOrphanedRuns({}, "again")).toBe(0);
      expect(await store.countRunningRuns(app.id)).toBe(0);
    });

    it("selects by owners, excepted owners and creation time", async () => {
      const { app, version } = await seedApp();
      const make = (owner: string | null, createdAt = T0) => store.createRun(runInput(app.id, version.id, { owner, createdAt }));
      const w1 = await make("w1");
      const w2 = await make("w2");
      const none = await make(null);
      const live = await make("live");
      const w1Late = await make("w1", T0 + 500);
      expect(await store.failOrphanedRuns({ owners: [] }, "x")).toBe(0);
      expect(await store.failOrphanedRuns({ owners: ["w1"], createdBefore: T0 + 100 }, "x")).toBe(1);
      expect((await store.getRun(w1.id))?.status).toBe("failed");
      expect((await store.getRun(w1Late.id))?.status).toBe("running");
      expect(await store.failOrphanedRuns({ exceptOwners: ["live", "w1"] }, "y")).toBe(2);
      expect((await store.getRun(w2.id))?.status).toBe("failed");
      expect((await store.getRun(none.id))?.status).toBe("failed");
      expect((await store.getRun(live.id))?.status).toBe("running");
      expect((await store.getRun(w1Late.id))?.status).toBe("running");
    });
  });

  // ------------------------------------------------------------------------------------------
  describe("uploaded files", () => {
    it("creates and gets, with or without an app and end user", async () => {
      const { app } = await seedApp();
      const user = await store.getOrCreateEndUser({ appId: app.id, sessionId: "u" });
      const file = await store.createFile({
        id: "f-1",
        appId: app.id,
        endUserId: user.id,
        name: "report.PDF",
        size: 5_000_000_000,
        extension: "pdf",
        mimeType: "application/pdf",
        storageKey: "ab/f-1",
      });
      expect(file).toEqual({
        id: "f-1",
        appId: app.id,
        endUserId: user.id,
        name: "report.PDF",
        size: 5_000_000_000,
        extension: "pdf",
        mimeType: "application/pdf",
        storageKey: "ab/f-1",
        createdAt: T0,
      });
      expect(await store.getFile("f-1")).toEqual(file);
      const loose = await store.createFile({
        id: "f-2",
        name: "a.txt",
        size: 1,
        extension: "txt",
        mimeType: "text/plain",
        storageKey: "f-2",
        createdAt: 42,
      });
      expect(loose).toMatchObject({ appId: null, endUserId: null, createdAt: 42 });
      expect(await store.getFile("f-2")).toEqual(loose);
      expect(await store.getFile("nope")).toBeUndefined();
      await expect(store.createFile({ ...loose, id: "f-3", appId: "missing" })).rejects.toThrow();
    });
  });

  // ------------------------------------------------------------------------------------------
  describe("provider credentials", () => {
    it("puts, gets, lists, overwrites and deletes", async () => {
      await store.putCredentials("openai", { apiKey: "sk-secret-123", baseUrl: null, extra: { org: "o" } });
      clock = T0 + 1;
      await store.putCredentials("anthropic", { apiKey: "sk-ant" });
      expect(await store.getCredentials("openai")).toEqual({ apiKey: "sk-secret-123", baseUrl: null, extra: { org: "o" } });
      expect(await store.getCredentials("none")).toBeUndefined();
      expect(await store.listCredentials()).toEqual([
        { provider: "anthropic", createdAt: T0 + 1, updatedAt: T0 + 1 },
        { provider: "openai", createdAt: T0, updatedAt: T0 },
      ]);
      clock = T0 + 2;
      await store.putCredentials("openai", { apiKey: "sk-new" });
      expect(await store.getCredentials("openai")).toEqual({ apiKey: "sk-new" });
      expect((await store.listCredentials()).find((c) => c.provider === "openai")).toEqual({
        provider: "openai",
        createdAt: T0,
        updatedAt: T0 + 2,
      });
      expect(await store.deleteCredentials("openai")).toBe(true);
      expect(await store.deleteCredentials("openai")).toBe(false);
      expect(await store.getCredentials("openai")).toBeUndefined();
    });

    it("stores ciphertext only, and refuses the wrong key or a swapped row with a clear error", async () => {
      await store.putCredentials("openai", { apiKey: "sk-plaintext-marker" });
      await store.putCredentials("other", { apiKey: "sk-other" });
      const rows = await db.query("select provider, ciphertext, key_id from provider_credentials order by provider");
      expect(rows).toHaveLength(2);
      for (const row of rows) {
        expect(String(row["ciphertext"])).not.toContain("sk-");
        expect(String(row["ciphertext"])).toMatch(/^v1\./);
      }
      await store.close();

      store = await db.open({ now, secretKey: testKey() });
      const wrongKey = store.getCredentials("openai");
      await expect(wrongKey).rejects.toBeInstanceOf(CredentialDecryptError);
      await expect(store.getCredentials("openai")).rejects.toThrow(/different secret key.*TRIBUTARY_SECRET_KEY/);
      // Listing needs no decryption, so it still works (and lets an operator see what to re-enter).
      expect((await store.listCredentials()).map((c) => c.provider)).toEqual(["openai", "other"]);
      await store.close();

      // Right key, but a ciphertext moved onto another provider's row: authenticated data differs.
      store = await db.open({ now });
      const openai = rows.find((r) => r["provider"] === "openai");
      await db.query("update provider_credentials set ciphertext = ? where provider = ?", [openai?.["ciphertext"], "other"]);
      await expect(store.getCredentials("other")).rejects.toThrow(/could not be decrypted/);
      expect(await store.getCredentials("openai")).toEqual({ apiKey: "sk-plaintext-marker" });
    });
  });

  // ------------------------------------------------------------------------------------------
  describe("lifecycle", () => {
    it("keeps data across close and reopen, and re-applying migrations is a no-op", async () => {
      const { app, version } = await seedApp();
      const run = await store.createRun(runInput(app.id, version.id));
      await store.close();
      store = await db.open({ now });
      expect((await store.getApp(app.id))?.currentVersionId).toBe(version.id);
      expect((await store.getRun(run.id))?.status).toBe("running");
      const migrations = await db.query("select name from kysely_migration order by name");
      expect(migrations.map((m) => m["name"])).toEqual(["0001_initial", "0002_open_api_keys"]);
      await store.close();
      await store.close(); // idempotent
      store = await db.open({ now });
    });

    it("reports its dialect", () => {
      expect(store.dialect).toBe(harness.name);
    });
  });
});
