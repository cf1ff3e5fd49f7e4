/**
 * The generated programs' VectorVein semantics, checked directly in a Node vm context (the
 * same JavaScript the QuickJS sandbox runs; the import tests run them in the sandbox).
 */
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { decodeEscapes, pyRepr, pyStr } from "./builder.js";
import { BODIES, codeProgram, type HelperName } from "./js-snippets.js";

function run(
  body: keyof typeof BODIES,
  helpers: HelperName[],
  ports: Record<string, unknown>,
  prelude = "",
): Record<string, unknown> {
  const code = codeProgram({ header: body, ports, bound: {}, helpers, body: prelude + BODIES[body] });
  const main = runInNewContext(`${code}\nmain;`) as (inputs: Record<string, unknown>) => { outputs: Record<string, unknown> };
  // Values made in another realm: compare them as JSON.
  return JSON.parse(JSON.stringify(main({}).outputs)) as Record<string, unknown>;
}

describe("Python semantics in TypeScript", () => {
  it("str() and repr() like Python", () => {
    expect(pyStr(["a", 1, true, null, { k: "it's" }])).toBe(`['a', 1, True, None, {'k': "it's"}]`);
    expect(pyStr("plain")).toBe("plain");
    expect(pyRepr("a\nb")).toBe("'a\\nb'");
  });

  it("unicode_escape decoding", () => {
    expect(decodeEscapes("\\n- ")).toBe("\n- ");
    expect(decodeEscapes("a\\tb\\\\c\\x41\\u00e9\\s")).toBe("a\tb\\cAé\\s");
  });
});

describe("generated programs", () => {
  it("TemplateCompose composes once per list item and refuses lists of different lengths", () => {
    const fields = 'var FIELDS = ["template", "a", "b"];\n';
    expect(run("templateCompose", ["pyStr"], { template: "{{a}}-{{b}}", a: ["x", "y"], b: 1 }, fields)).toEqual({
      output: ["x-1", "y-1"],
    });
    expect(run("templateCompose", ["pyStr"], { template: "{{a}}/{{b}}", a: [1, 2], b: ["p", "q"] }, fields)).toEqual({
      output: ["1/p", "2/q"],
    });
    expect(() => run("templateCompose", ["pyStr"], { template: "{{a}}", a: [1, 2], b: [1] }, fields)).toThrow(
      "Input fields have different list length",
    );
  });

  it("TextTruncation cuts at the last separator within the floating range, counting code points", () => {
    const text = "one two three four five six seven";
    expect(run("textTruncation", ["pySlice"], { text, truncate_length: 12, floating_range: 4 })).toEqual({
      output: "one two three",
    });
    expect(run("textTruncation", ["pySlice"], { text, truncate_length: 12, floating_range: 0 })).toEqual({
      output: "one two thre",
    });
    expect(run("textTruncation", ["pySlice"], { text: ["short", "🙂🙂🙂🙂🙂"], truncate_length: 3, floating_range: 0 })).toEqual({
      output: ["sho", "🙂🙂🙂"],
    });
    // A paragraph break wins over a space.
    expect(
      run("textTruncation", ["pySlice"], { text: "aaaa bbbb\n\ncccc dddd", truncate_length: 12, floating_range: 5 }),
    ).toEqual({
      output: "aaaa bbbb",
    });
  });

  it("RegexExtract follows re.findall: groups, first match, no match", () => {
    expect(
      run("regexExtract", ["pyRegex"], { text: '```json\n{"a": 1}\n```', pattern: "```.*?\\n(.*?)\\n```", first_match: true }),
    ).toEqual({
      output: '{"a": 1}',
    });
    expect(run("regexExtract", ["pyRegex"], { text: "a1 b2", pattern: "[a-z](\\d)", first_match: false })).toEqual({
      output: ["1", "2"],
    });
    expect(run("regexExtract", ["pyRegex"], { text: "none here", pattern: "\\d+", first_match: true })).toEqual({ output: "" });
    expect(
      run("regexExtract", ["pyRegex"], {
        text: "none here",
        pattern: "\\d+",
        first_match: true,
        output_original_on_no_match: true,
      }),
    ).toEqual({ output: "none here" });
    expect(run("regexExtract", ["pyRegex"], { text: "Key: V", pattern: "(?i)key: (?P<v>\\w)", first_match: true })).toEqual({
      output: "V",
    });
  });

  it("TextSplitters: delimiter (a regular expression), table rows, markdown sections, general chunks", () => {
    expect(
      run("textSplitters", ["decodeEscapes", "pyRegex"], { text: "a\nb\nc", split_method: "delimiter", delimiter: "\\n" }),
    ).toEqual({
      output: ["a", "b", "c"],
    });
    expect(
      run("textSplitters", ["decodeEscapes", "pyRegex"], { text: 'name,note\nAda,"x, y"\nGrace,', split_method: "table" }),
    ).toEqual({
      output: ["name: Ada\nnote: x, y", "name: Grace\nnote: "],
    });
    expect(
      run("textSplitters", ["decodeEscapes", "pyRegex"], {
        text: "# A\none\n# B\ntwo\n# C\nthree",
        split_method: "markdown",
        chunk_length: 20,
      }),
    ).toEqual({ output: ["# A\none\n\n# B\ntwo", "# C\nthree"] });
    const general = run("textSplitters", ["decodeEscapes", "pyRegex"], {
      text: "word ".repeat(40).trim(),
      split_method: "general",
      chunk_length: 10,
      chunk_overlap: 0,
    }).output as string[];
    expect(general.length).toBeGreaterThan(3);
    expect(general.every((c) => c.length <= 40)).toBe(true);
    expect(general.join(" ").split(" ")).toHaveLength(40);
  });

  it("ListRender joins with an escape-decoded separator or passes the list", () => {
    expect(run("listRender", ["pyStr", "decodeEscapes"], { list: ["a", 2], separator: "\\t", output_type: "text" })).toEqual({
      output: "a\t2",
    });
    expect(run("listRender", ["pyStr", "decodeEscapes"], { list: ["a"], output_type: "list" })).toEqual({ output: ["a"] });
  });

  it("TextReplace replaces every occurrence, sources escape-decoded", () => {
    expect(
      run("textReplace", ["decodeEscapes"], {
        text: ["a\nb", "a-a"],
        replace_items: [
          { source: "\\n", target: " " },
          { source: "a", target: "A" },
        ],
      }),
    ).toEqual({ output: ["A b", "A-A"] });
  });

  it("JsonProcess: fenced JSON, list inputs, list_keys, list_values and defaults", () => {
    expect(
      run("jsonProcess", [], { input: '```json\n{"a": 1}\n```', process_mode: "get_value", key: "b", default_value: "none" }),
    ).toEqual({
      output: "none",
    });
    expect(run("jsonProcess", [], { input: '[{"a": 1}, {"a": 2}]', process_mode: "get_value", key: "a" })).toEqual({
      output: [1, 2],
    });
    expect(run("jsonProcess", [], { input: { x: 1, y: [2] }, process_mode: "list_keys" })).toEqual({ output: ["x", "y"] });
    expect(run("jsonProcess", [], { input: { x: 1, y: [2] }, process_mode: "list_values" })).toEqual({ output: [1, [2]] });
    expect(() => run("jsonProcess", [], { input: "not json", process_mode: "get_value", key: "a" })).toThrow(
      "Invalid JSON format",
    );
  });

  it("MarkdownToHtml renders the common Markdown subset like markdown2", () => {
    const md = "## Plan\n\n1. first\n2. second\n\n> quoted *text*\n\n```python\nprint(1 < 2)\n```\n\n---\n\nline one  \nline two";
    expect(run("markdownToHtml", [], { markdown: md })).toEqual({
      html:
        "<h2>Plan</h2>\n\n<ol>\n<li>first</li>\n<li>second</li>\n</ol>\n\n<blockquote>\n<p>quoted <em>text</em></p>\n</blockquote>\n\n" +
        '<pre><code class="python">print(1 &lt; 2)\n</code></pre>\n\n<hr />\n\n<p>line one <br />\nline two</p>\n',
    });
  });

  it("RandomChoice picks from the list, or one per sub-list", () => {
    expect(run("randomChoice", [], { input: ["only"] })).toEqual({ output: "only" });
    expect(run("randomChoice", [], { input: [["x"], ["y"]] })).toEqual({ output: ["x", "y"] });
  });
});
