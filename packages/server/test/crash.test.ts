/**
 * Crash recovery: `tributary serve` is killed with SIGKILL while runs are in flight, then
 * started again on the same data. Every run must end up `succeeded` or `failed` (none left
 * `running`), and nothing that was stored before the kill may be lost.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GateServer, startGateServer } from "./support/gate-server.js";
import { createDatabase, type Dialect, dataFrames, dialects, json, readSse, waitFor } from "./support/harness.js";
import { branchWorkflow, gatedWorkflow } from "./support/workflows.js";

const CLI = fileURLToPath(new URL("../../cli/bin/tributary.js", import.meta.url));
const ADMIN_TOKEN = "crash-test-admin-token-0123456789";

interface Server {
  url: string;
  child: ChildProcess;
}

async function startServe(dataDir: string, databaseUrl: string | undefined): Promise<Server> {
  const args = [CLI, "serve", "--port", "0", "--data-dir", dataDir, "--no-examples"];
  if (databaseUrl) args.push("--database-url", databaseUrl);
  const child = spawn(process.execPath, args, {
    env: {
      ...process.env,
      TRIBUTARY_LOG_LEVEL: "silent",
      TRIBUTARY_ADMIN_TOKEN: ADMIN_TOKEN,
      TRIBUTARY_HTTP_ALLOW_LIST: "127.0.0.1",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let exited: number | null | undefined;
  child.stdout?.on("data", (d) => (out += String(d)));
  child.stderr?.on("data", (d) => (out += String(d)));
  child.on("exit", (code) => (exited = code));
  const url = await waitFor(
    async () => {
      if (exited !== undefined) throw new Error(`tributary serve exited with ${exited}:\n${out}`);
      return /listening on (http:\/\/\S+)/.exec(out)?.[1];
    },
    30_000,
    50,
  );
  return { url, child };
}

function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

describe.each(dialects)("crash recovery (%s)", (dialect: Dialect) => {
  let gate: GateServer;
  let dataDir: string;
  let database: { url: string; drop(): Promise<void> } | undefined;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    gate = await startGateServer();
    dataDir = mkdtempSync(join(tmpdir(), "tributary-crash-test-"));
    database = dialect === "postgres" ? await createDatabase() : undefined;
  });

  afterAll(async () => {
    for (const c of children) await killHard(c);
    await gate?.close();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("a SIGKILL mid-run loses nothing stored and leaves no run running", async () => {
    const first = await startServe(dataDir, database?.url);
    children.push(first.child);
    const admin = (path: string, init: RequestInit = {}) =>
      fetch(`${first.url}${path}`, { ...init, headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, ...(init.headers ?? {}) } });
    const createApp = async (dsl: unknown) => {
      const created = await json<{ app_id: string }>(
        await admin("/api/admin/apps", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(dsl),
        }),
      );
      const { key } = await json<{ key: string }>(await admin(`/api/admin/apps/${created.app_id}/api-keys`, { method: "POST" }));
      return key;
    };
    const fastKey = await createApp(branchWorkflow("Fast"));
    const gatedKey = await createApp(gatedWorkflow(gate.url, "Gated"));
    const run = (url: string, key: string, body: unknown) =>
      fetch(`${url}/v1/workflows/run`, {
        method: "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });

    // Finished before the crash: these must survive exactly.
    const finished: Array<{ id: string; outputs: unknown; events: number }> = [];
    for (let i = 0; i < 4; i++) {
      const body = await json<{ workflow_run_id: string; data: { status: string; outputs: unknown } }>(
        await run(first.url, fastKey, {
          inputs: { query: `q${i}`, lang: i % 2 ? "fr" : "en" },
          user: "crash",
          response_mode: "blocking",
        }),
      );
      expect(body.data.status).toBe("succeeded");
      finished.push({ id: body.workflow_run_id, outputs: body.data.outputs, events: 0 });
    }
    for (const f of finished) {
      const replay = await readSse(
        await fetch(`${first.url}/v1/workflow/${f.id}/events?user=crash`, {
          headers: { Authorization: `Bearer ${fastKey}`, "Last-Event-ID": "0" },
        }),
      );
      f.events = dataFrames(replay).length;
      expect(f.events).toBeGreaterThan(4);
    }

    // In flight at the crash: three async runs and one streaming run, each held at the gate.
    const inFlight: string[] = [];
    for (let i = 0; i < 3; i++) {
      const body = await json<{ workflow_run_id: string }>(
        await run(first.url, gatedKey, { inputs: { name: `held-${dialect}-${i}` }, user: "crash", response_mode: "async" }),
      );
      inFlight.push(body.workflow_run_id);
    }
    const streaming = await run(first.url, gatedKey, {
      inputs: { name: `held-${dialect}-s` },
      user: "crash",
      response_mode: "streaming",
    });
    const streamRunId = streaming.headers.get("X-Workflow-Run-ID");
    expect(streamRunId).toBeTruthy();
    inFlight.push(streamRunId as string);
    await Promise.all([0, 1, 2, "s"].map((i) => gate.arrived(`held-${dialect}-${i}`)));
    // The runs' first events are durable before the kill (batched writes flush within ~50 ms).
    await new Promise((r) => setTimeout(r, 300));

    await killHard(first.child);
    await streaming.body?.cancel().catch(() => {});

    const second = await startServe(dataDir, database?.url);
    children.push(second.child);
    const get = async (key: string, id: string) =>
      json<{ status: string; outputs: unknown; error: string | null }>(
        await fetch(`${second.url}/v1/workflows/run/${id}`, { headers: { Authorization: `Bearer ${key}` } }),
      );

    for (const f of finished) {
      const stored = await get(fastKey, f.id);
      expect(stored.status).toBe("succeeded");
      expect(stored.outputs).toEqual(f.outputs);
      const replay = await readSse(
        await fetch(`${second.url}/v1/workflow/${f.id}/events?user=crash`, {
          headers: { Authorization: `Bearer ${fastKey}`, "Last-Event-ID": "0" },
        }),
      );
      expect(dataFrames(replay)).toHaveLength(f.events);
    }
    for (const id of inFlight) {
      const stored = await get(gatedKey, id);
      expect(stored.status).toBe("failed");
      expect(stored.error).toMatch(/server stopped while this run was in progress/);
      const replay = dataFrames(
        await readSse(
          await fetch(`${second.url}/v1/workflow/${id}/events?user=crash`, {
            headers: { Authorization: `Bearer ${gatedKey}`, "Last-Event-ID": "0" },
          }),
        ),
      );
      // What was written before the kill is still there, and the stream closes with the outcome.
      expect(replay[0]?.event).toBe("workflow_started");
      expect(replay.at(-1)).toMatchObject({ event: "workflow_finished", data: { status: "failed" } });
    }
    for (const key of [fastKey, gatedKey]) {
      const running = await json<{ total: number }>(
        await fetch(`${second.url}/v1/workflows/logs?status=running`, { headers: { Authorization: `Bearer ${key}` } }),
      );
      expect(running.total).toBe(0);
    }
    await killHard(second.child);
  }, 90_000);
});
