/**
 * Running workflows over Dify's API against the real server: blocking, streaming and async
 * runs, pinned versions, idempotency, run detail and node executions — on SQLite and
 * PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataFrames, json, modes, readSse, startTestServer, type TestServer, waitFor } from "./support/harness.js";
import { branchWorkflow, containerWorkflow } from "./support/workflows.js";

describe.each(modes)("Dify runs (%s)", (dialect) => {
  let server: TestServer;
  let app: { appId: string; workflowId: string; key: string };
  let containers: { appId: string; workflowId: string; key: string };

  beforeAll(async () => {
    server = await startTestServer(dialect, { pingIntervalMs: 200 });
    app = await server.createApp(branchWorkflow());
    containers = await server.createApp(containerWorkflow());
  });
  afterAll(() => server?.close());

  const run = (body: unknown, path = "/v1/workflows/run", headers: Record<string, string> = {}, key = app.key) =>
    server.api(key, path, { method: "POST", json: body, headers });

  it("blocking: answers Dify's CompletionResponse once the run finished", async () => {
    const res = await run({ inputs: { query: "hello", count: "3" }, user: "alice", response_mode: "blocking" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    const body = await json<{ task_id: string; workflow_run_id: string; data: Record<string, unknown> }>(res);
    expect(res.headers.get("x-workflow-run-id")).toBe(body.workflow_run_id);
    expect(Object.keys(body).sort()).toEqual(["data", "task_id", "workflow_run_id"]);
    expect(body.data).toMatchObject({
      id: body.workflow_run_id,
      workflow_id: app.workflowId,
      status: "succeeded",
      outputs: { text: "hello", count: 3, doc: null },
      error: null,
      total_tokens: 0,
      total_steps: 3,
    });
    expect(Object.keys(body.data).sort()).toEqual(
      [
        "created_at",
        "elapsed_time",
        "error",
        "finished_at",
        "id",
        "outputs",
        "status",
        "total_steps",
        "total_tokens",
        "workflow_id",
      ].sort(),
    );
    expect(Number.isInteger(body.data["created_at"])).toBe(true);
    expect(body.data["created_at"]).toBeLessThan(1e11); // seconds, not milliseconds
    expect(typeof body.data["elapsed_time"]).toBe("number");
    expect(body.data["elapsed_time"]).toBeLessThan(5);
  });

  it("defaults to blocking when response_mode is omitted and takes the branch the inputs select", async () => {
    const res = await run({ inputs: { query: "bonjour", lang: "fr" }, user: "alice" });
    const body = await json<{ data: { outputs: unknown } }>(res);
    expect(body.data.outputs).toEqual({ greeting: "bonjour", lang: "fr" });
  });

  it("streaming: ping first, then Dify frames in order with ids, closing after workflow_finished", async () => {
    const res = await run({ inputs: { query: "stream me" }, user: "bob", response_mode: "streaming" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const runId = res.headers.get("x-workflow-run-id");
    expect(runId).toBeTruthy();
    const events = await readSse(res);
    expect(events[0]).toEqual({ event: "ping" });
    const frames = dataFrames(events);
    expect(frames.map((f) => f.event)).toEqual([
      "workflow_started",
      "node_started",
      "node_finished",
      "node_started",
      "node_finished",
      "node_started",
      "node_finished",
      "workflow_finished",
    ]);
    const ids = events.filter((e) => e.data !== undefined).map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    for (const f of frames) {
      expect(f["workflow_run_id"]).toBe(runId);
      expect(typeof f["task_id"]).toBe("string");
    }
    const started = frames[0]?.["data"] as Record<string, unknown>;
    expect(started).toMatchObject({ id: runId, workflow_id: app.workflowId });
    expect(started["inputs"]).toMatchObject({ query: "stream me", "sys.user_id": "bob" });
    const nodeStarted = frames[1]?.["data"] as Record<string, unknown>;
    expect(nodeStarted).toMatchObject({
      node_id: "start",
      node_type: "start",
      title: "start",
      index: 1,
      predecessor_node_id: null,
    });
    const branchFinished = frames[4]?.["data"] as Record<string, unknown>;
    expect(branchFinished).toMatchObject({ node_id: "branch", node_type: "if-else", status: "succeeded" });
    expect(branchFinished["execution_metadata"]).toMatchObject({ total_tokens: 0, total_price: 0, currency: "USD" });
    expect(typeof branchFinished["elapsed_time"]).toBe("number");
    const finished = frames.at(-1)?.["data"] as Record<string, unknown>;
    expect(finished).toMatchObject({
      id: runId,
      status: "succeeded",
      outputs: { text: "stream me", count: null, doc: null },
      total_steps: 3,
    });
    expect(finished["created_by"]).toMatchObject({ user: "bob" });
  });

  it("streaming: loop and iteration container events", async () => {
    const res = await run({ inputs: {}, user: "bob", response_mode: "streaming" }, undefined, {}, containers.key);
    const frames = dataFrames(await readSse(res));
    const kinds = frames.map((f) => f.event);
    expect(kinds).toContain("loop_started");
    expect(kinds.filter((k) => k === "loop_next")).toHaveLength(3);
    expect(kinds).toContain("loop_completed");
    expect(kinds).toContain("iteration_started");
    expect(kinds).toContain("iteration_completed");
    expect(kinds.indexOf("loop_started")).toBeLessThan(kinds.indexOf("loop_completed"));
    const next = frames.find((f) => f.event === "loop_next")?.["data"] as Record<string, unknown>;
    expect(next).toMatchObject({ node_id: "loop", node_type: "loop", index: 0 });
    const inLoop = frames.find((f) => f.event === "node_started" && (f["data"] as { node_id: string }).node_id === "loop_start");
    expect(inLoop?.["data"]).toMatchObject({ loop_id: "loop" });
    expect(kinds.at(-1)).toBe("workflow_finished");
    expect(frames.at(-1)?.["data"]).toMatchObject({ status: "succeeded" });
  });

  it("async: 202 with the ids at once, then the result by polling", async () => {
    const res = await run({ inputs: { query: "later" }, user: "carol", response_mode: "async" });
    expect(res.status).toBe(202);
    const body = await json<{ task_id: string; workflow_run_id: string }>(res);
    expect(Object.keys(body).sort()).toEqual(["task_id", "workflow_run_id"]);
    const detail = await waitFor(async () => {
      const d = await json<Record<string, unknown>>(await server.api(app.key, `/v1/workflows/run/${body.workflow_run_id}`));
      return d["status"] === "running" ? undefined : d;
    });
    expect(detail).toMatchObject({
      id: body.workflow_run_id,
      workflow_id: app.workflowId,
      status: "succeeded",
      outputs: { text: "later" },
    });
    expect(typeof detail["inputs"]).toBe("string");
    const inputs = JSON.parse(detail["inputs"] as string) as Record<string, unknown>;
    expect(inputs).toMatchObject({ query: "later", "sys.user_id": "carol", "sys.workflow_run_id": body.workflow_run_id });
    expect(Object.keys(detail).sort()).toEqual(
      [
        "created_at",
        "elapsed_time",
        "error",
        "finished_at",
        "id",
        "inputs",
        "outputs",
        "status",
        "total_steps",
        "total_tokens",
        "workflow_id",
      ].sort(),
    );
  });

  it("runs a pinned version by workflow_id, and 404s for an unknown one", async () => {
    const v2 = await server.admin(`/api/admin/apps/${app.appId}/versions`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(branchWorkflow("Branch v2")),
    });
    expect(v2.status).toBe(201);
    const { workflow_id: newId } = await json<{ workflow_id: string }>(v2);
    const current = await json<{ data: { workflow_id: string } }>(await run({ inputs: { query: "x" }, user: "u" }));
    expect(current.data.workflow_id).toBe(newId);
    const pinned = await json<{ data: { workflow_id: string } }>(
      await run({ inputs: { query: "x" }, user: "u" }, `/v1/workflows/${app.workflowId}/run`),
    );
    expect(pinned.data.workflow_id).toBe(app.workflowId);
    const unknown = await run({ inputs: { query: "x" }, user: "u" }, "/v1/workflows/no-such-version/run");
    expect(unknown.status).toBe(404);
    expect(await json(unknown)).toMatchObject({ code: "not_found", status: 404 });
    // Another app's version is as unknown as a made-up one.
    const foreign = await run({ inputs: { query: "x" }, user: "u" }, `/v1/workflows/${containers.workflowId}/run`);
    expect(foreign.status).toBe(404);
  });

  it("Idempotency-Key: a retry returns the same run; another body with the key is 409", async () => {
    const key = `idem-${dialect}-${Date.now()}`;
    const first = await run({ inputs: { query: "once" }, user: "dave" }, undefined, { "Idempotency-Key": key });
    const a = await json<{ workflow_run_id: string; data: { outputs: unknown } }>(first);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const again = await run({ user: "dave", inputs: { query: "once" }, response_mode: "async" }, undefined, {
      "Idempotency-Key": key,
    });
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect((await json<{ workflow_run_id: string }>(again)).workflow_run_id).toBe(a.workflow_run_id);
    const replayBlocking = await json<{ workflow_run_id: string; data: { outputs: unknown } }>(
      await run({ inputs: { query: "once" }, user: "dave" }, undefined, { "Idempotency-Key": key }),
    );
    expect(replayBlocking).toMatchObject({ workflow_run_id: a.workflow_run_id, data: { outputs: a.data.outputs } });
    const conflict = await run({ inputs: { query: "twice" }, user: "dave" }, undefined, { "Idempotency-Key": key });
    expect(conflict.status).toBe(409);
    expect(await json(conflict)).toMatchObject({ code: "idempotency_conflict", status: 409 });
    const logs = await json<{ data: Array<{ id: string }> }>(
      await server.api(app.key, "/v1/workflows/logs?keyword=once&limit=100"),
    );
    expect(logs.data.filter((l) => l.id === a.workflow_run_id)).toHaveLength(1);
    const bad = await run({ inputs: { query: "x" }, user: "dave" }, undefined, { "Idempotency-Key": "has space" });
    expect(bad.status).toBe(400);
  });

  it("lists a run's node executions (beyond Dify) and hides other apps' runs", async () => {
    const done = await json<{ workflow_run_id: string }>(await run({ inputs: { query: "nodes" }, user: "erin" }));
    const res = await server.api(app.key, `/v1/workflows/run/${done.workflow_run_id}/node-executions`);
    expect(res.status).toBe(200);
    const { data } = await json<{ data: Array<Record<string, unknown>> }>(res);
    expect(data.map((d) => d["node_id"])).toEqual(["start", "branch", "end_en"]);
    expect(data[1]).toMatchObject({ node_type: "if-else", status: "succeeded", index: 2 });
    expect(data[1]?.["process_data"]).toMatchObject({ condition_results: [{ case_id: "fr", result: false }] });
    expect(data[2]?.["outputs"]).toMatchObject({ text: "nodes" });
    for (const path of [
      `/v1/workflows/run/${done.workflow_run_id}`,
      `/v1/workflows/run/${done.workflow_run_id}/node-executions`,
    ]) {
      const other = await server.api(containers.key, path);
      expect(other.status).toBe(404);
      expect(await json(other)).toMatchObject({ code: "not_found", status: 404 });
    }
    const unknown = await server.api(app.key, "/v1/workflows/run/not-a-run");
    expect(unknown.status).toBe(404);
  });

  it("resume of a finished run: one workflow_finished frame, or everything after Last-Event-ID", async () => {
    const res = await run({ inputs: { query: "resume" }, user: "frank", response_mode: "streaming" });
    const events = await readSse(res);
    const runId = res.headers.get("x-workflow-run-id") as string;
    const single = dataFrames(await readSse(await server.api(app.key, `/v1/workflow/${runId}/events?user=frank`)));
    expect(single.map((f) => f.event)).toEqual(["workflow_finished"]);
    expect(single[0]).toMatchObject({ workflow_run_id: runId, data: { id: runId, status: "succeeded" } });

    const withData = events.filter((e) => e.data !== undefined);
    const third = withData[2] as { id: string };
    const rest = await readSse(
      await server.api(app.key, `/v1/workflow/${runId}/events?user=frank`, { headers: { "Last-Event-ID": third.id } }),
    );
    expect(rest.filter((e) => e.data !== undefined)).toEqual(withData.slice(3));

    const wrongUser = await server.api(app.key, `/v1/workflow/${runId}/events?user=mallory`);
    expect(wrongUser.status).toBe(404);
    const noUser = await server.api(app.key, `/v1/workflow/${runId}/events`);
    expect(noUser.status).toBe(400);
    expect(await json(noUser)).toMatchObject({ code: "invalid_param", message: "Arg user must be provided." });
  });

  it("stop of a finished or unknown task", async () => {
    const done = await json<{ task_id: string }>(await run({ inputs: { query: "done" }, user: "gina" }));
    const stop = await server.api(app.key, `/v1/workflows/tasks/${done.task_id}/stop`, {
      method: "POST",
      json: { user: "gina" },
    });
    expect(stop.status).toBe(200);
    expect(await json(stop)).toEqual({ result: "success" });
    const unknown = await server.api(app.key, "/v1/workflows/tasks/nope/stop", { method: "POST", json: { user: "gina" } });
    expect(unknown.status).toBe(404);
    const noUser = await server.api(app.key, `/v1/workflows/tasks/${done.task_id}/stop`, { method: "POST", json: {} });
    expect(noUser.status).toBe(400);
    expect(await json(noUser)).toMatchObject({ code: "invalid_param", message: "Arg user must be provided." });
  });
});
