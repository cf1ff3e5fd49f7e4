/**
 * The VectorVein part of the store (migration 0002) against SQLite and PostgreSQL: encrypted
 * Open API keys, access keys with derived statuses, the atomic use counter under real
 * concurrency (PostgreSQL runs the takers on separate pooled connections), run ownership,
 * detached versions and page sessions.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { hashApiKey } from "./api-key-hash.js";
import { type Harness, harnesses, type TestDatabase, testKey } from "./store-test-harness.js";
import type { AppRow, NewAccessKey, Store, WorkflowVersionRow } from "./types.js";

const T0 = 1_700_000_000_000;

describe.each(harnesses().map((h) => [h.name, h] as [string, Harness]))("Open API store: %s", (_name, harness) => {
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
      sourceText: "{}",
      sourceFormat: "dify-json",
    });
    return { app, version };
  }

  const accessKeyInput = (appIds: string[], extra: Partial<NewAccessKey> = {}): NewAccessKey => ({
    accessKey: `${Math.random().toString(16).slice(2)}${"0".repeat(32)}`.slice(0, 32),
    owner: "alice",
    type: "M",
    scope: appIds.length > 1 ? "M" : "S",
    maxUseCount: null,
    maxCredits: null,
    description: "",
    expireAt: null,
    expireTimeText: null,
    appIds,
    ...extra,
  });

  it("keeps Open API keys encrypted, finds them by hash and decrypts them by key id", async () => {
    const secret = "S".repeat(16) + "s".repeat(16);
    const key = await store.createOpenApiKey({
      id: "kid-1",
      owner: "alice",
      secret,
      keyHash: hashApiKey(secret),
      prefix: secret.slice(0, 6),
      rateLimitPerMinute: 60,
    });
    expect(key).toMatchObject({ id: "kid-1", owner: "alice", name: null, rateLimitPerMinute: 60, lastUsedAt: null });
    const rows = await db.query("select ciphertext from open_api_keys");
    expect(String(rows[0]?.["ciphertext"])).not.toContain(secret);
    expect(await store.findOpenApiKeyByHash(hashApiKey(secret))).toMatchObject({ id: "kid-1" });
    expect((await store.getOpenApiKeySecret("kid-1"))?.secret).toBe(secret);
    await store.touchOpenApiKey("kid-1", T0 + 5);
    await store.touchOpenApiKey("kid-1", T0 + 1);
    expect((await store.listOpenApiKeys("alice"))[0]?.lastUsedAt).toBe(T0 + 5);
    expect(await store.listOpenApiKeys("bob")).toEqual([]);
    expect(await store.deleteOpenApiKey("kid-1")).toBe(true);
    expect(await store.getOpenApiKeySecret("kid-1")).toBeUndefined();
  });

  it("derives EX and US from expiry and counters, in rows and in list filters", async () => {
    const { app } = await seedApp();
    const [active, expiring, spent] = await store.createAccessKeys([
      accessKeyInput([app.id]),
      accessKeyInput([app.id], { type: "L", expireAt: T0 + 1000, expireTimeText: "soon" }),
      accessKeyInput([app.id], { type: "O", maxUseCount: 1 }),
    ]);
    expect(active?.appIds).toEqual([app.id]);
    const taken = await store.consumeAccessKeyUse({ accessKeyId: spent?.id as string, appId: app.id, credits: 1, now: T0 });
    expect(taken.ok).toBe(true);
    clock = T0 + 2000;
    const byStatus = async (status: "AC" | "EX" | "US" | "IN") =>
      (await store.listAccessKeys({ owner: "alice", now: clock, statuses: [status] })).items.map((k) => k.id);
    expect(await byStatus("AC")).toEqual([active?.id]);
    expect(await byStatus("EX")).toEqual([expiring?.id]);
    expect(await byStatus("US")).toEqual([spent?.id]);
    expect(await byStatus("IN")).toEqual([]);
    const page = await store.listAccessKeys({
      owner: "alice",
      now: clock,
      page: 2,
      limit: 2,
      sortField: "create_time",
      sortOrder: "asc",
    });
    expect(page).toMatchObject({ total: 3, page: 2, limit: 2, hasMore: false });
    expect((await store.listAccessKeys({ owner: "bob", now: clock })).total).toBe(0);
  });

  it("takes uses atomically: 40 concurrent takers of a 5-use key, exactly 5 succeed; refunds give a use back", async () => {
    const { app } = await seedApp();
    const [key] = await store.createAccessKeys([accessKeyInput([app.id], { maxUseCount: 5, maxCredits: 100 })]);
    const id = key?.id as string;
    const results = await Promise.all(
      Array.from({ length: 40 }, () => store.consumeAccessKeyUse({ accessKeyId: id, appId: app.id, credits: 2, now: T0 })),
    );
    const granted = results.filter((r) => r.ok);
    expect(granted).toHaveLength(5);
    expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.reason === "used_up")).toBe(true);
    expect(await store.getAccessKeyById(id)).toMatchObject({ useCount: 5, usedCredits: 10, lastUseAt: T0 });

    const first = granted[0];
    if (!first?.ok) throw new Error("expected a granted use");
    await store.refundAccessKeyUse(id, first.recordId);
    expect(await store.getAccessKeyById(id)).toMatchObject({ useCount: 4, usedCredits: 8 });
    const again = await store.consumeAccessKeyUse({ accessKeyId: id, appId: app.id, credits: 2, now: T0 });
    expect(again.ok).toBe(true);
    if (!again.ok) return;
    await store.setAccessKeyRecordRun(again.recordId, "run-x");
    await store.chargeAccessKeyRecord(again.recordId, 7);
    expect(await store.getAccessKeyById(id)).toMatchObject({ useCount: 5, usedCredits: 17 });
    const records = (await store.listAccessKeyRecords([id])).get(id) ?? [];
    expect(records).toHaveLength(5);
    expect(records.find((r) => r.id === again.recordId)).toMatchObject({ runId: "run-x", credits: 9 });
  });

  it("refuses a use for the wrong app, past expiry, or past max_credits, saying why", async () => {
    const { app } = await seedApp();
    const { app: other } = await seedApp("Other");
    const [key] = await store.createAccessKeys([accessKeyInput([app.id], { maxCredits: 3, expireAt: T0 + 100 })]);
    const id = key?.id as string;
    const take = (appId: string, credits: number, at = T0) =>
      store.consumeAccessKeyUse({ accessKeyId: id, appId, credits, now: at });
    expect(await take(other.id, 1)).toMatchObject({ ok: false, reason: "not_for_app" });
    expect(await take(app.id, 4)).toMatchObject({ ok: false, reason: "credits_exhausted" });
    expect(await take(app.id, 3)).toMatchObject({ ok: true });
    expect(await take(app.id, 0)).toMatchObject({ ok: false, reason: "used_up" });
    const [fresh] = await store.createAccessKeys([accessKeyInput([app.id], { expireAt: T0 + 100 })]);
    expect(
      await store.consumeAccessKeyUse({ accessKeyId: fresh?.id as string, appId: app.id, credits: 0, now: T0 + 100 }),
    ).toMatchObject({ ok: false, reason: "expired" });
    expect(await store.consumeAccessKeyUse({ accessKeyId: "nope", appId: app.id, credits: 0, now: T0 })).toMatchObject({
      ok: false,
      reason: "not_found",
    });
  });

  it("updates, re-scopes, adds and removes apps, and deletes keys", async () => {
    const { app } = await seedApp();
    const { app: second } = await seedApp("Second");
    const [key] = await store.createAccessKeys([accessKeyInput([app.id])]);
    const id = key?.id as string;
    await store.addAccessKeyApps([id], [second.id, app.id]);
    expect(await store.getAccessKeyById(id)).toMatchObject({ scope: "M", appIds: [app.id, second.id] });
    await store.removeAccessKeyApps([id], [app.id]);
    expect((await store.getAccessKeyById(id))?.appIds).toEqual([second.id]);
    await store.updateAccessKeys([id], { description: "d", maxUseCount: 3, apps: { appIds: [app.id], scope: "S" } });
    expect(await store.getAccessKeyById(id)).toMatchObject({ description: "d", maxUseCount: 3, scope: "S", appIds: [app.id] });
    // Deleted apps drop out of a key's apps.
    await store.deleteApp(app.id);
    expect((await store.getAccessKeyById(id))?.appIds).toEqual([]);
    expect(await store.deleteAccessKeys([id])).toBe(1);
    expect(await store.findAccessKey(key?.accessKey as string)).toBeUndefined();
  });

  it("records run ownership, lists per owner, and deletes a run with its events", async () => {
    const { app, version } = await seedApp();
    for (const [i, owner] of ["alice", "alice", "bob"].entries()) {
      clock = T0 + i;
      await store.createRun({
        id: `run-${i}`,
        taskId: `task-${i}`,
        appId: app.id,
        workflowId: version.id,
        inputs: {},
        responseMode: "async",
        triggeredFrom: "open-api",
        createdAt: clock,
      });
      await store.createOpenApiRun({
        runId: `run-${i}`,
        owner,
        appId: app.id,
        source: "api",
        apiKeyId: "kid",
        accessKeyId: null,
        outputScope: i === 0 ? "all" : "output_fields_only",
        inputFields: [{ node_id: "start", field_name: "x", value: i }],
        createdAt: clock,
      });
    }
    const alice = await store.listOpenApiRuns({ owner: "alice", sortOrder: "asc" });
    expect(alice.items.map((e) => e.run.id)).toEqual(["run-0", "run-1"]);
    expect(alice.items[0]).toMatchObject({ appName: "App", meta: { outputScope: "all", inputFields: [{ value: 0 }] } });
    expect((await store.listOpenApiRuns({ owner: "alice", statuses: ["failed"] })).total).toBe(0);
    await store.writeRunBatch({
      runId: "run-0",
      events: [{ seq: 1, type: "workflow_started", payload: {}, createdAt: T0 }],
      nodeExecutions: [],
    });
    expect(await store.deleteRun("run-0")).toBe(true);
    expect(await store.getRun("run-0")).toBeUndefined();
    expect(await store.getOpenApiRun("run-0")).toBeUndefined();
    expect(await store.listRunEvents("run-0")).toEqual([]);
  });

  it("detached versions count down from -1, are reused for the same source, and never become current", async () => {
    const { app, version } = await seedApp();
    const input = { appId: app.id, dsl: { x: 1 }, sourceText: '{"o":1}', sourceFormat: "open-api-override" };
    const first = await store.findOrCreateDetachedVersion(input);
    expect(first.version).toBe(-1);
    expect((await store.findOrCreateDetachedVersion(input)).id).toBe(first.id);
    expect((await store.findOrCreateDetachedVersion({ ...input, sourceText: '{"o":2}' })).version).toBe(-2);
    expect((await store.getApp(app.id))?.currentVersionId).toBe(version.id);
    const next = await store.createWorkflowVersion({ appId: app.id, dsl: {}, sourceText: "{}", sourceFormat: "dify-json" });
    expect(next.version).toBe(2);
  });

  it("keeps per-app workflow settings and lists apps by tag, search and sort", async () => {
    const a = await store.createApp({ name: "Alpha", tags: ["red", "blue"] });
    clock = T0 + 1;
    const b = await store.createApp({ name: "Beta", description: "the alpha reviewer", tags: ["blue"] });
    expect(await store.getOpenApiWorkflow(a.id)).toBeUndefined();
    expect(await store.putOpenApiWorkflow(a.id, { language: "en-US", creditsPerRun: 3 })).toMatchObject({
      language: "en-US",
      creditsPerRun: 3,
      creditsPer1kTokens: 1,
      toolCallData: {},
    });
    expect(await store.putOpenApiWorkflow(a.id, { creditsPer1kTokens: 5 })).toMatchObject({
      language: "en-US",
      creditsPer1kTokens: 5,
    });
    const ids = async (query: Parameters<Store["listOpenApiApps"]>[0]) =>
      (await store.listOpenApiApps(query)).items.map((x) => x.id);
    expect(await ids({ tags: ["blue"], sortField: "create_time", sortOrder: "asc" })).toEqual([a.id, b.id]);
    expect(await ids({ tags: ["red"] })).toEqual([a.id]);
    expect(await ids({ search: "ALPHA", sortField: "title", sortOrder: "desc" })).toEqual([b.id, a.id]);
  });

  it("page sessions expire and are cleaned up", async () => {
    const { app } = await seedApp();
    const [key] = await store.createAccessKeys([accessKeyInput([app.id])]);
    await store.createVappSession({
      idHash: "h1",
      appId: app.id,
      accessKeyId: key?.id as string,
      expiresAt: T0 + 10,
      createdAt: T0,
    });
    expect(await store.getVappSession("h1", T0 + 9)).toMatchObject({ appId: app.id });
    expect(await store.getVappSession("h1", T0 + 10)).toBeUndefined();
    expect(await store.deleteExpiredVappSessions(T0 + 10)).toBe(1);
  });

  it("keeps a fresh key secret unreadable with another store key", async () => {
    const secret = "k".repeat(32);
    await store.createOpenApiKey({
      id: "kid-2",
      owner: "o",
      secret,
      keyHash: hashApiKey(secret),
      prefix: "kkkkkk",
      rateLimitPerMinute: null,
    });
    await store.close();
    store = await db.open({ now, secretKey: testKey() });
    await expect(store.getOpenApiKeySecret("kid-2")).rejects.toThrow();
  });
});
