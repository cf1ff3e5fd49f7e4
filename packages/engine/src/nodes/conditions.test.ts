import { describe, expect, it } from "vitest";
import { FILE_IDENTITY, type FileValue } from "../variables/file-value.js";
import { VariablePool } from "../variables/variable-pool.js";
import { type ComparisonOperator, compare, evaluateCondition } from "./conditions.js";

describe("comparison operators", () => {
  const cases: Array<[ComparisonOperator, unknown, unknown, boolean]> = [
    ["contains", "hello world", "world", true],
    ["contains", ["a", "b"], "b", true],
    ["contains", undefined, "x", false],
    ["not contains", "hello", "x", true],
    ["not contains", undefined, "x", true],
    ["start with", "hello", "he", true],
    ["end with", "hello", "lo", true],
    ["is", "a", "a", true],
    ["is", true, "true", true],
    ["is", false, true, false],
    ["is not", "a", "b", true],
    ["empty", "", null, true],
    ["empty", [], null, true],
    ["empty", {}, null, true],
    ["not empty", "x", null, true],
    ["in", "b", ["a", "b"], true],
    ["in", "b", "a, b", true],
    ["not in", "c", ["a", "b"], true],
    ["all of", ["a", "b", "c"], ["a", "c"], true],
    ["all of", ["a"], ["a", "c"], false],
    ["=", 3, "3", true],
    ["=", "3.0", 3, true],
    ["≠", 3, "4", true],
    [">", 5, "4", true],
    ["<", 3, "4", true],
    ["≥", 4, "4", true],
    ["≤", 5, "4", false],
    [">", undefined, "4", false],
    ["null", null, null, true],
    ["not null", 0, null, true],
    ["exists", "x", null, true],
    ["not exists", undefined, null, true],
  ];
  it.each(cases)("%s(%j, %j) = %s", (op, actual, expected, result) => {
    expect(compare(op, actual, expected)).toBe(result);
  });

  it("renders {{#…#}} in the expected value", () => {
    const pool = new VariablePool();
    pool.set("a", "x", "hello");
    pool.set("b", "y", "hello");
    expect(evaluateCondition(pool, { variable_selector: ["a", "x"], comparison_operator: "is", value: "{{#b.y#}}" })).toBe(true);
  });

  it("applies sub-conditions to file lists", () => {
    const file = (name: string, ext: string): FileValue => ({
      dify_model_identity: FILE_IDENTITY,
      id: name,
      type: "document",
      transfer_method: "local_file",
      remote_url: null,
      related_id: name,
      filename: name,
      extension: ext,
      mime_type: "application/pdf",
      size: 10,
      url: null,
    });
    const pool = new VariablePool();
    pool.set("start", "docs", [file("a.pdf", "pdf"), file("b.txt", "txt")]);
    const cond = (op: ComparisonOperator, ext: string) => ({
      variable_selector: ["start", "docs"],
      comparison_operator: op,
      sub_variable_condition: {
        logical_operator: "and" as const,
        conditions: [{ key: "extension", comparison_operator: "is" as const, value: ext }],
      },
    });
    expect(evaluateCondition(pool, cond("contains", "pdf"))).toBe(true);
    expect(evaluateCondition(pool, cond("not contains", "docx"))).toBe(true);
    expect(evaluateCondition(pool, cond("all of", "pdf"))).toBe(false);
  });
});
