/**
 * Runs caught in the middle (an HTTP node waiting on an upstream the test controls): stop
 * during streaming, a client that disconnects, and resuming the stream with Last-Event-ID.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GateServer, startGateServer } from "./support/gate-server.js";
import { dataFrames, json, modes, readSse, type SseEvent, startTestServer, type TestServer, waitFor } from "./support/harness.js";
import { gatedWorkflow } from "./support/workflows.js";

const nodeStarted = (nodeId: string) => (e: SseEvent) =>
  e.data !== undefined &&
  (JSON.parse(e.data) as { event: string; data: { node_id?: string } }).event === "node_started" &&
  (JSON.parse(e.data) as { data: { node_id?: string } }).data.node_id === nodeId;

describe.each(modes)("runs in progress (%s)", (dialect) => {
  let server: TestServer;
  let gate: GateServer;
  let app: { appId: string; key: string };

  beforeAll(async () => {
    gate = await startGateServer();
    server = await startTestServer(dialect, { pingIntervalMs: 50 });
    app = await server.createApp(gatedWorkflow(gate.url));
  });
  afterAll(async () => {
    await server?.close();
    await gate?.close();
  });

  const stream = (name: string, user = "live") =>
    server.api(app.key, "/v1/workflows/run", { method: "POST", json: { inputs: { name }, user, response_mode: "streaming" } });

  it("stop during streaming: answers once the run is stopped, and the stream ends with it", async () => {
    const res = await stream("to-stop");
    const runId = res.headers.get("x-workflow-run-id") as string;
    const seen: SseEvent[] = [];
    const reading = readSse(res, { onEvent: (e) => seen.push(e) });
    await gate.arrived("to-stop");
    const started = await waitFor(async () => dataFrames(seen).find((f) => f.event === "workflow_started"));
    const taskId = started["task_id"] as string;

    const t0 = Date.now();
    const stop = await server.api(app.key, `/v1/workflows/tasks/${taskId}/stop`, { method: "POST", json: { user: "live" } });
    expect(stop.status).toBe(200);
    expect(await json(stop)).toEqual({ result: "success" });
    expect(Date.now() - t0).toBeLessThan(3_000);
    // "success" means stopped now, not "will stop eventually".
    expect(await json(await server.api(app.key, `/v1/workflows/run/${runId}`))).toMatchObject({ status: "stopped" });

    const frames = dataFrames(await reading);
    expect(frames.at(-1)).toMatchObject({ event: "workflow_finished", data: { status: "stopped" } });
    const httpFinished = frames.find((f) => f.event === "node_finished" && (f["data"] as { node_id: string }).node_id === "call");
    expect((httpFinished?.["data"] as { status: string } | undefined)?.status).toBe("stopped");
    const logs = await json<{ data: Array<{ id: string }> }>(await server.api(app.key, "/v1/workflows/logs?status=stopped"));
    expect(logs.data.map((l) => l.id)).toContain(runId);
  });

  it("a client that disconnects does not stop the run", async () => {
    const res = await stream("disconnect");
    const runId = res.headers.get("x-workflow-run-id") as string;
    await readSse(res, { until: nodeStarted("call") });
    // readSse cancelled the body: the client is gone. The run waits on the gate, unaffected.
    await gate.arrived("disconnect");
    expect(await json(await server.api(app.key, `/v1/workflows/run/${runId}`))).toMatchObject({ status: "running" });
    gate.release("disconnect", "finished without a listener");
    const done = await waitFor(async () => {
      const d = await json<{ status: string; outputs: unknown }>(await server.api(app.key, `/v1/workflows/run/${runId}`));
      return d.status === "running" ? undefined : d;
    });
    expect(done).toMatchObject({ status: "succeeded", outputs: { status: 200, body: "finished without a listener" } });
  });

  it("resume after a disconnect with Last-Event-ID: no gap, no repeat, then live to the end", async () => {
    const res = await stream("resume");
    const runId = res.headers.get("x-workflow-run-id") as string;
    const before = await readSse(res, { until: nodeStarted("call") });
    const lastId = before.filter((e) => e.id !== undefined).at(-1)?.id as string;

    // Replay from the start while the run still waits: everything so far, then live.
    const fromStart = server.api(app.key, `/v1/workflow/${runId}/events?user=live`).then((r) => readSse(r));
    const resumed = server
      .api(app.key, `/v1/workflow/${runId}/events?user=live`, { headers: { "Last-Event-ID": lastId } })
      .then((r) => readSse(r));
    await new Promise((r) => setTimeout(r, 250));
    gate.release("resume");

    const resumedEvents = await resumed;
    // Idle streams are kept alive with pings (every 10 s by default; 50 ms here).
    expect(resumedEvents.filter((e) => e.event === "ping").length).toBeGreaterThanOrEqual(3);
    const after = resumedEvents.filter((e) => e.data !== undefined);
    expect(Number(after[0]?.id)).toBe(Number(lastId) + 1);
    const ids = after.map((e) => Number(e.id));
    expect(ids).toEqual(ids.map((_, i) => Number(lastId) + 1 + i));
    expect(dataFrames(after).at(-1)).toMatchObject({ event: "workflow_finished", data: { status: "succeeded" } });

    const all = (await fromStart).filter((e) => e.data !== undefined);
    expect(all.slice(0, before.filter((e) => e.data !== undefined).length)).toEqual(before.filter((e) => e.data !== undefined));
    expect(all.slice(-after.length)).toEqual(after);
    expect(dataFrames(all)[0]?.event).toBe("workflow_started");

    // Resuming after the last event: nothing more to send, and no error either.
    const tail = await readSse(
      await server.api(app.key, `/v1/workflow/${runId}/events?user=live`, {
        headers: { "Last-Event-ID": after.at(-1)?.id as string },
      }),
    );
    expect(tail.filter((e) => e.data !== undefined)).toEqual([]);
  });

  it("an app's concurrency limit answers 429 while its runs are busy", async () => {
    expect(
      (
        await server.admin(`/api/admin/apps/${app.appId}`, {
          method: "PATCH",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ max_concurrency: 1 }),
        })
      ).status,
    ).toBe(200);
    try {
      const first = await server.api(app.key, "/v1/workflows/run", {
        method: "POST",
        json: { inputs: { name: "busy" }, user: "live", response_mode: "async" },
      });
      expect(first.status).toBe(202);
      const { workflow_run_id: runId } = await json<{ workflow_run_id: string }>(first);
      await gate.arrived("busy");
      const second = await server.api(app.key, "/v1/workflows/run", {
        method: "POST",
        json: { inputs: { name: "busy-2" }, user: "live" },
      });
      expect(second.status).toBe(429);
      expect(await json(second)).toMatchObject({ code: "too_many_requests", status: 429 });
      gate.release("busy");
      await waitFor(async () => {
        const d = await json<{ status: string }>(await server.api(app.key, `/v1/workflows/run/${runId}`));
        return d.status === "running" ? undefined : d;
      });
    } finally {
      await server.admin(`/api/admin/apps/${app.appId}`, {
        method: "PATCH",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ max_concurrency: null }),
      });
    }
  });

  it("blocking runs wait for the upstream; async ones return at once", async () => {
    const asyncRes = await server.api(app.key, "/v1/workflows/run", {
      method: "POST",
      json: { inputs: { name: "async" }, user: "live", response_mode: "async" },
    });
    expect(asyncRes.status).toBe(202);
    const blocking = server.api(app.key, "/v1/workflows/run", {
      method: "POST",
      json: { inputs: { name: "async" }, user: "live" },
    });
    await gate.arrived("async");
    gate.release("async", "both");
    expect(await json(await blocking)).toMatchObject({ data: { status: "succeeded", outputs: { body: "both" } } });
  });
});
