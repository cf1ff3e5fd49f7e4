import { describe, expect, it } from "vitest";
import { parseTemplate, referencesInText } from "./selector.js";
import { pythonJsonDumps, valueToText } from "./text.js";
import { VariablePool } from "./variable-pool.js";

describe("variable pool", () => {
  it("resolves selectors with paths into objects and arrays", () => {
    const pool = new VariablePool();
    pool.set("n1", "obj", { a: { b: [10, 20] } });
    expect(pool.get(["n1", "obj", "a", "b", "1"])).toBe(20);
    expect(pool.get(["n1", "obj", "missing"])).toBeUndefined();
    expect(pool.get(["nope", "x"])).toBeUndefined();
  });

  it("forks: reads fall through, writes stay local, assign updates the owner", () => {
    const parent = new VariablePool();
    parent.set("loop", "count", 1);
    const child = parent.fork();
    child.set("body", "text", "in child");
    expect(child.get(["loop", "count"])).toBe(1);
    expect(parent.get(["body", "text"])).toBeUndefined();
    child.assign("loop", "count", 2);
    expect(parent.get(["loop", "count"])).toBe(2);
  });

  it("renders {{#…#}} references like Dify", () => {
    const pool = new VariablePool();
    pool.set("n", "s", "text");
    pool.set("n", "o", { k: [1, "x"], t: true });
    pool.set("sys", "user_id", "u-1");
    expect(pool.renderText("{{#n.s#}} / {{#n.o#}} / {{#sys.user_id#}} / [{{#n.none#}}]")).toBe(
      'text / {"k": [1, "x"], "t": true} / u-1 / []',
    );
  });

  it("parses templates and lists references", () => {
    expect(referencesInText("a {{#x.y.z#}} b {{#sys.files#}}")).toEqual([
      ["x", "y", "z"],
      ["sys", "files"],
    ]);
    expect(parseTemplate("hi {{#a.b#}}!")).toEqual([
      { kind: "text", text: "hi " },
      { kind: "ref", selector: ["a", "b"] },
      { kind: "text", text: "!" },
    ]);
  });

  it("formats values as Python's json.dumps would", () => {
    expect(pythonJsonDumps({ a: "é", b: [1, 2.5, null] })).toBe('{"a": "é", "b": [1, 2.5, null]}');
    expect(valueToText(3)).toBe("3");
    expect(valueToText(null)).toBe("");
  });
});
