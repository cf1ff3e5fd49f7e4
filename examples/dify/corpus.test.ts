/**
 * The Dify DSL corpus: every `*.yml` here is imported (older versions migrated), validated,
 * and run end to end with its sidecar `*.case.json` — LLM providers pointed at the local
 * OpenAI-compatible test server (scripted replies), HTTP nodes at a local API on 127.0.0.1,
 * code nodes in the real sandbox. A file using a node type that is not registered yet is
 * reported as a todo naming that type, until the node lands.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importDsl } from "../../packages/engine/src/dsl/import-dsl.js";
import {
  type Capabilities,
  compileWorkflow,
  createAiSdkLlm,
  createHttpClient,
  type EngineEvent,
  type HttpClient,
  isNoteNode,
  runWorkflow,
  validateWorkflow,
} from "../../packages/engine/src/index.js";
import { createSandbox, type Sandbox } from "../../packages/engine/src/sandbox/index.js";
import { type OpenAiTestServer, startOpenAiTestServer } from "../../packages/engine/src/test-support/index.js";
import {
  type CorpusRun,
  corpusFileCapability,
  corpusFiles,
  corpusRegistry,
  type LocalApi,
  loadCase,
  readCorpusFile,
  startLocalApi,
} from "./corpus-support.js";

let llmServer: OpenAiTestServer;
let api: LocalApi;
let sandbox: Sandbox;
let http: HttpClient;
let caps: Capabilities;

beforeAll(async () => {
  llmServer = await startOpenAiTestServer();
  api = await startLocalApi();
  // One warm worker: the machine is shared, and the corpus runs its cases one by one.
  sandbox = createSandbox({ poolSize: 1 });
  http = createHttpClient({ allowList: ["127.0.0.1"] });
  let n = 0;
  caps = {
    clock: { now: () => Date.now() },
    ids: { newId: () => `corpus-${++n}` },
    // Every provider the corpus names is served by the test server.
    llm: createAiSdkLlm({ credentials: () => ({ apiKey: "sk-corpus", baseUrl: llmServer.url }) }),
    http,
    sandbox,
    files: corpusFileCapability(),
  };
});

afterAll(async () => {
  await Promise.all([llmServer?.close(), api?.close(), sandbox?.close(), http?.close()]);
});

function messagesText(body: { messages?: Array<{ content?: unknown }> }): string {
  return (body.messages ?? [])
    .map((m) =>
      typeof m.content === "string"
        ? m.content
        : Array.isArray(m.content)
          ? m.content.map((p: { text?: string }) => p.text ?? "").join("\n")
          : "",
    )
    .join("\n");
}

/** Case files write the local API's address as "{{API}}" (its port changes every run). */
function withApiBase(value: unknown): unknown {
  if (typeof value === "string") return value.replaceAll("{{API}}", api.base);
  if (Array.isArray(value)) return value.map(withApiBase);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withApiBase(v)]));
  return value;
}

async function runCase(file: string, run: CorpusRun) {
  const { document } = importDsl(readCorpusFile(file));
  const compiled = compileWorkflow(document, { registry: corpusRegistry });
  const llmBefore = llmServer.requests.length;
  const httpBefore = api.log.length;
  llmServer.script(...(run.llm as Parameters<OpenAiTestServer["script"]>));
  const events: EngineEvent[] = [];
  const result = await runWorkflow(compiled, {
    inputs: withApiBase(run.inputs) as Record<string, unknown>,
    files: withApiBase(run.files) as unknown[],
    caps,
    userId: "corpus-user",
    environment: {
      ...run.environment,
      ...(document.workflow.environment_variables.some((v) => v.name === "API_BASE") ? { API_BASE: api.base } : {}),
    },
    onEvent: (e) => events.push(e),
  });
  const exp = run.expect;
  const context = `${file} / ${run.name}: ${result.error ?? ""}`;
  expect(result.status, context).toBe(exp.status);
  if (exp.error) expect(result.error ?? "", context).toMatch(new RegExp(exp.error));
  // Outputs checked by pattern are left out of the exact comparison.
  const matched = new Set(Object.keys(exp.outputsMatch ?? {}));
  const exact = Object.fromEntries(Object.entries(result.outputs).filter(([k]) => !matched.has(k)));
  if (exp.outputs) expect(exact, context).toEqual(exp.outputs);
  for (const [key, pattern] of Object.entries(exp.outputsMatch ?? {})) {
    expect(String(result.outputs[key]), `${context} (${key})`).toMatch(new RegExp(pattern));
  }
  const finished = events.filter((e) => e.type === "node_finished");
  for (const [nodeId, count] of Object.entries(exp.nodeRuns ?? {})) {
    expect(finished.filter((e) => e.execution.nodeId === nodeId).length, `${context} (runs of ${nodeId})`).toBe(count);
  }
  for (const [nodeId, status] of Object.entries(exp.nodeStatus ?? {})) {
    const last = finished.filter((e) => e.execution.nodeId === nodeId).at(-1);
    expect(last?.status ?? "skipped", `${context} (status of ${nodeId})`).toBe(status);
  }
  const requests = llmServer.requests.slice(llmBefore);
  if (exp.llmRequests !== undefined) expect(requests.length, `${context} (model requests)`).toBe(exp.llmRequests);
  const prompts = requests.map((r) => messagesText(r.body)).join("\n---\n");
  for (const text of exp.llmPromptIncludes ?? []) expect(prompts, context).toContain(text);
  if (exp.httpRequests) expect(api.log.slice(httpBefore), context).toEqual(exp.httpRequests);
}

for (const file of corpusFiles()) {
  const spec = loadCase(file);
  const { document } = importDsl(readCorpusFile(file));
  const types = new Set(document.workflow.graph.nodes.filter((n) => !isNoteNode(n)).map((n) => n.data.type as string));
  const missing = [...types].filter((t) => !corpusRegistry.has(t)).sort();

  describe(file, () => {
    if (missing.length > 0) {
      it.todo(
        `pending: node type${missing.length > 1 ? "s" : ""} ${missing.join(", ")} not registered yet (${spec.description})`,
      );
      return;
    }

    it(`imports DSL ${spec.version} and validates`, () => {
      const imported = importDsl(readCorpusFile(file));
      expect(imported.sourceVersion).toBe(spec.version);
      expect(imported.document.version).toBe("0.6.0");
      const notes = imported.notes.map((n) => n.message).join("\n");
      for (const text of spec.migrationNotes) expect(notes).toContain(text);
      expect(validateWorkflow(imported.document, { registry: corpusRegistry })).toEqual([]);
      for (const covered of spec.covers) expect(types, `${file} covers ${covered}`).toContain(covered);
    });

    for (const run of spec.runs) {
      it(`runs: ${run.name}`, async () => {
        await runCase(file, run);
      });
    }
  });
}
