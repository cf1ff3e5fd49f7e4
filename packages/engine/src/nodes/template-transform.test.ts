import { describe, expect, it } from "vitest";
import { NodeExecutionError } from "../errors.js";
import { makeNodeContext } from "../test-support/node-context.js";
import { VariablePool } from "../variables/variable-pool.js";
import { templateTransformDataSchema, templateTransformNode } from "./template-transform.js";

function setup(template: string, variables: Array<[string, string[]]>, limits = {}) {
  const pool = new VariablePool();
  pool.setAll("start", { name: "Ann", scores: [90, 85.5], profile: { city: "Paris", vip: true } });
  const data = templateTransformDataSchema.parse({
    template,
    variables: variables.map(([variable, value_selector]) => ({ variable, value_selector, value_type: "string" })),
  });
  return makeNodeContext(data, { pool, limits });
}

describe("template-transform node", () => {
  it("renders the template over its variables", async () => {
    const ctx = setup("Hi {{ name }}! avg={{ (scores|sum / scores|length)|round(1) }} {{ profile }}", [
      ["name", ["start", "name"]],
      ["scores", ["start", "scores"]],
      ["profile", ["start", "profile"]],
    ]);
    const result = await templateTransformNode.run(ctx);
    expect(result.outputs).toEqual({ output: "Hi Ann! avg=87.8 {'city': 'Paris', 'vip': True}" });
    expect(result.inputs).toEqual({ name: "Ann", scores: [90, 85.5], profile: { city: "Paris", vip: true } });
  });

  it("passes a variable whose value is missing as None, as Dify does", async () => {
    const ctx = setup("[{{ x }}] [{{ x|default('d') }}] [{{ x is none }}]", [["x", ["start", "missing"]]]);
    expect((await templateTransformNode.run(ctx)).outputs.output).toBe("[None] [None] [True]");
  });

  it("fails with the output limit from the run limits", () => {
    const ctx = setup("{% for i in range(1000) %}xxxxxxxxxx{% endfor %}", [], { maxTemplateOutputChars: 5_000 });
    // run() is synchronous: rendering never waits on IO.
    expect(() => templateTransformNode.run(ctx)).toThrow(
      "Jinja2 template stopped: the rendered output is longer than 5000 characters (the limit).",
    );
  });

  it("fails at the template deadline from the run limits", () => {
    const ctx = setup("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", [], {
      templateTimeoutMs: 100,
    });
    expect(() => templateTransformNode.run(ctx)).toThrow("rendering took longer than 100 ms");
  });

  it("reports render errors as node failures", () => {
    const ctx = setup("{{ name + 1 }}", [["name", ["start", "name"]]]);
    let e: unknown;
    try {
      templateTransformNode.run(ctx);
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(NodeExecutionError);
    expect((e as NodeExecutionError).errorType).toBe("TemplateTransformError");
    expect((e as NodeExecutionError).message).toBe('Jinja2 render error: TypeError: can only concatenate str (not "int") to str');
  });

  it("reports syntax errors and unbound variables during validation", () => {
    const problems: string[] = [];
    const data = templateTransformDataSchema.parse({
      template: "{% for x in items %}\n{{ x }}",
      variables: [
        { variable: "items", value_selector: ["start", "items"] },
        { variable: "items", value_selector: ["start", "other"] },
        { variable: "loose", value_selector: [] },
      ],
    });
    templateTransformNode.validate?.(data, { nodeId: "t", report: (m) => problems.push(m) });
    expect(problems).toEqual([
      "the Jinja2 template has a syntax error (line 2: unexpected end of template: the '{% for %}' block opened on line 1 is never closed (missing '{% endfor %}'))",
      'the template variable "items" is declared twice',
      'the template variable "loose" is not bound to a value',
    ]);
  });

  it("lists the selectors it reads", () => {
    const data = templateTransformDataSchema.parse({
      template: "",
      variables: [
        { variable: "a", value_selector: ["n1", "text"] },
        { variable: "b", value_selector: ["sys", "user_id"] },
      ],
    });
    expect(templateTransformNode.references(data)).toEqual([
      ["n1", "text"],
      ["sys", "user_id"],
    ]);
  });
});
