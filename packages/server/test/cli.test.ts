/**
 * The `tributary` CLI run as a subprocess (bin/tributary.js, as users run it) against the real
 * server started here: app import/export/list/delete, workflow validate, run (inputs, input
 * file, file upload, progress lines, spinner on a terminal, Ctrl-C), app keys, VApp links,
 * output formats and exit codes. Help texts are checked in-process (one program, every command).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createDecipheriv } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildProgram, main } from "../../cli/src/main.js";
import { closedPort } from "./sdk-test-support.js";
import { type GateServer, startGateServer } from "./support/gate-server.js";
import { startTestServer, type TestServer, waitFor } from "./support/harness.js";
import { extractWorkflow, gatedWorkflow, jsonOf } from "./support/workflows.js";

const CLI = fileURLToPath(new URL("../../cli/bin/tributary.js", import.meta.url));
const HELLO = fileURLToPath(new URL("../../../examples/hello-template.yml", import.meta.url));

let server: TestServer;
let gate: GateServer;
let dir: string;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of a user's shell, without any TRIBUTARY_* of the machine running the tests. */
function baseEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("TRIBUTARY_")) env[k] = v;
  return { ...env, TRIBUTARY_SERVER: server.url, TRIBUTARY_ADMIN_TOKEN: server.adminToken, ...extra };
}

function cli(args: string[], extraEnv: Record<string, string | undefined> = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: baseEnv(extraEnv), cwd: dir }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const json = <T = Record<string, unknown>>(text: string): T => JSON.parse(text) as T;

beforeAll(async () => {
  server = await startTestServer("sqlite");
  gate = await startGateServer();
  dir = mkdtempSync(join(tmpdir(), "tributary-cli-test-"));
});
afterAll(async () => {
  await gate?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("apps", () => {
  it("import → list → export (byte for byte, or normalised JSON) → delete", async () => {
    const imported = await cli(["app", "import", HELLO, "--name", "CLI hello", "--format", "json"]);
    expect(imported.code).toBe(0);
    const app = json<{ app_id: string; workflow_id: string; name: string }>(imported.stdout);
    expect(app.name).toBe("CLI hello");

    const listed = await cli(["app", "list", "--search", "CLI hello"]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^APP ID\s+ENABLED\s+CREATED\s+NAME\n/);
    expect(listed.stdout).toContain(app.app_id);

    const exported = await cli(["app", "export", app.app_id]);
    expect(exported.code).toBe(0);
    expect(exported.stdout).toBe(readFileSync(HELLO, "utf8"));

    const file = join(dir, "exported.json");
    const toFile = await cli(["app", "export", app.app_id, "--as", "json", "-o", file, "--format", "json"]);
    expect(json(toFile.stdout)).toMatchObject({ app_id: app.app_id, workflow_id: app.workflow_id, version: 1, file });
    const normalised = json<{ app: { name: string } }>(readFileSync(file, "utf8"));
    expect(normalised.app.name).toBe("Hello template");

    // The JSON export imports again, as a new version of the same app.
    const republished = await cli(["app", "import", file, "--app", app.app_id]);
    expect(republished.stdout).toMatch(new RegExp(`published version 2 of app ${app.app_id}`));
    const v1 = await cli(["app", "export", app.app_id, "--workflow-version", "1"]);
    expect(v1.stdout).toBe(readFileSync(HELLO, "utf8"));

    expect((await cli(["app", "delete", app.app_id])).stdout).toBe(`deleted app ${app.app_id}\n`);
    const again = await cli(["app", "delete", app.app_id]);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/not found/);
  });

  it("import --key prints a working app key", async () => {
    const imported = await cli(["app", "import", HELLO, "--key", "--format", "json"]);
    const { api_key } = json<{ api_key: string }>(imported.stdout);
    const info = await server.api(api_key, "/v1/info");
    expect(info.status).toBe(200);
  });

  it("an invalid workflow: every problem with its node id, exit 2 (import and validate alike)", async () => {
    const bad = join(dir, "bad.json");
    const doc = extractWorkflow("Broken") as {
      workflow: { graph: { nodes: Array<{ id: string; data: Record<string, unknown> }> } };
    };
    const extractNode = doc.workflow.graph.nodes.find((n) => n.id === "extract");
    if (extractNode) extractNode.data["variable_selector"] = ["nowhere", "doc"];
    doc.workflow.graph.nodes.push({ id: "ghost", data: { type: "frobnicate", title: "Ghost" } });
    writeFileSync(bad, jsonOf(doc));

    const validated = await cli(["workflow", "validate", bad]);
    expect(validated.code).toBe(2);
    expect(validated.stdout).toBe("");
    expect(validated.stderr).toMatch(/problems/);
    expect(validated.stderr).toMatch(/node extract: .*nowhere/);
    expect(validated.stderr).toMatch(/node ghost: unknown node type "frobnicate"/);

    const asJson = await cli(["workflow", "validate", bad, "--format", "json"]);
    expect(asJson.code).toBe(2);
    const error = json<{ error: { code: string; exit_code: number; problems: Array<{ node_id: string | null }> } }>(
      asJson.stderr,
    );
    expect(error.error.code).toBe("invalid_workflow");
    expect(error.error.exit_code).toBe(2);
    expect(error.error.problems.map((p) => p.node_id)).toEqual(expect.arrayContaining(["extract", "ghost"]));

    const imported = await cli(["app", "import", bad]);
    expect(imported.code).toBe(2);
    expect(imported.stderr).toMatch(/node ghost: unknown node type "frobnicate"/);

    const ok = await cli(["workflow", "validate", HELLO]);
    expect(ok).toMatchObject({ code: 0, stdout: `${HELLO}: valid\n` });
  });
});

describe("run", () => {
  let hello: string;
  let extract: string;
  let gated: string;

  beforeAll(async () => {
    hello = json<{ app_id: string }>((await cli(["app", "import", HELLO, "--format", "json"])).stdout).app_id;
    extract = (await server.createApp(extractWorkflow("CLI extract"))).appId;
    gated = (await server.createApp(gatedWorkflow(gate.url, "CLI gated"))).appId;
  });

  it("--input k=v and --input-file; outputs on stdout; the temporary key is revoked", async () => {
    const inputs = join(dir, "inputs.json");
    writeFileSync(inputs, JSON.stringify({ name: "from file", language: "German" }));
    const text = await cli(["run", hello, "--input-file", inputs, "--input", "name=Ada"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toBe("greeting: Hallo, Ada!\n");
    expect(text.stderr).toMatch(/^run [0-9a-f-]{36} succeeded in/);

    const asJson = await cli(["run", hello, "--input", "name=Grace", "--format", "json"]);
    const result = json<{ run_id: string; status: string; outputs: Record<string, string>; nodes: unknown[] }>(asJson.stdout);
    expect(result).toMatchObject({ status: "succeeded", outputs: { greeting: "Hello, Grace!" } });
    expect(result.nodes).toHaveLength(3);

    const keys = json<{ data: Array<{ name: string }> }>((await cli(["key", "list", hello, "--format", "json"])).stdout);
    expect(keys.data.filter((k) => k.name === "tributary run (temporary)")).toEqual([]);
  });

  it("--stream: plain progress lines on stderr when not on a terminal", async () => {
    const run = await cli(["run", hello, "-i", "name=Lin", "--stream"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("greeting: Hello, Lin!\n");
    const lines = run.stderr.trim().split("\n");
    expect(lines[0]).toMatch(/^run [0-9a-f-]{36} started \(task [0-9a-f-]{36}\)$/);
    expect(lines.slice(1, -1)).toEqual([
      "▶ Start (start)",
      expect.stringMatching(/^✓ Start \d+\.\d\ds$/),
      "▶ Greeting (template-transform)",
      expect.stringMatching(/^✓ Greeting \d+\.\d\ds$/),
      "▶ End (end)",
      expect.stringMatching(/^✓ End \d+\.\d\ds$/),
    ]);
    expect(lines.at(-1)).toMatch(/^run succeeded in \d+\.\d\ds \(3 steps, 0 tokens\)$/);
    expect(run.stderr).not.toContain("\x1b[");
  });

  it("--stream on a terminal: a spinner while a node runs", async () => {
    const command = [process.execPath, CLI, "run", gated, "--input", "name=tty", "--stream"]
      .map((a) => `'${a.replace(/'/g, "'\\''")}'`)
      .join(" ");
    const child = spawn("script", ["-qec", command, "/dev/null"], { env: baseEnv({}), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += String(d)));
    await gate.arrived("tty");
    await new Promise((r) => setTimeout(r, 400));
    gate.release("tty");
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(0);
    expect(out).toMatch(/\x1b\[2K[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] call \(http-request\) \d+\.\d\ds/);
    expect(out).toMatch(/✓ call \d+\.\d\ds/);
    expect(out).toMatch(/status: 200/);
  });

  it("name=@path uploads a file for a file input", async () => {
    const doc = join(dir, "notes.md");
    writeFileSync(doc, "# Notes\nUploaded by the CLI.");
    const run = await cli(["run", extract, "--input", `doc=@${doc}`, "--format", "json"]);
    expect(run.code).toBe(0);
    expect(json<{ outputs: { text: string } }>(run.stdout).outputs.text).toContain("Uploaded by the CLI.");
    expect(run.stderr).toContain(`uploading ${doc} for doc`);
  });

  it("a failed run prints its record and exits 4; bad inputs are usage errors (2)", async () => {
    const broken = (await server.createApp(gatedWorkflow(`http://127.0.0.1:${await closedPort()}`, "CLI broken"))).appId;
    const failed = await cli(["run", broken, "--input", "name=x", "--format", "json"]);
    expect(failed.code).toBe(4);
    const record = json<{ status: string; error: string; nodes: Array<{ node_id: string; status: string }> }>(failed.stdout);
    expect(record.status).toBe("failed");
    expect(record.nodes.find((n) => n.node_id === "call")?.status).toBe("failed");
    const error = json<{ error: { code: string; message: string; exit_code: number } }>(failed.stderr).error;
    expect(error).toMatchObject({ code: "run_failed", exit_code: 4 });
    expect(error.message).toContain(record.error);

    const refused = await cli(["run", hello, "--format", "json"]);
    expect(refused.code).toBe(4);
    expect(json<{ error: { code: string; message: string } }>(refused.stderr).error).toMatchObject({
      code: "invalid_param",
      message: expect.stringMatching(/name is required/),
    });

    const unknown = await cli(["run", hello, "--input", "nmae=Ada"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no input named "nmae". Its inputs: name, language/);

    const malformed = await cli(["run", hello, "--input", "Ada"]);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/must look like name=value/);

    const notAFile = await cli(["run", extract, "--input", "doc=notes.md"]);
    expect(notAFile.code).toBe(2);
    expect(notAFile.stderr).toMatch(/is a file input: give a path after @/);

    const badFile = join(dir, "inputs-array.json");
    writeFileSync(badFile, "[1, 2]");
    const arrayFile = await cli(["run", hello, "--input-file", badFile]);
    expect(arrayFile.code).toBe(2);
    expect(arrayFile.stderr).toMatch(/must hold one JSON object of inputs/);
  });

  it("Ctrl-C stops the run on the server", async () => {
    const child: ChildProcess = spawn(process.execPath, [CLI, "run", gated, "--input", "name=interrupt", "--stream"], {
      env: baseEnv({}),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr?.on("data", (d) => (err += String(d)));
    await gate.arrived("interrupt");
    await waitFor(async () => (err.includes("▶ call") ? true : undefined), 5_000);
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(err).toContain("stopping the run");
    expect(err).toMatch(/run stopped in/);
    expect(code).toBe(4);
    gate.release("interrupt");
  });
});

describe("keys and links", () => {
  it("key create / list / revoke (the app is found from the key id)", async () => {
    const { appId } = await server.createApp(extractWorkflow("CLI keys"));
    const created = json<{ id: string; key: string }>(
      (await cli(["key", "create", appId, "--name", "ci", "--format", "json"])).stdout,
    );
    expect(created.key).toMatch(/^app-/);
    expect((await server.api(created.key, "/v1/info")).status).toBe(200);

    const listed = await cli(["key", "list", appId]);
    expect(listed.stdout).toContain(created.id);
    expect(listed.stdout).toContain(`${created.key.slice(0, 8)}…`);

    expect((await cli(["key", "revoke", created.id])).stdout).toBe(`revoked key ${created.id} of app ${appId}\n`);
    expect((await server.api(created.key, "/v1/info")).status).toBe(401);
    const again = await cli(["key", "revoke", created.id]);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/No app has an API key with id/);
  });

  it("openapi-key create/list/revoke, access-key create/list, and a vapp-url the server's page opens", async () => {
    const { appId } = await server.createApp(extractWorkflow("CLI vapp"));
    const created = await cli(["openapi-key", "create", "--name", "cli", "--format", "json"]);
    expect(created.code).toBe(0);
    const openApi = json<{ key_id: string; api_key: string }>(created.stdout);
    expect(openApi.api_key).toHaveLength(32);
    const asText = await cli(["openapi-key", "create", "--name", "shown"]);
    expect(asText.stdout).toMatch(/export TRIBUTARY_OPENAPI_KEY=\S{32} TRIBUTARY_OPENAPI_KEY_ID=\S+/);
    expect((await cli(["openapi-key", "list"])).stdout).toContain(openApi.key_id);

    const env = { TRIBUTARY_OPENAPI_KEY: openApi.api_key, TRIBUTARY_OPENAPI_KEY_ID: openApi.key_id };
    const made = await cli(["access-key", "create", appId, "--type", "M", "--max-uses", "5", "--format", "json"], env);
    expect(made.code).toBe(0);
    const [accessKey] = json<{ access_keys: Array<{ access_key: string; max_use_count: number }> }>(made.stdout).access_keys;
    expect(accessKey?.max_use_count).toBe(5);
    const listed = await cli(["access-key", "list", "--app", appId], env);
    expect(listed.stdout).toMatch(new RegExp(`${accessKey?.access_key}\\s+M\\s+AC\\s+0/5`));
    const needsUses = await cli(["access-key", "create", appId, "--type", "M"], env);
    expect(needsUses.code).toBe(2);

    const link = await cli(["vapp-url", appId, "--access-key", accessKey?.access_key ?? ""], env);
    expect(link.code).toBe(0);
    expect((await fetch(link.stdout.trim())).status).toBe(200);

    expect((await cli(["openapi-key", "revoke", openApi.key_id])).stdout).toBe(`revoked Open API key ${openApi.key_id}\n`);
    expect((await fetch(link.stdout.trim())).status).toBeGreaterThanOrEqual(400);
    const revoked = await cli(["access-key", "list"], env);
    expect(revoked.code).toBe(3);
  });

  it("vapp-url: the Python SDK's link, computed locally", async () => {
    const openApiKey = "0123456789abcdefABCDEFGHIJKLMNOP";
    const made = await cli([
      "vapp-url",
      "app-123",
      "--access-key",
      "5f0c9e8d7b6a5f4e3d2c1b0a9f8e7d6c",
      "--openapi-key",
      openApiKey,
      "--key-id",
      "kid-1",
      "--timeout",
      "120",
    ]);
    expect(made.code).toBe(0);
    const url = new URL(made.stdout.trim());
    expect(`${url.origin}${url.pathname}`).toBe(`${server.url}/public/v-app/app-123`);
    expect(url.searchParams.get("key_id")).toBe("kid-1");
    const raw = Buffer.from(url.searchParams.get("token") ?? "", "base64");
    const decipher = createDecipheriv("aes-256-cbc", Buffer.from(openApiKey), raw.subarray(0, 16));
    const plain = Buffer.concat([decipher.update(raw.subarray(16)), decipher.final()]).toString();
    expect(plain).toMatch(/^app-123:5f0c9e8d7b6a5f4e3d2c1b0a9f8e7d6c:\d+:120$/);

    const noKeyId = await cli(["vapp-url", "app-123", "--access-key", "k", "--openapi-key", openApiKey]);
    expect(noKeyId.code).toBe(2);
    expect(noKeyId.stderr).toMatch(/--key-id or set TRIBUTARY_OPENAPI_KEY_ID/);
    const noKey = await cli(["vapp-url", "app-123", "--access-key", "k", "--key-id", "kid-1"]);
    expect(noKey.code).toBe(3);
  });
});

describe("configuration, exit codes and help", () => {
  it("the admin token comes from the data directory when not given", async () => {
    const listed = await cli(["app", "list", "--format", "json"], {
      TRIBUTARY_ADMIN_TOKEN: undefined,
      TRIBUTARY_DATA_DIR: server.dataDir,
    });
    expect(listed.code).toBe(0);
    const viaFlag = await cli(["app", "list", "--data-dir", server.dataDir, "--format", "json"], {
      TRIBUTARY_ADMIN_TOKEN: undefined,
    });
    expect(viaFlag.code).toBe(0);
    const none = await cli(["app", "list"], { TRIBUTARY_ADMIN_TOKEN: undefined, TRIBUTARY_DATA_DIR: join(dir, "nowhere") });
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/No admin token: pass --admin-token, set TRIBUTARY_ADMIN_TOKEN/);
  });

  it("exit codes: 3 authentication, 5 network, 2 usage (with a suggestion)", async () => {
    const denied = await cli(["app", "list", "--admin-token", "wrong"]);
    expect(denied.code).toBe(3);
    expect(denied.stderr).toMatch(/Admin token is invalid/);

    const port = await closedPort();
    const offline = await cli(["app", "list", "--format", "json"], { TRIBUTARY_SERVER: `http://127.0.0.1:${port}` });
    expect(offline.code).toBe(5);
    expect(json<{ error: { code: string } }>(offline.stderr).error.code).toBe("network_error");
    expect(offline.stdout).toBe("");

    const misplaced = await cli(["import", "workflow.yml"]);
    expect(misplaced.code).toBe(2);
    expect(misplaced.stderr).toMatch(/unknown command 'import'\n\(Did you mean tributary app import\?\)/);
    const typo = await cli(["app", "lst"]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/Did you mean list\?/);
    const badFormat = await cli(["app", "list", "--format", "yaml"]);
    expect(badFormat.code).toBe(2);
    const missing = await cli(["key", "create"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/missing required argument 'app_id'/);
  });

  it("serve --format json prints one object with the URL and the generated admin token", async () => {
    const dataDir = join(dir, "serve-json");
    const child = spawn(
      process.execPath,
      [CLI, "serve", "--port", "0", "--data-dir", dataDir, "--no-examples", "--format", "json"],
      {
        env: baseEnv({ TRIBUTARY_LOG_LEVEL: "silent", TRIBUTARY_ADMIN_TOKEN: undefined }),
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    child.stdout.on("data", (d) => (out += String(d)));
    try {
      const started = await waitFor(
        async () => {
          try {
            return json<{ url: string; admin_token: string; data_dir: string; examples: unknown[] }>(out);
          } catch {
            return undefined;
          }
        },
        20_000,
        50,
      );
      expect(started).toMatchObject({ data_dir: dataDir, examples: [] });
      expect(readFileSync(join(dataDir, "admin-token"), "utf8").trim()).toBe(started.admin_token);
      expect((await fetch(`${started.url}/healthz`)).status).toBe(200);
      const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("--help on every command, each with an example", async () => {
    const out: string[] = [];
    const io = { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => out.push(t) }, env: {} };
    const leaves: string[][] = [];
    const walk = (cmd: Command, path: string[]) => {
      for (const sub of cmd.commands) {
        if (sub.commands.length === 0) leaves.push([...path, sub.name()]);
        walk(sub, [...path, sub.name()]);
      }
    };
    walk(buildProgram(io), []);
    expect(leaves.map((l) => l.join(" "))).toEqual(
      expect.arrayContaining([
        "serve",
        "app import",
        "app export",
        "app list",
        "app delete",
        "workflow validate",
        "run",
        "key create",
        "key list",
        "key revoke",
        "openapi-key create",
        "openapi-key list",
        "openapi-key revoke",
        "access-key create",
        "access-key list",
        "vapp-url",
      ]),
    );
    for (const leaf of leaves) {
      out.length = 0;
      expect(await main(["node", "tributary", ...leaf, "--help"], io)).toBe(0);
      const help = out.join("");
      expect(help, leaf.join(" ")).toMatch(/Usage: tributary /);
      expect(help, leaf.join(" ")).toMatch(/Examples?:\n {2}\$ .*tributary /);
      expect(help, leaf.join(" ")).toContain("--format <format>");
    }
  });
});
