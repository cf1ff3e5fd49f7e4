import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeExecutionError, RunStoppedError } from "../errors.js";
import type { RunLimits } from "../limits.js";
import { createSandbox, type Sandbox } from "../sandbox/create-sandbox.js";
import { makeNodeContext } from "../test-support/node-context.js";
import { VariablePool } from "../variables/variable-pool.js";
import { type CodeData, codeDataSchema, codeNode } from "./code.js";

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = createSandbox({ poolSize: 2 });
  await sandbox.ready();
});

afterAll(async () => {
  await sandbox.close();
});

type Outputs = Record<string, unknown>;

function node(
  language: "python3" | "javascript",
  code: string,
  outputs: Outputs,
  variables: Array<[string, string[]]> = [],
): CodeData {
  return codeDataSchema.parse({
    type: "code",
    title: "Code",
    code_language: language,
    code,
    variables: variables.map(([variable, value_selector]) => ({ variable, value_selector, value_type: "string" })),
    outputs,
    desc: "kept",
  });
}

function context(data: CodeData, options: { limits?: Partial<RunLimits>; signal?: AbortSignal } = {}) {
  const pool = new VariablePool();
  pool.setAll("start", { name: "Ann", scores: [90, 85.5], profile: { city: "Paris" } });
  return makeNodeContext(data, { pool, caps: { sandbox }, ...options });
}

const out = (type: string, children: Outputs | null = null) => ({ type, children });

/** Runs a python3 node returning `value` for output `x` declared as `declared`. */
async function pythonReturning(value: string, declared: Outputs, limits?: Partial<RunLimits>) {
  return codeNode.run(context(node("python3", `def main():\n    return {'x': ${value}}`, declared), { limits }));
}

async function nodeError(promise: Promise<unknown> | unknown): Promise<NodeExecutionError> {
  const error = await Promise.resolve(promise).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(NodeExecutionError);
  return error as NodeExecutionError;
}

describe("code node data", () => {
  it("keeps unknown UI fields and lists its selectors", () => {
    const data = node("python3", "def main(a):\n    return {}", {}, [
      ["a", ["start", "name"]],
      ["b", ["llm", "text"]],
    ]);
    expect(data["desc"]).toBe("kept");
    expect(data.variables[0]?.["value_type"]).toBe("string");
    expect(codeNode.references(data)).toEqual([
      ["start", "name"],
      ["llm", "text"],
    ]);
  });

  it("rejects unknown output types and languages", () => {
    expect(codeDataSchema.safeParse({ code_language: "ruby", code: "", outputs: {} }).success).toBe(false);
    expect(codeDataSchema.safeParse({ code_language: "python3", code: "", outputs: { x: { type: "file" } } }).success).toBe(
      false,
    );
  });

  it("reports unnamed, duplicate and unbound variables and a missing main", () => {
    const problems: string[] = [];
    const data = node("python3", "def handler():\n    return {}", {}, [
      ["", ["start", "name"]],
      ["a", ["start", "name"]],
      ["a", ["start"]],
    ]);
    codeNode.validate?.(data, { nodeId: "code", report: (m) => problems.push(m) });
    expect(problems).toEqual([
      "a code input variable has no name",
      'the code input variable "a" is declared twice',
      'the code input variable "a" is not bound to a value',
      "the code does not define a function main",
    ]);
  });
});

describe("code node runs", () => {
  it("runs python3 with its variables (a missing one is None) and returns the declared outputs", async () => {
    const data = node(
      "python3",
      [
        "def main(name: str, scores: list, profile: dict, missing) -> dict:",
        "    return {",
        "        'greeting': 'Hi ' + name,",
        "        'average': sum(scores) / len(scores),",
        "        'count': len(scores),",
        "        'city': profile['city'],",
        "        'missing_is_none': missing is None,",
        "        'tags': ['a', 'b'],",
        "        'meta': {'nested': {'ok': True}},",
        "    }",
      ].join("\n"),
      {
        greeting: out("string"),
        average: out("number"),
        count: out("number"),
        city: out("string"),
        missing_is_none: out("boolean"),
        tags: out("array[string]"),
        meta: out("object"),
      },
      [
        ["name", ["start", "name"]],
        ["scores", ["start", "scores"]],
        ["profile", ["start", "profile"]],
        ["missing", ["start", "nothing"]],
      ],
    );
    const result = await codeNode.run(context(data));
    expect(result.inputs).toEqual({ name: "Ann", scores: [90, 85.5], profile: { city: "Paris" }, missing: null });
    expect(result.outputs).toEqual({
      greeting: "Hi Ann",
      average: 87.75,
      count: 2,
      city: "Paris",
      missing_is_none: true,
      tags: ["a", "b"],
      meta: { nested: { ok: true } },
    });
  });

  it("runs javascript with main(inputs), as Dify does", async () => {
    const data = node(
      "javascript",
      'function main({ name }) {\n  const slug = name.normalize("NFKD").toLowerCase();\n  return { slug, length: slug.length };\n}',
      { slug: out("string"), length: out("number") },
      [["name", ["start", "name"]]],
    );
    expect((await codeNode.run(context(data))).outputs).toEqual({ slug: "ann", length: 3 });
  });

  it("fails with the Python traceback's last line", async () => {
    const error = await nodeError(
      codeNode.run(context(node("python3", "def main():\n    return {'x': 1 / 0}", { x: out("number") }))),
    );
    expect(error.message).toBe("ZeroDivisionError: division by zero");
    expect(error.errorType).toBe("CodeExecutionError");
  });

  it("fails at the code deadline from the run limits", async () => {
    const data = node("python3", "def main():\n    while True:\n        pass", { x: out("number") });
    const error = await nodeError(codeNode.run(context(data, { limits: { codeTimeoutMs: 200 } })));
    expect(error.message).toBe("Code execution timed out after 200 ms.");
  });

  it("passes a run stop through as the run's error", async () => {
    const controller = new AbortController();
    const data = node("javascript", "function main() { for (;;) {} }", { x: out("number") });
    const running = codeNode.run(context(data, { signal: controller.signal }));
    setTimeout(() => controller.abort(new RunStoppedError()), 100);
    await expect(running).rejects.toBeInstanceOf(RunStoppedError);
  });
});

describe("output checks (Dify's rules and messages)", () => {
  it("requires every declared output", async () => {
    const error = await nodeError(pythonReturning("1", { x: out("number"), y: out("string") }));
    expect(error.message).toBe("Output y is missing.");
    expect(error.errorType).toBe("OutputValidationError");
  });

  it("fails on returned keys that are not declared, as Dify does", async () => {
    const data = node("python3", "def main():\n    return {'x': 1, 'extra': 2}", { x: out("number") });
    const error = await nodeError(codeNode.run(context(data)));
    expect(error.message).toBe(
      "Not all output parameters are validated. main() returned `extra`, which is not declared as output.",
    );
    expect(error.errorType).toBe("CodeNodeError");
  });

  it("checks types with Python type names in the messages", async () => {
    expect((await nodeError(pythonReturning("'7'", { x: out("number") }))).message).toBe(
      "Output x is not a number, got <class 'str'> instead.",
    );
    expect((await nodeError(pythonReturning("7", { x: out("string") }))).message).toBe(
      "Output x must be a string, got int instead",
    );
    expect((await nodeError(pythonReturning("[1]", { x: out("object") }))).message).toBe(
      "Output x is not an object, got <class 'list'> instead.",
    );
    expect((await nodeError(pythonReturning("'yes'", { x: out("boolean") }))).message).toBe(
      "Output x must be a boolean, got str instead",
    );
    expect((await nodeError(pythonReturning("{'a': 1}", { x: out("array[string]") }))).message).toBe(
      "Output x is not an array, got <class 'dict'> instead.",
    );
    expect((await nodeError(pythonReturning("[1, 'a']", { x: out("array[number]") }))).message).toBe(
      "The element at index 1 of output variable `x` must be a number.",
    );
    expect((await nodeError(pythonReturning("['a', 2]", { x: out("array[string]") }))).message).toBe(
      "Output variable `x[1]` must be a string",
    );
    expect((await nodeError(pythonReturning("[{}, 3]", { x: out("array[object]") }))).message).toBe(
      "Output x[1] is not an object, got <class 'int'> instead at index 1.",
    );
    expect((await nodeError(pythonReturning("[True, 'no']", { x: out("array[boolean]") }))).message).toBe(
      "Output x[1] is not a boolean, got <class 'str'> instead.",
    );
  });

  it("accepts None for any output, as Dify does", async () => {
    const declared = { x: out("string"), y: out("number"), z: out("array[object]"), w: out("object") };
    const data = node("python3", "def main():\n    return {'x': None, 'y': None, 'z': None, 'w': None}", declared);
    expect((await codeNode.run(context(data))).outputs).toEqual({ x: null, y: null, z: null, w: null });
  });

  it("keeps ints and floats apart, turns booleans in number outputs into 0/1 and strips NUL", async () => {
    const data = node(
      "python3",
      "def main():\n    return {'i': 3, 'f': 2.5, 'b': True, 'nums': [False, 1, 0.25], 's': 'a\\x00b'}",
      { i: out("number"), f: out("number"), b: out("number"), nums: out("array[number]"), s: out("string") },
    );
    const { outputs } = await codeNode.run(context(data));
    expect(outputs).toEqual({ i: 3, f: 2.5, b: 1, nums: [0, 1, 0.25], s: "ab" });
    expect(Number.isInteger(outputs["i"])).toBe(true);
  });

  it("rejects numbers that are not finite, out of range or too precise", async () => {
    expect((await nodeError(pythonReturning("float('nan')", { x: out("number") }))).message).toBe(
      "Output variable `x` must be a finite number, got nan.",
    );
    expect((await nodeError(pythonReturning("[1, float('inf')]", { x: out("array[number]") }))).message).toBe(
      "Output variable `x[1]` must be a finite number, got inf.",
    );
    expect((await nodeError(pythonReturning("2 ** 70", { x: out("number") }))).message).toBe(
      "Output variable `x` is out of range, it must be between -9223372036854775808 and 9223372036854775807.",
    );
    expect((await nodeError(pythonReturning("1e-25", { x: out("number") }))).message).toBe(
      "Output variable `x` has too high precision, it must be less than 20 digits.",
    );
    // Inside an object without declared children too.
    expect((await nodeError(pythonReturning("{'deep': [float('-inf')]}", { x: out("object") }))).message).toBe(
      "Output variable `x.deep[0]` must be a finite number, got -inf.",
    );
  });

  it("limits string length, array length and depth from the run limits", async () => {
    expect((await nodeError(pythonReturning("'é' * 11", { x: out("string") }, { codeMaxStringLength: 10 }))).message).toBe(
      "The length of output variable `x` must be less than 10 characters",
    );
    expect((await pythonReturning("'é' * 10", { x: out("string") }, { codeMaxStringLength: 10 })).outputs).toEqual({
      x: "é".repeat(10),
    });
    expect(
      (await nodeError(pythonReturning("list(range(4))", { x: out("array[number]") }, { codeMaxArrayLength: 3 }))).message,
    ).toBe("The length of output variable `x` must be less than 3 elements.");
    expect((await nodeError(pythonReturning("{'a': {'b': {'c': 1}}}", { x: out("object") }, { codeMaxDepth: 2 }))).message).toBe(
      "Depth limit 2 reached, object too deep.",
    );
    expect((await pythonReturning("{'a': {'b': 1}}", { x: out("object") }, { codeMaxDepth: 2 })).outputs).toEqual({
      x: { a: { b: 1 } },
    });
  });

  it("checks objects without declared children for plain, same-typed arrays", async () => {
    expect((await nodeError(pythonReturning("{'items': [1, 'a']}", { x: out("object") }))).message).toBe(
      "Output x.items is not a valid array. make sure all elements are of the same type.",
    );
    expect((await pythonReturning("{'items': [[1], [2]], 'n': [None, 'a']}", { x: out("object") })).outputs).toEqual({
      x: { items: [[1], [2]], n: [null, "a"] },
    });
  });

  it("checks declared children of objects and elements of object arrays", async () => {
    const declared = { x: out("object", { name: out("string"), age: out("number") }) };
    expect((await pythonReturning("{'name': 'Ann', 'age': 30}", declared)).outputs).toEqual({ x: { name: "Ann", age: 30 } });
    expect((await nodeError(pythonReturning("{'name': 'Ann'}", declared))).message).toBe("Output x.age is missing.");
    expect((await nodeError(pythonReturning("{'name': 'Ann', 'age': '30'}", declared))).message).toBe(
      "Output x.age is not a number, got <class 'str'> instead.",
    );
    expect((await pythonReturning("[{'a': 1}, None, {'b': [1.5]}]", { x: out("array[object]") })).outputs).toEqual({
      x: [{ a: 1 }, null, { b: [1.5] }],
    });
  });

  it("returns outputs through javascript with the same rules", async () => {
    const data = node("javascript", "function main() { return { n: '5' } }", { n: out("number") });
    expect((await nodeError(codeNode.run(context(data)))).message).toBe("Output n is not a number, got <class 'str'> instead.");
  });
});
