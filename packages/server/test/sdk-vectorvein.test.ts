/**
 * `VectorVeinClient` of @tributary/sdk against the real server's Open API (started here; no
 * mocks): every method of the Python SDK 0.2.1 plus the newer workflow CRUD, run records,
 * upload and user info, the Python error classes, the VAPP key type, and VApp links the
 * server's page accepts.
 */
import {
  AccessKeyError,
  APIKeyError,
  RequestError,
  TimeoutError,
  VectorVeinAPIError,
  VectorVeinClient,
  VectorVeinTimeoutError,
  WorkflowError,
} from "@tributary/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closedPort } from "./sdk-test-support.js";
import { type GateServer, startGateServer } from "./support/gate-server.js";
import { json, startTestServer, type TestServer, waitFor } from "./support/harness.js";
import { ACCESS_KEY_FIELDS } from "./support/vectorvein.js";
import { branchWorkflow, extractWorkflow, gatedWorkflow } from "./support/workflows.js";

let server: TestServer;
let gate: GateServer;
let key: { api_key: string; key_id: string };
let vv: VectorVeinClient;
let branchWid: string;
let gatedWid: string;

async function openApiKey(body: Record<string, unknown> = {}): Promise<{ api_key: string; key_id: string }> {
  const res = await server.admin("/api/admin/open-api-keys", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(201);
  return json(res);
}

const field = (field_name: string, value: unknown, node_id = "start") => ({ node_id, field_name, value });

beforeAll(async () => {
  server = await startTestServer("sqlite");
  gate = await startGateServer();
  key = await openApiKey({ name: "sdk", rate_limit_per_minute: 0 });
  vv = new VectorVeinClient({ apiKey: key.api_key, baseUrl: server.url, retry: { baseDelayMs: 20, maxDelayMs: 100 } });
  branchWid = (await vv.createWorkflow({ title: "VV branch", brief: "branches", data: branchWorkflow("VV branch") })).wid;
  gatedWid = (await vv.createWorkflow({ title: "VV gated", data: gatedWorkflow(gate.url, "VV gated") })).wid;
});
afterAll(async () => {
  await gate?.close();
  await server?.close();
});

describe("identity", () => {
  it("validateApiKey and getUserInfo", async () => {
    const identity = await vv.validateApiKey();
    expect(Object.keys(identity).sort()).toEqual(["user_id", "username"]);
    expect(identity.user_id).not.toBe("");
    const info = await vv.getUserInfo();
    expect(info).toMatchObject({ uid: expect.any(String), username: expect.any(String) });
  });

  it("a wrong key is APIKeyError (status 401 in the envelope, HTTP 200)", async () => {
    const error = await new VectorVeinClient({ apiKey: "not-a-key", baseUrl: server.url })
      .validateApiKey()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIKeyError);
    expect(error).toBeInstanceOf(VectorVeinAPIError);
    expect(error).toMatchObject({ statusCode: 401, httpStatus: 200 });
    expect((error as APIKeyError).requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(() => new VectorVeinClient({ apiKey: "" })).toThrow(APIKeyError);
  });

  it("no server: RequestError (kind network) with the transport error as cause", async () => {
    const port = await closedPort();
    const error = await new VectorVeinClient({ apiKey: key.api_key, baseUrl: `http://127.0.0.1:${port}`, maxRetries: 0 })
      .validateApiKey()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestError);
    expect(error).toMatchObject({ kind: "network", statusCode: null, httpStatus: null });
    expect((error as Error).message).toMatch(/^Request failed: Cannot reach/);
  });

  it("the rate limit (envelope 429 with Retry-After) is a VectorVeinAPIError carrying the wait", async () => {
    const limited = await openApiKey({ rate_limit_per_minute: 1 });
    const client = new VectorVeinClient({ apiKey: limited.api_key, baseUrl: server.url, retry: { maxRetryAfterMs: 1_000 } });
    await client.validateApiKey();
    const error = await client.validateApiKey().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VectorVeinAPIError);
    expect(error).toMatchObject({ statusCode: 429 });
    expect((error as VectorVeinAPIError).retryAfterMs).toBeGreaterThan(1_000);
  });
});

describe("workflows", () => {
  it("createWorkflow, getWorkflow, listWorkflows, updateWorkflow, deleteWorkflow", async () => {
    const created = await vv.createWorkflow({
      title: "VV crud",
      brief: "to be changed",
      data: extractWorkflow("VV crud"),
      language: "en-US",
    });
    expect(created).toMatchObject({ title: "VV crud", brief: "to be changed", language: "en-US", images: [], tags: [] });
    expect((created.data["nodes"] as unknown[]).length).toBeGreaterThan(0);
    const got = await vv.getWorkflow(created.wid);
    expect(got.wid).toBe(created.wid);

    const listed = await vv.listWorkflows({ searchText: "VV crud", pageSize: 5 });
    expect(listed).toMatchObject({ total: 1, page: 1, page_size: 5 });
    expect(listed.workflows[0]?.wid).toBe(created.wid);

    const updated = await vv.updateWorkflow(created.wid, undefined, { title: "VV crud (renamed)", brief: "changed" });
    expect(updated).toMatchObject({ wid: created.wid, title: "VV crud (renamed)", brief: "changed" });

    await vv.deleteWorkflow(created.wid);
    await expect(vv.getWorkflow(created.wid)).rejects.toMatchObject({ statusCode: 404 });
  });

  it("an invalid workflow is refused with the server's explanation", async () => {
    const error = await vv
      .createWorkflow({ title: "Broken", data: { nodes: [{ id: "x", data: { type: "frobnicate", title: "X" } }], edges: [] } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VectorVeinAPIError);
    expect(error).toMatchObject({ statusCode: 400 });
    expect((error as Error).message).toMatch(/frobnicate/);
  });
});

describe("runs", () => {
  it("runWorkflow without waiting returns the rid; checkWorkflowStatus reports 202 then 200 with the outputs", async () => {
    const rid = await vv.runWorkflow(gatedWid, [field("name", "vv-poll")]);
    expect(rid).toMatch(/^[0-9a-f-]{36}$/);
    await gate.arrived("vv-poll");
    const running = await vv.checkWorkflowStatus(rid);
    expect(running).toEqual({ rid, status: 202, msg: expect.any(String), data: [] });
    gate.release("vv-poll", "polled");
    const done = await waitFor(async () => {
      const status = await vv.checkWorkflowStatus(rid);
      return status.status === 200 ? status : undefined;
    });
    for (const output of done.data) expect(Object.keys(output).sort()).toEqual(["title", "type", "value"]);
    expect(done.data).toEqual(expect.arrayContaining([{ type: "text", title: "body", value: "polled" }]));
  });

  it("runWorkflow waiting: the WorkflowRunResult (outputScope all too)", async () => {
    const result = await vv.runWorkflow(branchWid, [field("query", "hello"), field("lang", "fr")], { waitForCompletion: true });
    expect(result.status).toBe(200);
    expect(result.rid).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.data).toEqual(
      expect.arrayContaining([
        { type: "text", title: "greeting", value: "hello" },
        { type: "text", title: "lang", value: "fr" },
      ]),
    );
    const all = await vv.runWorkflow(branchWid, [field("query", "x")], { waitForCompletion: true, outputScope: "all" });
    expect(all.status).toBe(200);
  });

  it("a run still going after `timeout` seconds: TimeoutError with the rid; the run goes on", async () => {
    const error = await vv
      .runWorkflow(gatedWid, [field("name", "vv-timeout")], { waitForCompletion: true, timeout: 1, pollIntervalMs: 100 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toBeInstanceOf(VectorVeinTimeoutError);
    expect((error as Error).message).toBe("Workflow execution timed out after 1 seconds");
    const rid = (error as TimeoutError).rid;
    expect((await vv.checkWorkflowStatus(rid)).status).toBe(202);
    gate.release("vv-timeout");
  });

  it("a stopped run: stopWorkflowRun answers once stopped; checkWorkflowStatus throws WorkflowError", async () => {
    const rid = await vv.runWorkflow(gatedWid, [field("name", "vv-stop")]);
    await gate.arrived("vv-stop");
    expect(await vv.stopWorkflowRun(rid)).toEqual({ rid, status: "STOPPED" });
    const error = await vv.checkWorkflowStatus(rid).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowError);
    expect(error).toMatchObject({ statusCode: 500 });
    expect((error as Error).message).toMatch(/^Workflow execution failed: Workflow run was stopped/);
  });

  it("invalid inputs are a VectorVeinAPIError 400 naming the field", async () => {
    const error = await vv.runWorkflow(branchWid, [field("lang", "fr")]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VectorVeinAPIError);
    expect(error).toMatchObject({ statusCode: 400 });
    expect((error as Error).message).toMatch(/query/);
  });

  it("run records: list (filtered), get (inputs, outputs, nodes), stop, delete", async () => {
    const rid = await vv.runWorkflow(gatedWid, [field("name", "vv-record")]);
    await gate.arrived("vv-record");
    const running = await vv.listWorkflowRunRecords({ wid: gatedWid, status: ["RUNNING"] });
    expect(running.records.map((r) => r.rid)).toContain(rid);
    expect(running).toMatchObject({ page: 1, page_size: 10 });
    expect(await vv.stopWorkflowRunRecord(rid)).toEqual({ rid, status: "STOPPED" });

    const finished = await vv.runWorkflow(branchWid, [field("query", "recorded")], { waitForCompletion: true });
    const record = await vv.getWorkflowRunRecord(finished.rid);
    expect(record).toMatchObject({ rid: finished.rid, wid: branchWid, status: "FINISHED" });
    expect(record.input_fields).toEqual([field("query", "recorded")]);
    expect(record.data).toEqual(expect.arrayContaining([{ type: "text", title: "text", value: "recorded" }]));
    expect(record.nodes?.length).toBe(3);

    await vv.deleteWorkflowRunRecord(finished.rid);
    await expect(vv.getWorkflowRunRecord(finished.rid)).rejects.toMatchObject({ statusCode: 404 });
  });

  it("uploadFile: exactly the four fields; oss_path works as a file input value", async () => {
    const extractWid = (await vv.createWorkflow({ title: "VV extract", data: extractWorkflow("VV extract") })).wid;
    const uploaded = await vv.uploadFile(new File(["Uploaded through the Open API."], "open-api.txt"));
    expect(Object.keys(uploaded).sort()).toEqual(["content_type", "file_size", "original_filename", "oss_path"]);
    expect(uploaded).toMatchObject({ original_filename: "open-api.txt", file_size: 30, content_type: "text/plain" });
    const result = await vv.runWorkflow(extractWid, [field("doc", uploaded.oss_path)], { waitForCompletion: true });
    expect(result.data).toEqual(
      expect.arrayContaining([{ type: "text", title: "text", value: expect.stringContaining("Uploaded through the Open API.") }]),
    );
  });
});

describe("access keys and VApp links", () => {
  it("create (O, M, L), get, list (paging echoed), update, add/remove apps, delete", async () => {
    const [one] = await vv.createAccessKeys({ accessKeyType: "O", appId: branchWid, description: "one use" });
    const multi = await vv.createAccessKeys({ accessKeyType: "M", appId: branchWid, maxUseCount: 5, count: 2 });
    const [long] = await vv.createAccessKeys({
      accessKeyType: "L",
      appIds: [branchWid, gatedWid],
      expireTime: "2099-12-31 23:59:59",
    });
    if (!one || !long) throw new Error("keys were not created");
    expect(multi).toHaveLength(2);
    expect(Object.keys(one).sort()).toEqual(ACCESS_KEY_FIELDS);
    expect(one).toMatchObject({ access_key_type: "O", status: "AC", access_scope: "S", description: "one use" });
    expect(one.v_app?.app_id).toBe(branchWid);
    expect(long).toMatchObject({ access_key_type: "L", access_scope: "M" });
    expect(long.v_apps.map((a) => a.app_id).sort()).toEqual([branchWid, gatedWid].sort());

    const got = await vv.getAccessKeys([one.access_key, long.access_key]);
    expect(got.map((k) => k.access_key).sort()).toEqual([one.access_key, long.access_key].sort());

    const page = await vv.listAccessKeys({ appId: branchWid, page: 1, pageSize: 2 });
    expect(Object.keys(page).sort()).toEqual(["access_keys", "page", "page_size", "total"]);
    expect(page).toMatchObject({ page: 1, page_size: 2, total: 4 });
    expect(page.access_keys).toHaveLength(2);

    await vv.updateAccessKeys({ accessKey: one.access_key, description: "renamed" });
    expect((await vv.getAccessKeys([one.access_key]))[0]?.description).toBe("renamed");
    const typeChange = await vv.updateAccessKeys({ accessKey: one.access_key, accessKeyType: "L" }).catch((e: unknown) => e);
    expect(typeChange).toBeInstanceOf(VectorVeinAPIError);
    expect((typeChange as Error).message).toMatch(/type/i);

    await vv.removeAppsFromAccessKeys([long.access_key], [gatedWid]);
    expect((await vv.getAccessKeys([long.access_key]))[0]?.v_apps.map((a) => a.app_id)).toEqual([branchWid]);
    await vv.addAppsToAccessKeys([long.access_key], [gatedWid]);
    expect((await vv.getAccessKeys([long.access_key]))[0]?.v_apps).toHaveLength(2);

    await vv.deleteAccessKeys(branchWid, [one.access_key]);
    const gone = await vv.getAccessKeys([one.access_key]).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(AccessKeyError);
    expect(gone).toMatchObject({ statusCode: 404 });
  });

  it("the Python SDK's client-side checks and AccessKeyError mapping", async () => {
    await expect(vv.createAccessKeys({ accessKeyType: "X" as "O", appId: branchWid })).rejects.toBeInstanceOf(AccessKeyError);
    await expect(vv.createAccessKeys({ accessKeyType: "O", appId: branchWid, appIds: [branchWid] })).rejects.toThrow(
      /either appId or appIds/,
    );
    const noApp = await vv.createAccessKeys({ accessKeyType: "O", appId: "no-such-app" }).catch((e: unknown) => e);
    expect(noApp).toBeInstanceOf(AccessKeyError);
    expect(noApp).toMatchObject({ statusCode: 404 });
    expect((noApp as Error).message).toMatch(/The app does not exist/);
  });

  it("an access key as API key (VAPP) runs its app; checkWorkflowStatus then needs the wid", async () => {
    const [access] = await vv.createAccessKeys({ accessKeyType: "M", appId: branchWid, maxUseCount: 2 });
    if (!access) throw new Error("no key");
    const vapp = new VectorVeinClient({ apiKey: access.access_key, baseUrl: server.url, apiKeyType: "VAPP" });
    const result = await vapp.runWorkflow(branchWid, [field("query", "via vapp")], { waitForCompletion: true });
    expect(result.data).toEqual(expect.arrayContaining([{ type: "text", title: "text", value: "via vapp" }]));
    await expect(vapp.checkWorkflowStatus(result.rid)).rejects.toThrow(/Workflow ID cannot be empty/);
    expect((await vapp.checkWorkflowStatus(result.rid, { wid: branchWid })).status).toBe(200);
    expect((await vv.getAccessKeys([access.access_key]))[0]?.use_count).toBe(1);
  });

  it("generateVappUrl: the server's VApp page accepts the link; a tampered one is refused", async () => {
    const [access] = await vv.createAccessKeys({ accessKeyType: "L", appId: branchWid });
    if (!access) throw new Error("no key");
    const url = await vv.generateVappUrl(branchWid, access.access_key, key.key_id, { timeout: 300 });
    expect(url.startsWith(`${server.url}/public/v-app/${branchWid}?token=`)).toBe(true);
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("VV branch");

    const token = new URL(url).searchParams.get("token") ?? "";
    const flipped = `${token.slice(0, 30)}${token[30] === "A" ? "B" : "A"}${token.slice(31)}`;
    const tampered = new URL(url);
    tampered.searchParams.set("token", flipped);
    expect((await fetch(tampered)).status).toBeGreaterThanOrEqual(400);
    const otherKey = await vv.generateVappUrl(branchWid, access.access_key, "kid-unknown");
    expect((await fetch(otherKey)).status).toBeGreaterThanOrEqual(400);
  });
});
