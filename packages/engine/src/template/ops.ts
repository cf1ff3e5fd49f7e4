/**
 * Python operators, attribute/item access and the methods templates call on values
 * (`s.split(',')`, `d.items()`, `xs.append(x)`), over the value model of py-values.ts.
 */
import {
  codePoints,
  dictGet,
  dictKeys,
  isDict,
  isFloat,
  isInt,
  isNumeric,
  iterate,
  type Kwargs,
  makeFloat,
  newDict,
  PyCallable,
  PyError,
  type PyFloat,
  PyObject,
  PyTuple,
  percentFormat,
  pyCompare,
  pyContains,
  pyEq,
  pyRepr,
  pyStr,
  seqItems,
  strFormat,
  strLen,
  strRepr,
  toNumber,
  typeName,
} from "./py-values.js";

/** Size guards shared by operators, methods and filters. */
export interface Guard {
  /** Longest string a template may build (concatenation, repetition, filters). */
  maxStringChars: number;
  /** Longest list a template may build (`range`, repetition). */
  maxItems: number;
}

export function guardString(g: Guard, s: string): string {
  if (s.length > g.maxStringChars) {
    throw new PyError("LimitExceeded", `the template built a string of ${s.length} characters; the limit is ${g.maxStringChars}`);
  }
  return s;
}

function guardItems(g: Guard, n: number): void {
  if (n > g.maxItems) {
    throw new PyError("LimitExceeded", `the template built a list of ${n} items; the limit is ${g.maxItems}`);
  }
}

// ---- arithmetic ----------------------------------------------------------------------------

function unsupported(op: string, a: unknown, b: unknown): PyError {
  return new PyError("TypeError", `unsupported operand type(s) for ${op}: '${typeName(a)}' and '${typeName(b)}'`);
}

function intLike(v: unknown): boolean {
  return isInt(v) || typeof v === "boolean";
}

function numResult(a: unknown, b: unknown, r: number): number | PyFloat {
  return intLike(a) && intLike(b) ? r : makeFloat(r);
}

export function pyAdd(g: Guard, a: unknown, b: unknown): unknown {
  if (isNumeric(a) && isNumeric(b)) return numResult(a, b, toNumber(a) + toNumber(b));
  if (typeof a === "string" && typeof b === "string") return guardString(g, a + b);
  if (Array.isArray(a) && Array.isArray(b)) {
    guardItems(g, a.length + b.length);
    return [...a, ...b];
  }
  if (a instanceof PyTuple && b instanceof PyTuple) return new PyTuple([...a.items, ...b.items]);
  if (typeof a === "string" || typeof b === "string") {
    throw new PyError("TypeError", `can only concatenate str (not "${typeName(typeof a === "string" ? b : a)}") to str`);
  }
  throw unsupported("+", a, b);
}

export function pySub(a: unknown, b: unknown): unknown {
  if (isNumeric(a) && isNumeric(b)) return numResult(a, b, toNumber(a) - toNumber(b));
  throw unsupported("-", a, b);
}

export function pyMul(g: Guard, a: unknown, b: unknown): unknown {
  if (isNumeric(a) && isNumeric(b)) return numResult(a, b, toNumber(a) * toNumber(b));
  const [seq, n] = intLike(b) ? [a, b] : intLike(a) ? [b, a] : [undefined, undefined];
  if (n !== undefined) {
    const times = Math.max(0, toNumber(n));
    if (typeof seq === "string") {
      if (seq.length * times > g.maxStringChars) {
        throw new PyError(
          "LimitExceeded",
          `the template built a string of ${seq.length * times} characters; the limit is ${g.maxStringChars}`,
        );
      }
      return seq.repeat(times);
    }
    const items = seqItems(seq);
    if (items) {
      guardItems(g, items.length * times);
      const out: unknown[] = [];
      for (let i = 0; i < times; i++) out.push(...items);
      return Array.isArray(seq) ? out : new PyTuple(out);
    }
  }
  throw unsupported("*", a, b);
}

export function pyTrueDiv(a: unknown, b: unknown): unknown {
  if (!(isNumeric(a) && isNumeric(b))) throw unsupported("/", a, b);
  const y = toNumber(b);
  if (y === 0) throw new PyError("ZeroDivisionError", "division by zero");
  return makeFloat(toNumber(a) / y);
}

export function pyFloorDiv(a: unknown, b: unknown): unknown {
  if (!(isNumeric(a) && isNumeric(b))) throw unsupported("//", a, b);
  const y = toNumber(b);
  if (y === 0) {
    throw new PyError(
      "ZeroDivisionError",
      intLike(a) && intLike(b) ? "integer division or modulo by zero" : "float floor division by zero",
    );
  }
  return numResult(a, b, Math.floor(toNumber(a) / y));
}

export function pyMod(g: Guard, a: unknown, b: unknown): unknown {
  if (typeof a === "string") return guardString(g, percentFormat(a, b));
  if (!(isNumeric(a) && isNumeric(b))) throw unsupported("%", a, b);
  const x = toNumber(a);
  const y = toNumber(b);
  if (y === 0) throw new PyError("ZeroDivisionError", intLike(a) && intLike(b) ? "integer modulo by zero" : "float modulo");
  // Python's remainder takes the sign of the divisor.
  const r = x - y * Math.floor(x / y);
  return numResult(a, b, r);
}

export function pyPow(a: unknown, b: unknown): unknown {
  if (!(isNumeric(a) && isNumeric(b))) throw unsupported("**", a, b);
  const x = toNumber(a);
  const y = toNumber(b);
  if (x === 0 && y < 0) throw new PyError("ZeroDivisionError", "0.0 cannot be raised to a negative power");
  const r = x ** y;
  if (!Number.isFinite(r)) throw new PyError("OverflowError", "result too large");
  return intLike(a) && intLike(b) && y >= 0 ? r : makeFloat(r);
}

export function pyNeg(v: unknown): unknown {
  if (!isNumeric(v)) throw new PyError("TypeError", `bad operand type for unary -: '${typeName(v)}'`);
  return isFloat(v) ? makeFloat(-toNumber(v)) : -toNumber(v);
}

export function pyPos(v: unknown): unknown {
  if (!isNumeric(v)) throw new PyError("TypeError", `bad operand type for unary +: '${typeName(v)}'`);
  return typeof v === "boolean" ? (v ? 1 : 0) : v;
}

export function pyBinary(g: Guard, op: string, a: unknown, b: unknown): unknown {
  switch (op) {
    case "+":
      return pyAdd(g, a, b);
    case "-":
      return pySub(a, b);
    case "*":
      return pyMul(g, a, b);
    case "/":
      return pyTrueDiv(a, b);
    case "//":
      return pyFloorDiv(a, b);
    case "%":
      return pyMod(g, a, b);
    case "**":
      return pyPow(a, b);
    case "~":
      return guardString(g, pyStr(a) + pyStr(b));
    case "==":
      return pyEq(a, b);
    case "!=":
      return !pyEq(a, b);
    case "<":
      return pyCompare(a, b, op) < 0;
    case ">":
      return pyCompare(a, b, op) > 0;
    case "<=":
      return pyCompare(a, b, op) <= 0;
    case ">=":
      return pyCompare(a, b, op) >= 0;
    case "in":
      return pyContains(b, a);
    case "not in":
      return !pyContains(b, a);
    default:
      throw new PyError("TemplateSyntaxError", `unknown operator ${op}`);
  }
}

// ---- indexing and slicing -----------------------------------------------------------------

function normIndex(i: number, len: number): number {
  return i < 0 ? i + len : i;
}

export function pySlice(obj: unknown, start: unknown, stop: unknown, step: unknown): unknown {
  const opt = (v: unknown, what: string): number | undefined => {
    if (v === undefined || v === null) return undefined;
    if (!intLike(v)) throw new PyError("TypeError", `slice ${what} must be an integer or None`);
    return toNumber(v);
  };
  const st = opt(step, "step") ?? 1;
  if (st === 0) throw new PyError("ValueError", "slice step cannot be zero");
  const isStr = typeof obj === "string";
  const items = isStr ? codePoints(obj) : seqItems(obj);
  if (!items) {
    if (obj === undefined) return undefined;
    throw new PyError("TypeError", `'${typeName(obj)}' object is not subscriptable`);
  }
  const len = items.length;
  const clamp = (v: number | undefined, dflt: number, lo: number, hi: number): number => {
    if (v === undefined) return dflt;
    const n = v < 0 ? v + len : v;
    return Math.min(Math.max(n, lo), hi);
  };
  const out: unknown[] = [];
  if (st > 0) {
    const a = clamp(opt(start, "start"), 0, 0, len);
    const b = clamp(opt(stop, "stop"), len, 0, len);
    for (let i = a; i < b; i += st) out.push(items[i]);
  } else {
    const a = clamp(opt(start, "start"), len - 1, -1, len - 1);
    const b = clamp(opt(stop, "stop"), -1, -1, len - 1);
    for (let i = a; i > b; i += st) out.push(items[i]);
  }
  if (isStr) return out.join("");
  return Array.isArray(obj) ? out : new PyTuple(out);
}

/** `obj.name`: attributes (methods) before keys for objects, keys first for dicts (friendlier than Python when a key shadows a method). */
export function pyGetattr(g: Guard, obj: unknown, name: string): unknown {
  if (obj === undefined || obj === null) return undefined;
  if (obj instanceof PyObject) return obj.getattr(name);
  if (isDict(obj)) {
    if (Object.hasOwn(obj, name)) return obj[name];
    return boundMethod(g, obj, name);
  }
  if (/^\d+$/.test(name) && (typeof obj === "string" || seqItems(obj))) return pyGetitem(g, obj, Number(name));
  return boundMethod(g, obj, name);
}

/** `obj[key]`: item first, then attribute (Jinja2's `getitem`). */
export function pyGetitem(g: Guard, obj: unknown, key: unknown): unknown {
  if (obj === undefined || obj === null) return undefined;
  if (isDict(obj)) {
    if (typeof key === "string") return Object.hasOwn(obj, key) ? obj[key] : boundMethod(g, obj, key);
    return undefined;
  }
  if (intLike(key)) {
    const i = toNumber(key);
    if (typeof obj === "string") {
      const chars = codePoints(obj);
      return chars[normIndex(i, chars.length)];
    }
    const items = seqItems(obj);
    if (items) return items[normIndex(i, items.length)];
    return undefined;
  }
  if (typeof key === "string") return pyGetattr(g, obj, key);
  return undefined;
}

// ---- methods ---------------------------------------------------------------------------------

type Method<T> = (self: T, args: unknown[], kwargs: Kwargs, g: Guard) => unknown;

function arg(args: unknown[], kwargs: Kwargs, i: number, name: string): unknown {
  return i < args.length ? args[i] : kwargs.get(name);
}

function strArg(v: unknown, method: string): string {
  if (typeof v !== "string") throw new PyError("TypeError", `${method}() argument must be str, not ${typeName(v)}`);
  return v;
}

function intArg(v: unknown, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  if (!intLike(v)) throw new PyError("TypeError", `'${typeName(v)}' object cannot be interpreted as an integer`);
  return toNumber(v);
}

const PY_WHITESPACE = "\\s\\x1c-\\x1f\\x85";

function stripChars(s: string, chars: unknown, left: boolean, right: boolean): string {
  let set: string;
  if (chars === undefined || chars === null) set = `[${PY_WHITESPACE}]`;
  else set = `[${strArg(chars, "strip").replace(/[\\\]^-]/g, "\\$&")}]`;
  if (set === "[]") return s;
  let out = s;
  if (left) out = out.replace(new RegExp(`^${set}+`, "u"), "");
  if (right) out = out.replace(new RegExp(`${set}+$`, "u"), "");
  return out;
}

function splitWhitespace(s: string, maxsplit: number, fromRight: boolean): string[] {
  const ws = /[\s\x1c-\x1f\x85]/;
  const isWs = (c: string | undefined): boolean => c !== undefined && ws.test(c);
  const out: string[] = [];
  if (!fromRight) {
    let i = 0;
    for (;;) {
      while (i < s.length && isWs(s[i])) i++;
      if (i >= s.length) break;
      if (maxsplit >= 0 && out.length === maxsplit) {
        out.push(s.slice(i));
        break;
      }
      let j = i;
      while (j < s.length && !isWs(s[j])) j++;
      out.push(s.slice(i, j));
      i = j;
    }
    return out;
  }
  let i = s.length;
  for (;;) {
    while (i > 0 && isWs(s[i - 1])) i--;
    if (i <= 0) break;
    if (maxsplit >= 0 && out.length === maxsplit) {
      out.unshift(s.slice(0, i));
      break;
    }
    let j = i;
    while (j > 0 && !isWs(s[j - 1])) j--;
    out.unshift(s.slice(j, i));
    i = j;
  }
  return out;
}

/** Python's `str.split(sep=None, maxsplit=-1)` (and `rsplit`). */
export function pySplit(s: string, sep: unknown, maxsplit: number, fromRight = false): string[] {
  if (sep === undefined || sep === null) return splitWhitespace(s, maxsplit, fromRight);
  const sp = strArg(sep, "split");
  if (sp === "") throw new PyError("ValueError", "empty separator");
  const all = s.split(sp);
  if (maxsplit < 0 || all.length <= maxsplit + 1) return all;
  if (fromRight) return [all.slice(0, all.length - maxsplit).join(sp), ...all.slice(all.length - maxsplit)];
  return [...all.slice(0, maxsplit), all.slice(maxsplit).join(sp)];
}

export function pyReplace(g: Guard, s: string, old: string, repl: string, count: number): string {
  if (count === 0) return s;
  let out: string;
  if (old === "") {
    const chars = codePoints(s);
    const n = count < 0 ? chars.length + 1 : Math.min(count, chars.length + 1);
    out = "";
    for (let i = 0; i < chars.length; i++) out += (i < n ? repl : "") + chars[i];
    if (n > chars.length) out += repl;
  } else if (count < 0) {
    out = s.split(old).join(repl);
  } else {
    const parts = s.split(old);
    out = parts.slice(0, count + 1).join(repl);
    if (parts.length > count + 1) out += old + parts.slice(count + 1).join(old);
  }
  return guardString(g, out);
}

export function pyCenter(s: string, width: number, fill = " "): string {
  const len = strLen(s);
  if (width <= len) return s;
  const marg = width - len;
  // CPython's pad split: the extra character goes left when both margin and width are odd.
  const left = Math.floor(marg / 2) + (marg & width & 1);
  return fill.repeat(left) + s + fill.repeat(marg - left);
}

function isCased(s: string): boolean {
  return s.toLowerCase() !== s.toUpperCase();
}

/** Python's `str.title()`: every run of letters starts upper-case, the rest is lower-case. */
export function pyTitle(s: string): string {
  return s.replace(/\p{L}+/gu, (w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase());
}

export function pyCapitalize(s: string): string {
  const chars = codePoints(s);
  if (chars.length === 0) return s;
  return (chars[0] as string).toUpperCase() + chars.slice(1).join("").toLowerCase();
}

function findSub(s: string, sub: unknown, fromRight: boolean): number {
  const needle = strArg(sub, "find");
  return fromRight ? s.lastIndexOf(needle) : s.indexOf(needle);
}

function prefixTest(s: string, p: unknown, ends: boolean): boolean {
  const items = p instanceof PyTuple ? p.items : [p];
  return items.some((x) => {
    const t = strArg(x, ends ? "endswith" : "startswith");
    return ends ? s.endsWith(t) : s.startsWith(t);
  });
}

const STR_METHODS: Record<string, Method<string>> = {
  upper: (s) => s.toUpperCase(),
  lower: (s) => s.toLowerCase(),
  casefold: (s) => s.toLowerCase(),
  swapcase: (s) =>
    codePoints(s)
      .map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()))
      .join(""),
  strip: (s, a, k) => stripChars(s, arg(a, k, 0, "chars"), true, true),
  lstrip: (s, a, k) => stripChars(s, arg(a, k, 0, "chars"), true, false),
  rstrip: (s, a, k) => stripChars(s, arg(a, k, 0, "chars"), false, true),
  title: (s) => pyTitle(s),
  capitalize: (s) => pyCapitalize(s),
  split: (s, a, k) => pySplit(s, arg(a, k, 0, "sep"), intArg(arg(a, k, 1, "maxsplit"), -1)),
  rsplit: (s, a, k) => pySplit(s, arg(a, k, 0, "sep"), intArg(arg(a, k, 1, "maxsplit"), -1), true),
  splitlines: (s, a, k) => {
    const keep = !!arg(a, k, 0, "keepends");
    const parts = s.split(/(\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029])/);
    const out: string[] = [];
    for (let i = 0; i < parts.length; i += 2) {
      const line = parts[i] as string;
      const nl = parts[i + 1];
      if (nl === undefined && line === "") break;
      out.push(keep && nl ? line + nl : line);
    }
    return out;
  },
  replace: (s, a, k, g) =>
    pyReplace(
      g,
      s,
      strArg(arg(a, k, 0, "old"), "replace"),
      strArg(arg(a, k, 1, "new"), "replace"),
      intArg(arg(a, k, 2, "count"), -1),
    ),
  startswith: (s, a) => prefixTest(s, a[0], false),
  endswith: (s, a) => prefixTest(s, a[0], true),
  find: (s, a) => findSub(s, a[0], false),
  rfind: (s, a) => findSub(s, a[0], true),
  index: (s, a) => {
    const i = findSub(s, a[0], false);
    if (i < 0) throw new PyError("ValueError", "substring not found");
    return i;
  },
  rindex: (s, a) => {
    const i = findSub(s, a[0], true);
    if (i < 0) throw new PyError("ValueError", "substring not found");
    return i;
  },
  count: (s, a) => {
    const sub = strArg(a[0], "count");
    return sub === "" ? strLen(s) + 1 : s.split(sub).length - 1;
  },
  join: (s, a, _k, g) => {
    const items = iterate(a[0]);
    return guardString(
      g,
      items
        .map((x, i) => {
          if (typeof x !== "string")
            throw new PyError("TypeError", `sequence item ${i}: expected str instance, ${typeName(x)} found`);
          return x;
        })
        .join(s),
    );
  },
  format: (s, a, k, g) =>
    guardString(
      g,
      strFormat(s, a, k, (obj, key) => pyGetitem(g, obj, key)),
    ),
  center: (s, a, k, g) =>
    guardString(g, pyCenter(s, intArg(arg(a, k, 0, "width"), 0), (arg(a, k, 1, "fillchar") as string) ?? " ")),
  ljust: (s, a, k, g) =>
    guardString(g, s + ((arg(a, k, 1, "fillchar") as string) ?? " ").repeat(Math.max(0, intArg(a[0], 0) - strLen(s)))),
  rjust: (s, a, k, g) =>
    guardString(g, ((arg(a, k, 1, "fillchar") as string) ?? " ").repeat(Math.max(0, intArg(a[0], 0) - strLen(s))) + s),
  zfill: (s, a, _k, g) => {
    const width = intArg(a[0], 0);
    const sign = s.startsWith("-") || s.startsWith("+") ? (s[0] as string) : "";
    return guardString(g, sign + s.slice(sign.length).padStart(width - sign.length, "0"));
  },
  isdigit: (s) => s.length > 0 && /^\p{Nd}+$/u.test(s),
  isdecimal: (s) => s.length > 0 && /^\p{Nd}+$/u.test(s),
  isnumeric: (s) => s.length > 0 && /^\p{N}+$/u.test(s),
  isalpha: (s) => s.length > 0 && /^\p{L}+$/u.test(s),
  isalnum: (s) => s.length > 0 && /^[\p{L}\p{N}]+$/u.test(s),
  isspace: (s) => s.length > 0 && new RegExp(`^[${PY_WHITESPACE}]+$`).test(s),
  islower: (s) => isCased(s) && s === s.toLowerCase(),
  isupper: (s) => isCased(s) && s === s.toUpperCase(),
  istitle: (s) => isCased(s) && pyTitle(s) === s,
  partition: (s, a) => {
    const sep = strArg(a[0], "partition");
    const i = s.indexOf(sep);
    return i < 0 ? new PyTuple([s, "", ""]) : new PyTuple([s.slice(0, i), sep, s.slice(i + sep.length)]);
  },
  rpartition: (s, a) => {
    const sep = strArg(a[0], "rpartition");
    const i = s.lastIndexOf(sep);
    return i < 0 ? new PyTuple(["", "", s]) : new PyTuple([s.slice(0, i), sep, s.slice(i + sep.length)]);
  },
  removeprefix: (s, a) => {
    const p = strArg(a[0], "removeprefix");
    return p && s.startsWith(p) ? s.slice(p.length) : s;
  },
  removesuffix: (s, a) => {
    const p = strArg(a[0], "removesuffix");
    return p && s.endsWith(p) ? s.slice(0, -p.length) : s;
  },
};

const LIST_METHODS: Record<string, Method<unknown[]>> = {
  append: (l, a, _k, g) => {
    guardItems(g, l.length + 1);
    l.push(a[0]);
    return null;
  },
  extend: (l, a, _k, g) => {
    const items = iterate(a[0]);
    guardItems(g, l.length + items.length);
    l.push(...items);
    return null;
  },
  insert: (l, a) => {
    const i = intArg(a[0], 0);
    l.splice(i < 0 ? Math.max(0, l.length + i) : Math.min(i, l.length), 0, a[1]);
    return null;
  },
  pop: (l, a) => {
    if (l.length === 0) throw new PyError("IndexError", "pop from empty list");
    const i = normIndex(intArg(a[0], -1), l.length);
    if (i < 0 || i >= l.length) throw new PyError("IndexError", "pop index out of range");
    return l.splice(i, 1)[0];
  },
  remove: (l, a) => {
    const i = l.findIndex((x) => pyEq(x, a[0]));
    if (i < 0) throw new PyError("ValueError", "list.remove(x): x not in list");
    l.splice(i, 1);
    return null;
  },
  index: (l, a) => {
    const i = l.findIndex((x) => pyEq(x, a[0]));
    if (i < 0) throw new PyError("ValueError", `${pyRepr(a[0])} is not in list`);
    return i;
  },
  count: (l, a) => l.filter((x) => pyEq(x, a[0])).length,
  reverse: (l) => {
    l.reverse();
    return null;
  },
  sort: (l, a, k) => {
    const rev = !!arg(a, k, 0, "reverse");
    l.sort((x, y) => (rev ? pyCompare(y, x) : pyCompare(x, y)));
    return null;
  },
  copy: (l) => [...l],
  clear: (l) => {
    l.length = 0;
    return null;
  },
};

const TUPLE_METHODS: Record<string, Method<PyTuple>> = {
  index: (t, a) => {
    const i = t.items.findIndex((x) => pyEq(x, a[0]));
    if (i < 0) throw new PyError("ValueError", "tuple.index(x): x not in tuple");
    return i;
  },
  count: (t, a) => t.items.filter((x) => pyEq(x, a[0])).length,
};

function dictItems(d: Record<string, unknown>): PyTuple[] {
  return dictKeys(d).map((k) => new PyTuple([k, d[k]]));
}

const DICT_METHODS: Record<string, Method<Record<string, unknown>>> = {
  get: (d, a, k) => {
    const key = arg(a, k, 0, "key");
    const v = typeof key === "string" ? dictGet(d, key) : undefined;
    return v === undefined ? (arg(a, k, 1, "default") ?? null) : v;
  },
  keys: (d) => dictKeys(d),
  values: (d) => dictKeys(d).map((k) => d[k]),
  items: (d) => dictItems(d),
  update: (d, a, k) => {
    const src = a[0];
    if (isDict(src)) for (const key of dictKeys(src)) d[key] = src[key];
    else if (src !== undefined) {
      for (const pair of iterate(src)) {
        const kv = seqItems(pair);
        if (kv?.length !== 2) throw new PyError("ValueError", "dictionary update sequence element has wrong length");
        d[pyStr(kv[0])] = kv[1];
      }
    }
    for (const [key, v] of k) d[key] = v;
    return null;
  },
  pop: (d, a) => {
    const key = pyStr(a[0]);
    if (Object.hasOwn(d, key)) {
      const v = d[key];
      delete d[key];
      return v;
    }
    if (a.length > 1) return a[1];
    throw new PyError("KeyError", strRepr(key));
  },
  setdefault: (d, a) => {
    const key = pyStr(a[0]);
    if (!Object.hasOwn(d, key)) d[key] = a[1] ?? null;
    return d[key];
  },
  copy: (d) => Object.assign(newDict(), d),
  clear: (d) => {
    for (const key of dictKeys(d)) delete d[key];
    return null;
  },
};

/** Methods that change their receiver; templates using them render on a copy of the inputs. */
export const MUTATING_METHODS: ReadonlySet<string> = new Set([
  "append",
  "extend",
  "insert",
  "pop",
  "remove",
  "reverse",
  "sort",
  "clear",
  "update",
  "setdefault",
]);

function methodTable(obj: unknown): Record<string, Method<never>> | null {
  if (typeof obj === "string") return STR_METHODS as Record<string, Method<never>>;
  if (Array.isArray(obj)) return LIST_METHODS as Record<string, Method<never>>;
  if (obj instanceof PyTuple) return TUPLE_METHODS as Record<string, Method<never>>;
  if (isDict(obj)) return DICT_METHODS as Record<string, Method<never>>;
  return null;
}

function boundMethod(g: Guard, obj: unknown, name: string): unknown {
  // Mutating methods are callable only as `x.append(…)`, the form the compiler detects to
  // render on a copy of the inputs; `{% set f = x.append %}` would slip past that check.
  if (MUTATING_METHODS.has(name)) return undefined;
  const table = methodTable(obj);
  const m = table && Object.hasOwn(table, name) ? table[name] : undefined;
  if (!m) return undefined;
  return new PyCallable(name, (args, kwargs) => (m as Method<unknown>)(obj, args, kwargs, g));
}

/** `obj.name(args)`; returns `NO_METHOD` when obj has no such method or callable attribute. */
export const NO_METHOD = Symbol("no-method");

export function callMethod(g: Guard, obj: unknown, name: string, args: unknown[], kwargs: Kwargs): unknown {
  if (isDict(obj) && Object.hasOwn(obj, name)) {
    // A key that holds a callable is called; otherwise `d.keys()` means the method, as in Python.
    const v = obj[name];
    if (v instanceof PyCallable) return v.fn(args, kwargs);
  }
  if (obj instanceof PyObject) {
    const v = obj.getattr(name);
    return v instanceof PyCallable ? v.fn(args, kwargs) : NO_METHOD;
  }
  const table = methodTable(obj);
  const m = table && Object.hasOwn(table, name) ? table[name] : undefined;
  if (!m) return NO_METHOD;
  return (m as Method<unknown>)(obj, args, kwargs, g);
}

export { dictItems };
