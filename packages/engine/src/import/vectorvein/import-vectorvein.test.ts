import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Capabilities, LlmCapability } from "../../capabilities/types.js";
import { exportDsl } from "../../dsl/export-dsl.js";
import { parseDsl } from "../../dsl/parse-dsl.js";
import { compileWorkflow } from "../../graph/compile-workflow.js";
import { createAiSdkLlm } from "../../llm/ai-sdk-llm.js";
import { codeNode } from "../../nodes/code.js";
import { createNodeRegistry, defaultNodeRegistry } from "../../nodes/registry.js";
import { runWorkflow } from "../../runtime/run-workflow.js";
import { createSandbox, type Sandbox } from "../../sandbox/index.js";
import { testCapabilities } from "../../test-support/node-context.js";
import { type OpenAiTestServer, startOpenAiTestServer } from "../../test-support/openai-test-server.js";
import { importVectorVeinWorkflow, type VectorVeinImportResult } from "./import-vectorvein.js";

const registry = createNodeRegistry([...defaultNodeRegistry.values(), codeNode]);
const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8")) as Record<string, unknown>;

let sandbox: Sandbox;
let server: OpenAiTestServer;
let caps: Capabilities;
/** Every model request: the provider and model the import chose. */
const calls: Array<{ provider: string; model: string }> = [];

beforeAll(async () => {
  sandbox = createSandbox({ poolSize: 1 });
  server = await startOpenAiTestServer();
  const sdk = createAiSdkLlm({ credentials: () => ({ apiKey: "sk-test", baseUrl: server.url }) });
  // Every provider is served by the local OpenAI-compatible server; the request records what the import chose.
  const llm: LlmCapability = {
    stream(request, signal) {
      calls.push({ provider: request.provider, model: request.model });
      const model = request.model === "deepseek-reasoner" ? "reasoning" : request.model;
      return sdk.stream({ ...request, provider: "openai_api_compatible", model }, signal);
    },
  };
  caps = testCapabilities({ sandbox, llm });
});

afterAll(async () => {
  await Promise.all([sandbox?.close(), server?.close()]);
});

/** Runs an imported workflow the way VectorVein's `workflow/run` addresses inputs, and returns its result list. */
async function run(result: VectorVeinImportResult, fields: Array<{ node_id: string; field_name: string; value: unknown }> = []) {
  const inputs: Record<string, unknown> = {};
  for (const f of fields) {
    const binding = result.inputs.find((i) => i.node_id === f.node_id && i.field_name === f.field_name);
    if (!binding) throw new Error(`no input for ${f.node_id}/${f.field_name}`);
    inputs[binding.variable] = f.value;
  }
  const outcome = await runWorkflow(compileWorkflow(result.document, { registry }), { inputs, caps });
  expect(outcome.error).toBeNull();
  return result.outputs.map((o) => ({ type: o.type, title: o.title, value: outcome.outputs[o.variable] }));
}

const messages = (r: VectorVeinImportResult, kind: "problems" | "notes") => r[kind].map((p) => p.message);

describe("text nodes (camelCase categories, the format's misspelled keys)", () => {
  const id = (n: number) => `b7a2c1d0-${String(n).padStart(4, "0")}-4c1e-9a11-${String(n).padStart(12, "0")}`;
  const imported = importVectorVeinWorkflow(fixture("text-basics.json"), { name: "Text basics" });

  it("imports TextInOut, TemplateCompose, TextReplace, TextTruncation, Empty and Text outputs", () => {
    expect(imported.problems).toEqual([]);
    expect(imported.document.app.name).toBe("Text basics");
    // Shown, unconnected ports are the inputs, addressed by VectorVein node id and port name.
    expect(imported.inputs).toEqual([
      { node_id: id(2), field_name: "text", variable: "text" },
      { node_id: id(3), field_name: "audience", variable: "audience" },
    ]);
    expect(imported.outputs).toEqual([
      { node_id: id(6), type: "Text", title: "Summary", variable: "text_1" },
      { node_id: id(7), type: "Text", title: "Full", variable: "text_2" },
    ]);
    const types = imported.document.workflow.graph.nodes.map((n) => `${n.id}:${n.data.type}`);
    expect(types).toEqual(
      expect.arrayContaining([
        "start:start",
        "end:end",
        "b7a2c1d0_0002_4c1e_9a11_000000000002:variable-aggregator",
        "b7a2c1d0_0003_4c1e_9a11_000000000003:template-transform",
        "b7a2c1d0_0004_4c1e_9a11_000000000004:code",
        "b7a2c1d0_0005_4c1e_9a11_000000000005:code",
        "b7a2c1d0_0008_4c1e_9a11_000000000008:template-transform",
      ]),
    );
    const start = imported.document.workflow.graph.nodes.find((n) => n.id === "start");
    expect((start?.data as { variables: unknown[] } | undefined)?.variables).toEqual([
      expect.objectContaining({
        variable: "text",
        type: "paragraph",
        default: "rivers",
        vectorvein: { node_id: id(2), field_name: "text" },
      }),
      expect.objectContaining({ variable: "audience", label: "Audience", type: "text-input", default: "children" }),
    ]);
    // Nothing is dropped silently.
    expect(messages(imported, "notes")).toEqual([
      `TextInOut node ${id(9)} is switched off (ignored) in VectorVein and was left out`,
      `Comment node ${id(10)} is an editor note and was left out`,
      `ButtonTrigger node ${id(1)} starts the run; in Tributary that is the start node`,
      `port "output_title" of Text node ${id(6)} is a run-time input in VectorVein; Tributary needs it when importing and uses its stored value "Summary"`,
    ]);
  });

  it("runs with the stored values and with input fields", async () => {
    const full = "主题：rivers\nAudience: children\nKeep it short. Literal {{braces}} and {% raw %} stay.";
    expect(await run(imported)).toEqual([
      { type: "Text", title: "Summary", value: "主题：RIVERS | Audience: children | Keep" },
      { type: "Text", title: "Full", value: full },
    ]);
    const [summary, whole] = await run(imported, [
      { node_id: id(2), field_name: "text", value: "oceans" },
      { node_id: id(3), field_name: "audience", value: "adults who read" },
    ]);
    expect(whole?.value).toBe("主题：oceans\nAudience: adults who read\nKeep it short. Literal {{braces}} and {% raw %} stay.");
    expect(summary?.value).toBe("主题：oceans | Audience: adults who read |");
  });

  it("reads both category spellings and both spellings of the misspelled keys the same way", () => {
    const variant = structuredClone(fixture("text-basics.json")) as {
      nodes: Array<{ category: string; data: Record<string, unknown> & { template: Record<string, Record<string, unknown>> } }>;
    };
    for (const n of variant.nodes) {
      n.category = n.category.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`); // textProcessing → text_processing
      n.data.selected_workflow_title = n.data.seleted_workflow_title ?? "";
      delete n.data.seleted_workflow_title;
      for (const p of Object.values(n.data.template)) {
        p.group_collapsed = p.group_collpased ?? false;
        delete p.group_collpased;
      }
    }
    const again = importVectorVeinWorkflow(variant, { name: "Text basics" });
    expect(variant.nodes[1]?.category).toBe("text_processing");
    expect(again.problems).toEqual([]);
    expect(again.document).toEqual(imported.document);
    expect(again.inputs).toEqual(imported.inputs);
  });

  it("takes the title and description from VectorVein's API wrapper and from a JSON string", () => {
    const wrapped = importVectorVeinWorkflow(
      JSON.stringify({ wid: "w1", title: "Wrapped", brief: "From workflow/get", data: fixture("text-basics.json") }),
    );
    expect(wrapped.document.app).toMatchObject({ name: "Wrapped", description: "From workflow/get", mode: "workflow" });
    expect(wrapped.problems).toEqual([]);
  });
});

describe("lists and markup (snake_case categories)", () => {
  const id = (n: number) => `c1000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
  const imported = importVectorVeinWorkflow(fixture("lists-and-markup.json"));

  it("imports TextSplitters, ListRender, TemplateCompose over a list, RegexExtract, MarkdownToHtml, Html, Table, Mermaid", () => {
    expect(imported.problems).toEqual([]);
    expect(imported.inputs).toEqual([{ node_id: id(1), field_name: "text", variable: "text" }]);
    const byId = new Map(imported.document.workflow.graph.nodes.map((n) => [n.id, n.data]));
    // A static separator and a list input: a template; a list into TemplateCompose: a code node.
    expect(byId.get("c1000000_0000_4000_8000_000000000003")?.type).toBe("template-transform");
    expect(byId.get("c1000000_0000_4000_8000_000000000004")?.type).toBe("code");
    expect(byId.get("c1000000_0000_4000_8000_000000000006")?.type).toBe("template-transform");
  });

  it("runs like VectorVein", async () => {
    expect(await run(imported)).toEqual([
      { type: "Html", title: "HTML", value: expectedHtml("alpha", "beta", "gamma") },
      { type: "Table", title: "Table", value: ["a", "b", "g"] },
      { type: "Text", title: "Rendered list", value: "alpha\n- beta\n- gamma" },
      { type: "Mermaid", title: "Mermaid", value: "graph TD;\n  split-->render;" },
    ]);
    const [html, table, text] = await run(imported, [{ node_id: id(1), field_name: "text", value: "one;two" }]);
    expect(text?.value).toBe("one\n- two");
    expect(table?.value).toEqual(["o", "t"]);
    expect(html?.value).toBe(expectedHtml("one", "two"));
  });

  function expectedHtml(...items: string[]): string {
    return `<h1>Notes &amp; ideas</h1>\n\n<ul>\n${items.map((i) => `<li><strong>${i}</strong></li>`).join("\n")}\n</ul>\n\n<p>See <a href="https://example.com/docs" title="Docs">the docs</a> or run <code>make</code>.</p>\n`;
  }
});

describe("JSON processing and branches", () => {
  const id = (n: number) => `d2000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
  const imported = importVectorVeinWorkflow(fixture("json-and-branches.json"));

  it("imports JsonProcess (both modes), Conditional as an if-else, RandomChoice, Echarts and Document", () => {
    expect(imported.problems).toEqual([]);
    expect(imported.inputs).toEqual([
      { node_id: id(1), field_name: "text", variable: "text" },
      { node_id: id(4), field_name: "right_field", variable: "right_field" },
    ]);
    const ifElse = imported.document.workflow.graph.nodes.find((n) => n.id === "d2000000_0000_4000_8000_000000000004");
    expect(ifElse?.data).toMatchObject({
      type: "if-else",
      cases: [
        {
          case_id: "true_output",
          conditions: [{ comparison_operator: "≥", value: "{{#start.right_field#}}", varType: "number" }],
        },
      ],
    });
    expect(messages(imported, "notes")).toContain(
      `Document node ${id(10)} makes a file in VectorVein; Tributary returns its content as text (the result names the file it would have been)`,
    );
  });

  it("takes the true branch", async () => {
    expect(await run(imported)).toEqual([
      // A list reaches TemplateCompose, so (as in VectorVein) it composes once per item.
      { type: "Text", title: "Good news", value: ["Ada passed (pass); likes math", "Ada passed (pass); likes poetry"] },
      { type: "Text", title: "Bad news", value: null },
      { type: "Echarts", title: "Echarts", value: "pass" },
      { type: "Document", title: "report.md", value: "the only report" },
    ]);
  });

  it("takes the false branch when the pass mark is raised through its input field", async () => {
    const results = await run(imported, [{ node_id: id(4), field_name: "right_field", value: "90" }]);
    expect(results.slice(0, 3)).toEqual([
      { type: "Text", title: "Good news", value: null },
      { type: "Text", title: "Bad news", value: "fail" },
      { type: "Echarts", title: "Echarts", value: "fail" },
    ]);
  });
});

describe("LLM nodes", () => {
  const imported = importVectorVeinWorkflow(fixture("llm-nodes.json"));

  it("maps every LLM node type onto an llm node with the right provider", () => {
    expect(imported.problems).toEqual([]);
    const llms = imported.document.workflow.graph.nodes.filter((n) => n.data.type === "llm");
    const models = llms.map((n) => n.data.model as { provider: string; name: string });
    expect(models.map((m) => `${m.provider}/${m.name}`)).toEqual([
      "openai/gpt-4o-mini",
      "anthropic/claude-sonnet-4-5-20250929",
      "deepseek/deepseek-reasoner",
      "tongyi/qwen3-32b",
      "moonshot/kimi-k2-0711-preview",
      "google/gemini-2.5-flash",
      "zhipuai/glm-4.6",
      "my_vllm/qwen2.5-7b-instruct",
      "anthropic/claude-haiku-4-5-20251001",
      "moonshot/moonshot-v1-8k",
    ]);
    expect(llms[0]?.data).toMatchObject({
      model: { completion_params: { temperature: 0.7, top_p: 0.9 } },
      prompt_template: [
        { role: "system", edition_type: "jinja2", jinja2_text: "Answer in one line." },
        { role: "user", edition_type: "jinja2", jinja2_text: "{{ prompt }}" },
      ],
      reasoning_format: "separated",
    });
    // A list prompt runs the model once per item, inside an iteration.
    const perColour = imported.document.workflow.graph.nodes.find((n) => n.id === "e3000000_0000_4000_8000_000000000012");
    expect(perColour?.data.type).toBe("iteration");
    expect(messages(imported, "notes")).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/claude-sonnet-4-5-20250929-thinking" mode/),
        expect.stringMatching(/once per item/),
      ]),
    );
  });

  it("runs every model through the provider it names", async () => {
    const before = calls.length;
    const results = await run(imported, [
      { node_id: "e3000000-0000-4000-8000-000000000001", field_name: "text", value: "Why is grass green?" },
    ]);
    const byTitle = Object.fromEntries(results.map((r) => [r.title, r.value]));
    // The test server echoes the prompt.
    for (const t of ["OpenAI", "Claude", "Qwen", "Moonshot", "Gemini", "ChatGLM", "Custom", "Universal"]) {
      expect(byTitle[t]).toBe("Why is grass green?");
    }
    expect(byTitle.Deepseek).toBe("The answer is 42.");
    expect(byTitle["Deepseek thinking"]).toBe("Let me think about this carefully.");
    expect(byTitle["Per colour"]).toEqual(["red", "green"]);
    const providers = calls.slice(before).map((c) => c.provider);
    expect(new Set(providers)).toEqual(
      new Set(["openai", "anthropic", "deepseek", "tongyi", "moonshot", "google", "zhipuai", "my_vllm"]),
    );
    const system = server.requests.at(-1)?.body.messages?.[0];
    expect(system).toMatchObject({ role: "system", content: "Answer in one line." });
  });
});

describe("ProgrammingFunction", () => {
  const id = (n: number) => `f4000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
  const imported = importVectorVeinWorkflow(fixture("programming.json"));

  it("imports JavaScript and Python functions as code nodes", () => {
    expect(imported.problems).toEqual([]);
    const language = (n: number) =>
      imported.document.workflow.graph.nodes.find((x) => x.id === id(n).replaceAll("-", "_"))?.data.code_language;
    expect([2, 3, 4, 5].map(language)).toEqual(["javascript", "javascript", "javascript", "python3"]);
    expect(imported.inputs).toEqual([
      { node_id: id(1), field_name: "text", variable: "text" },
      { node_id: id(5), field_name: "name", variable: "name" },
    ]);
    const start = imported.document.workflow.graph.nodes.find((n) => n.id === "start");
    expect((start?.data as { variables: Array<{ type: string }> } | undefined)?.variables[0]?.type).toBe("number");
  });

  it("runs them with VectorVein's semantics: typed parameters, console, errors as error_msg, list input", async () => {
    const results = await run(imported, [{ node_id: id(5), field_name: "name", value: "Grace" }]);
    const byTitle = Object.fromEntries(results.map((r) => [r.title, r.value]));
    expect(byTitle.Result).toEqual({ doubled: 42, label: "TOTAL" });
    expect(byTitle.Console).toBe("doubling 21 number");
    expect(byTitle.Error).toMatch(/^Error: no luck for Ada/);
    expect(byTitle["Failed output"]).toBeNull();
    expect(byTitle.Squares).toEqual([1, 4, 9]);
    expect(byTitle.Shout).toBe("GRACE GRACE");
    expect(byTitle["Python console"]).toBe("greeting Grace\n");
  });
});

describe("what Tributary cannot run", () => {
  const id = (n: number) => `a5000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
  const imported = importVectorVeinWorkflow(fixture("unsupported.json"));

  it("names every unsupported node and every port that reads from one, with ids and types", () => {
    expect(imported.problems).toEqual([
      {
        nodeId: id(1),
        message: `FileUpload node ${id(1)} (category fileProcessing) cannot run in Tributary: it reads or converts files with VectorVein's file services`,
      },
      {
        nodeId: id(2),
        message: `GptVision node ${id(2)} (category mediaProcessing) cannot run in Tributary: it analyses images, audio or video with VectorVein's media services`,
      },
      {
        nodeId: id(5),
        message: `WebCrawler node ${id(5)} (category webCrawlers) cannot run in Tributary: it crawls web pages with VectorVein's crawlers; an HTTP request node can often replace it`,
      },
      {
        nodeId: id(9),
        message: `ScheduleTrigger node ${id(9)} (category triggers) cannot run in Tributary: it is a VectorVein trigger; in Tributary a run starts from the API`,
      },
      {
        nodeId: id(6),
        message: `OpenAI node ${id(6)} uses function calling (use_function_call), which Tributary's LLM node does not offer; use a parameter extractor instead`,
      },
      {
        nodeId: id(7),
        message: expect.stringMatching(/^Conditional node .* uses the operator "matches_regex", which Tributary does not know/),
      },
      {
        nodeId: id(3),
        message: `port "caption" of TemplateCompose node ${id(3)} reads "output" of GptVision node ${id(2)}, which Tributary cannot run`,
      },
    ]);
  });

  it("rejects what is not a VectorVein workflow", () => {
    expect(importVectorVeinWorkflow({ nodes: [{ type: "TextInOut" }] }).problems[0]?.message).toMatch(
      /^not a VectorVein workflow: nodes\.0\.id/,
    );
    expect(() => importVectorVeinWorkflow("{not json")).toThrow(/not valid JSON/);
  });
});

describe("imported workflows are ordinary native workflows", () => {
  for (const name of [
    "text-basics.json",
    "lists-and-markup.json",
    "json-and-branches.json",
    "llm-nodes.json",
    "programming.json",
  ]) {
    it(`${name} exports to DSL and back unchanged`, () => {
      const { document, problems } = importVectorVeinWorkflow(fixture(name));
      expect(problems).toEqual([]);
      expect(parseDsl(exportDsl(document))).toEqual(document);
      expect(() => compileWorkflow(parseDsl(exportDsl(document)), { registry })).not.toThrow();
    });
  }
});
