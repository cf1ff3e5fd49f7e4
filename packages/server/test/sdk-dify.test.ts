/**
 * `DifyWorkflowClient` of @tributary/sdk against the real server started here (global fetch,
 * no mocks): blocking, streaming (run id at the headers, typed frames, pings filtered),
 * async + wait, stop, resume from Last-Event-ID, automatic reconnection through a proxy that
 * drops connections, uploads of every source kind, error mapping, retries, timeouts,
 * cancellation and idempotency. The SDK is protocol-only, so one database (SQLite) suffices.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  DifyApiError,
  DifyAuthenticationError,
  DifyWorkflowClient,
  InvalidResponseError,
  NetworkError,
  RequestAbortedError,
  RequestTimeoutError,
  type WorkflowStreamEvent,
} from "@tributary/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closedPort, startCuttableProxy, startFlakyProxy } from "./sdk-test-support.js";
import { type GateServer, startGateServer } from "./support/gate-server.js";
import { startTestServer, type TestServer } from "./support/harness.js";
import { branchWorkflow, containerWorkflow, extractWorkflow, gatedWorkflow } from "./support/workflows.js";

let server: TestServer;
let gate: GateServer;
let branch: { appId: string; workflowId: string; key: string };
let gated: { appId: string; workflowId: string; key: string };
let extract: { appId: string; key: string };
let containers: { appId: string; key: string };

const client = (apiKey: string, options: Partial<ConstructorParameters<typeof DifyWorkflowClient>[0]> = {}) =>
  new DifyWorkflowClient({
    apiKey,
    baseUrl: server.url,
    user: "sdk-user",
    retry: { baseDelayMs: 20, maxDelayMs: 200 },
    ...options,
  });

beforeAll(async () => {
  server = await startTestServer("sqlite", { pingIntervalMs: 40 });
  gate = await startGateServer();
  branch = await server.createApp(branchWorkflow("SDK branch"));
  gated = await server.createApp(gatedWorkflow(gate.url, "SDK gated"));
  extract = await server.createApp(extractWorkflow("SDK extract"));
  containers = await server.createApp(containerWorkflow("SDK containers"));
});
afterAll(async () => {
  await gate?.close();
  await server?.close();
});

async function collect(stream: AsyncIterable<WorkflowStreamEvent>): Promise<WorkflowStreamEvent[]> {
  const events: WorkflowStreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

describe("runs", () => {
  it("run: the blocking result, typed", async () => {
    const result = await client(branch.key).run({ query: "bonjour", lang: "fr" });
    expect(result.workflow_run_id).toBe(result.data.id);
    expect(result.data).toMatchObject({ status: "succeeded", outputs: { greeting: "bonjour", lang: "fr" }, error: null });
    expect(result.data.workflow_id).toBe(branch.workflowId);
    expect(result.data.total_steps).toBe(3);
  });

  it("stream: the run id is there when the headers arrive, frames are typed, pings are filtered", async () => {
    const sdk = client(gated.key);
    const stream = await sdk.stream({ name: "early-id" });
    // The run is held in its HTTP node: the stream object exists before the run could finish.
    await gate.arrived("early-id");
    expect(stream.runId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await sdk.getRun(stream.runId)).status).toBe("running");
    // Several pings (every 40 ms) go by while the run waits.
    await new Promise((r) => setTimeout(r, 200));
    gate.release("early-id", "done");
    const events = await collect(stream);
    expect(events.map((e) => e.event)).toEqual([
      "workflow_started",
      "node_started",
      "node_finished",
      "node_started",
      "node_finished",
      "node_started",
      "node_finished",
      "workflow_finished",
    ]);
    for (const event of events) {
      if (event.event === "error") throw new Error("unexpected error frame");
      expect(event.workflow_run_id).toBe(stream.runId);
      expect(event.task_id).toBe(stream.taskId);
    }
    const callFinished = events.find((e) => e.event === "node_finished" && e.data.node_id === "call");
    expect(callFinished?.event === "node_finished" && callFinished.data.outputs).toMatchObject({
      status_code: 200,
      body: "done",
    });
    expect(stream.finished).toMatchObject({ status: "succeeded", outputs: { status: 200, body: "done" } });
    expect(stream.lastEventId).toBe(String(events.length));
    expect(await stream.result()).toBe(stream.finished);
  });

  it("stream: loop and iteration frames are part of the union", async () => {
    const stream = await client(containers.key).stream({});
    const names = new Set((await collect(stream)).map((e) => e.event));
    for (const name of ["loop_started", "loop_next", "loop_completed", "iteration_started", "iteration_completed"]) {
      expect(names).toContain(name);
    }
  });

  it("runAsync + waitForRun, getRun and nodeExecutions", async () => {
    const sdk = client(gated.key);
    const started = await sdk.runAsync({ name: "async-wait" });
    expect(started.task_id).not.toBe(started.workflow_run_id);
    const waiting = sdk.waitForRun(started.workflow_run_id, { pollIntervalMs: 50 });
    await gate.arrived("async-wait");
    expect((await sdk.getRun(started.workflow_run_id)).status).toBe("running");
    gate.release("async-wait");
    const run = await waiting;
    expect(run).toMatchObject({ id: started.workflow_run_id, status: "succeeded", outputs: { status: 200 } });
    expect(JSON.parse(run.inputs)).toMatchObject({ name: "async-wait", "sys.user_id": "sdk-user" });
    const nodes = await sdk.nodeExecutions(started.workflow_run_id);
    expect(nodes.map((n) => [n.node_id, n.status])).toEqual([
      ["start", "succeeded"],
      ["call", "succeeded"],
      ["end", "succeeded"],
    ]);
  });

  it("waitForRun gives up after maxWaitMs and says the run goes on", async () => {
    const sdk = client(gated.key);
    const started = await sdk.runAsync({ name: "wait-timeout" });
    await expect(sdk.waitForRun(started.workflow_run_id, { maxWaitMs: 150, pollIntervalMs: 30 })).rejects.toThrow(
      /still running after 150 ms; it goes on/,
    );
    gate.release("wait-timeout");
    expect((await sdk.waitForRun(started.workflow_run_id)).status).toBe("succeeded");
  });

  it("stop: from the stream, and by task id; the run ends stopped", async () => {
    const sdk = client(gated.key);
    const stream = await sdk.stream({ name: "stop-stream" });
    await gate.arrived("stop-stream");
    const reading = collect(stream);
    await stream.stop();
    const events = await reading;
    expect(events.at(-1)).toMatchObject({ event: "workflow_finished", data: { status: "stopped" } });

    const started = await sdk.runAsync({ name: "stop-task" });
    await gate.arrived("stop-task");
    expect(await sdk.stop(started.task_id)).toEqual({ result: "success" });
    expect((await sdk.getRun(started.workflow_run_id)).status).toBe("stopped");
  });

  it("resume: continues after lastEventId without repeating; a finished run sends its result", async () => {
    const sdk = client(gated.key);
    const first = await sdk.stream({ name: "resume-me" });
    const seen: WorkflowStreamEvent[] = [];
    for await (const event of first) {
      seen.push(event);
      if (event.event === "node_started" && event.data.node_id === "call") break;
    }
    // Leaving the loop closed the connection; the run waits in the gate.
    const lastEventId = first.lastEventId;
    expect(lastEventId).toBe(String(seen.length));
    gate.release("resume-me");
    const resumed = await sdk.resume(first.runId, { lastEventId });
    expect(resumed.runId).toBe(first.runId);
    const rest = await collect(resumed);
    expect([...seen, ...rest].map((e) => e.event)).toEqual([
      "workflow_started",
      "node_started",
      "node_finished",
      "node_started",
      "node_finished",
      "node_started",
      "node_finished",
      "workflow_finished",
    ]);
    expect(resumed.lastEventId).toBe("8");

    const finishedOnly = await collect(await sdk.resume(first.runId));
    expect(finishedOnly.map((e) => e.event)).toEqual(["workflow_finished"]);
    const replay = await collect(await sdk.resume(first.runId, { includeStateSnapshot: true }));
    expect(replay).toHaveLength(8);
  });

  it("reconnects by itself when the connection drops mid-run, without losing or repeating events", async () => {
    const proxy = await startCuttableProxy(server.url);
    try {
      const sdk = client(gated.key, { baseUrl: proxy.url });
      const stream = await sdk.stream({ name: "drop" });
      const events: WorkflowStreamEvent[] = [];
      const ids: string[] = [];
      for await (const event of stream) {
        events.push(event);
        ids.push(stream.lastEventId ?? "");
        if (event.event === "node_started" && event.data.node_id === "call") {
          proxy.cutAll();
          setTimeout(() => gate.release("drop"), 100);
        }
      }
      expect(ids).toEqual(["1", "2", "3", "4", "5", "6", "7", "8"]);
      expect(events.at(-1)).toMatchObject({ event: "workflow_finished", data: { status: "succeeded" } });
      expect(proxy.connections).toBeGreaterThanOrEqual(2);
    } finally {
      await proxy.close();
    }
  });

  it("with reconnect: false a dropped connection is a NetworkError and the run goes on", async () => {
    const proxy = await startCuttableProxy(server.url);
    try {
      const sdk = client(gated.key, { baseUrl: proxy.url });
      const stream = await sdk.stream({ name: "drop-fatal" }, { reconnect: false });
      const reading = collect(stream);
      await gate.arrived("drop-fatal");
      await new Promise((r) => setTimeout(r, 50));
      proxy.cutAll();
      const error = await reading.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(NetworkError);
      expect((error as Error).message).toMatch(/resume\(runId, \{lastEventId: "\d+"\}\)/);
      expect((await client(gated.key).getRun(stream.runId)).status).toBe("running");
      gate.release("drop-fatal");
    } finally {
      await proxy.close();
    }
  });

  it("idempotency: the same key gives the same run, and a replayed stream says so", async () => {
    const sdk = client(branch.key);
    const a = await sdk.run({ query: "once" }, { idempotencyKey: "sdk-idem-1" });
    const b = await sdk.run({ query: "once" }, { idempotencyKey: "sdk-idem-1" });
    expect(b.workflow_run_id).toBe(a.workflow_run_id);
    const s1 = await sdk.stream({ query: "twice" }, { idempotencyKey: "sdk-idem-2" });
    await s1.result();
    const s2 = await sdk.stream({ query: "twice" }, { idempotencyKey: "sdk-idem-2" });
    expect(s2.replayed).toBe(true);
    expect(s2.runId).toBe(s1.runId);
    expect((await s2.result()).outputs).toEqual({ text: "twice", count: null, doc: null });
  });
});

describe("files", () => {
  const text = "Tributary reads uploads.\nSecond line.";

  it("uploadFile takes a Blob, a File, a ReadableStream and (in Node) a path; a run reads the upload", async () => {
    const sdk = client(extract.key);
    const fromBlob = await sdk.uploadFile(new Blob([text], { type: "text/plain" }), { filename: "blob.txt" });
    const fromFile = await sdk.uploadFile(new File([text], "file.md"));
    const fromStream = await sdk.uploadFile(new Blob([text]).stream(), { filename: "stream.txt" });
    const path = join(server.dataDir, "upload-from-path.csv");
    writeFileSync(path, "a,b\n1,2\n");
    const fromPath = await sdk.uploadFile(path);

    expect(fromBlob).toMatchObject({ name: "blob.txt", size: text.length, extension: "txt", mime_type: "text/plain" });
    expect(fromFile).toMatchObject({ name: "file.md", extension: "md", mime_type: "text/markdown" });
    expect(fromStream).toMatchObject({ name: "stream.txt", size: text.length, mime_type: "text/plain" });
    expect(fromPath).toMatchObject({ name: "upload-from-path.csv", size: 8, mime_type: "text/csv" });
    expect(fromBlob.created_by).toBeTruthy();

    for (const [file, expected] of [
      [fromBlob, "Tributary reads uploads."],
      [fromStream, "Second line."],
      [fromPath, "1"],
    ] as const) {
      const run = await sdk.run({ doc: { type: "document", transfer_method: "local_file", upload_file_id: file.id } });
      expect(run.data.status).toBe("succeeded");
      expect(String(run.data.outputs["text"])).toContain(expected);
    }
  });

  it("a path that does not exist is explained before any request", async () => {
    await expect(client(extract.key).uploadFile("/nope/missing.txt")).rejects.toThrow(
      /cannot read "\/nope\/missing.txt" \(ENOENT\)/,
    );
  });
});

describe("errors", () => {
  it("an unknown key: DifyAuthenticationError with status, code and request id", async () => {
    const error = await client("app-not-a-key")
      .info()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DifyAuthenticationError);
    expect(error).toMatchObject({ status: 401, httpStatus: 401, code: "unauthorized" });
    expect((error as DifyApiError).requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect((error as Error).message).toMatch(/Access token is invalid/);
  });

  it("invalid inputs: 400 invalid_param naming the field", async () => {
    const error = await client(branch.key)
      .run({ lang: "fr" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DifyApiError);
    expect(error).toMatchObject({ status: 400, code: "invalid_param", params: "query" });
  });

  it("not found: an unknown run, an unknown workflow version", async () => {
    await expect(client(branch.key).getRun("no-such-run")).rejects.toMatchObject({ status: 404, code: "not_found" });
    await expect(client(branch.key).run({ query: "x" }, { workflowId: "no-such-version" })).rejects.toMatchObject({
      status: 404,
      code: "not_found",
    });
  });

  it("upload refusals keep Dify's codes", async () => {
    await expect(client(extract.key).uploadFile(new Blob(["MZ"]), { filename: "tool.exe" })).rejects.toMatchObject({
      status: 415,
      code: "unsupported_file_type",
    });
  });

  it("a missing end user is caught before any request", async () => {
    const sdk = new DifyWorkflowClient({ apiKey: branch.key, baseUrl: server.url });
    expect(() => sdk.run({ query: "x" })).toThrow(/needs an end user/);
    await expect(sdk.stream({ query: "x" })).rejects.toThrow(/needs an end user/);
  });

  it("an answer that is not Dify's: InvalidResponseError with a snippet", async () => {
    gate.release("/v1/info", "plain text, not JSON");
    const error = await new DifyWorkflowClient({ apiKey: "app-x", baseUrl: gate.url }).info().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidResponseError);
    expect(error).toMatchObject({ httpStatus: 200, bodySnippet: "plain text, not JSON" });
  });
});

describe("retries, timeouts and cancellation", () => {
  it("429: retried (no Retry-After: backoff) until the app has room again", async () => {
    const limited = await server.createApp(gatedWorkflow(gate.url, "SDK limited"));
    const patch = await server.admin(`/api/admin/apps/${limited.appId}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ max_concurrency: 1 }),
    });
    expect(patch.status).toBe(200);
    const sdk = client(limited.key, { retry: { baseDelayMs: 100, maxDelayMs: 200 }, maxRetries: 8 });
    const holder = await sdk.runAsync({ name: "holder" });
    await gate.arrived("holder");

    await expect(client(limited.key, { maxRetries: 0 }).run({ name: "refused" })).rejects.toMatchObject({
      status: 429,
      code: "too_many_requests",
    });

    gate.release("second");
    const second = sdk.run({ name: "second" });
    setTimeout(() => gate.release("holder"), 300);
    const result = await second;
    expect(result.data.status).toBe("succeeded");
    expect((await sdk.getRun(holder.workflow_run_id)).status).toBe("succeeded");
  });

  it("a refused connection: NetworkError (not processed) after the retries", async () => {
    const port = await closedPort();
    const started = Date.now();
    const error = await new DifyWorkflowClient({
      apiKey: "app-x",
      baseUrl: `http://127.0.0.1:${port}`,
      maxRetries: 2,
      retry: { baseDelayMs: 100, maxDelayMs: 100 },
    })
      .info()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect(error).toMatchObject({ maybeProcessed: false, httpStatus: null });
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
    // Two backoffs of 50-100 ms each happened before giving up.
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });

  it("503 from a proxy: retried for reads, not for an upload", async () => {
    const proxy = await startFlakyProxy(server.url);
    try {
      const sdk = client(extract.key, { baseUrl: proxy.url });
      proxy.failNext(2);
      expect((await sdk.info()).name).toBe("SDK extract");
      expect(proxy.refused).toEqual(["GET /v1/info", "GET /v1/info"]);

      proxy.failNext(1);
      const error = await sdk.uploadFile(new Blob(["x"]), { filename: "x.txt" }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidResponseError);
      expect(error).toMatchObject({ httpStatus: 503 });
      expect(proxy.forwarded.filter((r) => r.includes("/files/upload"))).toEqual([]);

      // A run carries an Idempotency-Key, so it is safe to repeat.
      proxy.failNext(1);
      expect((await client(branch.key, { baseUrl: proxy.url }).run({ query: "through" })).data.status).toBe("succeeded");
    } finally {
      await proxy.close();
    }
  });

  it("timeoutMs: RequestTimeoutError, and the run goes on", async () => {
    const sdk = client(gated.key, { maxRetries: 0 });
    const error = await sdk.run({ name: "slow" }, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestTimeoutError);
    expect(error).toMatchObject({ timeoutMs: 300 });
    const latest = (await sdk.logs({ limit: 1 })).data[0];
    expect(latest?.workflow_run.status).toBe("running");
    gate.release("slow");
    expect((await sdk.waitForRun(latest?.id ?? "")).status).toBe("succeeded");
  });

  it("an AbortSignal cancels a blocking call and a stream being read (AbortError); the run goes on", async () => {
    const sdk = client(gated.key);
    const controller = new AbortController();
    const blocking = sdk.run({ name: "abort-blocking" }, { signal: controller.signal }).catch((e: unknown) => e);
    await gate.arrived("abort-blocking");
    controller.abort();
    const error = await blocking;
    expect(error).toBeInstanceOf(RequestAbortedError);
    expect((error as Error).name).toBe("AbortError");
    gate.release("abort-blocking");

    const streamController = new AbortController();
    const stream = await sdk.stream({ name: "abort-stream" }, { signal: streamController.signal });
    const reading = collect(stream).catch((e: unknown) => e);
    await gate.arrived("abort-stream");
    streamController.abort();
    expect(await reading).toBeInstanceOf(RequestAbortedError);
    expect((await sdk.getRun(stream.runId)).status).toBe("running");
    gate.release("abort-stream");
    expect((await sdk.waitForRun(stream.runId)).status).toBe("succeeded");

    const already = new AbortController();
    already.abort();
    await expect(sdk.info({ signal: already.signal })).rejects.toBeInstanceOf(RequestAbortedError);
  });
});

describe("app endpoints", () => {
  it("info, parameters, site and logs", async () => {
    const sdk = client(branch.key);
    expect(await sdk.info()).toEqual({
      name: "SDK branch",
      description: "SDK branch (test workflow)",
      tags: [],
      mode: "workflow",
      author_name: "",
    });
    const parameters = await sdk.parameters();
    expect(parameters.user_input_form.map((item) => Object.keys(item)[0])).toEqual(["text-input", "select", "number", "file"]);
    expect(parameters.user_input_form[0]?.["text-input"]).toMatchObject({ variable: "query", required: true });
    expect(parameters.system_parameters.file_size_limit).toBe(15);
    expect(await sdk.site()).toMatchObject({ title: "SDK branch", icon: "🤖", icon_type: "emoji" });

    await sdk.run({ query: "logged" }, { user: "log-reader" });
    const logs = await sdk.logs({ endUserSessionId: "log-reader", limit: 5, createdAtAfter: new Date(Date.now() - 60_000) });
    expect(logs.total).toBe(1);
    expect(logs.data[0]).toMatchObject({
      workflow_run: { status: "succeeded" },
      created_by_end_user: { session_id: "log-reader" },
    });
    expect((await sdk.logs({ status: "failed", endUserSessionId: "log-reader" })).total).toBe(0);
  });
});
