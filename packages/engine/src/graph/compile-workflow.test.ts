import { describe, expect, it } from "vitest";
import { WorkflowValidationError } from "../errors.js";
import { dsl, e, end, n, start } from "../test-support/graph-builder.js";
import { testRegistry } from "../test-support/test-nodes.js";
import { compileWorkflow, validateWorkflow } from "./compile-workflow.js";

const problemsOf = (doc: unknown) => validateWorkflow(doc, { registry: testRegistry });
const messages = (doc: unknown) => problemsOf(doc).map((p) => `${p.nodeId ?? "-"}: ${p.message}`);

describe("validation", () => {
  it("accepts a valid workflow and keeps note nodes out of execution", () => {
    const doc = dsl([start(), end("end", {})], [e("start", "end")]);
    doc.workflow.graph.nodes.push({ id: "note-1", type: "custom-note", data: { type: "", text: "hello" } });
    expect(problemsOf(doc)).toEqual([]);
    const wf = compileWorkflow(doc, { registry: testRegistry });
    expect([...wf.nodes.keys()]).toEqual(["start", "end"]);
  });

  it("reports every problem at once, each with its node id", () => {
    const doc = dsl(
      [
        start(),
        n("mystery", "quantum-node"),
        n("orphan", "test-echo", { value: "x" }),
        n("reader", "test-echo", { value: "{{#later.text#}} {{#ghost.text#}} {{#env.MISSING#}}" }),
        n("later", "test-echo", { value: "y" }),
        n("dup", "test-echo", { value: "1" }),
        n("dup", "test-echo", { value: "2" }),
        n("cond", "if-else", {
          cases: [{ case_id: "c1", conditions: [{ variable_selector: ["start", "x"], comparison_operator: "weird" }] }],
        }),
        end("end", { out: ["reader", "text"] }),
      ],
      [
        e("start", "reader"),
        e("reader", "later"),
        e("later", "end"),
        e("start", "dup"),
        e("dup", "end"),
        e("start", "nowhere"),
        e("start", "cond"),
      ],
    );
    const m = messages(doc);
    expect(m).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^mystery: unknown node type "quantum-node"/),
        expect.stringMatching(/^dup: duplicate node id "dup"/),
        expect.stringMatching(/^start: edge e5 connects to node "nowhere", which does not exist/),
        expect.stringMatching(/^orphan: "orphan" is not reachable from the start node/),
        expect.stringMatching(/^reader: reads \{\{#later.text#\}\}, but "later" \(later\) does not run before it/),
        expect.stringMatching(/^reader: reads \{\{#ghost.text#\}\}, but node "ghost" does not exist/),
        expect.stringMatching(/^reader: reads env.MISSING, but the workflow declares no environment variable "MISSING"/),
        expect.stringMatching(/^cond: field "cases.0.conditions.0.comparison_operator" must be one of/),
      ]),
    );
    expect(() => compileWorkflow(doc, { registry: testRegistry })).toThrow(WorkflowValidationError);
  });

  it("reports missing start and end nodes", () => {
    const doc = dsl([n("a", "test-echo", { value: "" })], []);
    expect(messages(doc)).toEqual(
      expect.arrayContaining([
        "-: the workflow has no start node; add one (type: start)",
        "-: the workflow has no end node; add one (type: end) to return outputs",
      ]),
    );
  });

  it("reports cycles outside loop containers", () => {
    const doc = dsl(
      [start(), n("a", "test-echo", { value: "" }), n("b", "test-echo", { value: "" }), end("end", {})],
      [e("start", "a"), e("a", "b"), e("b", "a"), e("b", "end")],
    );
    expect(messages(doc).some((m) => /has a cycle through a, b/.test(m))).toBe(true);
  });

  it("reports missing required fields in plain words", () => {
    const doc = dsl([start(), n("it", "iteration", { start_node_id: "x" }), end("end", {})], [e("start", "it"), e("it", "end")]);
    const m = messages(doc);
    expect(m).toContain('it: missing required field "iterator_selector"');
    expect(m).toContain('it: missing required field "output_selector"');
  });

  it("reports edges from branch handles the node does not have", () => {
    const doc = dsl(
      [start(), n("if", "if-else", { cases: [{ case_id: "c1", conditions: [] }] }), end("end", {})],
      [e("start", "if"), e("if", "end", "c2")],
    );
    expect(messages(doc).some((m) => m.includes('leaves from branch "c2"'))).toBe(true);
  });

  it("names unsupported Dify nodes with what they need", () => {
    const doc = dsl(
      [start(), n("kr", "knowledge-retrieval", { title: "Search KB" }), n("t", "tool"), end("end", {})],
      [e("start", "kr"), e("kr", "t"), e("t", "end")],
    );
    const m = messages(doc);
    expect(m).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^kr: "Search KB" is a knowledge-retrieval node, which Tributary cannot run: it needs a Dify knowledge base/,
        ),
        expect.stringMatching(/^t: "t" is a tool node, which Tributary cannot run/),
      ]),
    );
  });

  it("lets container children read the container's item and upstream nodes", () => {
    const doc = dsl(
      [
        start("start", ["q"]),
        n("it", "iteration", { start_node_id: "it-start", iterator_selector: ["start", "q"], output_selector: ["body", "text"] }),
        n("it-start", "iteration-start", {}, "it"),
        n("body", "test-echo", { value: "{{#it.item#}} {{#start.q#}}" }, "it"),
        end("end", { out: ["it", "output"] }),
      ],
      [e("start", "it"), e("it-start", "body"), e("it", "end")],
    );
    expect(problemsOf(doc)).toEqual([]);
  });

  it("rejects an edge across a container boundary and a bad output_selector", () => {
    const doc = dsl(
      [
        start(),
        n("it", "iteration", { start_node_id: "it-start", iterator_selector: ["start", "q"], output_selector: ["start", "q"] }),
        n("it-start", "iteration-start", {}, "it"),
        n("body", "test-echo", { value: "" }, "it"),
        end("end", {}),
      ],
      [e("start", "it"), e("it-start", "body"), e("body", "end"), e("it", "end")],
    );
    const m = messages(doc);
    expect(m.some((x) => x.includes("crosses a container boundary"))).toBe(true);
    expect(m.some((x) => x.includes("output_selector must name a node inside this iteration"))).toBe(true);
  });

  it("reports YAML syntax errors with a line number", () => {
    const m = messages("app:\n  name: x\nworkflow:\n  graph: [unclosed\n");
    expect(m[0]).toMatch(/not valid YAML or JSON at line/);
  });

  it("parses YAML DSL with UI fields preserved", () => {
    const yaml = `
app: {name: Demo, mode: workflow, icon: "🤖"}
kind: app
version: 0.1.5
workflow:
  features: {file_upload: {enabled: false}}
  graph:
    viewport: {x: 0, y: 0, zoom: 1}
    nodes:
      - id: start
        type: custom
        position: {x: 30, y: 200}
        data: {type: start, title: Start, variables: [], selected: false}
      - id: end
        type: custom
        data: {type: end, title: End, outputs: []}
    edges:
      - {id: e1, source: start, sourceHandle: source, target: end, targetHandle: target, data: {sourceType: start}}
`;
    const wf = compileWorkflow(yaml);
    expect(wf.dsl.app.icon).toBe("🤖");
    expect((wf.dsl.workflow.graph as Record<string, unknown>).viewport).toEqual({ x: 0, y: 0, zoom: 1 });
    expect(wf.dsl.workflow.graph.nodes[0]).toMatchObject({ position: { x: 30, y: 200 } });
  });
});
