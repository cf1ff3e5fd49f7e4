/**
 * Runs every ```ts example of packages/sdk/README.md as a user would (its own file, run with
 * tsx, importing "@tributary/sdk") against a real server, with the README's placeholder URL
 * and keys replaced by the test's, and checks what each one prints. The examples also have to
 * type-check as a browser project would see them (strict, DOM types, no Node types).
 */
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { json, startTestServer, type TestServer } from "./support/harness.js";
import { extractWorkflow } from "./support/workflows.js";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const README = join(ROOT, "packages/sdk/README.md");
const HELLO = join(ROOT, "examples/hello-template.yml");
const WORK_DIR = join(ROOT, ".tmp", `sdk-readme-${process.pid}`);

interface Block {
  heading: string;
  code: string;
}

function readmeBlocks(): Block[] {
  const blocks: Block[] = [];
  let heading = "";
  const lines = readFileSync(README, "utf8").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (line.startsWith("#")) heading = line.replace(/^#+\s*/, "");
    if (line.trim() === "```ts") {
      const code: string[] = [];
      for (i++; i < lines.length && (lines[i] ?? "").trim() !== "```"; i++) code.push(lines[i] ?? "");
      blocks.push({ heading, code: code.join("\n") });
    }
  }
  return blocks;
}

/** What each example must print, by its section heading. */
const EXPECTED: Record<string, RegExp[]> = {
  "Run and wait": [/^succeeded Bonjour, Ada!$/m],
  "Stream the events": [
    /^run [0-9a-f-]{36}$/m,
    /^started Start$/m,
    /^finished Greeting succeeded$/m,
    /^outputs \{"greeting":"Hello, Grace!"\}$/m,
  ],
  "Fire and poll, node executions, resume": [
    /^succeeded \{"greeting":"Hello, Lin!"\}$/m,
    /^greet succeeded [\d.e-]+s$/m,
    /^replayed events: 8$/m,
  ],
  "Stop a run": [/^(stopped|succeeded)$/m],
  "Upload a file": [/^notes\.txt 30 Meeting notes: ship on Friday\.$/m],
  "Errors, retries, timeouts, cancellation": [/^400 invalid_param name true$/m, /^true AbortError$/m],
  "VectorVein Open API": [/^started [0-9a-f-]{36}$/m, /^200 .*Hello, Ada!/m],
  "Access keys and VApp links": [/^M 5 AC$/m, /^keys: [1-9]\d*$/m, /^\/public\/v-app\/[0-9a-f-]{36}$/m],
};

const VECTORVEIN_SECTIONS = new Set(["VectorVein Open API", "Access keys and VApp links"]);

let server: TestServer;
let substitutions: Array<[string, string]>;
let vectorVein: { apiKey: string; keyId: string } | undefined;

function run(file: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", file], { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  server = await startTestServer("sqlite");
  mkdirSync(WORK_DIR, { recursive: true });
  const created = await server.admin("/api/admin/apps", {
    method: "POST",
    headers: { "Content-Type": "application/yaml" },
    body: readFileSync(HELLO, "utf8"),
  });
  const hello = await json<{ app_id: string }>(created);
  const helloKey = await json<{ key: string }>(
    await server.admin(`/api/admin/apps/${hello.app_id}/api-keys`, { method: "POST" }),
  );
  const fileApp = await server.createApp(extractWorkflow("README uploads"));

  // The VectorVein examples need the Open API (issue 4); without it they are skipped.
  const openApiKey = await server.admin("/api/admin/open-api-keys", { method: "POST" });
  if (openApiKey.status === 201) {
    const body = await json<{ api_key: string; key_id: string }>(openApiKey);
    vectorVein = { apiKey: body.api_key, keyId: body.key_id };
  }
  substitutions = [
    ["http://127.0.0.1:8080", server.url],
    ["app-your-app-key", helloKey.key],
    ["app-your-file-app-key", fileApp.key],
    ["your-app-id", hello.app_id],
    ["your-32-character-open-api-key!!", vectorVein?.apiKey ?? "no-open-api-key"],
    ["kid-your-key-id", vectorVein?.keyId ?? "no-key-id"],
  ];
});
afterAll(async () => {
  rmSync(WORK_DIR, { recursive: true, force: true });
  await server?.close();
});

describe("packages/sdk/README.md examples", () => {
  const blocks = readmeBlocks();

  it("every example has expectations, and every expectation an example", () => {
    expect(blocks.map((b) => b.heading).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it("the examples type-check (strict, DOM lib, no Node types)", () => {
    const files = blocks.map((block, index) => {
      const file = join(WORK_DIR, `typecheck-${index}.ts`);
      writeFileSync(file, block.code);
      return file;
    });
    const program = ts.createProgram(files, {
      strict: true,
      noUncheckedIndexedAccess: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ["lib.es2023.d.ts", "lib.dom.d.ts", "lib.dom.asynciterable.d.ts"],
      types: [],
      noEmit: true,
      skipLibCheck: true,
    });
    const problems = ts
      .getPreEmitDiagnostics(program)
      .map((d) => `${d.file ? `${d.file.fileName}: ` : ""}${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
    expect(problems).toEqual([]);
  });

  blocks.forEach((block, index) => {
    it(`${block.heading}`, async (ctx) => {
      if (VECTORVEIN_SECTIONS.has(block.heading) && !vectorVein) {
        ctx.skip();
        return;
      }
      let code = block.code;
      for (const [from, to] of substitutions) code = code.split(from).join(to);
      const file = join(WORK_DIR, `example-${index}.ts`);
      writeFileSync(file, code);
      const result = await run(file);
      expect(result.stderr, `${block.heading}: stderr`).toBe("");
      expect(result.code, `${block.heading}: exit code`).toBe(0);
      for (const pattern of EXPECTED[block.heading] ?? []) {
        expect(result.stdout, block.heading).toMatch(pattern);
      }
    });
  });
});
