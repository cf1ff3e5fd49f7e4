/**
 * Walks a compiled template with Python's Jinja2 semantics. Runaway templates are stopped
 * three ways, all checked while rendering: the output is capped as it is written, loop
 * iterations and macro calls check a deadline, and `range()` / string and list building are
 * size-limited (so no single step can allocate without bound).
 */
import type { Arg, CompiledTemplate, Expr, Param, Stmt, Target } from "./compile.js";
import { FILTERS, type FilterEnv, TESTS } from "./filters.js";
import { callMethod, type Guard, guardString, NO_METHOD, pyBinary, pyGetattr, pyGetitem, pyNeg, pyPos, pySlice } from "./ops.js";
import {
  dictKeys,
  isDict,
  iterate,
  type Kwargs,
  newDict,
  PyCallable,
  PyError,
  PyNamespace,
  PyObject,
  PyTuple,
  pyEq,
  pyRepr,
  pyStr,
  seqItems,
  toNumber,
  truthy,
  typeName,
} from "./py-values.js";

/** Jinja2's sandbox limit for `range()`; larger ranges are refused. */
export const MAX_RANGE = 100_000;

/** A limit was hit (output size, deadline, recursion); not a Python-level error. */
export class RenderLimitError extends Error {}

const BREAK = Symbol("break");
const CONTINUE = Symbol("continue");
const MAX_MACRO_DEPTH = 100;

class Sink {
  parts: string[] = [];
  len = 0;
  constructor(
    readonly limit: number,
    readonly top: boolean,
  ) {}
  text(): string {
    return this.parts.length === 1 ? (this.parts[0] as string) : this.parts.join("");
  }
}

class Scope {
  vars: Map<string, unknown> | null = null;
  constructor(
    readonly parent: Scope | null,
    /** The render's input variables, read in place (never copied per render). */
    readonly inputs: Record<string, unknown> | null = null,
  ) {}
  set(name: string, value: unknown): void {
    if (!this.vars) this.vars = new Map();
    this.vars.set(name, value);
  }
  lookup(name: string): unknown {
    for (let s: Scope | null = this; s; s = s.parent) {
      if (s.vars?.has(name)) return s.vars.get(name);
      if (s.inputs && Object.hasOwn(s.inputs, name)) return s.inputs[name];
    }
    return GLOBALS.get(name);
  }
}

class LoopContext extends PyObject {
  index0 = 0;
  private lastChanged: unknown[] | undefined;
  constructor(
    readonly items: readonly unknown[],
    readonly depth0: number,
  ) {
    super();
  }
  get typeName(): string {
    return "LoopContext";
  }
  override getattr(name: string): unknown {
    const i = this.index0;
    const n = this.items.length;
    switch (name) {
      case "index":
        return i + 1;
      case "index0":
        return i;
      case "revindex":
        return n - i;
      case "revindex0":
        return n - i - 1;
      case "first":
        return i === 0;
      case "last":
        return i === n - 1;
      case "length":
        return n;
      case "depth":
        return this.depth0 + 1;
      case "depth0":
        return this.depth0;
      case "previtem":
        return i > 0 ? this.items[i - 1] : undefined;
      case "nextitem":
        return i < n - 1 ? this.items[i + 1] : undefined;
      case "cycle":
        return new PyCallable("cycle", (args) => {
          if (args.length === 0) throw new PyError("TypeError", "no items for cycling given");
          return args[i % args.length];
        });
      case "changed":
        return new PyCallable("changed", (args) => {
          if (
            this.lastChanged &&
            args.length === this.lastChanged.length &&
            args.every((a, j) => pyEq(a, this.lastChanged?.[j]))
          ) {
            return false;
          }
          this.lastChanged = args;
          return true;
        });
      default:
        return undefined;
    }
  }
  override repr(): string {
    return `<LoopContext ${this.index0 + 1}/${this.items.length}>`;
  }
}

class Cycler extends PyObject {
  private pos = 0;
  constructor(readonly items: readonly unknown[]) {
    super();
  }
  get typeName(): string {
    return "Cycler";
  }
  override getattr(name: string): unknown {
    switch (name) {
      case "current":
        return this.items[this.pos];
      case "next":
        return new PyCallable("next", () => {
          const v = this.items[this.pos];
          this.pos = (this.pos + 1) % this.items.length;
          return v;
        });
      case "reset":
        return new PyCallable("reset", () => {
          this.pos = 0;
          return null;
        });
      default:
        return undefined;
    }
  }
}

function rangeFn(args: unknown[]): unknown[] {
  const nums = args.map((a) => {
    if (!(typeof a === "number" && Number.isInteger(a)) && typeof a !== "boolean") {
      throw new PyError("TypeError", `'${typeName(a)}' object cannot be interpreted as an integer`);
    }
    return toNumber(a);
  });
  let [start = 0, stop = 0, step = 1] = nums;
  if (nums.length === 1) {
    stop = start;
    start = 0;
  } else if (nums.length === 0 || nums.length > 3) {
    throw new PyError("TypeError", `range expected 1 to 3 arguments, got ${nums.length}`);
  }
  if (step === 0) throw new PyError("ValueError", "range() arg 3 must not be zero");
  const count = Math.max(0, Math.ceil((stop - start) / step));
  if (count > MAX_RANGE) {
    throw new RenderLimitError(`range() would produce ${count} items; templates are limited to ${MAX_RANGE}.`);
  }
  const out: number[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = start + i * step;
  return out;
}

const GLOBALS = new Map<string, unknown>([
  ["range", new PyCallable("range", (args) => rangeFn(args))],
  [
    "dict",
    new PyCallable("dict", (args, kwargs) => {
      const d = newDict();
      const src = args[0];
      if (isDict(src)) for (const k of dictKeys(src)) d[k] = src[k];
      else if (src !== undefined) {
        for (const pair of iterate(src)) {
          const kv = seqItems(pair);
          if (kv?.length !== 2) throw new PyError("ValueError", "dictionary update sequence element has wrong length");
          d[pyStr(kv[0])] = kv[1];
        }
      }
      for (const [k, v] of kwargs) d[k] = v;
      return d;
    }),
  ],
  [
    "namespace",
    new PyCallable("namespace", (args, kwargs) => {
      const ns = new PyNamespace();
      const src = args[0];
      if (isDict(src)) for (const k of dictKeys(src)) ns.attrs.set(k, src[k]);
      for (const [k, v] of kwargs) ns.attrs.set(k, v);
      return ns;
    }),
  ],
  ["cycler", new PyCallable("cycler", (args) => new Cycler(args))],
  [
    "joiner",
    new PyCallable("joiner", (args) => {
      const sep = args[0] === undefined ? ", " : pyStr(args[0]);
      let used = false;
      return new PyCallable("joiner", () => {
        if (!used) {
          used = true;
          return "";
        }
        return sep;
      });
    }),
  ],
]);

export interface RenderOptions {
  maxOutputChars: number;
  maxStringChars: number;
  deadline: number;
  timeoutMs: number;
}

function describe(e: Expr): string {
  switch (e.k) {
    case "name":
      return e.name;
    case "attr":
      return `${describe(e.obj)}.${e.name}`;
    case "item":
      return `${describe(e.obj)}[${e.key.k === "const" ? pyRepr(e.key.v) : "…"}]`;
    case "call":
      return `${describe(e.callee)}()`;
    case "const":
      return pyRepr(e.v);
    default:
      return "the expression";
  }
}

class Renderer implements FilterEnv {
  readonly maxStringChars: number;
  readonly maxItems = MAX_RANGE;
  private macroDepth = 0;

  constructor(private readonly opts: RenderOptions) {
    this.maxStringChars = opts.maxStringChars;
  }

  private tick(): void {
    if (performance.now() > this.opts.deadline) {
      throw new RenderLimitError(`rendering took longer than ${this.opts.timeoutMs} ms and was stopped.`);
    }
  }

  private write(sink: Sink, s: string): void {
    if (s.length === 0) return;
    sink.len += s.length;
    if (sink.len > sink.limit) {
      throw new RenderLimitError(
        sink.top
          ? `the rendered output is longer than ${sink.limit} characters (the limit).`
          : `the template built a string longer than ${sink.limit} characters (the limit).`,
      );
    }
    sink.parts.push(s);
  }

  render(t: CompiledTemplate, inputs: Record<string, unknown>): string {
    const sink = new Sink(this.opts.maxOutputChars, true);
    this.execBlock(t.body, new Scope(null, inputs), sink);
    return sink.text();
  }

  private execBlock(body: readonly Stmt[], scope: Scope, sink: Sink): void {
    for (const s of body) this.exec(s, scope, sink);
  }

  private capture(body: readonly Stmt[], scope: Scope): string {
    const sink = new Sink(this.maxStringChars, false);
    this.execBlock(body, scope, sink);
    return sink.text();
  }

  private exec(s: Stmt, scope: Scope, sink: Sink): void {
    switch (s.k) {
      case "text":
        this.write(sink, s.text);
        return;
      case "out":
        this.write(sink, pyStr(this.eval(s.e, scope)));
        return;
      case "if":
        this.execBlock(truthy(this.eval(s.test, scope)) ? s.body : s.else, scope, sink);
        return;
      case "for":
        this.execFor(s, scope, sink);
        return;
      case "set":
        this.assign(s.target, this.eval(s.value, scope), scope);
        return;
      case "setblock":
        this.assign(s.target, this.capture(s.body, scope), scope);
        return;
      case "macro":
        scope.set(s.name, this.macro(s.name, s.params, s.body, scope, s.varargs, s.kwargs));
        return;
      case "callblock": {
        if (s.call.k !== "call") throw new PyError("TemplateSyntaxError", "a call block needs a macro call");
        const caller = this.macro("caller", s.params, s.body, scope, false, false);
        const { args, kwargs } = this.evalArgs(s.call.args, scope);
        kwargs.set("caller", caller);
        this.write(sink, pyStr(this.callValue(this.eval(s.call.callee, scope), args, kwargs, s.call.callee)));
        return;
      }
      case "filterblock": {
        const value = this.capture(s.body, scope);
        const { args, kwargs } = this.evalArgs(s.args, scope);
        this.write(sink, pyStr(this.callFilter(s.name, value, args, kwargs)));
        return;
      }
      case "break":
        throw BREAK;
      case "continue":
        throw CONTINUE;
    }
  }

  private execFor(s: Extract<Stmt, { k: "for" }>, scope: Scope, sink: Sink): void {
    const iterable = this.eval(s.iter, scope);
    if (iterable === null) {
      const what = s.iter.k === "name" || s.iter.k === "attr" || s.iter.k === "item" ? ` (${describe(s.iter)} is None)` : "";
      throw new PyError("TypeError", `'NoneType' object is not iterable${what}`);
    }
    let items = iterate(iterable);
    if (s.cond) {
      const cond = s.cond;
      items = items.filter((item) => {
        this.tick();
        const fs = new Scope(scope);
        this.assign(s.target, item, fs);
        return truthy(this.eval(cond, fs));
      });
    }
    if (items.length === 0) {
      this.execBlock(s.else, scope, sink);
      return;
    }
    // `loop.depth` counts recursive loops only, which the parser does not support: always 1.
    const loop = new LoopContext(items, 0);
    for (let i = 0; i < items.length; i++) {
      this.tick();
      loop.index0 = i;
      const inner = new Scope(scope);
      inner.set("loop", loop);
      this.assign(s.target, items[i], inner);
      try {
        this.execBlock(s.body, inner, sink);
      } catch (e) {
        if (e === CONTINUE) continue;
        if (e === BREAK) break;
        throw e;
      }
    }
  }

  private assign(t: Target, value: unknown, scope: Scope): void {
    switch (t.k) {
      case "name":
        scope.set(t.name, value);
        return;
      case "unpack": {
        const items = iterate(value);
        if (items.length !== t.items.length) {
          throw new PyError(
            "ValueError",
            items.length > t.items.length
              ? `too many values to unpack (expected ${t.items.length})`
              : `not enough values to unpack (expected ${t.items.length}, got ${items.length})`,
          );
        }
        t.items.forEach((sub, i) => {
          this.assign(sub, items[i], scope);
        });
        return;
      }
      case "nsattr": {
        const obj = this.eval(t.obj, scope);
        if (!(obj instanceof PyNamespace)) {
          throw new PyError("TemplateRuntimeError", "cannot assign attribute on non-namespace object");
        }
        obj.attrs.set(t.name, value);
        return;
      }
    }
  }

  private macro(
    name: string,
    params: readonly Param[],
    body: readonly Stmt[],
    defScope: Scope,
    varargs: boolean,
    kwargs: boolean,
  ): PyCallable {
    return new PyCallable(name, (args, kw) => {
      this.tick();
      if (++this.macroDepth > MAX_MACRO_DEPTH) {
        throw new RenderLimitError(`macro '${name}' recursed more than ${MAX_MACRO_DEPTH} levels deep.`);
      }
      try {
        const scope = new Scope(defScope);
        const rest = new Map(kw);
        params.forEach((p, i) => {
          let v: unknown;
          if (i < args.length) v = args[i];
          else if (rest.has(p.name)) {
            v = rest.get(p.name);
            rest.delete(p.name);
          } else if (p.dflt) v = this.eval(p.dflt, scope);
          scope.set(p.name, v);
        });
        if (args.length > params.length && !varargs) {
          throw new PyError("TypeError", `macro '${name}' takes not more than ${params.length} argument(s)`);
        }
        if (varargs) scope.set("varargs", new PyTuple(args.slice(params.length)));
        if (rest.has("caller")) {
          scope.set("caller", rest.get("caller"));
          rest.delete("caller");
        }
        if (kwargs) {
          const d = newDict();
          for (const [k, v] of rest) d[k] = v;
          scope.set("kwargs", d);
        } else if (rest.size > 0) {
          throw new PyError("TypeError", `macro '${name}' takes no keyword argument '${[...rest.keys()][0]}'`);
        }
        return this.capture(body, scope);
      } finally {
        this.macroDepth--;
      }
    });
  }

  private evalArgs(args: readonly Arg[], scope: Scope): { args: unknown[]; kwargs: Kwargs } {
    const pos: unknown[] = [];
    const kwargs: Kwargs = new Map();
    for (const a of args) {
      switch (a.k) {
        case "pos":
          pos.push(this.eval(a.e, scope));
          break;
        case "spread":
          pos.push(...iterate(this.eval(a.e, scope)));
          break;
        case "kw":
          kwargs.set(a.name, this.eval(a.e, scope));
          break;
        case "kwspread": {
          const d = this.eval(a.e, scope);
          if (!isDict(d)) throw new PyError("TypeError", `argument after ** must be a mapping, not ${typeName(d)}`);
          for (const k of dictKeys(d)) kwargs.set(k, d[k]);
          break;
        }
      }
    }
    return { args: pos, kwargs };
  }

  private callValue(fn: unknown, args: unknown[], kwargs: Kwargs, callee: Expr): unknown {
    if (fn instanceof PyCallable) return this.checkResult(fn.fn(args, kwargs));
    if (fn === undefined) throw new PyError("UndefinedError", `'${describe(callee)}' is undefined`);
    throw new PyError("TypeError", `'${typeName(fn)}' object is not callable (${describe(callee)})`);
  }

  private checkResult(v: unknown): unknown {
    if (typeof v === "string" && v.length > this.maxStringChars) guardString(this, v);
    return v;
  }

  callFilter(name: string, value: unknown, args: unknown[], kwargs: Kwargs): unknown {
    const f = Object.hasOwn(FILTERS, name) ? FILTERS[name] : undefined;
    if (!f) throw new PyError("TemplateRuntimeError", `No filter named '${name}'.`);
    return this.checkResult(f(value, args, kwargs, this));
  }

  callTest(name: string, value: unknown, args: unknown[]): boolean {
    const t = Object.hasOwn(TESTS, name) ? TESTS[name] : undefined;
    if (!t) throw new PyError("TemplateRuntimeError", `No test named '${name}'.`);
    return t(value, args, this);
  }

  eval(e: Expr, scope: Scope): unknown {
    switch (e.k) {
      case "const":
        return e.v;
      case "name":
        return scope.lookup(e.name);
      case "attr":
        return pyGetattr(this, this.eval(e.obj, scope), e.name);
      case "item":
        return pyGetitem(this, this.eval(e.obj, scope), this.eval(e.key, scope));
      case "filter": {
        const operand = this.eval(e.operand, scope);
        const { args, kwargs } = this.evalArgs(e.args, scope);
        return this.callFilter(e.name, operand, args, kwargs);
      }
      case "call": {
        const { args, kwargs } = this.evalArgs(e.args, scope);
        if (e.callee.k === "attr") {
          const obj = this.eval(e.callee.obj, scope);
          if (obj === undefined) throw new PyError("UndefinedError", `'${describe(e.callee.obj)}' is undefined`);
          const r = callMethod(this, obj, e.callee.name, args, kwargs);
          if (r !== NO_METHOD) return this.checkResult(r);
          throw new PyError("UndefinedError", `'${typeName(obj)} object' has no attribute '${e.callee.name}'`);
        }
        return this.callValue(this.eval(e.callee, scope), args, kwargs, e.callee);
      }
      case "bin": {
        const left = this.eval(e.left, scope);
        const right = this.eval(e.right, scope);
        if ((left === undefined || right === undefined) && !["==", "!=", "~", "in", "not in"].includes(e.op)) {
          throw new PyError("UndefinedError", `'${describe(left === undefined ? e.left : e.right)}' is undefined`);
        }
        return pyBinary(this, e.op, left, right);
      }
      case "chain": {
        let left = this.eval(e.operands[0] as Expr, scope);
        for (let i = 0; i < e.ops.length; i++) {
          const right = this.eval(e.operands[i + 1] as Expr, scope);
          if (!pyBinary(this, e.ops[i] as string, left, right)) return false;
          left = right;
        }
        return true;
      }
      case "and": {
        const l = this.eval(e.left, scope);
        return truthy(l) ? this.eval(e.right, scope) : l;
      }
      case "or": {
        const l = this.eval(e.left, scope);
        return truthy(l) ? l : this.eval(e.right, scope);
      }
      case "not":
        return !truthy(this.eval(e.arg, scope));
      case "neg":
        return pyNeg(this.eval(e.arg, scope));
      case "pos":
        return pyPos(this.eval(e.arg, scope));
      case "test": {
        const operand = this.eval(e.operand, scope);
        const { args } = this.evalArgs(e.args, scope);
        return this.callTest(e.name, operand, args) !== e.negate;
      }
      case "cond":
        if (truthy(this.eval(e.test, scope))) return this.eval(e.ifTrue, scope);
        return e.ifFalse ? this.eval(e.ifFalse, scope) : undefined;
      case "list":
        return e.items.map((x) => this.eval(x, scope));
      case "tuple":
        return new PyTuple(e.items.map((x) => this.eval(x, scope)));
      case "dict": {
        const d = newDict();
        for (const [k, v] of e.entries) {
          const key = this.eval(k, scope);
          if (typeof key !== "string" && !(typeof key === "number")) {
            throw new PyError("TypeError", `dict keys must be strings or numbers here, not ${typeName(key)}`);
          }
          d[pyStr(key)] = this.eval(v, scope);
        }
        return d;
      }
      case "slice":
        return pySlice(
          this.eval(e.obj, scope),
          e.start ? this.eval(e.start, scope) : undefined,
          e.stop ? this.eval(e.stop, scope) : undefined,
          e.step ? this.eval(e.step, scope) : undefined,
        );
    }
  }
}

export function renderCompiled(t: CompiledTemplate, inputs: Record<string, unknown>, opts: RenderOptions): string {
  return new Renderer(opts).render(t, inputs);
}

export type { Guard };
