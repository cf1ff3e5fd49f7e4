/**
 * Dify's `list-operator`: filters, extracts the n-th item, sorts and limits a list, in that
 * order (Dify's), and outputs `result`, `first_record` and `last_record`. Works on lists of
 * strings, numbers, booleans, files (conditions and sorting by a file attribute: name, type,
 * extension, mime_type, size, transfer_method, url, related_id) and objects (by a property;
 * dotted paths reach nested ones). Dify itself has no object lists here; they are supported
 * because code and HTTP nodes produce them all the time.
 */
import { z } from "zod";
import { NodeExecutionError } from "../errors.js";
import { fileAttribute, isFileValue } from "../variables/file-value.js";
import { referencesInText, selectorKey, type VariableSelector } from "../variables/selector.js";
import { pythonJsonDumps } from "../variables/text.js";
import { COMPARISON_OPERATORS, type ComparisonOperator, compare } from "./conditions.js";
import { defineNode, type NodeRunContext } from "./node-definition.js";

const filterConditionSchema = z.looseObject({
  key: z
    .string()
    .nullish()
    .transform((k) => k ?? ""),
  comparison_operator: z.enum(COMPARISON_OPERATORS).default("contains"),
  value: z.unknown().optional(),
});
type FilterCondition = z.infer<typeof filterConditionSchema>;

const listOperatorDataSchema = z.looseObject({
  type: z.literal("list-operator"),
  variable: z.array(z.string()).default([]),
  filter_by: z
    .looseObject({ enabled: z.boolean().default(false), conditions: z.array(filterConditionSchema).default([]) })
    .prefault({}),
  order_by: z
    .looseObject({
      enabled: z.boolean().default(false),
      key: z
        .string()
        .nullish()
        .transform((k) => k ?? ""),
      value: z.enum(["asc", "desc"]).default("asc"),
    })
    .prefault({}),
  limit: z.looseObject({ enabled: z.boolean().default(false), size: z.coerce.number().int().default(-1) }).prefault({}),
  extract_by: z
    .looseObject({
      enabled: z.boolean().default(false),
      serial: z
        .union([z.string(), z.number()])
        .default("1")
        .transform((s) => String(s)),
    })
    .prefault({}),
});
export type ListOperatorData = z.infer<typeof listOperatorDataSchema>;

const NUMERIC_OPERATORS: ReadonlySet<ComparisonOperator> = new Set(["=", "≠", ">", "<", "≥", "≤"]);

export const listOperatorNode = defineNode({
  type: "list-operator",
  schema: listOperatorDataSchema,
  references(data): VariableSelector[] {
    const out: VariableSelector[] = [data.variable];
    if (data.filter_by.enabled) {
      for (const c of data.filter_by.conditions) {
        if (typeof c.value === "string") out.push(...referencesInText(c.value));
        if (Array.isArray(c.value)) for (const v of c.value) if (typeof v === "string") out.push(...referencesInText(v));
      }
    }
    if (data.extract_by.enabled) out.push(...referencesInText(data.extract_by.serial));
    return out.filter((s) => s.length >= 2);
  },
  validate(data, ctx) {
    if (data.variable.length < 2) ctx.report("no input list is selected; select the list variable to operate on");
    if (data.extract_by.enabled && !data.extract_by.serial.includes("{{#")) {
      const n = Number(data.extract_by.serial);
      if (!Number.isInteger(n) || n < 1) {
        ctx.report(
          `extract_by.serial must be a whole number of at least 1 (1 is the first item), got "${data.extract_by.serial}"`,
        );
      }
    }
  },
  run: runListOperator,
});

function runListOperator(ctx: NodeRunContext<ListOperatorData>) {
  const data = ctx.data;
  const value = ctx.pool.get(data.variable);
  if (value === undefined) {
    throw new NodeExecutionError(
      `Variable ${selectorKey(data.variable)} not found: the list operator needs a list; check that the node producing it ran.`,
      { errorType: "VariableNotFoundError" },
    );
  }
  const list = value === null ? [] : value;
  if (!Array.isArray(list)) {
    throw new NodeExecutionError(
      `Variable ${selectorKey(data.variable)} is not a list (it is ${describe(list)}); the list operator works on arrays of strings, numbers, booleans, objects or files.`,
      { errorType: "InvalidVariableTypeError" },
    );
  }
  let items: unknown[] = list;
  if (items.length > 0) {
    if (data.filter_by.enabled) for (const c of data.filter_by.conditions) items = applyFilter(ctx, items, c);
    if (data.extract_by.enabled) items = extract(ctx, items);
    if (data.order_by.enabled) items = order(items, data.order_by.key, data.order_by.value);
    if (data.limit.enabled && data.limit.size >= 0) items = items.slice(0, data.limit.size);
  }
  return {
    inputs: { variable: list },
    processData: { variable: list },
    outputs: {
      result: items,
      first_record: items[0] ?? null,
      last_record: items.at(-1) ?? null,
    },
  };
}

function describe(v: unknown): string {
  if (typeof v === "string") return "a string";
  if (typeof v === "number") return "a number";
  if (typeof v === "boolean") return "a boolean";
  if (isFileValue(v)) return "a single file";
  return "an object";
}

/** The value a condition or sort key looks at: a file attribute, an object property (dotted path), or the item itself. */
function keyed(item: unknown, key: string, purpose: string): unknown {
  if (isFileValue(item)) {
    if (!key) {
      throw new NodeExecutionError(
        `${purpose} on a list of files needs a key: a file attribute such as name, extension, type, mime_type, size or transfer_method.`,
        { errorType: "InvalidKeyError" },
      );
    }
    return fileAttribute(item, key);
  }
  if (typeof item === "object" && item !== null && !Array.isArray(item)) {
    if (!key) {
      throw new NodeExecutionError(`${purpose} on a list of objects needs a key: the property to compare.`, {
        errorType: "InvalidKeyError",
      });
    }
    let v: unknown = item;
    for (const part of key.split(".")) {
      v = typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)[part] : undefined;
    }
    return v;
  }
  return item;
}

function renderValue(ctx: NodeRunContext<ListOperatorData>, v: unknown): unknown {
  if (typeof v === "string") return ctx.pool.renderText(v);
  if (Array.isArray(v)) return v.map((x) => (typeof x === "string" ? ctx.pool.renderText(x) : x));
  return v;
}

function applyFilter(ctx: NodeRunContext<ListOperatorData>, items: unknown[], c: FilterCondition): unknown[] {
  const expected = renderValue(ctx, c.value);
  if (NUMERIC_OPERATORS.has(c.comparison_operator)) {
    const n = typeof expected === "number" ? expected : typeof expected === "string" ? Number(expected.trim()) : Number.NaN;
    if (typeof expected === "boolean" || Number.isNaN(n) || (typeof expected === "string" && expected.trim() === "")) {
      throw new NodeExecutionError(
        `Invalid filter value ${pythonJsonDumps(expected ?? null)}: the "${c.comparison_operator}" condition compares numbers; enter a number.`,
        { errorType: "InvalidFilterValueError" },
      );
    }
  }
  return items.filter((item) => compare(c.comparison_operator, keyed(item, c.key, "Filtering"), expected));
}

function extract(ctx: NodeRunContext<ListOperatorData>, items: unknown[]): unknown[] {
  const raw = ctx.pool.renderText(ctx.data.extract_by.serial).trim();
  const serial = Number(raw);
  if (!Number.isInteger(serial) || serial < 1) {
    throw new NodeExecutionError(
      `Invalid serial index "${raw}": it must be a whole number of at least 1 (1 is the first item).`,
      {
        errorType: "InvalidKeyError",
      },
    );
  }
  if (serial > items.length) {
    throw new NodeExecutionError(
      `Invalid serial index ${serial}: the list has only ${items.length} item${items.length === 1 ? "" : "s"} (after filtering).`,
      { errorType: "InvalidKeyError" },
    );
  }
  return [items[serial - 1]];
}

const TYPE_RANK: Record<string, number> = { boolean: 0, number: 1, string: 2, object: 3 };

/** Python-like ordering: numbers numerically, strings by code point, false before true; missing keys last. */
function compareValues(a: unknown, b: unknown): number {
  const ta = typeof a;
  const tb = typeof b;
  if (ta !== tb) return (TYPE_RANK[ta] ?? 4) - (TYPE_RANK[tb] ?? 4);
  if (ta === "number" || ta === "boolean") return Number(a) - Number(b);
  if (ta === "string") return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
  const ja = pythonJsonDumps(a);
  const jb = pythonJsonDumps(b);
  return ja < jb ? -1 : ja > jb ? 1 : 0;
}

function order(items: unknown[], key: string, direction: "asc" | "desc"): unknown[] {
  const keyedItems = items.map((item) => ({ item, k: keyed(item, key, "Sorting") }));
  const sign = direction === "desc" ? -1 : 1;
  keyedItems.sort((x, y) => {
    const xm = x.k === undefined || x.k === null;
    const ym = y.k === undefined || y.k === null;
    if (xm || ym) return xm === ym ? 0 : xm ? 1 : -1;
    return sign * compareValues(x.k, y.k);
  });
  return keyedItems.map((x) => x.item);
}
