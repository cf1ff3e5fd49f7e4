/**
 * Dify's `code` node: runs `main(**inputs)` (python3) or `main(inputs)` (javascript) in the
 * sandbox capability, then checks the returned dict against the declared outputs with
 * Dify's rules and messages (code_node.py `_transform_result`):
 * - every declared output must be present; a declared `object` output with `children`
 *   is checked recursively, one without is checked for plain JSON shapes only;
 * - the result may not hold keys that are not declared ("Not all output parameters are
 *   validated."): Dify fails the node rather than dropping them, and so do we;
 * - strings ≤ codeMaxStringLength characters (NUL removed), numbers within ±2^63 with at
 *   most 20 decimal places (and, unlike Dify, finite), arrays ≤ codeMaxArrayLength
 *   elements, nesting ≤ codeMaxDepth; booleans in number outputs become 0/1.
 * Messages name Python types (`<class 'str'>`) because users compare them with Dify's.
 */
import { z } from "zod";
import { isTributaryError, NodeExecutionError } from "../errors.js";
import type { RunLimits } from "../limits.js";
import { defineNode } from "./node-definition.js";
import { variableBindingSchema } from "./variable-binding.js";

const OUTPUT_TYPES = [
  "string",
  "number",
  "boolean",
  "object",
  "array[string]",
  "array[number]",
  "array[object]",
  "array[boolean]",
] as const;

export interface CodeOutput {
  type: (typeof OUTPUT_TYPES)[number];
  children?: Record<string, CodeOutput> | null;
  [key: string]: unknown;
}

const codeOutputSchema: z.ZodType<CodeOutput> = z.lazy(() =>
  z.looseObject({
    type: z.enum(OUTPUT_TYPES, { message: `output type must be one of ${OUTPUT_TYPES.join(", ")}` }),
    children: z.record(z.string(), codeOutputSchema).nullish(),
  }),
);

export const codeDataSchema = z.looseObject({
  code_language: z.enum(["python3", "javascript"], { message: "code_language must be python3 or javascript" }),
  code: z.string(),
  variables: z.array(variableBindingSchema).default([]),
  outputs: z.record(z.string(), codeOutputSchema),
});

export type CodeData = z.infer<typeof codeDataSchema>;

/**
 * Dify's CODE_MAX_NUMBER (2^63 − 1) / CODE_MIN_NUMBER (−2^63) / CODE_MAX_PRECISION defaults.
 * 2^63 − 1 is no double: every double above it is ≥ 2^63, so `>= LIMIT` is Dify's `> MAX`.
 */
const LIMIT = 2 ** 63;
const MAX_NUMBER_TEXT = "9223372036854775807";
const MIN_NUMBER_TEXT = "-9223372036854775808";
const MAX_PRECISION = 20;

export const codeNode = defineNode<CodeData>({
  type: "code",
  schema: codeDataSchema,
  references: (data) => data.variables.filter((v) => v.value_selector.length >= 2).map((v) => v.value_selector),
  validate(data, ctx) {
    const seen = new Set<string>();
    for (const v of data.variables) {
      if (!v.variable) ctx.report("a code input variable has no name");
      else if (seen.has(v.variable)) ctx.report(`the code input variable "${v.variable}" is declared twice`);
      seen.add(v.variable);
      if (v.value_selector.length < 2) ctx.report(`the code input variable "${v.variable}" is not bound to a value`);
    }
    if (!/\bmain\b/.test(data.code)) ctx.report("the code does not define a function main");
  },
  async run(ctx) {
    const inputs: Record<string, unknown> = {};
    for (const v of ctx.data.variables) {
      const value = ctx.pool.get(v.value_selector);
      inputs[v.variable] = value === undefined ? null : value;
    }
    if (ctx.signal.aborted && isTributaryError(ctx.signal.reason)) throw ctx.signal.reason;
    let result: unknown;
    try {
      result = await ctx.caps.sandbox.run(
        { language: ctx.data.code_language, code: ctx.data.code, inputs, timeoutMs: ctx.limits.codeTimeoutMs },
        ctx.signal,
      );
    } catch (e) {
      // A stop or run timeout is the run's failure, not this node's.
      if (ctx.signal.aborted && isTributaryError(ctx.signal.reason)) throw ctx.signal.reason;
      if (isTributaryError(e) && e.code === "sandbox_error") {
        throw new NodeExecutionError(e.message, { cause: e, errorType: "CodeExecutionError" });
      }
      throw e;
    }
    if (!isDict(result)) {
      throw new NodeExecutionError(`main() must return a dict, got ${pyTypeName(result)}.`, { errorType: "CodeExecutionError" });
    }
    const outputs = new OutputChecker(ctx.limits).check(result, ctx.data.outputs, "", 0);
    return { inputs, outputs };
  },
});

function outputError(message: string): NodeExecutionError {
  return new NodeExecutionError(message, { errorType: "OutputValidationError" });
}

type Dict = Record<string, unknown>;

class OutputChecker {
  constructor(private readonly limits: Pick<RunLimits, "codeMaxStringLength" | "codeMaxDepth" | "codeMaxArrayLength">) {}

  check(result: Dict, schema: Record<string, CodeOutput> | null | undefined, prefix: string, depth: number): Dict {
    if (depth > this.limits.codeMaxDepth) {
      throw new NodeExecutionError(`Depth limit ${this.limits.codeMaxDepth} reached, object too deep.`, {
        errorType: "DepthLimitError",
      });
    }
    if (!schema) {
      this.checkUntyped(result, prefix, depth);
      return result;
    }
    const out: Dict = {};
    for (const [name, config] of Object.entries(schema)) {
      const path = prefix ? `${prefix}.${name}` : name;
      if (!Object.hasOwn(result, name)) throw outputError(`Output ${path} is missing.`);
      out[name] = this.checkDeclared(result[name], config, path, depth);
    }
    if (Object.keys(result).length !== Object.keys(schema).length) {
      const extra = Object.keys(result).filter((k) => !Object.hasOwn(schema, k));
      throw new NodeExecutionError(
        `Not all output parameters are validated. main() returned ${extra.map((k) => `\`${prefixed(prefix, k)}\``).join(", ")}, which ${extra.length === 1 ? "is" : "are"} not declared as output${extra.length === 1 ? "" : "s"}.`,
        { errorType: "CodeNodeError" },
      );
    }
    return out;
  }

  private checkDeclared(value: unknown, config: CodeOutput, path: string, depth: number): unknown {
    switch (config.type) {
      case "object":
        if (value === null) return null;
        if (!isDict(value)) throw outputError(`Output ${path} is not an object, got ${pyClass(value)} instead.`);
        return this.check(value, config.children, path, depth + 1);
      case "number":
        if (value !== null && typeof value !== "number" && typeof value !== "boolean") {
          throw outputError(`Output ${path} is not a number, got ${pyClass(value)} instead.`);
        }
        return booleanToInt(this.checkNumber(value, path));
      case "string":
        if (value !== null && typeof value !== "string") {
          throw outputError(`Output ${path} must be a string, got ${pyTypeName(value)} instead`);
        }
        return this.checkString(value, path);
      case "boolean":
        // Dify passes anything through here; a non-boolean would break branches downstream.
        if (value !== null && typeof value !== "boolean") {
          throw outputError(`Output ${path} must be a boolean, got ${pyTypeName(value)} instead`);
        }
        return value;
      default:
        return this.checkDeclaredArray(value, config, path, depth);
    }
  }

  private checkDeclaredArray(value: unknown, config: CodeOutput, path: string, depth: number): unknown {
    if (value === null) return null;
    if (!Array.isArray(value)) throw outputError(`Output ${path} is not an array, got ${pyClass(value)} instead.`);
    if (value.length > this.limits.codeMaxArrayLength) {
      throw outputError(
        `The length of output variable \`${path}\` must be less than ${this.limits.codeMaxArrayLength} elements.`,
      );
    }
    switch (config.type) {
      case "array[number]":
        return value.map((item: unknown, i) => {
          if (typeof item !== "number" && typeof item !== "boolean") {
            throw outputError(`The element at index ${i} of output variable \`${path}\` must be a number.`);
          }
          return booleanToInt(this.checkNumber(item, `${path}[${i}]`));
        });
      case "array[string]":
        return value.map((item: unknown, i) => {
          if (item !== null && typeof item !== "string") throw outputError(`Output variable \`${path}[${i}]\` must be a string`);
          return this.checkString(item, `${path}[${i}]`);
        });
      case "array[boolean]":
        value.forEach((item: unknown, i) => {
          if (item !== null && typeof item !== "boolean") {
            throw outputError(`Output ${path}[${i}] is not a boolean, got ${pyClass(item)} instead.`);
          }
        });
        return value;
      default: {
        value.forEach((item: unknown, i) => {
          if (item !== null && !isDict(item)) {
            throw outputError(`Output ${path}[${i}] is not an object, got ${pyClass(item)} instead at index ${i}.`);
          }
        });
        return value.map((item: Dict | null, i) =>
          item === null ? null : this.check(item, config.children, `${path}[${i}]`, depth + 1),
        );
      }
    }
  }

  /** Dify's check of an object without declared children: plain JSON shapes within limits. */
  private checkUntyped(result: Dict, prefix: string, depth: number): void {
    for (const [name, value] of Object.entries(result)) {
      this.checkUntypedValue(value, prefixed(prefix, name), depth);
    }
  }

  private checkUntypedValue(value: unknown, path: string, depth: number): void {
    if (value === null || typeof value === "boolean") return;
    if (typeof value === "number") this.checkNumber(value, path);
    else if (typeof value === "string") this.checkString(value, path);
    else if (isDict(value)) this.check(value, null, path, depth + 1);
    else if (Array.isArray(value)) this.checkUntypedArray(value, path, depth);
    else throw outputError(`Output ${path} is not a valid type.`);
  }

  private checkUntypedArray(items: unknown[], path: string, depth: number): void {
    // As in Dify, the first element decides the element type; null elements are allowed.
    const first = items[0] ?? null;
    if (first === null) return;
    const all = (test: (item: unknown) => boolean) => items.every((item) => item === null || test(item));
    const numeric = (item: unknown) => typeof item === "number" || typeof item === "boolean";
    if (numeric(first) && all(numeric)) {
      items.forEach((item, i) => {
        if (item !== null) this.checkNumber(item as number | boolean, `${path}[${i}]`);
      });
    } else if (typeof first === "string" && all((item) => typeof item === "string")) {
      items.forEach((item, i) => {
        this.checkString(item as string | null, `${path}[${i}]`);
      });
    } else if ((isDict(first) && all(isDict)) || (Array.isArray(first) && all(Array.isArray))) {
      items.forEach((item, i) => {
        if (isDict(item)) this.check(item, null, `${path}[${i}]`, depth + 1);
        else if (Array.isArray(item)) this.checkUntypedArray(item, `${path}[${i}]`, depth + 1);
      });
    } else {
      throw outputError(`Output ${path} is not a valid array. make sure all elements are of the same type.`);
    }
  }

  private checkNumber(value: number | boolean | null, path: string): number | boolean | null {
    if (value === null || typeof value === "boolean") return value;
    if (!Number.isFinite(value)) {
      throw outputError(`Output variable \`${path}\` must be a finite number, got ${pyFloatRepr(value)}.`);
    }
    if (value >= LIMIT || value < -LIMIT) {
      throw outputError(
        `Output variable \`${path}\` is out of range, it must be between ${MIN_NUMBER_TEXT} and ${MAX_NUMBER_TEXT}.`,
      );
    }
    if (!Number.isInteger(value) && decimalPlaces(value) > MAX_PRECISION) {
      throw outputError(`Output variable \`${path}\` has too high precision, it must be less than ${MAX_PRECISION} digits.`);
    }
    return value;
  }

  private checkString(value: string | null, path: string): string | null {
    if (value === null) return null;
    // Python counts code points; JavaScript's length counts UTF-16 units, so only count
    // when the cheap measure says the limit might be passed.
    if (value.length > this.limits.codeMaxStringLength && codePoints(value) > this.limits.codeMaxStringLength) {
      throw outputError(
        `The length of output variable \`${path}\` must be less than ${this.limits.codeMaxStringLength} characters`,
      );
    }
    return value.includes("\0") ? value.replaceAll("\0", "") : value;
  }
}

function prefixed(prefix: string, name: string): string {
  return prefix ? `${prefix}.${name}` : name;
}

function isDict(value: unknown): value is Dict {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function booleanToInt(value: number | boolean | null): number | null {
  return typeof value === "boolean" ? Number(value) : value;
}

/** Digits after the decimal point of the shortest representation (Python's Decimal(str(x)).normalize()). */
function decimalPlaces(value: number): number {
  const [mantissa = "", exponent = "0"] = value.toExponential().split("e");
  const digits = mantissa.replace("-", "").replace(".", "").replace(/0+$/, "");
  return Math.max(0, digits.length - 1 - Number(exponent));
}

function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

function pyTypeName(value: unknown): string {
  if (value === null || value === undefined) return "NoneType";
  if (typeof value === "string") return "str";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float";
  if (Array.isArray(value)) return "list";
  return "dict";
}

function pyClass(value: unknown): string {
  return `<class '${pyTypeName(value)}'>`;
}

function pyFloatRepr(value: number): string {
  if (Number.isNaN(value)) return "nan";
  return value > 0 ? "inf" : "-inf";
}
