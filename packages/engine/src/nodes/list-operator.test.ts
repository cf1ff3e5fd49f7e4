import { describe, expect, it } from "vitest";
import { NodeExecutionError, WorkflowValidationError } from "../errors.js";
import { compileWorkflow } from "../graph/compile-workflow.js";
import { runWorkflow } from "../runtime/run-workflow.js";
import { dsl, e, end, n, start } from "../test-support/graph-builder.js";
import { makeNodeContext, testCapabilities } from "../test-support/node-context.js";
import { FILE_IDENTITY, type FileValue } from "../variables/file-value.js";
import { VariablePool } from "../variables/variable-pool.js";
import { type ListOperatorData, listOperatorNode } from "./list-operator.js";
import { coreNodes, createNodeRegistry } from "./registry.js";

function data(overrides: Record<string, unknown> = {}): ListOperatorData {
  return listOperatorNode.schema.parse({ type: "list-operator", variable: ["src", "list"], ...overrides });
}

function run(list: unknown, overrides: Record<string, unknown> = {}, vars: Record<string, unknown> = {}) {
  const pool = new VariablePool();
  pool.set("src", "list", list);
  pool.setAll("start", vars);
  const result = listOperatorNode.run(makeNodeContext(data(overrides), { pool }));
  if (result instanceof Promise) throw new Error("list-operator runs synchronously");
  return result.outputs;
}

function file(name: string, size: number, type: FileValue["type"] = "document"): FileValue {
  const extension = name.split(".").pop() ?? "";
  return {
    dify_model_identity: FILE_IDENTITY,
    id: name,
    type,
    transfer_method: "local_file",
    remote_url: null,
    related_id: `upload-${name}`,
    filename: name,
    extension,
    mime_type: type === "image" ? "image/png" : "application/pdf",
    size,
    url: null,
  };
}

describe("list-operator node", () => {
  it("fills Dify's defaults so a minimal node passes the list through", () => {
    expect(run(["a", "b"])).toEqual({ result: ["a", "b"], first_record: "a", last_record: "b" });
  });

  it("filters strings with rendered values, then sorts and limits", () => {
    const out = run(
      ["banana", "apple pie", "cherry", "apple", "blueberry"],
      {
        filter_by: {
          enabled: true,
          conditions: [{ key: "", comparison_operator: "not contains", value: "{{#start.exclude#}}" }],
        },
        order_by: { enabled: true, key: "", value: "desc" },
        limit: { enabled: true, size: 2 },
      },
      { exclude: "apple" },
    );
    expect(out).toEqual({ result: ["cherry", "blueberry"], first_record: "cherry", last_record: "blueberry" });
  });

  it("filters numbers numerically, sorts ascending and extracts the n-th (1-based)", () => {
    const list = [5, 12, 3, 40, 8];
    expect(run(list, { filter_by: { enabled: true, conditions: [{ comparison_operator: "≥", value: "5" }] } }).result).toEqual([
      5, 12, 40, 8,
    ]);
    expect(run(list, { order_by: { enabled: true, value: "asc" } }).result).toEqual([3, 5, 8, 12, 40]);
    expect(run(list, { extract_by: { enabled: true, serial: "{{#start.n#}}" } }, { n: 2 })).toEqual({
      result: [12],
      first_record: 12,
      last_record: 12,
    });
  });

  it("filters and sorts files by attribute", () => {
    const files = [file("b.pdf", 300), file("a.png", 100, "image"), file("c.pdf", 200)];
    const out = run(files, {
      filter_by: { enabled: true, conditions: [{ key: "type", comparison_operator: "in", value: ["document"] }] },
      order_by: { enabled: true, key: "size", value: "asc" },
    });
    expect((out.result as FileValue[]).map((f) => f.filename)).toEqual(["c.pdf", "b.pdf"]);
    expect((out.first_record as FileValue).filename).toBe("c.pdf");
    const byName = run(files, {
      filter_by: { enabled: true, conditions: [{ key: "extension", comparison_operator: "is", value: "pdf" }] },
      order_by: { enabled: true, key: "name", value: "desc" },
    });
    expect((byName.result as FileValue[]).map((f) => f.filename)).toEqual(["c.pdf", "b.pdf"]);
  });

  it("works on objects by property (dotted paths too); missing keys sort last", () => {
    const people = [
      { name: "Ada", age: 36, address: { city: "London" } },
      { name: "Bob", address: { city: "Paris" } },
      { name: "Cleo", age: 17, address: { city: "London" } },
    ];
    const adults = run(people, {
      filter_by: { enabled: true, conditions: [{ key: "address.city", comparison_operator: "is", value: "London" }] },
      order_by: { enabled: true, key: "age", value: "asc" },
    });
    expect((adults.result as Array<{ name: string }>).map((p) => p.name)).toEqual(["Cleo", "Ada"]);
    const sorted = run(people, { order_by: { enabled: true, key: "age", value: "desc" } });
    expect((sorted.result as Array<{ name: string }>).map((p) => p.name)).toEqual(["Ada", "Cleo", "Bob"]);
  });

  it("filters booleans", () => {
    expect(
      run([true, false, true], { filter_by: { enabled: true, conditions: [{ comparison_operator: "is", value: true }] } }),
    ).toEqual({ result: [true, true], first_record: true, last_record: true });
  });

  it("an empty (or null) list gives empty results; filtering everything out too", () => {
    expect(run([], { extract_by: { enabled: true, serial: "3" } })).toEqual({
      result: [],
      first_record: null,
      last_record: null,
    });
    expect(run(null)).toEqual({ result: [], first_record: null, last_record: null });
    expect(run(["a"], { filter_by: { enabled: true, conditions: [{ comparison_operator: "is", value: "b" }] } })).toEqual({
      result: [],
      first_record: null,
      last_record: null,
    });
  });

  it("fails clearly on a missing variable, a non-list, bad serials, bad numbers and missing keys", () => {
    const fails = (fn: () => unknown, pattern: RegExp) => {
      expect(fn).toThrow(NodeExecutionError);
      expect(fn).toThrow(pattern);
    };
    fails(() => listOperatorNode.run(makeNodeContext(data())), /Variable src\.list not found/);
    fails(() => run("text"), /is not a list \(it is a string\)/);
    fails(() => run([1, 2], { extract_by: { enabled: true, serial: "5" } }), /list has only 2 items/);
    fails(() => run([1, 2], { extract_by: { enabled: true, serial: "0" } }), /at least 1/);
    fails(
      () => run([1, 2], { filter_by: { enabled: true, conditions: [{ comparison_operator: ">", value: "abc" }] } }),
      /compares numbers; enter a number/,
    );
    fails(() => run([file("a.pdf", 1)], { order_by: { enabled: true, key: "", value: "asc" } }), /needs a key: a file attribute/);
    fails(() => run([{ a: 1 }], { filter_by: { enabled: true, conditions: [{ comparison_operator: "empty" }] } }), /needs a key/);
  });

  it("validation catches a missing list and a bad serial", () => {
    const registry = createNodeRegistry([...coreNodes, listOperatorNode]);
    const doc = dsl(
      [
        start("start", []),
        n("lo", "list-operator", { variable: [], extract_by: { enabled: true, serial: "first" } }),
        end("end", { out: ["lo", "result"] }),
      ],
      [e("start", "lo"), e("lo", "end")],
    );
    try {
      compileWorkflow(doc, { registry });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(WorkflowValidationError);
      const messages = (err as WorkflowValidationError).problems.map((p) => p.message);
      expect(messages).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/no input list is selected/),
          expect.stringMatching(/serial must be a whole number of at least 1/),
        ]),
      );
    }
  });

  it("runs in a workflow on a JSON input", async () => {
    const registry = createNodeRegistry([...coreNodes, listOperatorNode]);
    const doc = dsl(
      [
        n("start", "start", { variables: [{ variable: "items", label: "Items", type: "json_object", required: true }] }),
        n("lo", "list-operator", {
          variable: ["start", "items", "scores"],
          filter_by: { enabled: true, conditions: [{ key: "", comparison_operator: ">", value: "50" }] },
          order_by: { enabled: true, key: "", value: "desc" },
          limit: { enabled: true, size: 2 },
        }),
        end("end", { top: ["lo", "result"], best: ["lo", "first_record"], second: ["lo", "last_record"] }),
      ],
      [e("start", "lo"), e("lo", "end")],
    );
    const wf = compileWorkflow(doc, { registry });
    const result = await runWorkflow(wf, { inputs: { items: { scores: [51, 99, 10, 75, 50] } }, caps: testCapabilities() });
    expect(result.status).toBe("succeeded");
    expect(result.outputs).toEqual({ top: [99, 75], best: 99, second: 75 });
  });
});
