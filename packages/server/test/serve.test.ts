/**
 * `serve` as a whole: first start imports the examples, restarts recover orphaned runs,
 * shutdown never leaves a run `running`, and the `tributary serve` command starts and stops.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { validateWorkflow } from "@tributary/engine";
import { afterEach, describe, expect, it } from "vitest";
import { type ServeHandle, type ServeOptions, serve } from "../src/serve.js";
import { openStore } from "../src/store/open-store.js";
import { startGateServer } from "./support/gate-server.js";
import { json, waitFor } from "./support/harness.js";
import { branchWorkflow, gatedWorkflow } from "./support/workflows.js";

const EXAMPLES_DIR = fileURLToPath(new URL("../../../examples", import.meta.url));
const CLI = fileURLToPath(new URL("../../cli/bin/tributary.js", import.meta.url));

const dirs: string[] = [];
const handles: ServeHandle[] = [];
afterEach(async () => {
  for (const h of handles.splice(0)) await h.close().catch(() => {});
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tributary-serve-test-"));
  dirs.push(dir);
  return dir;
}

async function start(dataDir: string, options: ServeOptions = {}): Promise<ServeHandle> {
  const handle = await serve({
    env: {},
    port: 0,
    dataDir,
    logLevel: "silent",
    handleSignals: false,
    importExamples: false,
    print: () => {},
    sandbox: { warm: false },
    ...options,
  });
  handles.push(handle);
  return handle;
}

async function createApp(handle: ServeHandle, dsl: unknown): Promise<string> {
  const auth = { Authorization: `Bearer ${handle.config.adminToken}` };
  const created = await json<{ app_id: string }>(
    await fetch(`${handle.url}/api/admin/apps`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/json" },
      body: JSON.stringify(dsl),
    }),
  );
  const key = await json<{ key: string }>(
    await fetch(`${handle.url}/api/admin/apps/${created.app_id}/api-keys`, { method: "POST", headers: auth }),
  );
  return key.key;
}

describe("serve", () => {
  it("first start: generates the admin token (0600), imports the examples that validate, prints a curl", async () => {
    const dataDir = tempDir();
    let printed = "";
    const handle = await start(dataDir, { importExamples: true, examplesDir: EXAMPLES_DIR, print: (t) => (printed += t) });
    const tokenFile = join(dataDir, "admin-token");
    expect(readFileSync(tokenFile, "utf8").trim()).toBe(handle.config.adminToken);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(printed).toContain(handle.url);
    expect(printed).toContain(handle.config.adminToken);

    const files = readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith(".yml"));
    const valid = files.filter((f) => validateWorkflow(readFileSync(join(EXAMPLES_DIR, f), "utf8")).length === 0);
    expect(handle.examples.map((e) => e.file).sort()).toEqual(valid.sort());
    for (const example of handle.examples) {
      const info = await fetch(`${handle.url}/v1/info`, { headers: { Authorization: `Bearer ${example.apiKey}` } });
      expect(info.status).toBe(200);
    }
    const runnable = handle.examples.find((e) => e.sampleInputs !== null);
    if (runnable) {
      expect(printed).toContain(`curl -s ${handle.url}/v1/workflows/run`);
      const res = await fetch(`${handle.url}/v1/workflows/run`, {
        method: "POST",
        headers: { Authorization: `Bearer ${runnable.apiKey}`, "Content-Type": "application/json" },
        body: JSON.stringify({ inputs: runnable.sampleInputs, user: "me" }),
      });
      expect(await json(res)).toMatchObject({ data: { status: "succeeded" } });
    }

    // A restart keeps the token and does not import the examples twice.
    await handle.close();
    const again = await start(dataDir, { importExamples: true, examplesDir: EXAMPLES_DIR });
    expect(again.config.adminToken).toBe(handle.config.adminToken);
    expect(again.examples).toEqual([]);
  });

  it("restart: runs left running by a dead process are failed, not left running", async () => {
    const dataDir = tempDir();
    const first = await start(dataDir);
    const key = await createApp(first, branchWorkflow());
    const done = await json<{ workflow_run_id: string; data: { workflow_id: string } }>(
      await fetch(`${first.url}/v1/workflows/run`, {
        method: "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
        body: JSON.stringify({ inputs: { query: "q" }, user: "u" }),
      }),
    );
    const run = await first.store.getRun(done.workflow_run_id);
    await first.close();

    // A crashed process leaves a run behind in state running.
    const store = await openStore({ dataDir, env: {} });
    await store.createRun({
      id: "orphan-run",
      taskId: "orphan-task",
      appId: run?.appId as string,
      workflowId: done.data.workflow_id,
      inputs: {},
      responseMode: "streaming",
      triggeredFrom: "app-run",
      owner: "a-dead-process",
      createdAt: Date.now(),
    });
    await store.close();

    const second = await start(dataDir);
    const orphan = await json<{ status: string; error: string }>(
      await fetch(`${second.url}/v1/workflows/run/orphan-run`, { headers: { Authorization: `Bearer ${key}` } }),
    );
    expect(orphan.status).toBe("failed");
    expect(orphan.error).toMatch(/server stopped/i);
  });

  it("explains a port that is already taken, and leaves nothing open", async () => {
    const first = await start(tempDir());
    await expect(start(tempDir(), { port: first.port })).rejects.toThrow(/already in use.*--port/);
  });

  it("refuses bad configuration with every problem named", async () => {
    await expect(
      serve({ env: { TRIBUTARY_PORT: "http", TRIBUTARY_MAX_BODY_BYTES: "-5" }, dataDir: tempDir(), print: () => {} }),
    ).rejects.toThrow(/TRIBUTARY_PORT: must be a whole number[\s\S]*TRIBUTARY_MAX_BODY_BYTES/);
    await expect(serve({ env: {}, databaseUrl: "mysql://x", dataDir: tempDir(), print: () => {} })).rejects.toThrow(
      /databaseUrl/,
    );
  });

  describe("shutdown with runs in progress", () => {
    it("runs that finish within the grace period finish; the rest are stopped, none stays running", async () => {
      const gate = await startGateServer();
      try {
        const dataDir = tempDir();
        const handle = await start(dataDir, { httpAllowList: ["127.0.0.1"], shutdownGraceMs: 500 });
        const key = await createApp(handle, gatedWorkflow(gate.url));
        const launch = async (name: string) =>
          (
            await json<{ workflow_run_id: string }>(
              await fetch(`${handle.url}/v1/workflows/run`, {
                method: "POST",
                headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
                body: JSON.stringify({ inputs: { name }, user: "u", response_mode: "async" }),
              }),
            )
          ).workflow_run_id;
        const quick = await launch("quick");
        const slow = await launch("slow");
        await gate.arrived("quick");
        await gate.arrived("slow");
        const closing = handle.close();
        setTimeout(() => gate.release("quick"), 50);
        await closing;

        const store = await openStore({ dataDir, env: {} });
        try {
          expect((await store.getRun(quick))?.status).toBe("succeeded");
          expect((await store.getRun(slow))?.status).toBe("stopped");
        } finally {
          await store.close();
        }
      } finally {
        await gate.close();
      }
    });
  });

  it("tributary serve explains a bad flag", async () => {
    const child = spawn(process.execPath, [CLI, "serve", "--port", "http"], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += String(d)));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).not.toBe(0);
    expect(err).toMatch(/--port <port>.*invalid/);
  });

  describe("tributary serve (CLI)", () => {
    it("starts, serves, and exits cleanly on SIGTERM", async () => {
      const dataDir = tempDir();
      const child = spawn(process.execPath, [CLI, "serve", "--port", "0", "--data-dir", dataDir, "--no-examples"], {
        env: { ...process.env, TRIBUTARY_LOG_LEVEL: "silent" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (d) => (out += String(d)));
      child.stderr.on("data", (d) => (out += String(d)));
      let exitCode: number | null | undefined;
      const exited = new Promise<number | null>((resolve) =>
        child.on("exit", (code) => {
          exitCode = code;
          resolve(code);
        }),
      );
      try {
        const url = await waitFor(
          async () => {
            if (exitCode !== undefined) throw new Error(`tributary serve exited with ${exitCode}:\n${out}`);
            return /listening on (http:\/\/\S+)/.exec(out)?.[1];
          },
          20_000,
          50,
        );
        expect(await json(await fetch(`${url}/healthz`))).toMatchObject({ status: "ok" });
        child.kill("SIGTERM");
        expect(await exited).toBe(0);
      } finally {
        child.kill("SIGKILL");
      }
    });
  });
});
