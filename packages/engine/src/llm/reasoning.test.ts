import { describe, expect, it } from "vitest";
import { parseModelJson } from "./json-output.js";
import { splitThinkTags, ThinkTagSplitter } from "./reasoning.js";

function run(chunks: string[]) {
  const s = new ThinkTagSplitter();
  let text = "";
  let reasoning = "";
  for (const c of chunks) {
    const out = s.push(c);
    text += out.text;
    reasoning += out.reasoning;
  }
  const end = s.flush();
  return { text: text + end.text, reasoning: reasoning + end.reasoning };
}

describe("ThinkTagSplitter", () => {
  const full = "<think>Let me think.</think>\n\nThe answer is 42.";

  it("splits correctly wherever the chunk boundaries fall", () => {
    for (let i = 0; i <= full.length; i++) {
      for (let j = i; j <= full.length; j += 3) {
        expect(run([full.slice(0, i), full.slice(i, j), full.slice(j)])).toEqual({
          text: "The answer is 42.",
          reasoning: "Let me think.",
        });
      }
    }
  });

  it("streams one character at a time", () => {
    expect(run([...full])).toEqual({ text: "The answer is 42.", reasoning: "Let me think." });
  });

  it("keeps text that only looks like the start of a tag", () => {
    expect(run(["a <thi", "s is fine", " < x"])).toEqual({ text: "a <this is fine < x", reasoning: "" });
    expect(run(["1 <", "2"])).toEqual({ text: "1 <2", reasoning: "" });
  });

  it("treats an unclosed block as reasoning", () => {
    expect(run(["<think>still thinking", " </thi"])).toEqual({ text: "", reasoning: "still thinking </thi" });
  });

  it("is case-insensitive and handles several blocks", () => {
    expect(run(["<THINK>a</THINK>x", "<think>b</think>y"])).toEqual({ text: "xy", reasoning: "ab" });
  });

  it("emits text as soon as it is safe", () => {
    const s = new ThinkTagSplitter();
    expect(s.push("Hello <")).toEqual({ text: "Hello ", reasoning: "" });
    expect(s.push("b>")).toEqual({ text: "<b>", reasoning: "" });
  });
});

describe("splitThinkTags", () => {
  it("separates reasoning and cleans the answer", () => {
    expect(splitThinkTags("<think>\n step 1 \n</think>\n\n\nAnswer\n\n\n\nmore")).toEqual({
      text: "Answer\n\nmore",
      reasoning: "step 1",
    });
    expect(splitThinkTags("no tags")).toEqual({ text: "no tags", reasoning: "" });
    expect(splitThinkTags("a<think>b</think>c<think>d")).toEqual({ text: "ac", reasoning: "b\nd" });
  });
});

describe("parseModelJson", () => {
  it.each([
    ['{"a": 1}', { a: 1 }],
    ['```json\n{"a": 1}\n```', { a: 1 }],
    ['Here you go: {"a": {"b": [1, 2]}} Hope it helps.', { a: { b: [1, 2] } }],
    ['<think>hmm {no}</think>{"a": 1}', { a: 1 }],
    ["[1, 2]", [1, 2]],
  ])("parses %j", (text, value) => {
    expect(parseModelJson(text)).toEqual({ ok: true, value });
  });

  it("reports failures", () => {
    expect(parseModelJson("not json").ok).toBe(false);
    expect(parseModelJson("").ok).toBe(false);
  });
});
