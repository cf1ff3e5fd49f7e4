import { describe, expect, it } from "vitest";
import { NodeExecutionError, WorkflowValidationError } from "../errors.js";
import { compileWorkflow } from "../graph/compile-workflow.js";
import { runWorkflow } from "../runtime/run-workflow.js";
import { dsl, e, end, n, start } from "../test-support/graph-builder.js";
import { makeNodeContext, testCapabilities } from "../test-support/node-context.js";
import { echoNode } from "../test-support/test-nodes.js";
import { VariablePool } from "../variables/variable-pool.js";
import { type AssignerData, assignerNode, conversationVariableDefault, seedConversationVariables } from "./assigner.js";
import { coreNodes, createNodeRegistry } from "./registry.js";

const registry = createNodeRegistry([...coreNodes, echoNode, assignerNode]);

function data(raw: Record<string, unknown>): AssignerData {
  return assignerNode.schema.parse({ type: "assigner", ...raw });
}

function item(target: string, operation: string, value?: unknown, input_type = "constant") {
  return { variable_selector: ["conversation", target], operation, input_type, value };
}

function conversationPool(vars: Record<string, unknown>): VariablePool {
  const pool = new VariablePool();
  pool.setAll("conversation", vars);
  return pool;
}

function assign(pool: VariablePool, raw: Record<string, unknown>) {
  const result = assignerNode.run(makeNodeContext(data(raw), { pool }));
  if (result instanceof Promise) throw new Error("the assigner runs synchronously");
  return result;
}

const conv = (pool: VariablePool, name: string) => pool.get(["conversation", name]);

/** A workflow that declares conversation variables, appends to one and reads it afterwards. */
function conversationDoc() {
  const doc = dsl(
    [
      start("start", ["message"]),
      n("a", "assigner", {
        version: "2",
        items: [
          {
            variable_selector: ["conversation", "log"],
            operation: "append",
            input_type: "variable",
            value: ["start", "message"],
          },
          { variable_selector: ["conversation", "turns"], operation: "+=", input_type: "constant", value: 1 },
        ],
      }),
      n("after", "test-echo", { value: "{{#conversation.turns#}}: {{#conversation.log#}}" }),
      end("end", { text: ["after", "text"], log: ["conversation", "log"] }),
    ],
    [e("start", "a"), e("a", "after"), e("after", "end")],
  );
  doc.workflow.conversation_variables = [
    { id: "v1", name: "log", value_type: "array[string]", value: ["earlier"], selector: ["conversation", "log"] },
    { id: "v2", name: "turns", value_type: "number", value: 0, selector: ["conversation", "turns"] },
  ];
  return doc;
}

// runWorkflow seeds conversation variables once run-workflow.ts calls seedConversationVariables;
// until then this end-to-end test has nothing to run against.
const probe = await runWorkflow(compileWorkflow(conversationDoc(), { registry }), {
  inputs: { message: "probe" },
  caps: testCapabilities(),
});
const seeded = probe.status === "succeeded";

describe("assigner node (version 2)", () => {
  it("applies every operation, in order, each item seeing the previous ones", () => {
    const pool = conversationPool({ s: "old", n: 10, b: false, o: { a: 1 }, l: ["x"], nums: [1, 2, 3] });
    pool.set("src", "text", "from a variable");
    pool.set("src", "list", ["y", "z"]);
    const result = assign(pool, {
      version: "2",
      items: [
        item("s", "over-write", ["src", "text"], "variable"),
        item("n", "+=", 5),
        item("n", "*=", "2"),
        item("n", "-=", 1),
        item("n", "/=", 2),
        item("b", "set", true),
        item("o", "set", '{"b": [1, 2]}'),
        item("l", "append", "w"),
        item("l", "extend", ["src", "list"], "variable"),
        item("l", "remove-first"),
        item("nums", "remove-last"),
        item("nums", "clear"),
      ],
    });
    expect(conv(pool, "s")).toBe("from a variable");
    expect(conv(pool, "n")).toBe(14.5);
    expect(conv(pool, "b")).toBe(true);
    expect(conv(pool, "o")).toEqual({ b: [1, 2] });
    expect(conv(pool, "l")).toEqual(["w", "y", "z"]);
    expect(conv(pool, "nums")).toEqual([]);
    expect(result.outputs).toEqual({});
    expect(result.processData).toMatchObject({
      n: 14.5,
      l: ["w", "y", "z"],
      __updated_variables: expect.arrayContaining([
        { name: "n", selector: ["conversation", "n"], value_type: "number", new_value: 14.5 },
        { name: "l", selector: ["conversation", "l"], value_type: "array[string]", new_value: ["w", "y", "z"] },
      ]),
    });
  });

  it("clear gives each type's empty value; remove on an empty list keeps it empty", () => {
    const pool = conversationPool({ s: "x", n: 3, b: true, o: { a: 1 }, l: [] });
    assign(pool, { items: ["s", "n", "b", "o"].map((k) => item(k, "clear")).concat(item("l", "remove-first")) });
    expect(["s", "n", "b", "o", "l"].map((k) => conv(pool, k))).toEqual(["", 0, false, {}, []]);
  });

  it("skips an item whose input variable holds null, as Dify does", () => {
    const pool = conversationPool({ s: "keep" });
    pool.set("src", "nothing", null);
    assign(pool, { items: [item("s", "over-write", ["src", "nothing"], "variable")] });
    expect(conv(pool, "s")).toBe("keep");
  });

  it("changes nothing when any item fails", () => {
    const pool = conversationPool({ n: 1, s: "text" });
    expect(() => assign(pool, { items: [item("n", "+=", 1), item("s", "append", "x")] })).toThrow(NodeExecutionError);
    expect(conv(pool, "n")).toBe(1);
  });

  it.each([
    [
      "append to a non-list",
      { s: "text" },
      item("s", "append", "x"),
      /Operation "append" is not supported for a string variable; it needs a list variable/i,
    ],
    [
      "arithmetic on a string",
      { s: "text" },
      item("s", "+=", 1),
      /"\+=" is not supported for a string variable; it needs a number variable/,
    ],
    ["divide by zero", { n: 4 }, item("n", "/=", 0), /cannot divide by zero/],
    ["a non-number", { n: 4 }, item("n", "-=", "abc"), /invalid input value "abc" \(string\) for "-=" on a number variable/],
    [
      "over-write with another type",
      { n: 4 },
      item("n", "over-write", true),
      /invalid input value true \(boolean\) for "over-write"/,
    ],
    ["a wrong item type", { l: ["a"] }, item("l", "append", 3), /cannot append 3 \(number\) into a list of string values/],
    ["extend with a non-list", { l: ["a"] }, item("l", "extend", "b"), /"extend" needs a list of items to add, got string "b"/],
    ["set on a list", { l: ["a"] }, item("l", "set", ["b"]), /"set" is not supported for a array\[string\] variable/],
    [
      "bad JSON for an object",
      { o: {} },
      item("o", "set", "{nope"),
      /invalid input value "\{nope" \(string\) for "set" on a object variable/,
    ],
    [
      "an undeclared variable",
      {},
      item("ghost", "clear"),
      /Variable conversation\.ghost not found: declare "ghost" under the workflow's conversation variables/,
    ],
    [
      "a missing input variable",
      { s: "" },
      item("s", "over-write", ["src", "none"], "variable"),
      /input variable src\.none not found/,
    ],
  ])("fails clearly on %s", (_name, vars, it_, pattern) => {
    const pool = conversationPool(vars);
    expect(() => assign(pool, { version: "2", items: [it_] })).toThrow(pattern);
  });

  it("validation rejects read-only targets and items without a selected variable", () => {
    const doc = dsl(
      [
        start("start", ["x"]),
        n("a", "assigner", {
          version: "2",
          items: [
            { variable_selector: ["sys", "user_id"], operation: "clear", input_type: "constant" },
            { variable_selector: [], operation: "clear", input_type: "constant" },
            { variable_selector: ["conversation", "c"], operation: "over-write", input_type: "variable", value: [] },
          ],
        }),
        end("end", { x: ["start", "x"] }),
      ],
      [e("start", "a"), e("a", "end")],
    );
    try {
      compileWorkflow(doc, { registry });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(WorkflowValidationError);
      const problems = (err as WorkflowValidationError).problems.filter((p) => p.nodeId === "a" && p.message.startsWith("item"));
      expect(problems.map((p) => p.message)).toEqual([
        "item 1: sys.user_id is read-only; the assigner writes conversation variables and loop variables",
        "item 2: no variable to assign is selected",
        'item 3: the "over-write" operation takes its value from a variable, but none is selected',
      ]);
    }
  });
});

describe("assigner node (version 1)", () => {
  it("over-writes, appends and clears from a variable, without type checks", () => {
    const pool = conversationPool({ s: "old", l: [1] });
    pool.set("src", "v", 42);
    const v1 = (selector: string[], write_mode: string) => ({
      assigned_variable_selector: selector,
      write_mode,
      input_variable_selector: ["src", "v"],
    });
    assign(pool, v1(["conversation", "s"], "over-write"));
    expect(conv(pool, "s")).toBe(42);
    assign(pool, v1(["conversation", "l"], "append"));
    expect(conv(pool, "l")).toEqual([1, 42]);
    assign(pool, v1(["conversation", "l"], "clear"));
    expect(conv(pool, "l")).toEqual([]);
    expect(() => assign(pool, v1(["conversation", "s"], "append"))).toThrow(/needs a list variable/);
    expect(data(v1(["conversation", "s"], "clear")).assignerVersion).toBe("1");
  });
});

describe("conversation variables", () => {
  it("seeds declared defaults, coerced to their value_type", () => {
    const pool = new VariablePool();
    seedConversationVariables(pool, [
      { name: "history", value_type: "array[object]", value: [] },
      { name: "count", value_type: "number", value: "3" },
      { name: "flag", value_type: "boolean", value: "true" },
      { name: "profile", value_type: "object", value: '{"a": 1}' },
      { name: "tags", value_type: "array[string]", value: "" },
      { name: "topic", value_type: "string" },
    ]);
    expect(pool.nodeValues("conversation")).toEqual({
      history: [],
      count: 3,
      flag: true,
      profile: { a: 1 },
      tags: [],
      topic: "",
    });
    expect(conversationVariableDefault({ name: "x", value_type: "number", value: "abc" })).toBe(0);
  });
});

describe("assigner in workflows", () => {
  it("updates loop variables that persist across rounds", async () => {
    const doc = dsl(
      [
        start("start", []),
        n("lp", "loop", {
          start_node_id: "lp-start",
          loop_count: 10,
          logical_operator: "and",
          break_conditions: [{ variable_selector: ["lp", "count"], comparison_operator: "≥", value: "3" }],
          loop_variables: [
            { label: "count", var_type: "number", value_type: "constant", value: 0 },
            { label: "seen", var_type: "array[number]", value_type: "constant", value: [] },
          ],
        }),
        n("lp-start", "loop-start", {}, "lp"),
        n(
          "inc",
          "assigner",
          {
            version: "2",
            items: [
              { variable_selector: ["lp", "count"], operation: "+=", input_type: "constant", value: 1 },
              { variable_selector: ["lp", "seen"], operation: "append", input_type: "variable", value: ["lp", "index"] },
            ],
          },
          "lp",
        ),
        end("end", { count: ["lp", "count"], seen: ["lp", "seen"] }),
      ],
      [e("start", "lp"), e("lp-start", "inc"), e("lp", "end")],
    );
    const wf = compileWorkflow(doc, { registry });
    const result = await runWorkflow(wf, { inputs: {}, caps: testCapabilities() });
    expect(result.status).toBe("succeeded");
    expect(result.outputs).toEqual({ count: 3, seen: [0, 1, 2] });
  });

  it("reports a failing assignment as a failed run naming the variable", async () => {
    const doc = dsl(
      [start("start", []), n("a", "assigner", { version: "2", items: [item("undeclared", "clear")] }), end("end", {})],
      [e("start", "a"), e("a", "end")],
    );
    const result = await runWorkflow(compileWorkflow(doc, { registry }), { inputs: {}, caps: testCapabilities() });
    expect(result.status).toBe("failed");
    expect(result.error).toMatch(/Variable conversation\.undeclared not found/);
  });

  it.runIf(seeded)("writes conversation variables declared in the DSL; later nodes read the new values", async () => {
    const result = await runWorkflow(compileWorkflow(conversationDoc(), { registry }), {
      inputs: { message: "hello" },
      caps: testCapabilities(),
    });
    expect(result.status).toBe("succeeded");
    expect(result.outputs).toEqual({ text: '1: ["earlier", "hello"]', log: ["earlier", "hello"] });
  });
});
