/**
 * One mapping per VectorVein node type, each following the Python task VectorVein runs for
 * it (AndersonBY/vector-vein `backend/worker/tasks/`). A mapping reads the node's ports
 * through its context — `input` for values that may come from an edge or a run input,
 * `fixed` for settings the native node needs at import time — adds native nodes, and says
 * where each VectorVein output port can be read.
 */
import { normalizeProviderName } from "../../llm/providers.js";
import type { VariableSelector } from "../../variables/selector.js";
import {
  bindPorts,
  decodeEscapes,
  type GraphBuilder,
  isTextReferable,
  kindOf,
  type NativeNodeOptions,
  type PortValue,
  type ProblemSink,
  pyStr,
  type TemplatePart,
  type ValueKind,
} from "./builder.js";
import { BODIES, HELPERS, type HelperName } from "./js-snippets.js";
import type { VectorVeinNode } from "./schema.js";

export interface PortOutput {
  selector: VariableSelector;
  kind: ValueKind;
  /** The native node that produces it; edges leaving from this port start there. */
  from: string;
}

export interface MappedNode {
  /** The native node VectorVein edges into this node lead to. */
  entry: string;
  /** Where edges leave from when no output port says otherwise. */
  exit: string;
  output(port: string): PortOutput | null;
  /** False for Empty and triggers: VectorVein passes no values along their edges, only order. */
  carriesData: boolean;
  /** Conditional: the output ports whose downstream is skipped when another branch is taken. */
  branchHandles?: string[];
  /** Set for output nodes: what the run returns for it. */
  result?: { type: string; title: string; selector: VariableSelector };
}

export interface NodeContext {
  node: VectorVeinNode;
  /** The id of the node's main native node (already reserved). */
  id: string;
  /** Title of the native nodes: the node's description, else its type. */
  title: string;
  /** How messages name the node: type, id and description. */
  label: string;
  b: GraphBuilder;
  sink: ProblemSink;
  /** Options for native nodes of this VectorVein node (position, origin). */
  at(dx?: number, dy?: number): NativeNodeOptions;
  has(port: string): boolean;
  /** The port's value: an upstream output, a run input (shown ports) or its stored value. */
  input(port: string): PortValue;
  /** A setting the native node needs at import time; a connected or shown port is read at its stored value, with a note. */
  fixed(port: string, fallback?: unknown): unknown;
  /** Names of the node's input (non-output) ports. */
  inputPorts(): string[];
}

export type Mapper = (ctx: NodeContext) => MappedNode | null;

function single(
  id: string,
  outputs: Record<string, { path: string[]; kind: ValueKind }>,
  extra: Partial<MappedNode> = {},
): MappedNode {
  return {
    entry: id,
    exit: id,
    carriesData: true,
    output: (port) => {
      const o = outputs[port];
      return o ? { selector: [id, ...o.path], kind: o.kind, from: id } : null;
    },
    ...extra,
  };
}

/** A code node mapping: every port goes into the program, fixed or bound to a variable. */
function codeMapping(
  ctx: NodeContext,
  ports: readonly string[],
  helpers: readonly HelperName[],
  body: string,
  outputs: Record<string, ValueKind>,
  prelude = "",
): MappedNode {
  const values: Record<string, PortValue> = {};
  for (const p of ports) if (ctx.has(p)) values[p] = ctx.input(p);
  const { ports: fixed, bound, inputs } = bindPorts(values);
  ctx.b.addCode(ctx.id, ctx.title, {
    header: `VectorVein ${ctx.node.type} (${ctx.node.data.task_name ?? ctx.node.type})`,
    ports: fixed,
    bound,
    helpers,
    body: prelude + body,
    inputs,
    options: ctx.at(),
  });
  return single(
    ctx.id,
    Object.fromEntries(Object.entries(outputs).map(([port, kind]) => [port, { path: ["outputs", port], kind }])),
  );
}

const listOr = (kind: ValueKind, scalar: ValueKind): ValueKind => (kind === "list" ? "list" : kind === "any" ? "any" : scalar);

// ---- text processing ------------------------------------------------------------------

/** text_in_out: outputs its text unchanged. */
const textInOut: Mapper = (ctx) => {
  const value = ctx.input("text");
  ctx.fixed("input_type", "text");
  const out = ctx.b.addPassThrough(ctx.id, ctx.title, value, ctx.at());
  return single(ctx.id, { output: { path: ["output"], kind: out.kind } });
};

/**
 * template_compose: replaces `{{port}}` with each port's str(). Scalars become a Jinja2
 * template (no sandbox needed); when a port may hold a list — VectorVein then composes
 * once per item and outputs a list — or the template itself arrives at run time, a code node.
 */
const templateCompose: Mapper = (ctx) => {
  const fields = ctx.inputPorts();
  const values = Object.fromEntries(fields.map((f) => [f, ctx.input(f)])) as Record<string, PortValue>;
  const template = values.template ?? { kind: "const", value: "" };
  const listy = Object.values(values).some((v) => kindOf(v) === "list" || kindOf(v) === "any");
  if (template.kind === "const" && typeof template.value === "string" && !listy) {
    const parts: TemplatePart[] = [];
    const pattern = new RegExp(`\\{\\{(${fields.map(escapeRegExp).join("|")})\\}\\}`, "g");
    let last = 0;
    for (const m of fields.length > 0 ? template.value.matchAll(pattern) : []) {
      const at = m.index ?? 0;
      parts.push(template.value.slice(last, at));
      const field = m[1] as string;
      parts.push(field === "template" ? template.value : (values[field] as PortValue));
      last = at + m[0].length;
    }
    parts.push(template.value.slice(last));
    ctx.b.addTemplate(ctx.id, ctx.title, parts, ctx.at());
    return single(ctx.id, { output: { path: ["output"], kind: "text" } });
  }
  const mapped = codeMapping(
    ctx,
    fields,
    ["pyStr"],
    BODIES.templateCompose,
    { output: "any" },
    `var FIELDS = ${JSON.stringify(fields)};\n`,
  );
  return mapped;
};

const textReplace: Mapper = (ctx) =>
  codeMapping(ctx, ["text", "replace_items"], ["decodeEscapes"], BODIES.textReplace, {
    output: listOr(kindOf(ctx.input("text")), "text"),
  });

const textTruncation: Mapper = (ctx) => {
  ctx.fixed("truncate_method", "general"); // VectorVein always truncates at Markdown separators.
  return codeMapping(ctx, ["text", "truncate_length", "floating_range"], ["pySlice"], BODIES.textTruncation, {
    output: listOr(kindOf(ctx.input("text")), "text"),
  });
};

const regexExtract: Mapper = (ctx) => {
  const text = kindOf(ctx.input("text"));
  const first = ctx.input("first_match");
  const scalar = first.kind === "const" && first.value !== false ? "text" : "list";
  return codeMapping(ctx, ["text", "pattern", "first_match", "output_original_on_no_match"], ["pyRegex"], BODIES.regexExtract, {
    output: text === "list" ? "list" : scalar,
  });
};

const textSplitters: Mapper = (ctx) => {
  const method = ctx.input("split_method");
  if (method.kind === "const" && (method.value === "general" || method.value === undefined || method.value === null)) {
    ctx.sink.note(
      ctx.node.id,
      `${ctx.label} splits by tokens in VectorVein (tiktoken); Tributary counts 4 characters per token, so chunk boundaries can differ`,
    );
  } else if (method.kind === "const" && method.value === "markdown") {
    ctx.sink.note(
      ctx.node.id,
      `${ctx.label} splits Markdown with LangChain in VectorVein; Tributary splits at headings and paragraphs with the same size limit, so chunk boundaries can differ`,
    );
  }
  return codeMapping(
    ctx,
    ["text", "split_method", "chunk_length", "chunk_overlap", "delimiter"],
    ["decodeEscapes", "pyRegex"],
    BODIES.textSplitters,
    { output: "list" },
  );
};

/** list_render: joins the list with the (escape-decoded) separator, or passes the list on. */
const listRender: Mapper = (ctx) => {
  const list = ctx.input("list");
  const type = ctx.input("output_type");
  const separator = ctx.has("separator") ? ctx.input("separator") : ({ kind: "const", value: "\\n" } as PortValue);
  if (type.kind === "const" && type.value === "list") {
    const out = ctx.b.addPassThrough(ctx.id, ctx.title, list, ctx.at());
    return single(ctx.id, { output: { path: ["output"], kind: out.kind } });
  }
  if (type.kind === "const" && separator.kind === "const" && list.kind === "ref") {
    const sep = decodeEscapes(typeof separator.value === "string" ? separator.value : "\\n");
    ctx.b.addNode(
      ctx.id,
      {
        type: "template-transform",
        title: ctx.title,
        template: `{% for item in items %}{{ item }}{% if not loop.last %}${sep.replaceAll("{", "{{ '{' }}")}{% endif %}{% endfor %}`,
        variables: [{ variable: "items", value_selector: [...list.selector] }],
      },
      ctx.at(),
    );
    return single(ctx.id, { output: { path: ["output"], kind: "text" } });
  }
  return codeMapping(ctx, ["list", "separator", "output_type"], ["pyStr", "decodeEscapes"], BODIES.listRender, { output: "any" });
};

const markdownToHtml: Mapper = (ctx) =>
  codeMapping(ctx, ["markdown"], [], BODIES.markdownToHtml, { html: listOr(kindOf(ctx.input("markdown")), "text") });

// ---- control flows --------------------------------------------------------------------

const jsonProcess: Mapper = (ctx) => {
  const keys = ctx.has("keys") ? ctx.fixed("keys", []) : [];
  const outputs: Record<string, ValueKind> = { output: "any" };
  if (Array.isArray(keys)) for (const k of keys) outputs[`output-${String(k)}`] = "any";
  return codeMapping(ctx, ["input", "process_mode", "key", "keys", "default_value"], [], BODIES.jsonProcess, outputs);
};

const randomChoice: Mapper = (ctx) => codeMapping(ctx, ["input"], [], BODIES.randomChoice, { output: "any" });

/** empty: does nothing; its edges only order the nodes after it. */
const empty: Mapper = (ctx) => {
  if (ctx.has("input")) ctx.input("input"); // Read and dropped, as VectorVein does: only the order counts.
  ctx.b.addTemplate(ctx.id, ctx.title, [], ctx.at());
  return { ...single(ctx.id, { output: { path: ["output"], kind: "none" } }), carriesData: false };
};

const OPERATORS: Record<string, { string: string; number: string }> = {
  equal: { string: "is", number: "=" },
  not_equal: { string: "is not", number: "≠" },
  greater_than: { string: ">", number: ">" },
  less_than: { string: "<", number: "<" },
  greater_than_or_equal: { string: "≥", number: "≥" },
  less_than_or_equal: { string: "≤", number: "≤" },
  include: { string: "contains", number: "contains" },
  not_include: { string: "not contains", number: "not contains" },
  is_empty: { string: "empty", number: "empty" },
  is_not_empty: { string: "not empty", number: "not empty" },
  starts_with: { string: "start with", number: "start with" },
  ends_with: { string: "end with", number: "end with" },
};

interface Branch {
  operator: string;
  rightPort: string;
  valuePort: string;
  handle: string;
}

/**
 * conditional: compares str(left) with each branch's right value (as numbers when
 * field_type is number); the first branch that holds outputs its value on its handle, else
 * the default value goes out on the default handle. The other handles' downstream is
 * skipped, and `output` carries the chosen value. Native: templates for the compared
 * texts, an if-else with one case per branch, a value node per handle, an aggregator.
 */
const conditional: Mapper = (ctx) => {
  const fieldType = ctx.fixed("field_type", "string") === "number" ? "number" : "string";
  const outputs = new Set(
    Object.entries(ctx.node.data.template)
      .filter(([, p]) => p.is_output)
      .map(([n]) => n),
  );
  let branches: Branch[];
  let defaultValuePort: string;
  let defaultHandle: string;
  const raw = ctx.has("branches") ? ctx.fixed("branches", []) : [];
  if (Array.isArray(raw) && raw.length > 0) {
    branches = raw.map((b, i) => {
      const o = (b ?? {}) as Record<string, unknown>;
      return {
        operator: String(o.operator ?? "equal"),
        rightPort: String(o.right_field_key ?? "right_field"),
        valuePort: String(o.output_value_key ?? "true_value"),
        handle: String(o.output_handle ?? `branch_${i + 1}`),
      };
    });
    defaultValuePort = String(ctx.fixed("default_value_key", "default_value") ?? "default_value");
    defaultHandle = String(ctx.fixed("default_output_handle", "default_output") ?? "default_output");
  } else {
    const legacy = !outputs.has("true_output") && !outputs.has("false_output");
    branches = [
      {
        operator: String(ctx.fixed("operator", "equal")),
        rightPort: "right_field",
        valuePort: legacy ? "true_output" : "true_value",
        handle: "true_output",
      },
    ];
    defaultValuePort = legacy ? "false_output" : "false_value";
    defaultHandle = "false_output";
  }
  for (const br of branches) {
    if (!OPERATORS[br.operator]) {
      ctx.sink.problem(
        ctx.node.id,
        `${ctx.label} uses the operator "${br.operator}", which Tributary does not know; use one of ${Object.keys(OPERATORS).join(", ")}`,
      );
      return null;
    }
  }

  const b = ctx.b;
  const left = b.uniqueId(`${ctx.id}_left`);
  b.addTemplate(left, `${ctx.title}: compared value`, [ctx.input("left_field")], ctx.at(-40, 0));
  let previous = left;
  const cases = branches.map((br, i) => {
    const right = ctx.input(br.rightPort);
    let value: string;
    if (right.kind === "const") value = pyStr(right.value ?? "");
    else if (isTextReferable(right.selector)) value = `{{#${right.selector.join(".")}#}}`;
    else {
      const helper = b.uniqueId(`${ctx.id}_right${i + 1}`);
      b.addTemplate(helper, `${ctx.title}: value ${i + 1}`, [right], ctx.at(-20, 40 * (i + 1)));
      b.addEdge(previous, helper);
      previous = helper;
      value = `{{#${helper}.output#}}`;
    }
    const op = OPERATORS[br.operator] as { string: string; number: string };
    return {
      case_id: br.handle,
      id: br.handle,
      logical_operator: "and",
      conditions: [
        {
          id: `${br.handle}_condition`,
          varType: fieldType,
          variable_selector: [left, "output"],
          comparison_operator: op[fieldType],
          value,
        },
      ],
    };
  });
  b.addNode(ctx.id, { type: "if-else", title: ctx.title, cases }, ctx.at());
  b.addEdge(previous, ctx.id);

  const join = b.uniqueId(`${ctx.id}_output`);
  const handleNodes = new Map<string, { id: string; kind: ValueKind }>();
  const valueNode = (handle: string, port: string, ifElseHandle: string, dy: number) => {
    const id = b.uniqueId(`${ctx.id}_${handle}`);
    const out = b.addPassThrough(id, `${ctx.title}: ${handle}`, ctx.input(port), ctx.at(240, dy));
    b.addEdge(ctx.id, id, ifElseHandle);
    b.addEdge(id, join);
    handleNodes.set(handle, out);
  };
  for (const [i, br] of branches.entries()) valueNode(br.handle, br.valuePort, br.handle, 80 * i);
  valueNode(defaultHandle, defaultValuePort, "false", 80 * branches.length);
  b.addNode(
    join,
    {
      type: "variable-aggregator",
      title: `${ctx.title}: output`,
      output_type: "any",
      variables: [...handleNodes.values()].map((h) => [h.id, "output"]),
    },
    ctx.at(480, 0),
  );
  const kinds = new Set([...handleNodes.values()].map((h) => h.kind));
  return {
    entry: left,
    exit: join,
    carriesData: true,
    branchHandles: [...handleNodes.keys()],
    output: (port) => {
      const h = handleNodes.get(port);
      if (h) return { selector: [h.id, "output"], kind: h.kind, from: h.id };
      if (port === "output")
        return { selector: [join, "output"], kind: kinds.size === 1 ? ([...kinds][0] as ValueKind) : "any", from: join };
      return null;
    },
  };
};

// ---- tools ------------------------------------------------------------------------------

const PROGRAMMING_SKIPPED = new Set([
  "language",
  "code",
  "output",
  "use_oversea_node",
  "list_input",
  "error_msg",
  "console_msg",
  "files",
  "instance_type",
]);

/**
 * programming_function: runs `main(**params)` with every added port as a parameter
 * (converted by the port's type), captures printed output, and — as in VectorVein — turns
 * an exception into `error_msg` instead of failing the workflow. JavaScript code gets the
 * parameters as one object, the way Dify's and Tributary's JavaScript code nodes do.
 */
const programmingFunction: Mapper = (ctx) => {
  const language = String(ctx.fixed("language", "python") ?? "python").toLowerCase();
  const codePort = ctx.input("code");
  if (codePort.kind !== "const" || typeof codePort.value !== "string") {
    ctx.sink.problem(
      ctx.node.id,
      `${ctx.label} receives its code from another node; Tributary needs the code in the node itself`,
    );
    return null;
  }
  const fenced = /```.*?\n([\s\S]*?)\n```/.exec(codePort.value);
  const code = fenced ? (fenced[1] as string) : codePort.value;
  const listInput = ["true", true].includes(ctx.fixed("list_input", false) as string | boolean);
  const params = ctx.inputPorts().filter((p) => !PROGRAMMING_SKIPPED.has(p));
  const types = Object.fromEntries(params.map((p) => [p, ctx.node.data.template[p]?.type ?? "str"]));
  const values: Record<string, PortValue> = {};
  for (const p of params) values[p] = ctx.input(p);
  const { ports, bound, inputs } = bindPorts(values);
  const outputs = { output: { path: ["outputs", "output"], kind: "any" as ValueKind } };
  const result = single(ctx.id, {
    ...outputs,
    console_msg: { path: ["outputs", "console_msg"], kind: listInput ? "list" : "text" },
    error_msg: { path: ["outputs", "error_msg"], kind: listInput ? "list" : "text" },
    files: { path: ["outputs", "files"], kind: "list" },
  });
  if (language === "javascript" || language === "js") {
    ctx.b.addNode(
      ctx.id,
      {
        type: "code",
        title: ctx.title,
        code_language: "javascript",
        code: javascriptFunction(code, { ports, bound, params, types, listInput }),
        variables: inputs.map((i) => ({ variable: i.variable, value_selector: [...i.selector] })),
        outputs: { outputs: { type: "object", children: null } },
      },
      ctx.at(),
    );
    return result;
  }
  if (language === "python" || language === "python3") {
    ctx.sink.note(
      ctx.node.id,
      `${ctx.label} runs its Python in Tributary's Pyodide sandbox: the standard library is there, packages VectorVein's runners install are not, and files it writes are not collected`,
    );
    ctx.b.addNode(
      ctx.id,
      {
        type: "code",
        title: ctx.title,
        code_language: "python3",
        code: pythonFunction(code, { ports, bound, params, types, listInput }),
        variables: inputs.map((i) => ({ variable: i.variable, value_selector: [...i.selector] })),
        outputs: { outputs: { type: "object", children: null } },
      },
      ctx.at(),
    );
    return result;
  }
  ctx.sink.problem(ctx.node.id, `${ctx.label} is written in ${language}; Tributary runs JavaScript and Python`);
  return null;
};

interface FunctionSpec {
  ports: Record<string, unknown>;
  bound: Record<string, string>;
  params: string[];
  types: Record<string, string>;
  listInput: boolean;
}

function javascriptFunction(code: string, s: FunctionSpec): string {
  return `// VectorVein ProgrammingFunction (JavaScript), imported by Tributary.
// The function's code runs unchanged inside the closure below; main(params) gets the node's
// parameters as one object. console output becomes console_msg; an exception becomes
// error_msg (the workflow goes on, as in VectorVein).
var PORTS = ${JSON.stringify(s.ports)};
var BOUND = ${JSON.stringify(s.bound)};
var PARAMS = ${JSON.stringify(s.params)};
var TYPES = ${JSON.stringify(s.types)};
var LIST_INPUT = ${s.listInput};
${HELPERS.pyStr}
var LOGS = [];
var LOAD_ERROR = "";
function describe(e) {
  return String(e) + (e && e.stack ? "\\n" + e.stack : "");
}
var USER_MAIN = null;
try {
  USER_MAIN = (function () {
    var console = {
      log: function () { LOGS.push(Array.prototype.map.call(arguments, String).join(" ")); },
    };
    console.info = console.log;
    console.warn = console.log;
    console.error = console.log;
    console.debug = console.log;
    // ---- the function's code ----
${code}
    // ---- end of the function's code ----
    return typeof main === "function" && main !== globalThis.main ? main : null;
  })();
} catch (e) {
  LOAD_ERROR = describe(e);
}
// Python's str() / int() / float() / bool() of the value, as convert_parameter_value does.
function convert(value, type) {
  if (type === "str") return pyStr(value);
  if (type === "int") {
    if (typeof value === "boolean") return value ? 1 : 0;
    if (typeof value === "number" && isFinite(value)) return Math.trunc(value);
    if (typeof value === "string" && /^s*[-+]?d+s*$/.test(value)) return parseInt(value, 10);
    throw new Error("ValueError: invalid literal for int() with base 10: " + pyRepr(value));
  }
  if (type === "float") {
    var f = typeof value === "string" && value.trim() === "" ? NaN : Number(value);
    if (f !== f && !/^s*[-+]?nans*$/i.test(String(value))) throw new Error("ValueError: could not convert string to float: " + pyRepr(value));
    return f;
  }
  if (type === "bool") {
    if (Array.isArray(value)) return value.length > 0;
    if (value && typeof value === "object") return Object.keys(value).length > 0;
    return !!value;
  }
  return value;
}
function main(inputs) {
  function port(name) {
    return Object.prototype.hasOwnProperty.call(BOUND, name) ? inputs[BOUND[name]] : PORTS[name];
  }
  var batches = [];
  PARAMS.forEach(function (name) {
    var value = port(name);
    if (LIST_INPUT) {
      if (batches.length === 0) for (var i = 0; i < value.length; i++) batches.push({});
      batches.forEach(function (b, i) { b[name] = convert(value[i], TYPES[name]); });
    } else {
      if (batches.length === 0) batches.push({});
      batches[0][name] = convert(value, TYPES[name]);
    }
  });
  if (batches.length === 0) batches.push({});
  var outputs = [];
  var errors = [];
  var consoles = [];
  batches.forEach(function (params) {
    LOGS.length = 0;
    if (LOAD_ERROR) {
      outputs.push(null);
      errors.push(LOAD_ERROR);
    } else {
      try {
        var r = USER_MAIN ? USER_MAIN(params) : null;
        outputs.push(r === undefined ? null : r);
        errors.push("");
      } catch (e) {
        outputs.push(null);
        errors.push(describe(e));
      }
    }
    consoles.push(LOGS.join("\\n"));
  });
  var one = function (list) { return LIST_INPUT ? list : list[0]; };
  return { outputs: { output: one(outputs), console_msg: one(consoles), error_msg: one(errors), files: LIST_INPUT ? batches.map(function () { return []; }) : [] } };
}
`;
}

function pythonFunction(code: string, s: FunctionSpec): string {
  const json = (v: unknown) => JSON.stringify(JSON.stringify(v));
  return `# VectorVein ProgrammingFunction (Python), imported by Tributary.
# The function's code runs unchanged with exec(); main(**params) gets the node's parameters.
# Printed output becomes console_msg; an exception becomes error_msg (the workflow goes on,
# as in VectorVein).
import contextlib
import io
import json
import traceback

CODE = ${JSON.stringify(code)}
PORTS = json.loads(${json(s.ports)})
BOUND = json.loads(${json(s.bound)})
PARAMS = json.loads(${json(s.params)})
TYPES = json.loads(${json(s.types)})
LIST_INPUT = ${s.listInput ? "True" : "False"}


def _convert(value, kind):
    if kind == "str":
        return str(value)
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "bool":
        return bool(value)
    return value


def main(**inputs):
    def port(name):
        return inputs[BOUND[name]] if name in BOUND else PORTS.get(name)

    batches = []
    for name in PARAMS:
        value = port(name)
        if LIST_INPUT:
            batches = batches or [dict() for _ in range(len(value))]
            for batch, item in zip(batches, value):
                batch[name] = _convert(item, TYPES.get(name))
        else:
            batches = batches or [dict()]
            batches[0][name] = _convert(value, TYPES.get(name))
    if not batches:
        batches.append({})
    outputs, errors, consoles = [], [], []
    for params in batches:
        buffer = io.StringIO()
        try:
            with contextlib.redirect_stdout(buffer):
                namespace = {}
                exec(CODE, namespace)
                fn = namespace.get("main")
                result = fn(**params) if callable(fn) else None
            outputs.append(result)
            errors.append("")
        except Exception:
            outputs.append(None)
            errors.append(traceback.format_exc())
        consoles.append(buffer.getvalue())

    def one(values):
        return values if LIST_INPUT else values[0]

    return {
        "outputs": {
            "output": one(outputs),
            "console_msg": one(consoles),
            "error_msg": one(errors),
            "files": [[] for _ in batches] if LIST_INPUT else [],
        }
    }
`;
}

// ---- LLMs -------------------------------------------------------------------------------

/** VectorVein's LLM node types and the Dify provider names Tributary configures credentials under. */
const LLM_PROVIDERS: Record<string, string> = {
  OpenAI: "openai",
  Claude: "anthropic",
  Deepseek: "deepseek",
  AliyunQwen: "tongyi",
  Moonshot: "moonshot",
  Gemini: "google",
  ChatGLM: "zhipuai",
  Groq: "groq",
  XAi: "xai",
  MiniMax: "minimax",
  Baichuan: "baichuan",
  BaiduWenxin: "wenxin",
  LingYiWanWu: "yi",
  Stepfun: "stepfun",
  Mistral: "mistralai",
  LocalLlm: "ollama",
};

/** UniversalLlm's `model_provider` values (VectorVein's backend names). */
const UNIVERSAL_PROVIDERS: Record<string, string> = {
  openai: "openai",
  anthropic: "anthropic",
  claude: "anthropic",
  deepseek: "deepseek",
  qwen: "tongyi",
  aliyun: "tongyi",
  moonshot: "moonshot",
  gemini: "google",
  google: "google",
  zhipuai: "zhipuai",
  chatglm: "zhipuai",
  groq: "groq",
  xai: "xai",
  minimax: "minimax",
  mistral: "mistralai",
  yi: "yi",
  baichuan: "baichuan",
  ernie: "wenxin",
  stepfun: "stepfun",
};

export function isLlmType(type: string, category: string): boolean {
  return category === "llms" || type in LLM_PROVIDERS || type === "CustomModel" || type === "UniversalLlm";
}

function llmProvider(ctx: NodeContext): string {
  const type = ctx.node.type;
  if (type === "UniversalLlm") {
    const p = String(ctx.fixed("model_provider", "OpenAI") ?? "OpenAI");
    return UNIVERSAL_PROVIDERS[p.toLowerCase()] ?? normalizeProviderName(p);
  }
  if (type === "CustomModel") {
    // Custom model families are the operator's own endpoints: configure a provider of that name.
    const family = String(ctx.fixed("model_family", "") ?? "");
    return family ? normalizeProviderName(family) : "openai_api_compatible";
  }
  return LLM_PROVIDERS[type] ?? normalizeProviderName(type);
}

function numberParam(ctx: NodeContext, port: string): number | string | undefined {
  if (!ctx.has(port)) return undefined;
  const value = ctx.input(port);
  if (value.kind === "const") {
    const n = typeof value.value === "number" ? value.value : Number(value.value);
    return value.value === "" || value.value === null || !Number.isFinite(n) ? undefined : n;
  }
  if (isTextReferable(value.selector)) return `{{#${value.selector.join(".")}#}}`;
  const stored = Number(ctx.node.data.template[port]?.value);
  ctx.sink.note(
    ctx.node.id,
    `port "${port}" of ${ctx.label} cannot be read at run time here; its stored value ${stored} is used`,
  );
  return Number.isFinite(stored) ? stored : undefined;
}

/**
 * The LLM nodes: `system_prompt` and `prompt` become the system and user messages (Jinja2
 * prompts, so any upstream value is rendered with Python's str()), `output` is the reply
 * and `reasoning_content` the thinking, kept apart. A prompt that is a list runs the model
 * once per item, as VectorVein does: the LLM then sits in an iteration.
 */
const llm: Mapper = (ctx) => {
  const provider = llmProvider(ctx);
  let model = String(ctx.fixed("llm_model", "") ?? "");
  if (!model) {
    ctx.sink.problem(ctx.node.id, `${ctx.label} has no model selected (llm_model is empty)`);
    return null;
  }
  if (model.endsWith("-thinking")) {
    model = model.slice(0, -"-thinking".length);
    ctx.sink.note(
      ctx.node.id,
      `${ctx.label} used VectorVein's "${model}-thinking" mode; Tributary calls "${model}" and separates any reasoning the model returns`,
    );
  }
  if (ctx.has("use_function_call") && ctx.fixed("use_function_call", false) === true) {
    ctx.sink.problem(
      ctx.node.id,
      `${ctx.label} uses function calling (use_function_call), which Tributary's LLM node does not offer; use a parameter extractor instead`,
    );
    return null;
  }
  if (ctx.has("stream")) ctx.fixed("stream", false); // Tributary always streams.
  const prompt = ctx.input("prompt");
  const system = ctx.has("system_prompt") ? ctx.input("system_prompt") : ({ kind: "const", value: "" } as PortValue);
  const params: Record<string, unknown> = {};
  const temperature = numberParam(ctx, "temperature");
  const topP = numberParam(ctx, "top_p");
  if (temperature !== undefined) params.temperature = temperature;
  if (topP !== undefined) params.top_p = topP;
  if (ctx.has("response_format") && ctx.fixed("response_format", "text") === "json_object")
    params.response_format = "json_object";

  const perItem = kindOf(prompt) === "list" && prompt.kind === "ref";
  const iterationId = ctx.id;
  const llmId = perItem ? ctx.b.uniqueId(`${ctx.id}_llm`) : ctx.id;
  const promptValue: PortValue = perItem ? { kind: "ref", selector: [iterationId, "item"], valueKind: "text" } : prompt;

  const variables: Array<{ variable: string; value_selector: string[] }> = [];
  const jinja = (v: PortValue, name: string): string => {
    if (v.kind === "const") return pyStr(v.value ?? "").replaceAll("{", "{{ '{' }}");
    variables.push({ variable: name, value_selector: [...v.selector] });
    return `{{ ${name} }}`;
  };
  const messages: Array<Record<string, unknown>> = [];
  const systemText = jinja(system, "system_prompt");
  if (system.kind === "ref" || systemText.trim())
    messages.push({ role: "system", text: "", edition_type: "jinja2", jinja2_text: systemText });
  messages.push({ role: "user", text: "", edition_type: "jinja2", jinja2_text: jinja(promptValue, "prompt") });
  const data = {
    type: "llm",
    title: ctx.title,
    model: { provider, name: model, mode: "chat", completion_params: params },
    prompt_template: messages,
    prompt_config: { jinja2_variables: variables },
    context: { enabled: false, variable_selector: [] },
    vision: { enabled: false },
    reasoning_format: "separated",
  };

  if (!perItem) {
    ctx.b.addNode(llmId, data, ctx.at());
    return single(ctx.id, {
      output: { path: ["text"], kind: "text" },
      reasoning_content: { path: ["reasoning_content"], kind: "text" },
    });
  }
  const startId = ctx.b.uniqueId(`${ctx.id}_start`);
  ctx.b.addNode(
    iterationId,
    {
      type: "iteration",
      title: ctx.title,
      iterator_selector: [...(prompt as { selector: VariableSelector }).selector],
      output_selector: [llmId, "text"],
      output_type: "array[string]",
      start_node_id: startId,
      is_parallel: false,
      error_handle_mode: "terminated",
      flatten_output: false,
    },
    ctx.at(),
  );
  ctx.b.addNode(
    startId,
    { type: "iteration-start", title: "", isInIteration: true, iteration_id: iterationId },
    {
      ...ctx.at(),
      parentId: iterationId,
      uiType: "custom-iteration-start",
      position: { x: 24, y: 68 },
    },
  );
  ctx.b.addNode(
    llmId,
    { ...data, isInIteration: true, iteration_id: iterationId },
    { ...ctx.at(), parentId: iterationId, position: { x: 128, y: 68 } },
  );
  ctx.b.addEdge(startId, llmId);
  ctx.sink.note(
    ctx.node.id,
    `${ctx.label} receives a list as its prompt; as in VectorVein the model runs once per item (an iteration) and outputs a list`,
  );
  return single(ctx.id, { output: { path: ["output"], kind: "list" } });
};

// ---- outputs ----------------------------------------------------------------------------

/** Output nodes show a value in VectorVein's result list and pass it on through `output`. */
function outputNode(valuePort: string, resultType: string, titleOf: (ctx: NodeContext) => string, note?: string): Mapper {
  return (ctx) => {
    for (const p of ctx.inputPorts()) if (p !== valuePort) ctx.fixed(p);
    const value = ctx.input(valuePort);
    const out = ctx.b.addPassThrough(ctx.id, ctx.title, value, ctx.at());
    if (note) ctx.sink.note(ctx.node.id, note.replace("{label}", ctx.label));
    return {
      ...single(ctx.id, { output: { path: ["output"], kind: out.kind } }),
      result: { type: resultType, title: titleOf(ctx), selector: [ctx.id, "output"] },
    };
  };
}

const fixedTitle = (title: string) => () => title;

export const MAPPERS: Record<string, Mapper> = {
  TextInOut: textInOut,
  TemplateCompose: templateCompose,
  TextReplace: textReplace,
  TextSplitters: textSplitters,
  TextTruncation: textTruncation,
  RegexExtract: regexExtract,
  ListRender: listRender,
  MarkdownToHtml: markdownToHtml,
  JsonProcess: jsonProcess,
  Conditional: conditional,
  Empty: empty,
  RandomChoice: randomChoice,
  ProgrammingFunction: programmingFunction,
  Text: outputNode("text", "Text", (ctx) => String(ctx.fixed("output_title", "") ?? "")),
  Table: outputNode("content", "Table", fixedTitle("Table")),
  Html: outputNode("html_code", "Html", fixedTitle("HTML")),
  Mermaid: outputNode("content", "Mermaid", fixedTitle("Mermaid")),
  Mindmap: outputNode("content", "Mindmap", fixedTitle("Mindmap")),
  Echarts: outputNode("option", "Echarts", fixedTitle("Echarts")),
  Document: outputNode(
    "content",
    "Document",
    (ctx) => `${String(ctx.fixed("file_name", "") ?? "") || "document"}${String(ctx.fixed("export_type", ".docx") ?? "")}`,
    "{label} makes a file in VectorVein; Tributary returns its content as text (the result names the file it would have been)",
  ),
};

export const LLM_MAPPER: Mapper = llm;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
