import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Capabilities, ProviderCredentials } from "../capabilities/types.js";
import { WorkflowValidationError } from "../errors.js";
import type { EngineEvent } from "../events.js";
import { compileWorkflow } from "../graph/compile-workflow.js";
import { createAiSdkLlm } from "../llm/ai-sdk-llm.js";
import { runWorkflow } from "../runtime/run-workflow.js";
import { dsl, e, end, n, start } from "../test-support/graph-builder.js";
import { makeNodeContext, testCapabilities } from "../test-support/node-context.js";
import { type OpenAiTestServer, startOpenAiTestServer } from "../test-support/openai-test-server.js";
import { echoNode } from "../test-support/test-nodes.js";
import { VariablePool } from "../variables/variable-pool.js";
import { type QuestionClassifierData, questionClassifierNode, resolveClass } from "./question-classifier.js";
import { coreNodes, createNodeRegistry } from "./registry.js";

let server: OpenAiTestServer;
let caps: Partial<Capabilities>;
const configs: Record<string, ProviderCredentials> = {};

beforeAll(async () => {
  server = await startOpenAiTestServer();
  configs.openai = { apiKey: "sk-test", baseUrl: server.url };
  caps = { llm: createAiSdkLlm({ credentials: (p) => configs[p] }) };
});
afterAll(async () => {
  await server.close();
});

const CLASSES = [
  { id: "1711000000001", name: "Billing" },
  { id: "1711000000002", name: "Technical problem with {{#start.product#}}" },
  { id: "1711000000003", name: "Other", label: "Fallback" },
];

function data(overrides: Record<string, unknown> = {}): QuestionClassifierData {
  return questionClassifierNode.schema.parse({
    type: "question-classifier",
    title: "Classify",
    model: { provider: "openai", name: "gpt-4o-mini", mode: "chat", completion_params: {} },
    query_variable_selector: ["start", "question"],
    classes: CLASSES,
    instruction: "Route support tickets for {{#start.product#}}.",
    vision: { enabled: false },
    ...overrides,
  });
}

async function run(d: QuestionClassifierData, question = "My router keeps rebooting") {
  const pool = new VariablePool();
  pool.setAll("start", { question, product: "RouterX" });
  const ctx = makeNodeContext(d, { nodeId: "qc", pool, caps });
  const before = server.requests.length;
  const result = await questionClassifierNode.run(ctx);
  return { result, sent: server.requests[before] };
}

describe("question-classifier node", () => {
  it("takes the branch of the category id the model answers with", async () => {
    server.script({
      text: '{"keywords": ["router", "rebooting"], "category_id": "1711000000002", "category_name": "Technical problem with RouterX"}',
    });
    const { result, sent } = await run(data());
    expect(result.handle).toBe("1711000000002");
    expect(result.outputs).toMatchObject({
      class_id: "1711000000002",
      class_name: "Technical problem with RouterX",
      class_label: "CLASS 2",
      usage: { total_tokens: expect.any(Number) },
    });
    expect(result.usage?.totalTokens).toBeGreaterThan(0);
    expect(result.processData).toMatchObject({ matched_by: "category_id", model_provider: "openai" });
    const messages = (sent!.body as { messages: Array<{ role: string; content: string }> }).messages;
    expect(messages.map((m) => m.role)).toEqual(["system", "user", "assistant", "user", "assistant", "user"]);
    const last = JSON.parse(messages.at(-1)?.content ?? "{}") as Record<string, unknown>;
    expect(last).toEqual({
      input_text: ["My router keeps rebooting"],
      categories: [
        { category_id: "1711000000001", category_name: "Billing" },
        { category_id: "1711000000002", category_name: "Technical problem with RouterX" },
        { category_id: "1711000000003", category_name: "Other" },
      ],
      classification_instructions: ["Route support tickets for RouterX."],
    });
  });

  it("quotes in the question cannot break the prompt's JSON", async () => {
    server.script({ text: '{"category_id": "1711000000001"}' });
    const { sent } = await run(data(), 'He said "refund" \\ now');
    const last = (sent!.body as { messages: Array<{ content: string }> }).messages.at(-1);
    expect((JSON.parse(last?.content ?? "{}") as { input_text: string[] }).input_text).toEqual(['He said "refund" \\ now']);
  });

  it("matches a fenced answer that only names the category, after a think block", async () => {
    server.script({ text: '<think>It is about money.</think>\n```json\n{"category_name": "billing"}\n```' });
    const { result } = await run(data());
    expect(result.handle).toBe("1711000000001");
    expect(result.processData).toMatchObject({ matched_by: "category_name" });
  });

  it("matches a class named in prose", async () => {
    server.script({ text: "This one belongs to Other, clearly." });
    const { result } = await run(data());
    expect(result.outputs).toMatchObject({ class_id: "1711000000003", class_label: "Fallback" });
    expect(result.processData).toMatchObject({ matched_by: "text" });
  });

  it("falls back to the first class when the answer names none", async () => {
    server.script({ text: "¯\\_(ツ)_/¯" });
    const { result } = await run(data());
    expect(result.handle).toBe("1711000000001");
    expect(result.outputs.class_name).toBe("Billing");
    expect(result.processData).toMatchObject({ matched_by: "fallback" });
  });

  it("resolveClass: unknown ids fall through to names; short ids are not searched in prose; longer names win ties", () => {
    const classes = [
      { id: "1", name: "Product", label: "A" },
      { id: "2", name: "Product returns", label: "B" },
    ];
    expect(resolveClass('{"category_id": "nope", "category_name": "Product returns"}', classes).choice.id).toBe("2");
    expect(resolveClass("Product returns, since item 1 broke", classes).choice.id).toBe("2");
    expect(resolveClass('"2"', classes)).toMatchObject({ choice: { id: "2" }, matchedBy: "text" });
    expect(resolveClass("2", classes)).toMatchObject({ choice: { id: "2" }, matchedBy: "text" });
    expect(resolveClass("there are 2 options", classes)).toMatchObject({ choice: { id: "1" }, matchedBy: "fallback" });
    expect(resolveClass('[{"category_id": "2"}]', classes).choice.id).toBe("2");
  });

  it("validation reports missing classes, duplicate ids and edges from unknown classes", () => {
    const registry = createNodeRegistry([...coreNodes, echoNode, questionClassifierNode]);
    const bad = dsl(
      [
        start("start", ["q"]),
        n("qc", "question-classifier", {
          model: { provider: "openai", name: "m", mode: "chat" },
          query_variable_selector: ["start", "q"],
          classes: [
            { id: "a", name: "A" },
            { id: "a", name: "" },
          ],
        }),
        n("x", "test-echo", { value: "x" }),
        end("end", { out: ["x", "text"] }),
      ],
      [e("start", "qc"), e("qc", "x", "zzz"), e("x", "end")],
    );
    try {
      compileWorkflow(bad, { registry });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(WorkflowValidationError);
      const messages = (err as WorkflowValidationError).problems.map((p) => p.message);
      expect(messages).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/class id "a" is used twice/),
          expect.stringMatching(/class 2 \(a\) has no name/),
        ]),
      );
    }
    const fixed = structuredClone(bad);
    fixed.workflow.graph.nodes[1]!.data.classes = [{ id: "a", name: "A" }];
    expect(() => compileWorkflow(fixed, { registry })).toThrow(
      /leaves from branch "zzz", which "qc" does not have \(it has: a\)/,
    );
    fixed.workflow.graph.nodes[1]!.data.classes = [];
    expect(() => compileWorkflow(fixed, { registry })).toThrow(/no classes are defined/);
  });

  it("branches a workflow: only the chosen class's path runs", async () => {
    const registry = createNodeRegistry([...coreNodes, echoNode, questionClassifierNode]);
    const doc = dsl(
      [
        start("start", ["question"]),
        n("qc", "question-classifier", {
          model: { provider: "openai", name: "gpt-4o-mini", mode: "chat" },
          query_variable_selector: ["start", "question"],
          classes: [
            { id: "sales", name: "Sales" },
            { id: "support", name: "Support" },
          ],
        }),
        n("to-sales", "test-echo", { value: "sales team ({{#qc.class_name#}})" }),
        n("to-support", "test-echo", { value: "support team ({{#qc.class_name#}})" }),
        n("join", "variable-aggregator", {
          variables: [
            ["to-sales", "text"],
            ["to-support", "text"],
          ],
        }),
        end("end", { routed: ["join", "output"], class: ["qc", "class_id"] }),
      ],
      [
        e("start", "qc"),
        e("qc", "to-sales", "sales"),
        e("qc", "to-support", "support"),
        e("to-sales", "join"),
        e("to-support", "join"),
        e("join", "end"),
      ],
    );
    const wf = compileWorkflow(doc, { registry });
    const events: EngineEvent[] = [];
    server.script({ text: '{"category_id": "support", "category_name": "Support"}' });
    const result = await runWorkflow(wf, {
      inputs: { question: "It is broken" },
      caps: testCapabilities(caps),
      onEvent: (ev) => events.push(ev),
    });
    expect(result.status).toBe("succeeded");
    expect(result.outputs).toEqual({ routed: "support team (Support)", class: "support" });
    const started = events.filter((ev) => ev.type === "node_started").map((ev) => ev.execution.nodeId);
    expect(started).toEqual(["start", "qc", "to-support", "join", "end"]);
    expect(result.totalTokens).toBeGreaterThan(0);
  });
});
