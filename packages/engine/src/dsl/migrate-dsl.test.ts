import { describe, expect, it } from "vitest";
import { compileWorkflow, validateWorkflow } from "../graph/compile-workflow.js";
import { codeNode } from "../nodes/code.js";
import { coreNodes, createNodeRegistry } from "../nodes/registry.js";
import { runWorkflow } from "../runtime/run-workflow.js";
import { testCapabilities } from "../test-support/node-context.js";
import { importDsl } from "./import-dsl.js";
import { CURRENT_DSL_VERSION, compareDslVersions, migrateDsl } from "./migrate-dsl.js";
import { parseDsl } from "./parse-dsl.js";

type Obj = Record<string, unknown>;

function nodeOf(doc: unknown, id: string): Obj {
  const nodes = ((doc as Obj).workflow as { graph: { nodes: Obj[] } }).graph.nodes;
  const node = nodes.find((n) => n.id === id);
  if (!node) throw new Error(`no node ${id}`);
  return node;
}
const dataOf = (doc: unknown, id: string) => nodeOf(doc, id).data as Obj;

async function run(source: string, inputs: Record<string, unknown> = {}) {
  const compiled = compileWorkflow(source);
  return runWorkflow(compiled, { inputs, caps: testCapabilities() });
}

/** The header and features block every Dify 0.6.x/0.7.x workflow export carried (DSL 0.1.0). */
const HEADER_0_1_0 = `app:
  description: ''
  icon: "\\U0001F916"
  icon_background: '#FFEAD5'
  mode: workflow
  name: legacy
kind: app
version: 0.1.0
workflow:
  features:
    file_upload:
      image:
        enabled: false
        number_limits: 3
        transfer_methods:
        - local_file
        - remote_url
    opening_statement: ''
    retriever_resource:
      enabled: false
    sensitive_word_avoidance:
      enabled: false
    speech_to_text:
      enabled: false
    suggested_questions: []
    suggested_questions_after_answer:
      enabled: false
    text_to_speech:
      enabled: false
      language: ''
      voice: ''
`;

describe("DSL header", () => {
  it("reads a file without a version as 0.1.0 and writes it as the current version", () => {
    const { document, notes, sourceVersion } = migrateDsl({
      app: { name: "x", mode: "workflow" },
      workflow: { graph: { nodes: [] } },
    });
    expect(sourceVersion).toBe("0.1.0");
    expect((document as Obj).version).toBe(CURRENT_DSL_VERSION);
    expect((document as Obj).kind).toBe("app");
    expect(notes.map((n) => n.message)).toEqual([
      "the file names no DSL version; it was read as 0.1.0, as Dify does",
      "migrated from DSL 0.1.0 to 0.6.0",
    ]);
  });

  it("says nothing about a current file and never modifies its input", () => {
    const input = { app: { name: "x" }, kind: "app", version: "0.6.0", workflow: { graph: { nodes: [], edges: [] } } };
    const copy = structuredClone(input);
    const { document, notes } = migrateDsl(input);
    expect(notes).toEqual([]);
    expect(document).toEqual(input);
    expect(input).toEqual(copy);
  });

  it("treats a pasted bare graph as today's shape", () => {
    const { notes } = migrateDsl({ workflow: { graph: { nodes: [], edges: [] } } });
    expect(notes).toEqual([]);
  });

  it("reads a numeric version (YAML `version: 0.1`) as text and notes newer versions", () => {
    expect(migrateDsl({ app: {}, version: 0.1, workflow: { graph: { nodes: [] } } }).notes[0]?.message).toMatch(
      /written as a number/,
    );
    const newer = migrateDsl({ app: {}, version: "0.7.1", workflow: { graph: { nodes: [] } } });
    expect(newer.notes[0]?.message).toMatch(/newer than 0.6.0/);
    expect((newer.document as Obj).version).toBe("0.7.1");
  });

  it("compares versions numerically", () => {
    expect(compareDslVersions("0.1.10", "0.1.5")).toBeGreaterThan(0);
    expect(compareDslVersions("0.2", "0.2.0")).toBe(0);
    expect(compareDslVersions("0.1.5", "0.6.0")).toBeLessThan(0);
  });
});

describe("0.1.0 layouts", () => {
  it("turns the legacy variable-assigner aggregator into a variable-aggregator that still joins branches", async () => {
    const source = `${HEADER_0_1_0}  graph:
    edges:
    - {id: e1, source: '1711000000001', sourceHandle: source, target: '1711000000002', targetHandle: target, type: custom}
    - {id: e2, source: '1711000000002', sourceHandle: 'true', target: '1711000000003', targetHandle: target, type: custom}
    - {id: e3, source: '1711000000002', sourceHandle: 'false', target: '1711000000004', targetHandle: target, type: custom}
    - {id: e4, source: '1711000000003', sourceHandle: source, target: '1711000000005', targetHandle: target, type: custom}
    - {id: e5, source: '1711000000004', sourceHandle: source, target: '1711000000005', targetHandle: target, type: custom}
    - {id: e6, source: '1711000000005', sourceHandle: source, target: '1711000000006', targetHandle: target, type: custom}
    nodes:
    - data:
        desc: ''
        selected: false
        title: Start
        type: start
        variables:
        - {label: Word, max_length: '48', options: [], required: true, type: text-input, variable: word}
      height: 89
      id: '1711000000001'
      position: {x: 80, y: 282}
      positionAbsolute: {x: 80, y: 282}
      selected: false
      sourcePosition: right
      targetPosition: left
      type: custom
      width: 243
    - data:
        conditions:
        - {comparison_operator: contains, id: '1711000000010', value: 'a', variable_selector: ['1711000000001', word]}
        desc: ''
        logical_operator: and
        selected: false
        title: IF/ELSE
        type: if-else
      id: '1711000000002'
      position: {x: 384, y: 282}
      type: custom
    - data:
        desc: ''
        template: 'has a: {{ word }}'
        title: Yes
        type: template-transform
        variables:
        - {value_selector: ['1711000000001', word], variable: word}
      id: '1711000000003'
      position: {x: 688, y: 200}
      type: custom
    - data:
        desc: ''
        template: 'no a: {{ word }}'
        title: No
        type: template-transform
        variables:
        - {value_selector: ['1711000000001', word], variable: word}
      id: '1711000000004'
      position: {x: 688, y: 380}
      type: custom
    - data:
        desc: ''
        output_type: string
        selected: false
        title: Variable Assigner
        type: variable-assigner
        variables:
        - ['1711000000003', output]
        - ['1711000000004', output]
      id: '1711000000005'
      position: {x: 992, y: 282}
      type: custom
    - data:
        desc: ''
        outputs:
        - {value_selector: ['1711000000005', output], variable: result}
        selected: false
        title: End
        type: end
      id: '1711000000006'
      position: {x: 1296, y: 282}
      type: custom
    viewport: {x: 0, y: 0, zoom: 1}
`;
    const { document, notes } = importDsl(source);
    expect(document.version).toBe("0.6.0");
    expect(dataOf(document, "1711000000005").type).toBe("variable-aggregator");
    expect(dataOf(document, "1711000000005").variables).toEqual([
      ["1711000000003", "output"],
      ["1711000000004", "output"],
    ]);
    expect(notes).toContainEqual({
      nodeId: "1711000000005",
      message: 'the legacy "variable-assigner" aggregator became a variable-aggregator node (same behaviour)',
    });
    // UI fields survive.
    expect(nodeOf(document, "1711000000001").positionAbsolute).toEqual({ x: 80, y: 282 });
    expect((document.workflow.graph as Obj).viewport).toEqual({ x: 0, y: 0, zoom: 1 });
    expect(document.workflow.features.text_to_speech).toEqual({ enabled: false, language: "", voice: "" });
    // max_length written as text is read as a number.
    expect((dataOf(document, "1711000000001").variables as Obj[])[0]?.max_length).toBe(48);

    expect((await run(source, { word: "cat" })).outputs).toEqual({ result: "has a: cat" });
    expect((await run(source, { word: "dog" })).outputs).toEqual({ result: "no a: dog" });
  });

  it("turns an if-else without cases into case 'true' with the same handles", async () => {
    const graph = {
      nodes: [
        {
          id: "start",
          type: "custom",
          data: { type: "start", title: "Start", variables: [{ variable: "n", label: "n", type: "number", required: true }] },
        },
        {
          id: "check",
          type: "custom",
          data: {
            type: "if-else",
            title: "Big?",
            logical_operator: "or",
            conditions: [
              { id: "c1", variable_selector: ["start", "n"], comparison_operator: ">", value: "10" },
              { id: "c2", variable_selector: ["start", "n"], comparison_operator: "<", value: "-10" },
            ],
          },
        },
        { id: "big", type: "custom", data: { type: "template-transform", title: "big", template: "big", variables: [] } },
        { id: "small", type: "custom", data: { type: "template-transform", title: "small", template: "small", variables: [] } },
        {
          id: "join",
          type: "custom",
          data: {
            type: "variable-assigner",
            title: "join",
            output_type: "string",
            variables: [
              ["big", "output"],
              ["small", "output"],
            ],
          },
        },
        {
          id: "end",
          type: "custom",
          data: { type: "end", title: "End", outputs: [{ variable: "size", value_selector: ["join", "output"] }] },
        },
      ],
      edges: [
        { source: "start", target: "check" },
        { source: "check", sourceHandle: "true", target: "big" },
        { source: "check", sourceHandle: "false", target: "small" },
        { source: "big", target: "join" },
        { source: "small", target: "join" },
        { source: "join", target: "end" },
      ],
    };
    const file = { app: { name: "x", mode: "workflow" }, kind: "app", version: "0.1.0", workflow: { graph } };
    const { document, notes } = migrateDsl(file);
    const data = dataOf(document, "check");
    expect(data.cases).toEqual([
      {
        id: "true",
        case_id: "true",
        logical_operator: "or",
        conditions: [
          { id: "c1", variable_selector: ["start", "n"], comparison_operator: ">", value: "10" },
          { id: "c2", variable_selector: ["start", "n"], comparison_operator: "<", value: "-10" },
        ],
      },
    ]);
    expect(data).not.toHaveProperty("conditions");
    expect(data).not.toHaveProperty("logical_operator");
    expect(notes.some((n) => n.nodeId === "check" && /case "true"/.test(n.message))).toBe(true);
    // Edges without handles or ids get Dify's defaults.
    const edges = ((document as Obj).workflow as { graph: { edges: Obj[] } }).graph.edges;
    expect(edges[0]).toMatchObject({ id: "start-source-check-target", sourceHandle: "source", targetHandle: "target" });

    const compiled = compileWorkflow(file);
    const caps = testCapabilities();
    expect((await runWorkflow(compiled, { inputs: { n: 50 }, caps })).outputs).toEqual({ size: "big" });
    expect((await runWorkflow(compiled, { inputs: { n: -50 }, caps })).outputs).toEqual({ size: "big" });
    expect((await runWorkflow(compiled, { inputs: { n: 3 }, caps })).outputs).toEqual({ size: "small" });
  });

  it("turns old string http bodies into body items, form bodies split into key:value items", () => {
    const http = (id: string, body: unknown, extra: Obj = {}) => ({
      id,
      type: "custom",
      data: {
        type: "http-request",
        title: id,
        method: "post",
        url: "https://api.example.com/v1",
        headers: "",
        params: "",
        body,
        ...extra,
      },
    });
    const file = {
      app: { name: "x", mode: "workflow" },
      version: "0.1.0",
      workflow: {
        graph: {
          nodes: [
            http(
              "json",
              { type: "json", data: '{"q": "{{#start.q#}}"}' },
              {
                authorization: { type: "api-key", config: { type: "bearer", api_key: "{{#env.TOKEN#}}", header: "" } },
              },
            ),
            http("form", { type: "form-data", data: "name:{{#start.q#}}\nlang: en \n\n:skipped\nflag" }),
            http("urlenc", { type: "x-www-form-urlencoded", data: "a:1\nb:x:y" }),
            http("raw", { type: "raw-text", data: "" }),
            http("nobody", null, { authorization: { type: "no-auth", config: { type: "basic", api_key: "left-over" } } }),
          ],
          edges: [],
        },
      },
    };
    const { document, notes } = migrateDsl(file);
    expect(dataOf(document, "json").body).toEqual({
      type: "json",
      data: [{ key: "", type: "text", value: '{"q": "{{#start.q#}}"}' }],
    });
    expect(dataOf(document, "json").authorization).toEqual({
      type: "api-key",
      config: { type: "bearer", api_key: "{{#env.TOKEN#}}", header: "" },
    });
    expect(dataOf(document, "form").body).toEqual({
      type: "form-data",
      data: [
        { key: "name", type: "text", value: "{{#start.q#}}" },
        { key: "lang", type: "text", value: "en" },
        { key: "flag", type: "text", value: "" },
      ],
    });
    expect(dataOf(document, "urlenc").body).toEqual({
      type: "x-www-form-urlencoded",
      data: [
        { key: "a", type: "text", value: "1" },
        { key: "b", type: "text", value: "x:y" },
      ],
    });
    expect(dataOf(document, "raw").body).toEqual({ type: "raw-text", data: [] });
    expect(dataOf(document, "nobody").body).toEqual({ type: "none", data: [] });
    expect(dataOf(document, "nobody").authorization).toEqual({ type: "no-auth", config: null });
    // A node without authorization gets the explicit no-auth Dify always wrote.
    expect(dataOf(document, "form").authorization).toEqual({ type: "no-auth", config: null });
    expect(notes.filter((n) => n.nodeId === "form").map((n) => n.message)).toEqual([
      'the old "key:value" form-data body became 3 body item(s)',
    ]);
  });

  it("adds the iteration-start node an 0.1.0 iteration lacked and marks children with parentId", async () => {
    const source = `${HEADER_0_1_0}  graph:
    edges:
    - {id: e1, source: start, sourceHandle: source, target: split, targetHandle: target}
    - {id: e2, source: split, sourceHandle: source, target: loop1, targetHandle: target}
    - {id: e3, source: loop1, sourceHandle: source, target: end, targetHandle: target}
    - data: {isInIteration: true, iteration_id: loop1, sourceType: template-transform, targetType: template-transform}
      id: e4
      source: shout
      sourceHandle: source
      target: wrap
      targetHandle: target
    nodes:
    - id: start
      type: custom
      data:
        type: start
        title: Start
        variables:
        - {variable: csv, label: CSV, type: text-input, required: true}
    - id: split
      type: custom
      data:
        type: code
        title: Split
        code_language: python3
        code: |
          def main(csv: str) -> dict:
              return {"items": [s.strip() for s in csv.split(",")]}
        variables:
        - {variable: csv, value_selector: [start, csv]}
        outputs:
          items: {type: 'array[string]', children: null}
    - id: loop1
      type: custom
      data:
        type: iteration
        title: Each
        iterator_selector: [split, items]
        output_selector: [wrap, output]
        output_type: array[string]
        startNodeType: template-transform
        start_node_id: shout
      width: 700
      height: 200
    - id: shout
      type: custom
      data:
        type: template-transform
        title: Shout
        isInIteration: true
        isIterationStart: true
        iteration_id: loop1
        template: '{{ item | upper }}'
        variables:
        - {variable: item, value_selector: [loop1, item]}
      extent: parent
      zIndex: 1001
    - id: wrap
      type: custom
      data:
        type: template-transform
        title: Wrap
        isInIteration: true
        iteration_id: loop1
        template: '<{{ text }}>'
        variables:
        - {variable: text, value_selector: [shout, output]}
      extent: parent
      zIndex: 1001
    - id: end
      type: custom
      data:
        type: end
        title: End
        outputs:
        - {variable: items, value_selector: [loop1, output]}
`;
    const { document, notes } = importDsl(source);
    expect(dataOf(document, "loop1").start_node_id).toBe("loop1start");
    expect(nodeOf(document, "loop1start")).toMatchObject({
      type: "custom-iteration-start",
      parentId: "loop1",
      data: { type: "iteration-start", isInIteration: true, iteration_id: "loop1" },
    });
    expect(nodeOf(document, "shout").parentId).toBe("loop1");
    expect(nodeOf(document, "wrap").parentId).toBe("loop1");
    const edges = document.workflow.graph.edges;
    expect(edges).toContainEqual(
      expect.objectContaining({ source: "loop1start", target: "shout", sourceHandle: "source", targetHandle: "target" }),
    );
    expect(notes).toContainEqual({
      nodeId: "loop1",
      message: 'added the iteration-start node "loop1start" in front of "shout", the iteration\'s first step',
    });
    expect(notes).toContainEqual({
      nodeId: null,
      message: "2 nodes' iteration/loop membership was written in today's form (parentId and data flags)",
    });
    // The code node may not be registered by default yet; with it, the migrated graph validates.
    expect(validateWorkflow(document, { registry: createNodeRegistry([...coreNodes, codeNode]) })).toEqual([]);
  });

  it("runs a migrated iteration end to end", async () => {
    const file = {
      app: { name: "x", mode: "workflow" },
      version: "0.1.0",
      workflow: {
        graph: {
          nodes: [
            {
              id: "start",
              type: "custom",
              data: {
                type: "start",
                title: "Start",
                variables: [{ variable: "items", label: "items", type: "json", required: true }],
              },
            },
            {
              id: "each",
              type: "custom",
              data: {
                type: "iteration",
                title: "Each",
                iterator_selector: ["start", "items", "list"],
                output_selector: ["t", "output"],
                start_node_id: "t",
              },
            },
            {
              id: "t",
              type: "custom",
              data: {
                type: "template-transform",
                title: "t",
                isInIteration: true,
                iteration_id: "each",
                template: "#{{ i }}={{ v }}",
                variables: [
                  { variable: "i", value_selector: ["each", "index"] },
                  { variable: "v", value_selector: ["each", "item"] },
                ],
              },
            },
            {
              id: "end",
              type: "custom",
              data: { type: "end", title: "End", outputs: [{ variable: "out", value_selector: ["each", "output"] }] },
            },
          ],
          edges: [
            { source: "start", target: "each" },
            { source: "each", target: "end" },
          ],
        },
      },
    };
    const { document } = migrateDsl(file);
    // "json" is an old spelling of json_object.
    expect((dataOf(document, "start").variables as Obj[])[0]?.type).toBe("json_object");
    const compiled = compileWorkflow(file);
    const result = await runWorkflow(compiled, { inputs: { items: { list: ["a", "b"] } }, caps: testCapabilities() });
    expect(result.outputs).toEqual({ out: ["#0=a", "#1=b"] });
  });

  it("reads old code_language spellings", () => {
    const code = (id: string, lang: string) => ({
      id,
      type: "custom",
      data: { type: "code", title: id, code_language: lang, code: "def main():\n    return {}", outputs: {} },
    });
    const { document, notes } = migrateDsl({
      app: {},
      version: "0.1.0",
      workflow: { graph: { nodes: [code("a", "python"), code("b", "JavaScript"), code("c", "python3")], edges: [] } },
    });
    expect(dataOf(document, "a").code_language).toBe("python3");
    expect(dataOf(document, "b").code_language).toBe("javascript");
    expect(dataOf(document, "c").code_language).toBe("python3");
    expect(notes.filter((n) => n.nodeId === "c")).toEqual([]);
    expect(dataOf(document, "a").variables).toEqual([]);
    // Declared outputs are never invented: a code node without them stays invalid.
    const bare = migrateDsl({
      app: {},
      version: "0.1.0",
      workflow: { graph: { nodes: [{ id: "x", data: { type: "code", code_language: "py" } }] } },
    });
    expect(dataOf(bare.document, "x")).not.toHaveProperty("outputs");
  });

  it("reads old start variable type spellings", () => {
    const { document, notes } = migrateDsl({
      app: {},
      version: "0.1.0",
      workflow: {
        graph: {
          nodes: [
            {
              id: "start",
              data: {
                type: "start",
                title: "Start",
                variables: [
                  { variable: "a", type: "text", required: "true" },
                  { variable: "b", label: "B", type: "textarea" },
                  { variable: "c", label: "C", type: "string" },
                  { variable: "d", label: "D", type: "file_list" },
                  { variable: "e", label: "E", type: "paragraph" },
                ],
              },
            },
          ],
          edges: [],
        },
      },
    });
    const vars = dataOf(document, "start").variables as Obj[];
    expect(vars.map((v) => v.type)).toEqual(["text-input", "paragraph", "text-input", "file-list", "paragraph"]);
    expect(vars[0]).toMatchObject({ label: "a", required: true });
    expect(notes.filter((n) => n.nodeId === "start")).toHaveLength(4);
    // A node without a UI type gets Dify's "custom".
    expect(nodeOf(document, "start").type).toBe("custom");
  });
});

describe("LLM prompt forms", () => {
  it("reads a plain-text prompt, upper-case and missing roles, and node-level Jinja2 variables", () => {
    const llm = (id: string, extra: Obj) => ({
      id,
      type: "custom",
      data: {
        type: "llm",
        title: id,
        model: { provider: "openai", name: "gpt-3.5-turbo", completion_params: { temperature: 0.7 } },
        context: { enabled: false, variable_selector: [] },
        vision: { enabled: false },
        ...extra,
      },
    });
    const { document, notes } = migrateDsl({
      app: {},
      version: "0.1.0",
      workflow: {
        graph: {
          nodes: [
            llm("plain", { prompt_template: "Summarise {{#start.text#}}" }),
            llm("roles", { prompt_template: [{ role: "SYSTEM", text: "Be brief." }, { text: "{{#start.text#}}" }] }),
            llm("jinja", {
              variables: [{ variable: "topic", value_selector: ["start", "text"] }],
              prompt_template: [{ role: "user", jinja2_text: "Tell me about {{ topic }}", text: "" }],
            }),
          ],
          edges: [],
        },
      },
    });
    expect(dataOf(document, "plain").prompt_template).toEqual({ text: "Summarise {{#start.text#}}" });
    expect((dataOf(document, "plain").model as Obj).mode).toBe("completion");
    expect(dataOf(document, "roles").prompt_template).toEqual([
      { role: "system", text: "Be brief." },
      { role: "user", text: "{{#start.text#}}" },
    ]);
    expect((dataOf(document, "roles").model as Obj).mode).toBe("chat");
    expect(dataOf(document, "jinja").prompt_template).toEqual([
      { role: "user", jinja2_text: "Tell me about {{ topic }}", text: "", edition_type: "jinja2" },
    ]);
    expect(dataOf(document, "jinja").prompt_config).toEqual({
      jinja2_variables: [{ variable: "topic", value_selector: ["start", "text"] }],
    });
    expect(notes.map((n) => n.nodeId)).toEqual(expect.arrayContaining(["plain", "jinja"]));
  });
});

describe("containers", () => {
  it("adds a loop-start and writes isInLoop/loop_id for children that only had parentId", () => {
    const { document } = migrateDsl({
      app: {},
      version: "0.2.0",
      workflow: {
        graph: {
          nodes: [
            {
              id: "L",
              type: "custom",
              data: { type: "loop", title: "L", loop_count: 3, break_conditions: [], logical_operator: "and" },
            },
            {
              id: "body",
              type: "custom",
              parentId: "L",
              data: { type: "template-transform", title: "b", template: "x", variables: [] },
            },
            { id: "stop", type: "custom", parentId: "L", data: { type: "loop-end", title: "stop" } },
          ],
          edges: [{ id: "x", source: "body", target: "stop", sourceHandle: "source", targetHandle: "target" }],
        },
      },
    });
    expect(dataOf(document, "L").start_node_id).toBe("Lstart");
    expect(nodeOf(document, "Lstart")).toMatchObject({
      type: "custom-loop-start",
      data: { type: "loop-start", isInLoop: true, loop_id: "L" },
    });
    expect(dataOf(document, "body")).toMatchObject({ isInLoop: true, loop_id: "L" });
  });

  it("leaves a container alone when its start node exists", () => {
    const input = {
      app: {},
      kind: "app",
      version: "0.6.0",
      workflow: {
        graph: {
          nodes: [
            {
              id: "it",
              type: "custom",
              data: {
                type: "iteration",
                title: "it",
                start_node_id: "itstart",
                iterator_selector: ["a", "b"],
                output_selector: ["t", "output"],
              },
            },
            {
              id: "itstart",
              type: "custom-iteration-start",
              parentId: "it",
              data: { type: "iteration-start", isInIteration: true, iteration_id: "it" },
            },
            {
              id: "t",
              type: "custom",
              parentId: "it",
              data: { type: "template-transform", isInIteration: true, iteration_id: "it" },
            },
          ],
          edges: [{ id: "e", source: "itstart", sourceHandle: "source", target: "t", targetHandle: "target" }],
        },
      },
    };
    const { document, notes } = migrateDsl(input);
    expect(notes).toEqual([]);
    expect(document).toEqual(input);
  });
});

describe("environment, features and dependencies", () => {
  it("keeps features, notes blank secrets and ignored plugin dependencies (0.2.0 export)", () => {
    const source = `app:
  description: Ask the docs
  icon: "\\U0001F4DA"
  icon_background: '#E4FBCC'
  mode: workflow
  name: docs
  use_icon_as_answer_icon: false
dependencies:
- current_identifier: null
  type: marketplace
  value:
    marketplace_plugin_unique_identifier: langgenius/openai:0.0.7@11ec0b1909200f62b6ebf2cec1da981a9071d11c1ee0e2ef332ce89bcffa2544
- current_identifier: null
  type: marketplace
  value:
    marketplace_plugin_unique_identifier: langgenius/tongyi:0.0.10@a0f1e1c0f8c2bbf1b6b4c6c3e1d5a0b3b5d7c3d1a5f9e7b1c3d5f7a9b1c3d5e7
kind: app
version: 0.2.0
workflow:
  conversation_variables: []
  environment_variables:
  - description: ''
    id: 5d2ab3a1-6a0d-4f8e-9d0f-0c5d5e8e2b11
    name: API_TOKEN
    selector: [env, API_TOKEN]
    value: ''
    value_type: secret
  - id: 8f1b0e2c-1d4a-4c6f-8b1e-2d3c4b5a6f70
    name: MAX_ITEMS
    value: 5
  features:
    file_upload:
      allowed_file_extensions: ['.JPG', '.PNG']
      enabled: false
    opening_statement: ''
  graph:
    edges:
    - {id: e1, source: start, target: end}
    nodes:
    - {id: start, type: custom, data: {type: start, title: Start, variables: []}}
    - id: end
      type: custom
      data:
        type: end
        title: End
        outputs:
        - {variable: n, value_selector: [env, MAX_ITEMS]}
    - id: note1
      type: custom-note
      data: {type: '', title: '', desc: '', text: '{"root":{"children":[]}}', theme: blue, author: Ada, showAuthor: true, width: 240, height: 88}
      position: {x: 10, y: 300}
      width: 240
      height: 88
`;
    const { document, notes } = importDsl(source);
    expect(document.workflow.features).toEqual({
      file_upload: { allowed_file_extensions: [".JPG", ".PNG"], enabled: false },
      opening_statement: "",
    });
    expect(document.workflow.environment_variables[1]).toMatchObject({ name: "MAX_ITEMS", value_type: "number", value: 5 });
    expect(notes.map((n) => n.message)).toEqual([
      "migrated from DSL 0.2.0 to 0.6.0",
      "2 plugin dependencies are ignored (langgenius/openai, langgenius/tongyi): Tributary calls model providers itself and installs no Dify plugins; the list is kept for export",
      'secret environment variable "API_TOKEN" has no value (exports leave secrets blank); set it on the server before running',
    ]);
    expect((document as Obj).dependencies).toHaveLength(2);
    // The note node is kept untouched and does not stop the file from validating.
    expect(nodeOf(document, "note1")).toMatchObject({ type: "custom-note", width: 240, data: { type: "", theme: "blue" } });
    expect(validateWorkflow(document)).toEqual([]);
  });

  it("is idempotent: migrating a migrated document changes nothing", () => {
    const file = {
      app: { name: "x" },
      version: "0.1.0",
      workflow: {
        environment_variables: [{ name: "K", value: "v" }],
        graph: {
          nodes: [
            { id: "s", data: { type: "start", variables: [{ variable: "q", type: "text" }] } },
            { id: "agg", data: { type: "variable-assigner", variables: [["s", "q"]] } },
            { id: "h", data: { type: "http-request", method: "get", url: "https://x.test", body: { type: "json", data: "{}" } } },
            { id: "i", data: { type: "if-else", conditions: [] } },
          ],
          edges: [{ source: "s", target: "agg" }],
        },
      },
    };
    const once = migrateDsl(file).document;
    const twice = migrateDsl(once);
    expect(twice.document).toEqual(once);
    expect(twice.notes).toEqual([]);
    expect(parseDsl(file)).toEqual(parseDsl(once));
  });
});
