import { z } from "zod";
import { fileAttribute, isFileValue } from "../variables/file-value.js";
import type { VariableSelector } from "../variables/selector.js";
import { referencesInText } from "../variables/selector.js";
import type { VariablePool } from "../variables/variable-pool.js";

/**
 * Dify's comparison operators, shared by if-else, loop break conditions and list filters.
 * Semantics follow Dify's condition processor: a missing value never "contains", "starts
 * with" or compares; "not contains" and "is not" hold for it.
 */
export const COMPARISON_OPERATORS = [
  "contains",
  "not contains",
  "start with",
  "end with",
  "is",
  "is not",
  "empty",
  "not empty",
  "in",
  "not in",
  "all of",
  "=",
  "≠",
  ">",
  "<",
  "≥",
  "≤",
  "null",
  "not null",
  "exists",
  "not exists",
] as const;
export type ComparisonOperator = (typeof COMPARISON_OPERATORS)[number];

const operatorSchema = z.enum(COMPARISON_OPERATORS);

export const subConditionSchema = z.looseObject({
  key: z.string(),
  comparison_operator: operatorSchema,
  value: z.unknown().optional(),
});

export const conditionSchema = z.looseObject({
  id: z.string().optional(),
  varType: z.string().optional(),
  variable_selector: z.array(z.string()).min(2),
  comparison_operator: operatorSchema,
  value: z.unknown().optional(),
  sub_variable_condition: z
    .looseObject({
      logical_operator: z.enum(["and", "or"]).default("and"),
      conditions: z.array(subConditionSchema).default([]),
    })
    .nullish(),
});
export type Condition = z.infer<typeof conditionSchema>;

export function conditionReferences(conditions: readonly Condition[]): VariableSelector[] {
  const out: VariableSelector[] = [];
  for (const c of conditions) {
    out.push(c.variable_selector);
    if (typeof c.value === "string") out.push(...referencesInText(c.value));
  }
  return out;
}

export function evaluateConditions(pool: VariablePool, conditions: readonly Condition[], logical: "and" | "or"): boolean {
  if (conditions.length === 0) return logical === "and";
  for (const c of conditions) {
    const ok = evaluateCondition(pool, c);
    if (logical === "and" && !ok) return false;
    if (logical === "or" && ok) return true;
  }
  return logical === "and";
}

export function evaluateCondition(pool: VariablePool, c: Condition): boolean {
  const actual = pool.get(c.variable_selector);
  const expected = typeof c.value === "string" ? pool.renderText(c.value) : c.value;
  const sub = c.sub_variable_condition;
  if (sub && sub.conditions.length > 0 && Array.isArray(actual)) {
    const matches = actual.map((item) => {
      const results = sub.conditions.map((sc) =>
        compare(sc.comparison_operator, attributeOf(item, sc.key), renderMaybe(pool, sc.value)),
      );
      return sub.logical_operator === "and" ? results.every(Boolean) : results.some(Boolean);
    });
    switch (c.comparison_operator) {
      case "contains":
        return matches.some(Boolean);
      case "not contains":
        return !matches.some(Boolean);
      case "all of":
        return matches.length > 0 && matches.every(Boolean);
      default:
        break;
    }
  }
  return compare(c.comparison_operator, actual, expected);
}

function renderMaybe(pool: VariablePool, v: unknown): unknown {
  return typeof v === "string" ? pool.renderText(v) : v;
}

function attributeOf(item: unknown, key: string): unknown {
  if (isFileValue(item)) return fileAttribute(item, key);
  if (item && typeof item === "object") return (item as Record<string, unknown>)[key];
  return undefined;
}

function isEmpty(v: unknown): boolean {
  if (v === null || v === undefined || v === "" || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === "object" && !isFileValue(v)) return Object.keys(v).length === 0;
  return false;
}

function toNumber(v: unknown): number | null {
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "string" && v.trim() !== "") {
    const n = Number(v);
    return Number.isNaN(n) ? null : n;
  }
  return null;
}

function toBoolean(v: unknown): boolean | null {
  if (typeof v === "boolean") return v;
  if (v === "true" || v === "True" || v === 1 || v === "1") return true;
  if (v === "false" || v === "False" || v === 0 || v === "0") return false;
  return null;
}

function looselyEqual(actual: unknown, expected: unknown): boolean {
  if (typeof actual === "boolean") return actual === toBoolean(expected);
  if (typeof actual === "number") return actual === toNumber(expected);
  if (typeof actual === "string") return actual === (expected === null || expected === undefined ? "" : String(expected));
  return JSON.stringify(actual) === JSON.stringify(expected);
}

function asList(expected: unknown): unknown[] {
  if (Array.isArray(expected)) return expected;
  if (typeof expected === "string") {
    const t = expected.trim();
    if (t.startsWith("[")) {
      try {
        const parsed: unknown = JSON.parse(t);
        if (Array.isArray(parsed)) return parsed;
      } catch {
        // Not JSON: fall through to a comma-separated list, as people type in the UI.
      }
    }
    return t === "" ? [] : t.split(",").map((s) => s.trim());
  }
  return expected === null || expected === undefined ? [] : [expected];
}

function contains(actual: unknown, expected: unknown): boolean {
  if (actual === null || actual === undefined) return false;
  if (typeof actual === "string") return actual.includes(expected === null || expected === undefined ? "" : String(expected));
  if (Array.isArray(actual)) return actual.some((item) => looselyEqual(item, expected));
  return false;
}

export function compare(op: ComparisonOperator, actual: unknown, expected: unknown): boolean {
  switch (op) {
    case "contains":
      return contains(actual, expected);
    case "not contains":
      return !contains(actual, expected);
    case "start with":
      return typeof actual === "string" && actual.startsWith(String(expected ?? ""));
    case "end with":
      return typeof actual === "string" && actual.endsWith(String(expected ?? ""));
    case "is":
      return actual !== undefined && actual !== null && looselyEqual(actual, expected);
    case "is not":
      return actual === undefined || actual === null || !looselyEqual(actual, expected);
    case "empty":
      return isEmpty(actual);
    case "not empty":
      return !isEmpty(actual);
    case "in":
      return actual !== undefined && actual !== null && asList(expected).some((e) => looselyEqual(actual, e));
    case "not in":
      return actual === undefined || actual === null || !asList(expected).some((e) => looselyEqual(actual, e));
    case "all of":
      return Array.isArray(actual) && asList(expected).every((e) => actual.some((a) => looselyEqual(a, e)));
    case "=":
    case "≠":
    case ">":
    case "<":
    case "≥":
    case "≤": {
      const a = toNumber(actual);
      const b = toNumber(expected);
      if (a === null || b === null) return op === "≠" && a !== b;
      if (op === "=") return a === b;
      if (op === "≠") return a !== b;
      if (op === ">") return a > b;
      if (op === "<") return a < b;
      if (op === "≥") return a >= b;
      return a <= b;
    }
    case "null":
      return actual === null || actual === undefined;
    case "not null":
      return actual !== null && actual !== undefined;
    case "exists":
      return actual !== null && actual !== undefined;
    case "not exists":
      return actual === null || actual === undefined;
  }
}
