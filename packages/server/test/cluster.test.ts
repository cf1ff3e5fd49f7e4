/**
 * Distributed mode as deployed: 2 API processes (`tributary serve`) and 2 workers (`tributary
 * worker`) as real child processes sharing one PostgreSQL database and one Redis (under a key
 * prefix of this test run). Covers 200 mixed runs through both API processes, the cluster-wide
 * concurrency limit, stop and resume across processes, kill -9 of a worker (failed, or retried
 * when the app allows) and of an API process mid-stream, graceful worker shutdown, a Redis
 * restart while idle, and /metrics. Failure timings are printed for the record.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../src/store/open-store.js";
import type { RunEventRow, RunRow, Store } from "../src/store/types.js";
import { type GateServer, startGateServer } from "./support/gate-server.js";
import { createDatabase, dataFrames, json, readSse, type SseEvent, waitFor } from "./support/harness.js";
import { dropPrefix, ensureRedisUp, holdRedis, REDIS_URL, redisAvailable, restartRedis, testPrefix } from "./support/redis.js";
import { branchWorkflow, containerWorkflow, gatedWorkflow } from "./support/workflows.js";

const CLI = fileURLToPath(new URL("../../cli/bin/tributary.js", import.meta.url));
const ADMIN_TOKEN = "cluster-test-admin-token-0123456789";
const SECRET_KEY = randomBytes(32).toString("hex");
// Short leases so a dead worker is noticed within seconds.
const LOCK_MS = 2000;
const STALLED_CHECK_MS = 500;

interface Proc {
  kind: "api" | "worker";
  child: ChildProcess;
  /** API: base URL; worker: metrics base URL. */
  url: string;
  output(): string;
}

const nodeStarted = (nodeId: string) => (e: SseEvent) => {
  if (e.data === undefined) return false;
  const frame = JSON.parse(e.data) as { event: string; data: { node_id?: string } };
  return frame.event === "node_started" && frame.data.node_id === nodeId;
};

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    child.once("exit", (code) => resolve(code));
  });
}

async function killHard(child: ChildProcess): Promise<void> {
  const done = exited(child);
  child.kill("SIGKILL");
  await done;
}

describe.skipIf(!redisAvailable)("distributed cluster: 2 API processes + 2 workers", () => {
  let releaseRedis: (() => Promise<void>) | undefined;
  let database: { url: string; drop(): Promise<void> } | undefined;
  let dataDir: string;
  let prefix: string;
  let gate: GateServer;
  let store: Store;
  const all: Proc[] = [];
  const apis: Proc[] = [];
  const workers: Proc[] = [];
  let branch: { appId: string; key: string };
  let containers: { appId: string; key: string };
  /** What the containers workflow outputs for empty inputs (learnt from one run before the 200). */
  let containerOutputs: Record<string, unknown>;
  let gated: { appId: string; key: string };
  let retrying: { appId: string; key: string };

  async function start(kind: "api" | "worker"): Promise<Proc> {
    const args =
      kind === "api"
        ? [CLI, "serve", "--port", "0", "--no-examples", "--data-dir", dataDir]
        : [CLI, "worker", "--data-dir", dataDir, "--concurrency", "8", "--metrics-port", "0"];
    const child = spawn(process.execPath, args, {
      env: {
        ...process.env,
        TRIBUTARY_DATABASE_URL: database?.url,
        TRIBUTARY_REDIS_URL: REDIS_URL,
        TRIBUTARY_REDIS_PREFIX: prefix,
        TRIBUTARY_ADMIN_TOKEN: ADMIN_TOKEN,
        TRIBUTARY_SECRET_KEY: SECRET_KEY,
        TRIBUTARY_HTTP_ALLOW_LIST: "127.0.0.1",
        TRIBUTARY_LOG_LEVEL: "warn",
        TRIBUTARY_WORKER_LOCK_MS: String(LOCK_MS),
        TRIBUTARY_STALLED_CHECK_MS: String(STALLED_CHECK_MS),
        TRIBUTARY_SHUTDOWN_GRACE_MS: "5000",
        TRIBUTARY_SANDBOX_WARM: "false",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout?.on("data", (d) => (out += String(d)));
    child.stderr?.on("data", (d) => (out += String(d)));
    let code: number | null | undefined;
    child.on("exit", (c) => (code = c));
    const pattern = kind === "api" ? /listening on (http:\/\/\S+)/ : /metrics at (http:\/\/\S+)\/metrics/;
    const url = await waitFor(
      async () => {
        if (code !== undefined) throw new Error(`tributary ${kind} exited with ${code}:\n${out}`);
        return pattern.exec(out)?.[1];
      },
      30_000,
      50,
    );
    const proc: Proc = { kind, child, url, output: () => out };
    all.push(proc);
    (kind === "api" ? apis : workers).push(proc);
    return proc;
  }

  function forget(proc: Proc): void {
    const list = proc.kind === "api" ? apis : workers;
    list.splice(list.indexOf(proc), 1);
  }

  const api = (i: number) => apis[i % apis.length] as Proc;
  const call = (proc: Proc, key: string, path: string, init: RequestInit & { json?: unknown } = {}) => {
    const { json: body, ...rest } = init;
    const headers: Record<string, string> = { Authorization: `Bearer ${key}`, ...(rest.headers as Record<string, string>) };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(`${proc.url}${path}`, { ...rest, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  };
  const admin = (path: string, init: RequestInit = {}) =>
    fetch(`${api(0).url}${path}`, { ...init, headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, ...(init.headers ?? {}) } });
  async function createApp(dsl: unknown): Promise<{ appId: string; key: string }> {
    const created = await admin("/api/admin/apps", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(dsl),
    });
    if (created.status !== 201) throw new Error(`creating the app failed: ${created.status} ${await created.text()}`);
    const { app_id } = await json<{ app_id: string }>(created);
    const { key } = await json<{ key: string }>(await admin(`/api/admin/apps/${app_id}/api-keys`, { method: "POST" }));
    return { appId: app_id, key };
  }
  const runBody = (inputs: Record<string, unknown>, mode: string, user = "cluster") => ({
    inputs,
    user,
    response_mode: mode,
  });
  async function waitDone(runId: string, timeoutMs = 20_000): Promise<RunRow> {
    return waitFor(
      async () => {
        const run = await store.getRun(runId);
        return run && run.status !== "running" ? run : undefined;
      },
      timeoutMs,
      20,
    );
  }
  async function ownerProc(runId: string): Promise<Proc> {
    const run = await waitFor(async () => {
      const r = await store.getRun(runId);
      return r?.owner && r.owner !== "queued" ? r : undefined;
    });
    const pid = Number(run.owner?.split(":")[1]);
    const proc = workers.find((w) => w.child.pid === pid);
    if (!proc) throw new Error(`run ${runId} is owned by ${run.owner}, not one of the worker children`);
    return proc;
  }
  async function events(runId: string): Promise<RunEventRow[]> {
    return store.listRunEvents(runId, { limit: 100_000 });
  }
  /** Until the run's `node_started` of `nodeId` is in the store (what a worker emitted but had not saved dies with it). */
  async function durable(runId: string, nodeId: string): Promise<void> {
    await waitFor(async () =>
      (await events(runId)).some(
        (r) => r.type === "node_started" && (r.payload as { execution: { nodeId: string } }).execution.nodeId === nodeId,
      )
        ? true
        : undefined,
    );
  }

  beforeAll(async () => {
    releaseRedis = await holdRedis("exclusive");
    await ensureRedisUp();
    database = await createDatabase();
    dataDir = mkdtempSync(join(tmpdir(), "tributary-cluster-test-"));
    prefix = testPrefix();
    gate = await startGateServer();
    // Migrates the fresh database before four processes start on it.
    store = await openStore({ databaseUrl: database.url, dataDir, env: { TRIBUTARY_SECRET_KEY: SECRET_KEY } });
    await Promise.all([start("api"), start("api"), start("worker"), start("worker")]);
    apis.sort((a, b) => (a.url < b.url ? -1 : 1));
    branch = await createApp(branchWorkflow("Cluster branch"));
    containers = await createApp(containerWorkflow("Cluster containers"));
    gated = await createApp(gatedWorkflow(gate.url, "Cluster gated"));
    const retryable = gatedWorkflow(gate.url, "Cluster retrying");
    (retryable.app as Record<string, unknown>)["retry_on_worker_loss"] = true;
    retrying = await createApp(retryable);
  }, 90_000);

  afterAll(async () => {
    await Promise.all(all.map((p) => killHard(p.child)));
    await ensureRedisUp().catch(() => {});
    await store?.close();
    await gate?.close();
    await database?.drop();
    if (prefix) await dropPrefix(prefix).catch(() => {});
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    await releaseRedis?.();
  }, 60_000);

  it("200 mixed runs through both API processes: each stored once, correct outputs, complete ordered events", async () => {
    const probe = await call(api(0), containers.key, "/v1/workflows/run", { method: "POST", json: runBody({}, "blocking") });
    const probeBody = await json<{ workflow_run_id: string; data: { status: string; outputs: Record<string, unknown> } }>(probe);
    expect(probeBody.data.status).toBe("succeeded");
    containerOutputs = probeBody.data.outputs;
    const t0 = Date.now();
    interface Outcome {
      runId: string;
      expected: Record<string, unknown>;
      streamed?: Array<{ id: number; event: string }>;
    }
    const outcomes: Outcome[] = [];
    const job = async (i: number) => {
      const viaContainers = i % 5 === 4;
      const mode = (["blocking", "streaming", "async"] as const)[i % 3] as string;
      const lang = i % 2 === 0 ? "fr" : "en";
      const query = `q-${i}`;
      const inputs = viaContainers ? {} : { query, lang, count: i };
      const expected = viaContainers
        ? containerOutputs
        : lang === "fr"
          ? { greeting: query, lang }
          : { text: query, count: i, doc: null };
      const key = viaContainers ? containers.key : branch.key;
      const res = await call(api(i), key, "/v1/workflows/run", { method: "POST", json: runBody(inputs, mode) });
      if (mode === "blocking") {
        expect(res.status).toBe(200);
        const body = await json<{ workflow_run_id: string; data: { status: string; outputs: unknown } }>(res);
        expect(body.data).toMatchObject({ status: "succeeded", outputs: expected });
        outcomes.push({ runId: body.workflow_run_id, expected });
      } else if (mode === "streaming") {
        expect(res.status).toBe(200);
        const runId = res.headers.get("x-workflow-run-id") as string;
        const received = (await readSse(res)).filter((e) => e.data !== undefined);
        const streamed = received.map((e) => ({
          id: Number(e.id),
          event: (JSON.parse(e.data as string) as { event: string }).event,
        }));
        const last = dataFrames(received).at(-1);
        expect(last).toMatchObject({ event: "workflow_finished", data: { status: "succeeded", outputs: expected } });
        outcomes.push({ runId, expected, streamed });
      } else {
        expect(res.status).toBe(202);
        const { workflow_run_id: runId } = await json<{ workflow_run_id: string }>(res);
        // Polled through the other API process.
        const detail = await waitFor(
          async () => {
            const d = await json<{ status: string; outputs: unknown }>(await call(api(i + 1), key, `/v1/workflows/run/${runId}`));
            return d.status === "running" ? undefined : d;
          },
          20_000,
          25,
        );
        expect(detail).toMatchObject({ status: "succeeded", outputs: expected });
        outcomes.push({ runId, expected });
      }
    };
    let next = 0;
    await Promise.all(
      Array.from({ length: 24 }, async () => {
        while (next < 200) await job(next++);
      }),
    );
    const elapsed = Date.now() - t0;

    // Exactly once in the store, with the outcome the client saw.
    const stored = [
      ...(await store.listRuns({ appId: branch.appId, limit: 1000 })).items,
      ...(await store.listRuns({ appId: containers.appId, limit: 1000 })).items,
    ].map((e) => e.run);
    const mine = stored.filter((r) => r.id !== probeBody.workflow_run_id);
    expect(mine).toHaveLength(200);
    expect(new Set(mine.map((r) => r.id))).toEqual(new Set(outcomes.map((o) => o.runId)));
    const byId = new Map(stored.map((r) => [r.id, r]));
    const owners = new Map<string, number>();
    for (const o of outcomes) {
      const run = byId.get(o.runId) as RunRow;
      expect(run).toMatchObject({ status: "succeeded", outputs: o.expected });
      owners.set(run.owner ?? "?", (owners.get(run.owner ?? "?") ?? 0) + 1);
      const rows = await events(o.runId);
      // Complete and ordered: seq 1..N, started first, finished last, every node started and finished.
      expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
      expect(rows[0]?.type).toBe("workflow_started");
      expect(rows.at(-1)?.type).toBe("workflow_finished");
      expect(rows.filter((r) => r.type === "node_started").length).toBe(rows.filter((r) => r.type === "node_finished").length);
      if (o.streamed) expect(o.streamed).toEqual(rows.map((r) => ({ id: r.seq, event: r.type })));
    }
    // Both workers took runs.
    expect(owners.size).toBe(2);
    console.log(`[cluster] 200 mixed runs in ${elapsed} ms; runs per worker: ${[...owners.values()].join(", ")}`);
  }, 90_000);

  it("enforces an app's concurrency limit across API processes (429)", async () => {
    const patch = (max: number | null) =>
      admin(`/api/admin/apps/${gated.appId}`, {
        method: "PATCH",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ max_concurrency: max }),
      });
    expect((await patch(1)).status).toBe(200);
    try {
      const first = await call(api(0), gated.key, "/v1/workflows/run", {
        method: "POST",
        json: runBody({ name: "limit" }, "async"),
      });
      expect(first.status).toBe(202);
      const { workflow_run_id: runId } = await json<{ workflow_run_id: string }>(first);
      await gate.arrived("limit");
      const second = await call(api(1), gated.key, "/v1/workflows/run", {
        method: "POST",
        json: runBody({ name: "limit-2" }, "async"),
      });
      expect(second.status).toBe(429);
      expect(await json(second)).toMatchObject({ code: "too_many_requests", status: 429 });
      gate.release("limit");
      await waitDone(runId);
      // The slot is free again once the run is recorded.
      const third = await waitFor(async () => {
        const r = await call(api(1), gated.key, "/v1/workflows/run", {
          method: "POST",
          json: runBody({ name: "limit-3" }, "async"),
        });
        return r.status === 202 ? r : undefined;
      });
      gate.release("limit-3");
      await waitDone((await json<{ workflow_run_id: string }>(third)).workflow_run_id);
    } finally {
      await patch(null);
    }
  }, 30_000);

  it("stop from another API process ends the run within 1 s, and the stream ends with it", async () => {
    const res = await call(api(0), gated.key, "/v1/workflows/run", {
      method: "POST",
      json: runBody({ name: "stop-x" }, "streaming"),
    });
    const runId = res.headers.get("x-workflow-run-id") as string;
    const seen: SseEvent[] = [];
    const reading = readSse(res, { onEvent: (e) => seen.push(e) });
    await gate.arrived("stop-x");
    const started = await waitFor(async () => dataFrames(seen).find((f) => f.event === "workflow_started"));
    const t0 = performance.now();
    const stop = await call(api(1), gated.key, `/v1/workflows/tasks/${started["task_id"] as string}/stop`, {
      method: "POST",
      json: { user: "cluster" },
    });
    const stopMs = performance.now() - t0;
    expect(stop.status).toBe(200);
    expect((await store.getRun(runId))?.status).toBe("stopped");
    expect(stopMs).toBeLessThan(1000);
    const frames = dataFrames(await reading);
    expect(frames.at(-1)).toMatchObject({ event: "workflow_finished", data: { status: "stopped" } });
    console.log(`[cluster] cross-process stop: answered (run recorded stopped) after ${Math.round(stopMs)} ms`);
  }, 30_000);

  it("resume with Last-Event-ID on another API process: live, then from the store once the stream is gone", async () => {
    const res = await call(api(0), gated.key, "/v1/workflows/run", {
      method: "POST",
      json: runBody({ name: "resume-x" }, "streaming"),
    });
    const runId = res.headers.get("x-workflow-run-id") as string;
    const before = (await readSse(res, { until: nodeStarted("call") })).filter((e) => e.data !== undefined);
    const lastId = before.at(-1)?.id as string;
    const resumed = call(api(1), gated.key, `/v1/workflow/${runId}/events?user=cluster`, {
      headers: { "Last-Event-ID": lastId },
    }).then((r) => readSse(r));
    await new Promise((r) => setTimeout(r, 200));
    gate.release("resume-x");
    const after = (await resumed).filter((e) => e.data !== undefined);
    const ids = [...before, ...after].map((e) => Number(e.id));
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    expect(dataFrames(after).at(-1)).toMatchObject({ event: "workflow_finished", data: { status: "succeeded" } });
    const stored = await events(runId);
    expect(ids).toEqual(stored.map((e) => e.seq));

    // The stream trimmed away (as after its TTL): the store serves the same events (resuming by entry id `2-0` = event 2).
    const redis = new Redis(REDIS_URL);
    try {
      expect(await redis.del(`${prefix}:run:${runId}:events`)).toBe(1);
    } finally {
      redis.disconnect();
    }
    const fromStore = (
      await readSse(
        await call(api(1), gated.key, `/v1/workflow/${runId}/events?user=cluster`, { headers: { "Last-Event-ID": "2-0" } }),
      )
    ).filter((e) => e.data !== undefined);
    expect(fromStore).toEqual([...before, ...after].slice(2));
  }, 30_000);

  it("kill -9 of an API process mid-stream: the run goes on and the client resumes on the other one", async () => {
    const victim = api(0);
    const survivor = api(1);
    const res = await call(victim, gated.key, "/v1/workflows/run", {
      method: "POST",
      json: runBody({ name: "api-kill" }, "streaming"),
    });
    const runId = res.headers.get("x-workflow-run-id") as string;
    const seen: SseEvent[] = [];
    const reading = readSse(res, { onEvent: (e) => seen.push(e) }).catch(() => seen);
    await gate.arrived("api-kill");
    await waitFor(async () => (seen.some(nodeStarted("call")) ? true : undefined));
    await killHard(victim.child);
    forget(victim);
    await reading;
    const before = seen.filter((e) => e.data !== undefined);
    expect(dataFrames(before).some((f) => f.event === "workflow_finished")).toBe(false);
    const resumed = call(survivor, gated.key, `/v1/workflow/${runId}/events?user=cluster`, {
      headers: { "Last-Event-ID": before.at(-1)?.id as string },
    }).then((r) => readSse(r));
    await new Promise((r) => setTimeout(r, 100));
    gate.release("api-kill", "after the API died");
    const after = (await resumed).filter((e) => e.data !== undefined);
    const ids = [...before, ...after].map((e) => Number(e.id));
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    expect(dataFrames(after).at(-1)).toMatchObject({
      event: "workflow_finished",
      data: { status: "succeeded", outputs: { body: "after the API died" } },
    });
    await start("api");
  }, 60_000);

  it("kill -9 of a worker mid-run: the run is failed with a clear error within the lease, never left running", async () => {
    const res = await call(api(0), gated.key, "/v1/workflows/run", {
      method: "POST",
      json: runBody({ name: "worker-kill" }, "async"),
    });
    const { workflow_run_id: runId } = await json<{ workflow_run_id: string }>(res);
    await gate.arrived("worker-kill");
    await durable(runId, "call");
    const victim = await ownerProc(runId);
    // A client following the run on the other API process sees its end.
    const following = call(api(1), gated.key, `/v1/workflow/${runId}/events?user=cluster`, {
      headers: { "Last-Event-ID": "0" },
    }).then((r) => readSse(r));
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await killHard(victim.child);
    forget(victim);
    const run = await waitDone(runId, 20_000);
    const detectedMs = Date.now() - t0;
    expect(run.status).toBe("failed");
    expect(run.errorCode).toBe("worker_lost");
    expect(run.error).toMatch(/worker executing this run stopped .* not retried/);
    expect(detectedMs).toBeLessThan(LOCK_MS + 3 * STALLED_CHECK_MS + 2000);
    const frames = dataFrames(await following);
    expect(frames.at(-1)).toMatchObject({ event: "workflow_finished", data: { status: "failed" } });
    const call_ = frames.find((f) => f.event === "node_finished" && (f["data"] as { node_id: string }).node_id === "call");
    expect(call_?.["data"]).toMatchObject({ status: "failed" });
    const rows = await events(runId);
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
    expect((await store.listNodeExecutions(runId)).every((n) => n.status !== "running")).toBe(true);
    console.log(
      `[cluster] worker killed mid-run: run failed ${detectedMs} ms later (lease ${LOCK_MS} ms, check every ${STALLED_CHECK_MS} ms)`,
    );
    gate.release("worker-kill");
    await start("worker");
  }, 60_000);

  it("kill -9 of a worker mid-run of an app that allows retries: another worker runs it again from the start", async () => {
    const res = await call(api(1), retrying.key, "/v1/workflows/run", {
      method: "POST",
      json: runBody({ name: "retry-x" }, "async"),
    });
    const { workflow_run_id: runId } = await json<{ workflow_run_id: string }>(res);
    await gate.arrived("retry-x");
    await durable(runId, "call");
    const victim = await ownerProc(runId);
    const t0 = Date.now();
    await killHard(victim.child);
    forget(victim);
    // The retry's request is answered at once.
    gate.release("retry-x", "second attempt");
    const run = await waitDone(runId, 20_000);
    const retriedMs = Date.now() - t0;
    expect(run).toMatchObject({ status: "succeeded", outputs: { body: "second attempt" } });
    const rows = await events(runId);
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
    expect(rows.filter((r) => r.type === "workflow_started")).toHaveLength(2);
    const firstCall = rows.find(
      (r) => r.type === "node_finished" && (r.payload as { execution: { nodeId: string } }).execution.nodeId === "call",
    );
    expect(firstCall?.payload).toMatchObject({ status: "failed", error: expect.stringMatching(/retried from the start/) });
    expect(rows.at(-1)).toMatchObject({ type: "workflow_finished", payload: { status: "succeeded" } });
    console.log(`[cluster] worker killed mid-run (retry allowed): run succeeded on another worker ${retriedMs} ms later`);
    await start("worker");
  }, 60_000);

  it("a run whose worker dies again after its retry is failed once the retries are used up", async () => {
    const res = await call(api(0), retrying.key, "/v1/workflows/run", {
      method: "POST",
      json: runBody({ name: "twice" }, "async"),
    });
    const { workflow_run_id: runId } = await json<{ workflow_run_id: string }>(res);
    await gate.arrived("twice");
    await durable(runId, "call");
    const first = await ownerProc(runId);
    await killHard(first.child);
    forget(first);
    await start("worker");
    // The retry reaches the gate again (a second node_started for the HTTP node), then its worker dies too.
    await waitFor(
      async () => ((await events(runId)).filter((r) => r.type === "node_started").length >= 4 ? true : undefined),
      20_000,
    );
    const second = await ownerProc(runId);
    await killHard(second.child);
    forget(second);
    if (workers.length === 0) await start("worker");
    const run = await waitDone(runId, 20_000);
    expect(run).toMatchObject({ status: "failed", errorCode: "worker_lost" });
    expect(run.error).toMatch(/retried from the start 1 time already, the most allowed/);
    const rows = await events(runId);
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
    expect(rows.at(-1)).toMatchObject({ type: "workflow_finished", payload: { status: "failed" } });
    gate.release("twice");
    while (workers.length < 2) await start("worker");
  }, 60_000);

  it("graceful worker shutdown finishes the run in flight before the worker exits", async () => {
    const res = await call(api(0), gated.key, "/v1/workflows/run", { method: "POST", json: runBody({ name: "drain" }, "async") });
    const { workflow_run_id: runId } = await json<{ workflow_run_id: string }>(res);
    await gate.arrived("drain");
    const draining = await ownerProc(runId);
    const exit = exited(draining.child);
    draining.child.kill("SIGTERM");
    forget(draining);
    await new Promise((r) => setTimeout(r, 300));
    expect(draining.child.exitCode).toBeNull();
    gate.release("drain", "drained");
    expect(await exit).toBe(0);
    expect(await store.getRun(runId)).toMatchObject({ status: "succeeded", outputs: { body: "drained" } });
  }, 30_000);

  it("Redis restart while idle: API processes reconnect and queued runs are not lost", async () => {
    // No worker: runs stay queued.
    await Promise.all(
      workers.splice(0).map(async (w) => {
        const done = exited(w.child);
        w.child.kill("SIGTERM");
        expect(await done).toBe(0);
      }),
    );
    const queued: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await call(api(i), branch.key, "/v1/workflows/run", {
        method: "POST",
        json: runBody({ query: `queued-${i}`, lang: "fr" }, "async"),
      });
      expect(res.status).toBe(202);
      queued.push((await json<{ workflow_run_id: string }>(res)).workflow_run_id);
    }
    const depth = await (await fetch(`${api(0).url}/metrics`)).text();
    expect(depth).toMatch(/tributary_queue_depth\{state="waiting"\} 3/);

    const t0 = Date.now();
    try {
      await restartRedis();
    } finally {
      await ensureRedisUp();
    }
    const restartMs = Date.now() - t0;
    // Redis came back empty: the jobs are gone, the runs are still queued in the store.
    const worker = await start("worker");
    for (const [i, runId] of queued.entries()) {
      const run = await waitDone(runId, 20_000);
      expect(run).toMatchObject({ status: "succeeded", outputs: { greeting: `queued-${i}`, lang: "fr" } });
    }
    const recoveredMs = Date.now() - t0;
    // Both API processes serve new runs again, streaming included.
    for (const proc of apis) {
      const res = await call(proc, branch.key, "/v1/workflows/run", {
        method: "POST",
        json: runBody({ query: "after restart" }, "streaming"),
      });
      expect(dataFrames(await readSse(res)).at(-1)).toMatchObject({ event: "workflow_finished", data: { status: "succeeded" } });
    }
    console.log(
      `[cluster] redis restart: ${restartMs} ms down; 3 queued runs finished ${recoveredMs} ms after the restart began (incl. starting a worker)`,
    );

    // What /metrics reports, on an API process and on a worker.
    const apiMetrics = await (await fetch(`${api(0).url}/metrics`)).text();
    expect(apiMetrics).toMatch(/tributary_runs_started_total\{response_mode="async"\} \d+/);
    expect(apiMetrics).toMatch(/tributary_active_streams 0/);
    expect(apiMetrics).toMatch(/tributary_queue_depth\{state="waiting"\} 0/);
    const workerMetrics = await (await fetch(`${worker.url}/metrics`)).text();
    expect(workerMetrics).toMatch(/tributary_runs_finished_total\{status="succeeded"\} [1-9]/);
    expect(workerMetrics).toMatch(/tributary_node_duration_seconds_bucket\{le="0.005",node_type="end",status="succeeded"\} \d+/);
  }, 90_000);
});
