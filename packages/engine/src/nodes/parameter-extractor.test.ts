import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Capabilities, ProviderCredentials } from "../capabilities/types.js";
import { ProviderError, WorkflowValidationError } from "../errors.js";
import { compileWorkflow } from "../graph/compile-workflow.js";
import { createAiSdkLlm } from "../llm/ai-sdk-llm.js";
import { runWorkflow } from "../runtime/run-workflow.js";
import { dsl, e, end, n, start } from "../test-support/graph-builder.js";
import { makeNodeContext, testCapabilities } from "../test-support/node-context.js";
import { type OpenAiTestServer, startOpenAiTestServer } from "../test-support/openai-test-server.js";
import { echoNode } from "../test-support/test-nodes.js";
import { FILE_IDENTITY, type FileValue } from "../variables/file-value.js";
import { VariablePool } from "../variables/variable-pool.js";
import { EXTRACTOR_TOOL_NAME, type ParameterExtractorData, parameterExtractorNode } from "./parameter-extractor.js";
import { coreNodes, createNodeRegistry } from "./registry.js";

let server: OpenAiTestServer;
let caps: Partial<Capabilities>;
const configs: Record<string, ProviderCredentials> = {};

beforeAll(async () => {
  server = await startOpenAiTestServer();
  configs.openai = { apiKey: "sk-test", baseUrl: server.url, pricing: { tool: { input: 1, output: 2 } } };
  caps = { llm: createAiSdkLlm({ credentials: (p) => configs[p] }) };
});
afterAll(async () => {
  await server.close();
});

const PARAMETERS = [
  { name: "name", type: "string", description: "The person's name", required: true },
  { name: "age", type: "number", description: "Age in years", required: false },
  { name: "vip", type: "bool", description: "Is a VIP", required: false },
  { name: "city", type: "select", description: "City", required: false, options: ["Paris", "Berlin"] },
  { name: "tags", type: "array[string]", description: "Tags", required: false },
];

function data(overrides: Record<string, unknown> = {}): ParameterExtractorData {
  return parameterExtractorNode.schema.parse({
    type: "parameter-extractor",
    title: "Extract",
    model: { provider: "langgenius/openai/openai", name: "tool", mode: "chat", completion_params: { temperature: 0.1 } },
    query: ["start", "text"],
    parameters: PARAMETERS,
    instruction: "Customer is {{#start.customer#}}.",
    reasoning_mode: "function_call",
    vision: { enabled: false },
    ...overrides,
  });
}

async function run(d: ParameterExtractorData, pool?: VariablePool, extraCaps: Partial<Capabilities> = {}) {
  const p = pool ?? new VariablePool();
  if (!pool) p.setAll("start", { text: "Ada, 36, from Paris", customer: "ACME" });
  const ctx = makeNodeContext(d, { nodeId: "pe", pool: p, caps: { ...caps, ...extraCaps } });
  const before = server.requests.length;
  const result = await parameterExtractorNode.run(ctx);
  return { result, sent: server.requests[before] };
}

describe("parameter-extractor node", () => {
  it("function_call mode forces the extractor tool and outputs typed parameters", async () => {
    const { result, sent } = await run(data());
    // The `tool` model samples arguments from the schema: strings "example <name>", numbers 42, first enum value.
    expect(result.outputs).toMatchObject({
      __is_success: 1,
      __reason: null,
      name: "example name",
      age: 42,
      vip: true,
      city: "Paris",
      tags: ["example tags"],
    });
    expect(result.outputs.__usage).toMatchObject({ prompt_tokens: expect.any(Number), total_tokens: expect.any(Number) });
    expect(result.usage?.totalTokens).toBeGreaterThan(0);
    expect(result.usage?.totalPrice).toBeGreaterThan(0);
    const body = sent!.body as Record<string, unknown>;
    const tools = body.tools as Array<{ function: { name: string; parameters: Record<string, unknown> } }>;
    expect(tools.map((t) => t.function.name)).toEqual([EXTRACTOR_TOOL_NAME]);
    expect(tools[0]?.function.parameters).toMatchObject({
      type: "object",
      required: ["name"],
      properties: {
        age: { type: "number", description: "Age in years" },
        vip: { type: "boolean" },
        city: { type: "string", enum: ["Paris", "Berlin"] },
        tags: { type: "array", items: { type: "string" } },
      },
    });
    expect(body.tool_choice).toEqual({ type: "function", function: { name: EXTRACTOR_TOOL_NAME } });
    expect(body.temperature).toBe(0.1);
    const messages = body.messages as Array<{ role: string; content: string }>;
    expect(messages[0]?.role).toBe("system");
    expect(messages[0]?.content).toContain("Customer is ACME.");
    expect(messages.at(-1)?.content).toContain("<context>\nAda, 36, from Paris\n</context>");
    expect(result.inputs).toMatchObject({ query: "Ada, 36, from Paris", model_provider: "openai", model_name: "tool" });
    expect(result.processData).toMatchObject({ tool_call: { name: EXTRACTOR_TOOL_NAME }, model_mode: "chat" });
  });

  it("coerces loosely typed arguments and fills Dify's defaults for missing ones", async () => {
    server.script({
      toolCalls: [{ name: EXTRACTOR_TOOL_NAME, arguments: { name: "Ada", age: "36", vip: 1, tags: '["a", 2]' } }],
    });
    const { result } = await run(data());
    expect(result.outputs).toMatchObject({
      __is_success: 1,
      __reason: null,
      name: "Ada",
      age: 36,
      vip: true,
      city: "",
      tags: ["a", "2"],
    });
  });

  it("reports a missing required parameter and wrong types through __is_success/__reason", async () => {
    server.script({
      toolCalls: [{ name: EXTRACTOR_TOOL_NAME, arguments: { age: "old", city: "Rome", tags: ["x", { no: 1 }] } }],
    });
    const { result } = await run(data());
    expect(result.outputs.__is_success).toBe(0);
    const reason = String(result.outputs.__reason);
    expect(reason).toContain("Parameter name is required");
    expect(reason).toContain('Invalid value for parameter age: expected number, got "old"');
    expect(reason).toContain("Invalid `select` value for parameter city");
    expect(reason).toContain("Parameter tags: 1 item(s) were not string values and were dropped");
    expect(result.outputs).toMatchObject({ name: "", age: 0, city: "Rome", tags: ["x"] });
  });

  it("falls back to JSON in the text when the model answers without a tool call", async () => {
    server.script({ text: 'Sure! ```json\n{"name": "Bob", "age": 7}\n```' });
    const { result } = await run(data());
    expect(result.outputs).toMatchObject({ __is_success: 1, name: "Bob", age: 7, vip: false, tags: [] });
  });

  it("prompt mode asks for JSON with worked examples and parses fenced replies", async () => {
    server.script({ text: '<think>hmm</think>```json\n{"name": "Cleo", "vip": "true", "city": "Berlin"}\n```' });
    const { result, sent } = await run(data({ reasoning_mode: "prompt" }));
    expect(result.outputs).toMatchObject({ __is_success: 1, name: "Cleo", vip: true, city: "Berlin", age: 0 });
    const body = sent!.body as Record<string, unknown>;
    expect(body.tools).toBeUndefined();
    const messages = body.messages as Array<{ role: string; content: string }>;
    expect(messages.map((m) => m.role)).toEqual(["system", "user", "assistant", "user", "assistant", "user"]);
    expect(messages[2]?.content).toBe('{"location":"San Francisco"}');
    expect(messages.at(-1)?.content).toContain("<text>\nAda, 36, from Paris\n</text>");
    expect(messages.at(-1)?.content).toContain('"required":["name"]');
  });

  it("a reply without JSON is not a failure: defaults and __is_success 0", async () => {
    server.script({ text: "I cannot help with that." });
    const { result } = await run(data({ reasoning_mode: "prompt" }));
    expect(result.outputs).toMatchObject({ __is_success: 0, name: "", age: 0, vip: false, city: "", tags: [] });
    expect(String(result.outputs.__reason)).toMatch(/neither a tool call nor a JSON object/);
  });

  it("completion-mode models get one user message", async () => {
    server.script({ text: '{"name": "Dan"}' });
    const { result, sent } = await run(
      data({ reasoning_mode: "prompt", model: { provider: "openai", name: "fixed", mode: "completion" } }),
    );
    expect(result.outputs.name).toBe("Dan");
    const messages = (sent!.body as { messages: Array<{ role: string; content: string }> }).messages;
    expect(messages).toHaveLength(1);
    expect(messages[0]?.role).toBe("user");
    expect(messages[0]?.content).toContain("Ada, 36, from Paris");
  });

  it("sends vision files with the prompt", async () => {
    const image: FileValue = {
      dify_model_identity: FILE_IDENTITY,
      id: "f1",
      type: "image",
      transfer_method: "local_file",
      remote_url: null,
      related_id: "u1",
      filename: "receipt.png",
      extension: "png",
      mime_type: "image/png",
      size: 3,
      url: null,
    };
    const pool = new VariablePool();
    pool.setAll("start", { text: "the receipt", customer: "x" });
    pool.set("sys", "files", [image]);
    const reads: string[] = [];
    const { sent } = await run(data({ vision: { enabled: true, configs: { detail: "low" } } }), pool, {
      files: {
        resolve: () => Promise.reject(new Error("unused")),
        save: () => Promise.reject(new Error("unused")),
        read: async (f) => {
          reads.push(f.filename);
          return new Uint8Array([1, 2, 3]);
        },
      },
    });
    expect(reads).toEqual(["receipt.png"]);
    const last = (sent!.body as { messages: Array<{ content: unknown }> }).messages.at(-1);
    const parts = last?.content as Array<{ type: string; image_url?: { url: string; detail?: string } }>;
    expect(parts[0]?.type).toBe("image_url");
    expect(parts[0]?.image_url?.url).toMatch(/^data:image\/png;base64,/);
    expect(parts[1]?.type).toBe("text");
  });

  it("a failed model call fails the node with the provider's error", async () => {
    await expect(run(data({ model: { provider: "openai", name: "error-500", mode: "chat" } }))).rejects.toBeInstanceOf(
      ProviderError,
    );
  });

  it("validation names missing input, reserved and duplicate parameter names", () => {
    const doc = dsl(
      [
        start("start", ["text"]),
        n("pe", "parameter-extractor", {
          model: { provider: "openai", name: "tool", mode: "chat" },
          query: [],
          parameters: [
            { name: "__reason", type: "string", description: "", required: false },
            { name: "a", type: "number", description: "", required: false },
            { name: "a", type: "number", description: "", required: false },
            { name: "b", type: "date", description: "", required: false },
          ],
          reasoning_mode: "function_call",
        }),
        end("end", { a: ["pe", "a"] }),
      ],
      [e("start", "pe"), e("pe", "end")],
    );
    const registry = createNodeRegistry([...coreNodes, parameterExtractorNode]);
    expect(() => compileWorkflow(doc, { registry })).toThrow(WorkflowValidationError);
    try {
      compileWorkflow(doc, { registry });
    } catch (err) {
      const messages = (err as WorkflowValidationError).problems.map((p) => p.message).join("\n");
      expect(messages).toMatch(/parameters\.3\.type/);
    }
    const valid = structuredClone(doc);
    (valid.workflow.graph.nodes[1]!.data.parameters as unknown[]).pop();
    try {
      compileWorkflow(valid, { registry });
      expect.unreachable();
    } catch (err) {
      const messages = (err as WorkflowValidationError).problems.map((p) => `${p.nodeId}: ${p.message}`);
      expect(messages).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^pe: no input variable is selected/),
          expect.stringMatching(/^pe: parameter name "__reason" is reserved/),
          expect.stringMatching(/^pe: parameter "a" is defined twice/),
        ]),
      );
    }
  });

  it("runs in a workflow: extracted values feed later nodes and usage reaches the run", async () => {
    const registry = createNodeRegistry([...coreNodes, echoNode, parameterExtractorNode]);
    const doc = dsl(
      [
        start("start", ["text"]),
        n("pe", "parameter-extractor", {
          model: { provider: "openai", name: "chat-model", mode: "chat" },
          query: ["start", "text"],
          parameters: [
            { name: "city", type: "string", description: "City", required: true },
            { name: "days", type: "number", description: "Days", required: true },
          ],
          instruction: "",
          reasoning_mode: "function_call",
        }),
        n("say", "test-echo", { value: "{{#pe.days#}} days in {{#pe.city#}} ({{#pe.__is_success#}})" }),
        end("end", { summary: ["say", "text"], days: ["pe", "days"], reason: ["pe", "__reason"] }),
      ],
      [e("start", "pe"), e("pe", "say"), e("say", "end")],
    );
    const wf = compileWorkflow(doc, { registry });
    server.script({ toolCalls: [{ name: EXTRACTOR_TOOL_NAME, arguments: { city: "Lisbon", days: 3 } }] });
    const result = await runWorkflow(wf, { inputs: { text: "Three days in Lisbon please" }, caps: testCapabilities(caps) });
    expect(result.status).toBe("succeeded");
    expect(result.outputs).toEqual({ summary: "3 days in Lisbon (1)", days: 3, reason: null });
    expect(result.totalTokens).toBeGreaterThan(0);
  });
});
