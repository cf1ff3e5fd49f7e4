/**
 * Dify's variable assigner (`type: assigner`) writes conversation variables
 * (`["conversation", name]`) and loop variables (`[loop_id, name]`).
 *
 * - Version 2 (`version: "2"`, `items`): a list of operations — over-write, clear, set,
 *   append, extend, remove-first, remove-last, +=, -=, *=, /= — with a constant or a variable
 *   as input. Items apply in order and see each other's results; the pool is only updated
 *   once every item succeeded, so a failing node changes nothing.
 * - Version 1 (`assigned_variable_selector`, `write_mode`, `input_variable_selector`):
 *   over-write, append or clear from a variable.
 *
 * Writes go through `pool.assign`, which updates the pool that owns the variable: a loop
 * variable keeps its value into the next round, a conversation variable is visible to every
 * later node. The node has no outputs (Dify's neither); process_data lists what changed.
 *
 * Dify types its variables when they are declared; the pool holds plain values, so types are
 * taken from the current value (for a list, from its items). An empty list accepts any items.
 */
import { z } from "zod";
import { NodeExecutionError } from "../errors.js";
import { isFileValue } from "../variables/file-value.js";
import {
  CONVERSATION_NODE_ID,
  ENVIRONMENT_NODE_ID,
  SYSTEM_NODE_ID,
  selectorKey,
  type VariableSelector,
} from "../variables/selector.js";
import { pythonJsonDumps } from "../variables/text.js";
import type { VariablePool } from "../variables/variable-pool.js";
import { defineNode, type NodeRunContext } from "./node-definition.js";

export const ASSIGNER_OPERATIONS = [
  "over-write",
  "clear",
  "append",
  "extend",
  "set",
  "+=",
  "-=",
  "*=",
  "/=",
  "remove-first",
  "remove-last",
] as const;
export type AssignerOperation = (typeof ASSIGNER_OPERATIONS)[number];

const NO_INPUT: ReadonlySet<AssignerOperation> = new Set(["clear", "remove-first", "remove-last"]);

const itemSchema = z.looseObject({
  variable_selector: z.array(z.string()),
  input_type: z.enum(["variable", "constant"]).default("constant"),
  operation: z.enum(ASSIGNER_OPERATIONS),
  value: z.unknown().optional(),
});

/** One operation, whatever the version it came from. */
export interface AssignItem {
  variable_selector: string[];
  input_type: "variable" | "constant";
  operation: AssignerOperation;
  value?: unknown;
  /** Version 1 semantics: no type checks, a null input is written rather than skipped. */
  legacy: boolean;
}

const assignerDataSchema = z
  .looseObject({
    type: z.literal("assigner"),
    version: z.union([z.string(), z.number()]).nullish(),
    items: z.array(itemSchema).nullish(),
    assigned_variable_selector: z.array(z.string()).nullish(),
    write_mode: z.enum(["over-write", "append", "clear"]).nullish(),
    input_variable_selector: z.array(z.string()).nullish(),
  })
  .transform((d) => {
    const legacy = !d.items && !!d.assigned_variable_selector;
    const items: AssignItem[] = legacy
      ? [
          {
            variable_selector: d.assigned_variable_selector ?? [],
            input_type: "variable",
            operation: d.write_mode ?? "over-write",
            value: d.input_variable_selector ?? [],
            legacy: true,
          },
        ]
      : (d.items ?? []).map((i) => ({ ...i, legacy: false }));
    return { ...d, assignerVersion: legacy ? ("1" as const) : ("2" as const), assignItems: items };
  });
export type AssignerData = z.infer<typeof assignerDataSchema>;

const isSelector = (v: unknown): v is string[] => Array.isArray(v) && v.length >= 2 && v.every((s) => typeof s === "string");

export const assignerNode = defineNode({
  type: "assigner",
  schema: assignerDataSchema,
  references(data): VariableSelector[] {
    const out: VariableSelector[] = [];
    for (const item of data.assignItems) {
      if (item.variable_selector.length >= 2) out.push(item.variable_selector);
      if (item.input_type === "variable" && !NO_INPUT.has(item.operation) && isSelector(item.value)) out.push(item.value);
    }
    return out;
  },
  validate(data, ctx) {
    if (data.assignerVersion === "2" && !data.items) {
      ctx.report("it has neither items (version 2) nor assigned_variable_selector (version 1); add the variables to assign");
    }
    for (const [i, item] of data.assignItems.entries()) {
      const where = data.assignerVersion === "1" ? "" : `item ${i + 1}: `;
      const [owner] = item.variable_selector;
      if (item.variable_selector.length < 2) {
        ctx.report(`${where}no variable to assign is selected`);
      } else if (owner === SYSTEM_NODE_ID || owner === ENVIRONMENT_NODE_ID) {
        ctx.report(
          `${where}${selectorKey(item.variable_selector)} is read-only; the assigner writes conversation variables and loop variables`,
        );
      }
      if (item.input_type === "variable" && !NO_INPUT.has(item.operation) && !isSelector(item.value)) {
        ctx.report(`${where}the "${item.operation}" operation takes its value from a variable, but none is selected`);
      }
    }
  },
  run: runAssigner,
});

type Kind = "string" | "number" | "boolean" | "object" | "file" | "array" | "null";

function kindOf(v: unknown): Kind {
  if (v === null || v === undefined) return "null";
  if (Array.isArray(v)) return "array";
  if (isFileValue(v)) return "file";
  switch (typeof v) {
    case "string":
      return "string";
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    default:
      return "object";
  }
}

/** The kind all items of a list share, or null when it is empty or mixed. */
function elementKind(list: readonly unknown[]): Kind | null {
  const first = list[0];
  if (first === undefined) return null;
  const k = kindOf(first);
  return list.every((x) => kindOf(x) === k) ? k : null;
}

/** Dify's name of a value's type, for process_data. */
function valueType(v: unknown): string {
  const k = kindOf(v);
  if (k === "array") return `array[${elementKind(v as unknown[]) ?? "any"}]`;
  return k === "null" ? "none" : k;
}

const typeLabel = (v: unknown) => (kindOf(v) === "array" ? valueType(v) : kindOf(v));

function fail(message: string, errorType: string): never {
  throw new NodeExecutionError(message, { errorType });
}

interface Updated {
  owner: string;
  name: string;
  value: unknown;
}

function runAssigner(ctx: NodeRunContext<AssignerData>) {
  const working = new Map<string, Updated>();
  for (const [i, item] of ctx.data.assignItems.entries()) {
    const label =
      ctx.data.assignItems.length > 1
        ? `Item ${i + 1} (${selectorKey(item.variable_selector)})`
        : selectorKey(item.variable_selector);
    const [owner, name] = item.variable_selector;
    if (owner === undefined || name === undefined) fail(`${label}: no variable to assign is selected.`, "VariableNotFoundError");
    const key = `${owner}.${name}`;
    const current = working.has(key) ? working.get(key)?.value : ctx.pool.get([owner, name]);
    if (current === undefined) {
      const hint =
        owner === CONVERSATION_NODE_ID
          ? `declare "${name}" under the workflow's conversation variables`
          : `assign only variables of an enclosing loop ("${owner}" has no loop variable "${name}") or conversation variables`;
      fail(`Variable ${key} not found: ${hint}.`, "VariableNotFoundError");
    }

    let input: unknown;
    if (!NO_INPUT.has(item.operation)) {
      if (item.input_type === "variable") {
        if (!isSelector(item.value)) fail(`${label}: no input variable is selected for "${item.operation}".`, "InvalidDataError");
        input = ctx.pool.get(item.value);
        if (input === undefined) {
          fail(
            `${label}: input variable ${selectorKey(item.value)} not found; check that the node providing it ran.`,
            "VariableNotFoundError",
          );
        }
        // Dify skips an item whose input variable holds nothing (v2) rather than writing null.
        if (input === null && !item.legacy) continue;
      } else {
        input = item.value;
      }
    }
    const value = apply(item, current, input, label);
    working.set(key, { owner, name, value });
  }

  const processData: Record<string, unknown> = {};
  const updated: Array<Record<string, unknown>> = [];
  for (const u of working.values()) {
    ctx.pool.assign(u.owner, u.name, u.value);
    processData[u.name] = u.value;
    updated.push({ name: u.name, selector: [u.owner, u.name], value_type: valueType(u.value), new_value: u.value });
  }
  processData.__updated_variables = updated;
  return {
    inputs: { version: ctx.data.assignerVersion, items: ctx.data.assignItems.map(({ legacy: _legacy, ...rest }) => rest) },
    processData,
    outputs: {},
  };
}

function zeroOf(current: unknown): unknown {
  switch (kindOf(current)) {
    case "string":
      return "";
    case "number":
      return 0;
    case "boolean":
      return false;
    case "object":
      return {};
    case "array":
      return [];
    default:
      return null;
  }
}

/** Numbers typed into constants may arrive as text from hand-written DSL files. */
function asNumber(v: unknown): number | null {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return null;
}

/** Checks that `value` may replace a variable holding `current`; returns it (JSON text parsed for objects). */
function replacement(current: unknown, value: unknown, label: string, op: AssignerOperation): unknown {
  const target = kindOf(current);
  if (target === "null") return value;
  if (target === "number") {
    const n = asNumber(value);
    if (n === null) invalidInput(label, op, current, value);
    return n;
  }
  if (target === "object" && typeof value === "string") {
    try {
      const parsed: unknown = JSON.parse(value);
      if (kindOf(parsed) === "object") return parsed;
    } catch {
      // Not JSON: reported below as a type mismatch.
    }
    invalidInput(label, op, current, value);
  }
  if (kindOf(value) !== target) invalidInput(label, op, current, value);
  if (target === "array") checkItems(current as unknown[], value as unknown[], label, op);
  return value;
}

function checkItems(current: readonly unknown[], items: readonly unknown[], label: string, op: AssignerOperation): void {
  const k = elementKind(current);
  if (k === null) return;
  const bad = items.find((x) => kindOf(x) !== k);
  if (bad !== undefined) {
    fail(
      `${label}: cannot ${op} ${pythonJsonDumps(bad)} (${typeLabel(bad)}) into a list of ${k} values; give a ${k} value.`,
      "InvalidInputValueError",
    );
  }
}

function invalidInput(label: string, op: AssignerOperation, current: unknown, value: unknown): never {
  fail(
    `${label}: invalid input value ${pythonJsonDumps(value ?? null)} (${typeLabel(value)}) for "${op}" on a ${typeLabel(current)} variable; give a ${typeLabel(current)} value.`,
    "InvalidInputValueError",
  );
}

function unsupported(label: string, op: AssignerOperation, current: unknown, needs: string): never {
  fail(
    `${label}: operation "${op}" is not supported for a ${typeLabel(current)} variable; it needs ${needs}.`,
    "OperationNotSupportedError",
  );
}

function apply(item: AssignItem, current: unknown, input: unknown, label: string): unknown {
  const op = item.operation;
  const kind = kindOf(current);
  switch (op) {
    case "over-write":
      return item.legacy ? input : replacement(current, input, label, op);
    case "set":
      if (kind === "array")
        unsupported(label, op, current, "a string, number, boolean or object variable (use over-write for lists)");
      return replacement(current, input, label, op);
    case "clear":
      return zeroOf(current);
    case "append":
      if (kind !== "array") unsupported(label, op, current, "a list variable");
      if (!item.legacy) checkItems(current as unknown[], [input], label, op);
      return [...(current as unknown[]), input];
    case "extend": {
      if (kind !== "array") unsupported(label, op, current, "a list variable");
      if (!Array.isArray(input)) {
        fail(
          `${label}: "extend" needs a list of items to add, got ${typeLabel(input)} ${pythonJsonDumps(input ?? null)}.`,
          "InvalidInputValueError",
        );
      }
      checkItems(current as unknown[], input, label, op);
      return [...(current as unknown[]), ...input];
    }
    case "remove-first":
    case "remove-last": {
      if (kind !== "array") unsupported(label, op, current, "a list variable");
      const list = current as unknown[];
      return op === "remove-first" ? list.slice(1) : list.slice(0, -1);
    }
    case "+=":
    case "-=":
    case "*=":
    case "/=": {
      if (kind !== "number") unsupported(label, op, current, "a number variable");
      const n = asNumber(input);
      if (n === null) invalidInput(label, op, current, input);
      const a = current as number;
      if (op === "/=" && n === 0) fail(`${label}: cannot divide by zero.`, "InvalidInputValueError");
      return op === "+=" ? a + n : op === "-=" ? a - n : op === "*=" ? a * n : a / n;
    }
  }
}

// ---- conversation variables ------------------------------------------------------------------

/** A conversation variable as DSL files declare it (`workflow.conversation_variables`). */
export interface ConversationVariableDeclaration {
  name: string;
  [field: string]: unknown;
}

/** The declared default, coerced to the declared `value_type` (hand-written files put numbers and JSON in strings). */
export function conversationVariableDefault(decl: ConversationVariableDeclaration): unknown {
  const type = typeof decl.value_type === "string" ? decl.value_type : "string";
  const raw = decl.value;
  const parsed = (fallback: unknown): unknown => {
    if (typeof raw !== "string") return raw ?? fallback;
    if (!raw.trim()) return fallback;
    try {
      return JSON.parse(raw);
    } catch {
      return fallback;
    }
  };
  switch (type) {
    case "number":
      return asNumber(raw) ?? 0;
    case "boolean":
      return raw === true || raw === "true" || raw === 1;
    case "object": {
      const v = parsed({});
      return kindOf(v) === "object" ? v : {};
    }
    default:
      if (type.startsWith("array")) {
        const v = parsed([]);
        return Array.isArray(v) ? v : [];
      }
      return raw === undefined || raw === null ? "" : typeof raw === "string" ? raw : pythonJsonDumps(raw);
  }
}

/**
 * Seeds `conversation.*` with the declared defaults. Workflow apps have no conversation, but
 * their DSL files declare conversation variables and assigners write them; each run starts
 * from the defaults, as a new conversation would.
 */
export function seedConversationVariables(pool: VariablePool, declarations: readonly ConversationVariableDeclaration[]): void {
  for (const decl of declarations) {
    if (decl.name) pool.set(CONVERSATION_NODE_ID, decl.name, conversationVariableDefault(decl));
  }
}
