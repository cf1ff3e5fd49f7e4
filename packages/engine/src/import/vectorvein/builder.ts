/**
 * Builds the native DSL graph the VectorVein import produces: node and edge records with
 * unique ids, start inputs, end outputs, and the small helpers every mapping uses
 * (template-transform text from literal parts and references, pass-through nodes, code
 * nodes). No VectorVein knowledge lives here; see mappers.ts.
 */
import type { VariableSelector } from "../../variables/selector.js";
import { codeProgram, type HelperName } from "./js-snippets.js";

/** What a value is known to be at import time; "any" when it depends on run-time data. */
export type ValueKind = "text" | "number" | "bool" | "list" | "any" | "none";

/** Where an input port's value comes from: fixed at import, or read from a variable at run time. */
export type PortValue = { kind: "const"; value: unknown } | { kind: "ref"; selector: VariableSelector; valueKind: ValueKind };

export interface ProblemSink {
  problem(nodeId: string | null, message: string): void;
  note(nodeId: string | null, message: string): void;
}

type Obj = Record<string, unknown>;

/** The `{{#node.var#}}` grammar; a selector outside it can only be read through a variable binding. */
const TEXT_SELECTOR = /^[a-zA-Z0-9_]{1,50}$/;
const TEXT_PATH = /^[a-zA-Z0-9_][a-zA-Z0-9_]{0,29}$/;
export function isTextReferable(selector: VariableSelector): boolean {
  const [node, ...path] = selector;
  return !!node && TEXT_SELECTOR.test(node) && path.length >= 1 && path.length <= 10 && path.every((p) => TEXT_PATH.test(p));
}

/** Python's `repr()` for JSON values. */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "number") return Number.isNaN(v) ? "nan" : v === Infinity ? "inf" : v === -Infinity ? "-inf" : String(v);
  if (typeof v === "string") {
    const q = v.includes("'") && !v.includes('"') ? '"' : "'";
    let body = v.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll("\r", "\\r").replaceAll("\t", "\\t");
    if (q === "'") body = body.replaceAll("'", "\\'");
    return `${q}${body}${q}`;
  }
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(", ")}]`;
  if (typeof v === "object") {
    return `{${Object.entries(v as Obj)
      .map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`)
      .join(", ")}}`;
  }
  return String(v);
}

/** Python's `str()`: strings as they are, everything else as repr. */
export function pyStr(v: unknown): string {
  return typeof v === "string" ? v : pyRepr(v);
}

/** Python's `unicode_escape` decoding of the escapes people type in separators ("\\n", "\\t", "\\u00e9"). */
export function decodeEscapes(s: string): string {
  const simple: Record<string, string> = {
    n: "\n",
    t: "\t",
    r: "\r",
    "\\": "\\",
    "'": "'",
    '"': '"',
    a: "\u0007",
    b: "\b",
    f: "\f",
    v: "\v",
  };
  return s.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|.)/g, (all, e: string) => {
    if (e[0] === "x" || e[0] === "u" || e[0] === "U") return String.fromCodePoint(Number.parseInt(e.slice(1), 16));
    if (/^[0-7]+$/.test(e)) return String.fromCharCode(Number.parseInt(e, 8));
    return simple[e] ?? all;
  });
}

/** Literal text inside a Jinja2 template: every `{` is written as an expression, so nothing in it is syntax. */
export function jinjaLiteral(text: string): string {
  return text.replaceAll("{", "{{ '{' }}");
}

/** A template's source, safe against Jinja2 removing one trailing newline (keep_trailing_newline is off, as in Dify). */
export function finishJinja(source: string): string {
  return source.endsWith("\n") ? `${source}\n` : source;
}

export type TemplatePart = string | PortValue;

export interface NativeNodeOptions {
  parentId?: string;
  position?: { x: number; y: number };
  /** UI type; `custom` unless given. */
  uiType?: string;
  /** Where the node came from, kept in `data.vectorvein`. */
  origin?: Obj;
}

export class GraphBuilder {
  readonly nodes: Obj[] = [];
  readonly edges: Obj[] = [];
  private readonly ids = new Set<string>();
  private readonly edgeKeys = new Set<string>();

  /** A node id matching Dify's reference grammar (`[a-zA-Z0-9_]{1,50}`) and unused so far. */
  uniqueId(base: string): string {
    let clean =
      base
        .replace(/[^a-zA-Z0-9_]/g, "_")
        .replace(/_+/g, "_")
        .slice(0, 50) || "node";
    if (!/^[a-zA-Z0-9]/.test(clean)) clean = `n${clean}`.slice(0, 50);
    let id = clean;
    for (let i = 2; this.ids.has(id); i++) id = `${clean.slice(0, 49 - String(i).length)}_${i}`;
    this.ids.add(id);
    return id;
  }

  /** Reserves an id chosen elsewhere (for the start and end nodes). */
  reserve(id: string): void {
    this.ids.add(id);
  }

  addNode(id: string, data: Obj, options: NativeNodeOptions = {}): string {
    const node: Obj = {
      id,
      type: options.uiType ?? "custom",
      ...(options.parentId ? { parentId: options.parentId } : {}),
      position: options.position ?? { x: 0, y: 0 },
      data: { ...data, ...(options.origin ? { vectorvein: options.origin } : {}) },
    };
    this.nodes.push(node);
    return id;
  }

  addEdge(source: string, target: string, sourceHandle = "source"): void {
    const key = `${source}\u0000${sourceHandle}\u0000${target}`;
    if (source === target || this.edgeKeys.has(key)) return;
    this.edgeKeys.add(key);
    this.edges.push({
      id: `${source}-${sourceHandle}-${target}-target`,
      source,
      sourceHandle,
      target,
      targetHandle: "target",
      type: "custom",
    });
  }

  hasIncoming(id: string): boolean {
    return this.edges.some((e) => e.target === id);
  }

  hasOutgoing(id: string): boolean {
    return this.edges.some((e) => e.source === id);
  }

  /**
   * A template-transform node rendering `parts`: literal text as is (never read as Jinja),
   * constants as Python's str(), references through variables (Jinja2 renders values the
   * way Python's str() does, so lists and numbers read as in VectorVein).
   */
  addTemplate(id: string, title: string, parts: readonly TemplatePart[], options: NativeNodeOptions = {}): string {
    const variables: Array<{ variable: string; value_selector: string[] }> = [];
    let source = "";
    for (const part of parts) {
      if (typeof part === "string") source += jinjaLiteral(part);
      else if (part.kind === "const") source += jinjaLiteral(pyStr(part.value));
      else {
        const name = `v${variables.length + 1}`;
        variables.push({ variable: name, value_selector: [...part.selector] });
        source += `{{ ${name} }}`;
      }
    }
    return this.addNode(id, { type: "template-transform", title, template: finishJinja(source), variables }, options);
  }

  /** Outputs `value` unchanged: a variable aggregator for a reference (any type), a template for text. */
  addPassThrough(id: string, title: string, value: PortValue, options: NativeNodeOptions = {}): { id: string; kind: ValueKind } {
    if (value.kind === "ref") {
      this.addNode(id, { type: "variable-aggregator", title, output_type: "any", variables: [[...value.selector]] }, options);
      return { id, kind: value.valueKind };
    }
    if (typeof value.value === "string" || value.value === null || value.value === undefined) {
      this.addTemplate(id, title, [typeof value.value === "string" ? value.value : ""], options);
      return { id, kind: "text" };
    }
    // Numbers, lists and objects keep their type through a one-line code node.
    this.addCode(id, title, {
      header: `${title}: a fixed value`,
      ports: { value: value.value },
      bound: {},
      helpers: [],
      body: 'function run(port) {\n  return { output: port("value") };\n}',
      inputs: [],
      options,
    });
    return { id, kind: kindOfConst(value.value) };
  }

  /**
   * A JavaScript code node built by `codeProgram`; `inputs` are the ports bound to
   * variables. Its one declared output, `outputs`, holds every VectorVein output port.
   */
  addCode(
    id: string,
    title: string,
    spec: {
      header: string;
      ports: Record<string, unknown>;
      bound: Record<string, string>;
      helpers: readonly HelperName[];
      body: string;
      inputs: Array<{ variable: string; selector: VariableSelector }>;
      options?: NativeNodeOptions;
    },
  ): string {
    return this.addNode(
      id,
      {
        type: "code",
        title,
        code_language: "javascript",
        code: codeProgram({
          header: spec.header.replace(/\s+/g, " "),
          ports: spec.ports,
          bound: spec.bound,
          helpers: spec.helpers,
          body: spec.body,
        }),
        variables: spec.inputs.map((i) => ({ variable: i.variable, value_selector: [...i.selector] })),
        outputs: { outputs: { type: "object", children: null } },
      },
      spec.options ?? {},
    );
  }
}

export function kindOfConst(value: unknown): ValueKind {
  if (Array.isArray(value)) return "list";
  if (typeof value === "number") return "number";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "string") return "text";
  if (value === null || value === undefined) return "none";
  return "any";
}

export function kindOf(value: PortValue): ValueKind {
  return value.kind === "const" ? kindOfConst(value.value) : value.valueKind;
}

/** Splits ports into those fixed at import (`ports`) and those read from variables (`bound`, `inputs`). */
export function bindPorts(values: Record<string, PortValue>): {
  ports: Record<string, unknown>;
  bound: Record<string, string>;
  inputs: Array<{ variable: string; selector: VariableSelector }>;
} {
  const ports: Record<string, unknown> = {};
  const bound: Record<string, string> = {};
  const inputs: Array<{ variable: string; selector: VariableSelector }> = [];
  for (const [name, value] of Object.entries(values)) {
    if (value.kind === "const") ports[name] = value.value ?? null;
    else {
      const variable = `p${inputs.length + 1}`;
      bound[name] = variable;
      inputs.push({ variable, selector: value.selector });
    }
  }
  return { ports, bound, inputs };
}
