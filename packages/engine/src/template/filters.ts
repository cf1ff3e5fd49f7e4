/**
 * Jinja2's built-in filters and tests, following Jinja2 3.1's definitions (argument names,
 * defaults, case-insensitive sorting, `truncate` leeway, `tojson` escaping…). Filters that
 * return generators in Jinja2 (`map`, `select`, `batch`…) return lists here, so printing one
 * shows its items instead of `<generator object …>`.
 */
import { type Guard, guardString, pyAdd, pyCapitalize, pyCenter, pyGetattr, pyGetitem, pyReplace } from "./ops.js";
import {
  codePoints,
  dictKeys,
  floatRepr,
  formatInt,
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
  PyFloat,
  PyTuple,
  percentFormat,
  pyCompare,
  pyContains,
  pyEq,
  pyLen,
  pyRepr,
  pyStr,
  roundHalfEven,
  seqItems,
  strLen,
  toFixedPy,
  toNumber,
  truthy,
  typeName,
} from "./py-values.js";

/** What filters need from the renderer. */
export interface FilterEnv extends Guard {
  callFilter(name: string, value: unknown, args: unknown[], kwargs: Kwargs): unknown;
  callTest(name: string, value: unknown, args: unknown[]): boolean;
}

export type FilterFn = (value: unknown, args: unknown[], kwargs: Kwargs, env: FilterEnv) => unknown;
export type TestFn = (value: unknown, args: unknown[], env: FilterEnv) => boolean;

/** Binds positional and keyword arguments to a filter's parameter names (undefined = not given). */
function bind(name: string, args: unknown[], kwargs: Kwargs, params: readonly string[]): unknown[] {
  if (args.length > params.length) {
    throw new PyError("TypeError", `${name}() takes at most ${params.length} argument(s) (${args.length} given)`);
  }
  const out: unknown[] = params.map((_, i) => args[i]);
  for (const [k, v] of kwargs) {
    const i = params.indexOf(k);
    if (i < 0) throw new PyError("TypeError", `${name}() got an unexpected keyword argument '${k}'`);
    if (i < args.length) throw new PyError("TypeError", `${name}() got multiple values for argument '${k}'`);
    out[i] = v;
  }
  return out;
}

function intParam(name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (!(isInt(v) || typeof v === "boolean")) {
    throw new PyError("TypeError", `${name}: '${typeName(v)}' object cannot be interpreted as an integer`);
  }
  return toNumber(v);
}

/** Jinja2's make_attrgetter: "a.b.0" walks items (dict keys, list indexes), then attributes. */
function attrGetter(
  g: Guard,
  attribute: unknown,
  postprocess?: (v: unknown) => unknown,
  dflt?: unknown,
): (item: unknown) => unknown {
  const parts: Array<string | number> =
    attribute === undefined || attribute === null
      ? []
      : typeof attribute === "string"
        ? attribute.split(".").map((p) => (/^\d+$/.test(p) ? Number(p) : p))
        : [toNumber(attribute)];
  return (item) => {
    let v = item;
    for (const p of parts) v = pyGetitem(g, v, p);
    if (v === undefined && dflt !== undefined) v = dflt;
    return postprocess ? postprocess(v) : v;
  };
}

/** Comma-separated attributes (`sort(attribute="age,name")`) compare as a tuple. */
function multiAttrGetter(g: Guard, attribute: unknown, postprocess?: (v: unknown) => unknown): (item: unknown) => unknown {
  if (typeof attribute !== "string" || !attribute.includes(",")) return attrGetter(g, attribute, postprocess);
  const getters = attribute.split(",").map((a) => attrGetter(g, a.trim(), postprocess));
  return (item) => getters.map((f) => f(item));
}

const ignoreCase = (v: unknown): unknown => (typeof v === "string" ? v.toLowerCase() : v);

function sortedBy(items: readonly unknown[], key: (v: unknown) => unknown, reverse: boolean): unknown[] {
  const keyed = items.map((v) => ({ v, k: key(v) }));
  keyed.sort((a, b) => (reverse ? pyCompare(b.k, a.k) : pyCompare(a.k, b.k)));
  return keyed.map((x) => x.v);
}

/** A hashable-ish key for `unique`: equal Python values (1, 1.0, True) share a key. */
function hashKey(v: unknown): string {
  if (isNumeric(v)) return `n:${toNumber(v)}`;
  if (typeof v === "string") return `s:${v}`;
  if (v === null) return "None";
  if (Array.isArray(v) || isDict(v)) throw new PyError("TypeError", `unhashable type: '${typeName(v)}'`);
  return `r:${pyRepr(v)}`;
}

function s(v: unknown): string {
  return pyStr(v);
}

// ---- HTML and URL helpers -----------------------------------------------------------------

export function htmlEscape(v: string): string {
  return v.replace(/[&<>"']/g, (c) =>
    c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&#34;" : "&#39;",
  );
}

const NAMED_ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };

function htmlUnescape(v: string): string {
  return v.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-zA-Z]+);/g, (all, ent: string) => {
    if (ent.startsWith("#x") || ent.startsWith("#X")) return String.fromCodePoint(Number.parseInt(ent.slice(2), 16));
    if (ent.startsWith("#")) return String.fromCodePoint(Number(ent.slice(1)));
    return NAMED_ENTITIES[ent] ?? all;
  });
}

function urlQuote(v: unknown, forQs: boolean): string {
  let out = encodeURIComponent(s(v)).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  if (!forQs) out = out.replace(/%2F/g, "/");
  return forQs ? out.replace(/%20/g, "+") : out;
}

// ---- JSON ----------------------------------------------------------------------------------

function jsonString(v: string, ensureAscii: boolean): string {
  let out = '"';
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    const ch = v[i] as string;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (c < 0x20 || (ensureAscii && c > 0x7e)) out += `\\u${c.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Python's `json.dumps` with the options Jinja2's `tojson` uses (sorted keys, ASCII). */
export function pyJsonDumps(
  value: unknown,
  options: { indent?: number | string | null; sortKeys?: boolean; ensureAscii?: boolean } = {},
): string {
  const indent =
    options.indent === undefined || options.indent === null
      ? null
      : typeof options.indent === "number"
        ? " ".repeat(options.indent)
        : options.indent;
  const sortKeys = options.sortKeys ?? true;
  const ensureAscii = options.ensureAscii ?? true;
  const itemSep = indent === null ? ", " : ",";
  const seen = new Set<object>();
  const enc = (v: unknown, depth: number): string => {
    if (v === null || v === undefined) return "null";
    if (typeof v === "boolean") return v ? "true" : "false";
    if (typeof v === "number") {
      if (Number.isInteger(v)) return formatInt(v);
      if (Number.isNaN(v)) return "NaN";
      if (!Number.isFinite(v)) return v > 0 ? "Infinity" : "-Infinity";
      return floatRepr(v);
    }
    if (v instanceof PyFloat) return floatRepr(v.value);
    if (typeof v === "string") return jsonString(v, ensureAscii);
    const items = seqItems(v);
    const isObj = !items && isDict(v);
    if (!items && !isObj) throw new PyError("TypeError", `Object of type ${typeName(v)} is not JSON serializable`);
    const container = v as object;
    if (seen.has(container)) throw new PyError("ValueError", "Circular reference detected");
    seen.add(container);
    let parts: string[];
    if (items) parts = items.map((x) => enc(x, depth + 1));
    else {
      const d = v as Record<string, unknown>;
      let keys = dictKeys(d);
      if (sortKeys) keys = [...keys].sort();
      parts = keys.map((k) => `${jsonString(k, ensureAscii)}: ${enc(d[k], depth + 1)}`);
    }
    seen.delete(container);
    const [open, close] = items ? ["[", "]"] : ["{", "}"];
    if (parts.length === 0) return open + close;
    if (indent === null) return open + parts.join(itemSep) + close;
    const inner = `\n${indent.repeat(depth + 1)}`;
    return `${open}${inner}${parts.join(itemSep + inner)}\n${indent.repeat(depth)}${close}`;
  };
  return enc(value, 0);
}

// ---- number parsing -------------------------------------------------------------------------

const PY_FLOAT = /^[+-]?(?:(?:\d(?:_?\d)*)?\.?\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?|(?:\d(?:_?\d)*)\.|inf(?:inity)?|nan)$/i;

function parsePyFloat(v: string): number | null {
  const t = v.trim();
  if (!PY_FLOAT.test(t)) return null;
  const lower = t.toLowerCase().replace(/_/g, "");
  if (lower.endsWith("nan")) return Number.NaN;
  if (lower.includes("inf")) return lower.startsWith("-") ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  return Number(lower);
}

function parsePyInt(v: string, base: number): number | null {
  let t = v.trim().replace(/_/g, "");
  let sign = 1;
  if (t.startsWith("-") || t.startsWith("+")) {
    sign = t.startsWith("-") ? -1 : 1;
    t = t.slice(1);
  }
  let b = base;
  const prefixed = /^0([xob])/i.exec(t);
  if (prefixed && (b === 0 || b === { x: 16, o: 8, b: 2 }[prefixed[1]?.toLowerCase() as "x" | "o" | "b"])) {
    b = { x: 16, o: 8, b: 2 }[prefixed[1]?.toLowerCase() as "x" | "o" | "b"];
    t = t.slice(2);
  } else if (b === 0) b = 10;
  if (t === "") return null;
  const digits = "0123456789abcdefghijklmnopqrstuvwxyz".slice(0, b);
  for (const c of t.toLowerCase()) if (!digits.includes(c)) return null;
  return sign * Number.parseInt(t, b);
}

// ---- text helpers ---------------------------------------------------------------------------

function splitLines(v: string): string[] {
  const lines = v.split(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/);
  if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** A greedy word wrap close to Python's textwrap.wrap (no hyphen splitting). */
function wrapLine(line: string, width: number, breakLong: boolean): string[] {
  const chunks = line.split(/(\s+)/).filter((c) => c !== "");
  const lines: string[] = [];
  let cur: string[] = [];
  let curLen = 0;
  const flush = (): void => {
    while (cur.length > 0 && /^\s+$/.test(cur[cur.length - 1] as string)) cur.pop();
    if (cur.length > 0) lines.push(cur.join(""));
    cur = [];
    curLen = 0;
  };
  for (let i = 0; i < chunks.length; i++) {
    let chunk = chunks[i] as string;
    const ws = /^\s+$/.test(chunk);
    if (ws && curLen === 0) continue; // whitespace at a line start is dropped
    const len = strLen(chunk);
    if (curLen + len <= width) {
      cur.push(chunk);
      curLen += len;
      continue;
    }
    if (ws) {
      flush();
      continue;
    }
    if (len > width && breakLong) {
      const room = width - curLen;
      const cps = codePoints(chunk);
      if (room > 0) cur.push(cps.slice(0, room).join(""));
      flush();
      let rest = cps.slice(Math.max(room, 0));
      while (rest.length > width) {
        lines.push(rest.slice(0, width).join(""));
        rest = rest.slice(width);
      }
      chunk = rest.join("");
      if (chunk) {
        cur.push(chunk);
        curLen = strLen(chunk);
      }
      continue;
    }
    flush();
    cur.push(chunk);
    curLen = len;
  }
  flush();
  return lines;
}

function escapeAttrKey(key: string): string {
  if (/[\s/>=]/.test(key)) throw new PyError("ValueError", `Invalid character in attribute name: ${pyRepr(key)}`);
  return htmlEscape(key);
}

function empty(what: string): undefined {
  void what; // Jinja2 returns an Undefined carrying this hint; printing it gives "".
  return undefined;
}

// ---- the filters ----------------------------------------------------------------------------

function selectOrReject(
  value: unknown,
  args: unknown[],
  kwargs: Kwargs,
  env: FilterEnv,
  attr: boolean,
  keep: boolean,
): unknown[] {
  let off = 0;
  let trans: (v: unknown) => unknown = (v) => v;
  if (attr) {
    if (args.length === 0) throw new PyError("FilterArgumentError", "Missing parameter for attribute name");
    trans = attrGetter(env, args[0]);
    off = 1;
  }
  const testName = args[off];
  const testArgs = args.slice(off + 1);
  if (kwargs.size > 0) throw new PyError("TypeError", `unexpected keyword argument '${[...kwargs.keys()][0]}'`);
  const pred = testName === undefined ? (v: unknown) => truthy(v) : (v: unknown) => env.callTest(s(testName), v, testArgs);
  return iterate(value).filter((item) => pred(trans(item)) === keep);
}

function minOrMax(value: unknown, args: unknown[], kwargs: Kwargs, env: FilterEnv, sign: 1 | -1): unknown {
  const [caseSensitive, attribute] = bind(sign > 0 ? "max" : "min", args, kwargs, ["case_sensitive", "attribute"]);
  const items = iterate(value);
  if (items.length === 0) return empty("No aggregated item, sequence was empty.");
  const key = attrGetter(env, attribute, truthy(caseSensitive) ? undefined : ignoreCase);
  let best = items[0];
  let bestKey = key(best);
  for (let i = 1; i < items.length; i++) {
    const k = key(items[i]);
    if (pyCompare(k, bestKey) * sign > 0) {
      best = items[i];
      bestKey = k;
    }
  }
  return best;
}

export const FILTERS: Record<string, FilterFn> = {
  abs: (v) => {
    if (!isNumeric(v)) throw new PyError("TypeError", `bad operand type for abs(): '${typeName(v)}'`);
    return isFloat(v) ? makeFloat(Math.abs(toNumber(v))) : Math.abs(toNumber(v));
  },
  attr: (v, a, k, env) => {
    const [name] = bind("attr", a, k, ["name"]);
    // Jinja2's `attr` reads attributes only, never dict keys.
    if (isDict(v)) return undefined;
    return pyGetattr(env, v, s(name));
  },
  batch: (v, a, k) => {
    const [linecount, fillWith] = bind("batch", a, k, ["linecount", "fill_with"]);
    const n = intParam("batch", linecount, 1);
    if (n <= 0) throw new PyError("ValueError", "batch size must be positive");
    const items = iterate(v);
    const out: unknown[][] = [];
    for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n));
    const last = out[out.length - 1];
    if (last && fillWith !== undefined && fillWith !== null) while (last.length < n) last.push(fillWith);
    return out;
  },
  capitalize: (v) => pyCapitalize(s(v)),
  center: (v, a, k, env) => {
    const [width] = bind("center", a, k, ["width"]);
    return guardString(env, pyCenter(s(v), intParam("center", width, 80)));
  },
  count: (v) => pyLen(v),
  d: (v, a, k, env) => FILTERS.default?.(v, a, k, env),
  default: (v, a, k) => {
    const [dflt, boolean] = bind("default", a, k, ["default_value", "boolean"]);
    if (v === undefined || (truthy(boolean) && !truthy(v))) return dflt === undefined ? "" : dflt;
    return v;
  },
  dictsort: (v, a, k) => {
    const [caseSensitive, by, reverse] = bind("dictsort", a, k, ["case_sensitive", "by", "reverse"]);
    if (!isDict(v)) throw new PyError("TypeError", "dictsort can only sort mappings");
    const pos = by === undefined || by === "key" ? 0 : by === "value" ? 1 : -1;
    if (pos < 0) throw new PyError("FilterArgumentError", 'You can only sort by either "key" or "value"');
    const pairs = dictKeys(v).map((key) => new PyTuple([key, v[key]]));
    return sortedBy(
      pairs,
      (p) => {
        const x = (p as PyTuple).items[pos];
        return truthy(caseSensitive) ? x : ignoreCase(x);
      },
      truthy(reverse),
    );
  },
  e: (v) => htmlEscape(s(v)),
  escape: (v) => htmlEscape(s(v)),
  filesizeformat: (v, a, k) => {
    const [binary] = bind("filesizeformat", a, k, ["binary"]);
    const bytes = typeof v === "string" ? (parsePyFloat(v) ?? Number.NaN) : toNumber(v);
    if (Number.isNaN(bytes)) throw new PyError("ValueError", `could not convert string to float: ${pyRepr(v)}`);
    const base = truthy(binary) ? 1024 : 1000;
    const prefixes = truthy(binary)
      ? ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]
      : ["kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    if (bytes === 1) return "1 Byte";
    if (bytes < base) return `${Math.trunc(bytes)} Bytes`;
    let unit = base;
    let prefix = prefixes[0] as string;
    for (let i = 0; i < prefixes.length; i++) {
      unit = base ** (i + 2);
      prefix = prefixes[i] as string;
      if (bytes < unit) break;
    }
    return `${toFixedPy((base * bytes) / unit, 1)} ${prefix}`;
  },
  first: (v) => {
    if (typeof v === "string") return codePoints(v)[0] ?? empty("No first item, sequence was empty.");
    const items = iterate(v);
    return items.length > 0 ? items[0] : empty("No first item, sequence was empty.");
  },
  float: (v, a, k) => {
    const [dflt] = bind("float", a, k, ["default"]);
    const fallback = dflt === undefined ? new PyFloat(0) : dflt;
    if (isNumeric(v)) return makeFloat(toNumber(v));
    if (typeof v === "string") {
      const n = parsePyFloat(v);
      return n === null ? fallback : makeFloat(n);
    }
    return fallback;
  },
  forceescape: (v) => htmlEscape(s(v)),
  format: (v, a, k, env) => {
    if (a.length > 0 && k.size > 0)
      throw new PyError("FilterArgumentError", "can't handle positional and keyword arguments at the same time");
    if (k.size > 0) {
      const d = newDict();
      for (const [key, val] of k) d[key] = val;
      return guardString(env, percentFormat(s(v), d));
    }
    return guardString(env, percentFormat(s(v), new PyTuple(a)));
  },
  groupby: (v, a, k, env) => {
    const [attribute, dflt, caseSensitive] = bind("groupby", a, k, ["attribute", "default", "case_sensitive"]);
    const cs = truthy(caseSensitive);
    const key = attrGetter(env, attribute, cs ? undefined : ignoreCase, dflt);
    const outKey = attrGetter(env, attribute, undefined, dflt);
    const sorted = sortedBy(iterate(v), key, false);
    const groups: PyTuple[] = [];
    let curKey: unknown;
    let cur: unknown[] | null = null;
    for (const item of sorted) {
      const kk = key(item);
      if (cur && pyEq(kk, curKey)) cur.push(item);
      else {
        cur = [item];
        curKey = kk;
        groups.push(new PyTuple([outKey(item), cur], ["grouper", "list"], "_GroupTuple"));
      }
    }
    return groups;
  },
  indent: (v, a, k) => {
    const [width, first, blank] = bind("indent", a, k, ["width", "first", "blank"]);
    const ind = typeof width === "string" ? width : " ".repeat(intParam("indent", width, 4));
    const text = `${s(v)}\n`;
    let rv: string;
    if (truthy(blank)) rv = splitLines(text).join(`\n${ind}`);
    else {
      const lines = splitLines(text);
      rv = lines.shift() ?? "";
      if (lines.length > 0) rv += `\n${lines.map((l) => (l ? ind + l : l)).join("\n")}`;
    }
    return truthy(first) ? ind + rv : rv;
  },
  int: (v, a, k) => {
    const [dflt, base] = bind("int", a, k, ["default", "base"]);
    const fallback = dflt === undefined ? 0 : dflt;
    if (typeof v === "boolean") return v ? 1 : 0;
    if (isNumeric(v)) {
      const n = toNumber(v);
      return Number.isFinite(n) ? Math.trunc(n) : fallback;
    }
    if (typeof v === "string") {
      const n = parsePyInt(v, intParam("int", base, 10));
      if (n !== null) return n;
      const f = parsePyFloat(v);
      return f !== null && Number.isFinite(f) ? Math.trunc(f) : fallback;
    }
    return fallback;
  },
  items: (v) => {
    if (v === undefined) return [];
    if (!isDict(v)) throw new PyError("TypeError", "Can only get item pairs from a mapping.");
    return dictKeys(v).map((key) => new PyTuple([key, v[key]]));
  },
  join: (v, a, k, env) => {
    const [d, attribute] = bind("join", a, k, ["d", "attribute"]);
    let items = iterate(v);
    if (attribute !== undefined && attribute !== null) items = items.map(attrGetter(env, attribute));
    return guardString(env, items.map(s).join(d === undefined ? "" : s(d)));
  },
  last: (v) => {
    const items = typeof v === "string" ? codePoints(v) : iterate(v);
    return items.length > 0 ? items[items.length - 1] : empty("No last item, sequence was empty.");
  },
  length: (v) => pyLen(v),
  list: (v) => [...iterate(v)],
  lower: (v) => s(v).toLowerCase(),
  map: (v, a, k, env) => {
    const items = iterate(v);
    if (a.length === 0 && k.has("attribute")) {
      const rest = new Map(k);
      const attribute = rest.get("attribute");
      const dflt = rest.get("default");
      rest.delete("attribute");
      rest.delete("default");
      if (rest.size > 0) throw new PyError("FilterArgumentError", `Unexpected keyword argument ${pyRepr([...rest.keys()][0])}`);
      return items.map(attrGetter(env, attribute, undefined, dflt === null ? undefined : dflt));
    }
    if (a.length === 0) throw new PyError("FilterArgumentError", "map requires a filter argument");
    const name = s(a[0]);
    const rest = a.slice(1);
    return items.map((item) => env.callFilter(name, item, rest, k));
  },
  max: (v, a, k, env) => minOrMax(v, a, k, env, 1),
  min: (v, a, k, env) => minOrMax(v, a, k, env, -1),
  pprint: (v) => pyRepr(v),
  random: (v) => {
    const items = typeof v === "string" ? codePoints(v) : iterate(v);
    return items.length > 0 ? items[Math.floor(Math.random() * items.length)] : empty("No random item, sequence was empty.");
  },
  reject: (v, a, k, env) => selectOrReject(v, a, k, env, false, false),
  rejectattr: (v, a, k, env) => selectOrReject(v, a, k, env, true, false),
  replace: (v, a, k, env) => {
    const [old, repl, count] = bind("replace", a, k, ["old", "new", "count"]);
    return pyReplace(env, s(v), s(old), s(repl), count === undefined || count === null ? -1 : intParam("replace", count, -1));
  },
  reverse: (v) => {
    if (typeof v === "string") return codePoints(v).reverse().join("");
    return [...iterate(v)].reverse();
  },
  round: (v, a, k) => {
    const [precision, method] = bind("round", a, k, ["precision", "method"]);
    const p = intParam("round", precision, 0);
    const m = method === undefined ? "common" : s(method);
    if (m !== "common" && m !== "ceil" && m !== "floor") {
      throw new PyError("FilterArgumentError", "method must be common, ceil or floor");
    }
    if (!isNumeric(v)) throw new PyError("TypeError", `type ${typeName(v)} doesn't define __round__ method`);
    const x = toNumber(v);
    if (m === "common") {
      if (isInt(v) || typeof v === "boolean") return p >= 0 ? x : roundHalfEven(x, p);
      return makeFloat(roundHalfEven(x, p));
    }
    const f = 10 ** p;
    return makeFloat((m === "ceil" ? Math.ceil(x * f) : Math.floor(x * f)) / f);
  },
  safe: (v) => v,
  select: (v, a, k, env) => selectOrReject(v, a, k, env, false, true),
  selectattr: (v, a, k, env) => selectOrReject(v, a, k, env, true, true),
  slice: (v, a, k) => {
    const [slices, fillWith] = bind("slice", a, k, ["slices", "fill_with"]);
    const n = intParam("slice", slices, 1);
    if (n <= 0) throw new PyError("ValueError", "slices must be positive");
    const seq = iterate(v);
    const per = Math.floor(seq.length / n);
    const extra = seq.length % n;
    const out: unknown[][] = [];
    let offset = 0;
    for (let i = 0; i < n; i++) {
      const start = offset + i * per;
      if (i < extra) offset++;
      const end = offset + (i + 1) * per;
      const part = seq.slice(start, end);
      if (fillWith !== undefined && fillWith !== null && i >= extra) part.push(fillWith);
      out.push(part);
    }
    return out;
  },
  sort: (v, a, k, env) => {
    const [reverse, caseSensitive, attribute] = bind("sort", a, k, ["reverse", "case_sensitive", "attribute"]);
    const key = multiAttrGetter(env, attribute, truthy(caseSensitive) ? undefined : ignoreCase);
    return sortedBy(iterate(v), key, truthy(reverse));
  },
  string: (v) => s(v),
  striptags: (v) => {
    let text = s(v).replace(/<!--[\s\S]*?-->/g, "");
    text = text.replace(/<[^>]*>/g, "");
    return htmlUnescape(text.split(/\s+/).filter(Boolean).join(" "));
  },
  sum: (v, a, k, env) => {
    const [attribute, start] = bind("sum", a, k, ["attribute", "start"]);
    let items = iterate(v);
    if (attribute !== undefined && attribute !== null) items = items.map(attrGetter(env, attribute));
    let total: unknown = start === undefined ? 0 : start;
    for (const item of items) total = pyAdd(env, total, item);
    return total;
  },
  title: (v) =>
    s(v)
      .split(/([-\s({[<]+)/)
      .filter(Boolean)
      .map((part) => {
        const cps = codePoints(part);
        return (cps[0] ?? "").toUpperCase() + cps.slice(1).join("").toLowerCase();
      })
      .join(""),
  tojson: (v, a, k, env) => {
    const [indent, ensureAscii, sortKeys] = bind("tojson", a, k, ["indent", "ensure_ascii", "sort_keys"]);
    const json = pyJsonDumps(v, {
      indent: indent === undefined || indent === null ? null : typeof indent === "string" ? indent : toNumber(indent),
      ensureAscii: ensureAscii === undefined ? true : truthy(ensureAscii),
      sortKeys: sortKeys === undefined ? true : truthy(sortKeys),
    });
    // Jinja2's htmlsafe_json_dumps: safe to embed in HTML and <script>.
    return guardString(
      env,
      json.replace(/[<>&']/g, (c) => (c === "<" ? "\\u003c" : c === ">" ? "\\u003e" : c === "&" ? "\\u0026" : "\\u0027")),
    );
  },
  trim: (v, a, k) => {
    const [chars] = bind("trim", a, k, ["chars"]);
    const text = s(v);
    if (chars === undefined || chars === null) return text.replace(/^[\s\x1c-\x1f\x85]+|[\s\x1c-\x1f\x85]+$/g, "");
    const set = `[${s(chars).replace(/[\\\]^-]/g, "\\$&")}]`;
    return set === "[]" ? text : text.replace(new RegExp(`^${set}+|${set}+$`, "gu"), "");
  },
  truncate: (v, a, k) => {
    const [length, killwords, end, leeway] = bind("truncate", a, k, ["length", "killwords", "end", "leeway"]);
    const text = s(v);
    const len = intParam("truncate", length, 255);
    const suffix = end === undefined ? "..." : s(end);
    const lee = intParam("truncate", leeway, 5);
    if (len < strLen(suffix)) throw new PyError("AssertionError", `expected length >= ${strLen(suffix)}, got ${len}`);
    if (lee < 0) throw new PyError("AssertionError", `expected leeway >= 0, got ${lee}`);
    const cps = codePoints(text);
    if (cps.length <= len + lee) return text;
    const head = cps.slice(0, len - strLen(suffix)).join("");
    if (truthy(killwords)) return head + suffix;
    const cut = head.lastIndexOf(" ");
    return (cut >= 0 ? head.slice(0, cut) : head) + suffix;
  },
  unique: (v, a, k, env) => {
    const [caseSensitive, attribute] = bind("unique", a, k, ["case_sensitive", "attribute"]);
    const key = attrGetter(env, attribute, truthy(caseSensitive) ? undefined : ignoreCase);
    const seen = new Set<string>();
    const out: unknown[] = [];
    for (const item of iterate(v)) {
      const h = hashKey(key(item));
      if (!seen.has(h)) {
        seen.add(h);
        out.push(item);
      }
    }
    return out;
  },
  upper: (v) => s(v).toUpperCase(),
  urlencode: (v) => {
    if (typeof v === "string" || !(isDict(v) || seqItems(v))) return urlQuote(v, false);
    const pairs: unknown[] = isDict(v) ? dictKeys(v).map((key) => new PyTuple([key, v[key]])) : [...iterate(v)];
    return pairs
      .map((p) => {
        const kv = seqItems(p);
        if (kv?.length !== 2) throw new PyError("ValueError", "urlencode expects (key, value) pairs");
        return `${urlQuote(kv[0], true)}=${urlQuote(kv[1], true)}`;
      })
      .join("&");
  },
  wordcount: (v) => (s(v).match(/[\p{L}\p{N}_]+/gu) ?? []).length,
  wordwrap: (v, a, k, env) => {
    const [width, breakLong, wrapstring] = bind("wordwrap", a, k, [
      "width",
      "break_long_words",
      "wrapstring",
      "break_on_hyphens",
    ]);
    const w = intParam("wordwrap", width, 79);
    const sep = wrapstring === undefined || wrapstring === null ? "\n" : s(wrapstring);
    const longWords = breakLong === undefined ? true : truthy(breakLong);
    return guardString(
      env,
      splitLines(s(v))
        .map((line) => wrapLine(line, w, longWords).join(sep))
        .join(sep),
    );
  },
  xmlattr: (v, a, k) => {
    const [autospace] = bind("xmlattr", a, k, ["autospace"]);
    if (!isDict(v)) throw new PyError("TypeError", "xmlattr expects a mapping");
    const items: string[] = [];
    for (const key of dictKeys(v)) {
      const val = v[key];
      if (val === null || val === undefined) continue;
      items.push(`${escapeAttrKey(key)}="${htmlEscape(s(val))}"`);
    }
    const rv = items.join(" ");
    return (autospace === undefined || truthy(autospace)) && rv ? ` ${rv}` : rv;
  },
};

// ---- the tests ------------------------------------------------------------------------------

function cmpTest(op: "<" | "<=" | ">" | ">="): TestFn {
  return (v, a) => {
    const c = pyCompare(v, a[0], op);
    return op === "<" ? c < 0 : op === "<=" ? c <= 0 : op === ">" ? c > 0 : c >= 0;
  };
}

const eq: TestFn = (v, a) => pyEq(v, a[0]);
const ne: TestFn = (v, a) => !pyEq(v, a[0]);

export const TESTS: Record<string, TestFn> = {
  boolean: (v) => typeof v === "boolean",
  callable: (v) => v instanceof PyCallable,
  defined: (v) => v !== undefined,
  divisibleby: (v, a) => {
    const d = toNumber(a[0]);
    if (d === 0) throw new PyError("ZeroDivisionError", "integer modulo by zero");
    return toNumber(v) % d === 0;
  },
  eq,
  equalto: eq,
  "==": eq,
  escaped: () => false,
  even: (v) => {
    if (!isNumeric(v)) throw new PyError("TypeError", `not all arguments converted during string formatting`);
    return toNumber(v) % 2 === 0;
  },
  false: (v) => v === false,
  filter: (v) => typeof v === "string" && Object.hasOwn(FILTERS, v),
  float: (v) => isFloat(v),
  ge: cmpTest(">="),
  ">=": cmpTest(">="),
  gt: cmpTest(">"),
  ">": cmpTest(">"),
  greaterthan: cmpTest(">"),
  in: (v, a) => pyContains(a[0], v),
  integer: (v) => isInt(v),
  iterable: (v) => typeof v === "string" || seqItems(v) !== null || isDict(v),
  le: cmpTest("<="),
  "<=": cmpTest("<="),
  lower: (v) => {
    const t = s(v);
    return t.toLowerCase() !== t.toUpperCase() && t === t.toLowerCase();
  },
  lt: cmpTest("<"),
  "<": cmpTest("<"),
  lessthan: cmpTest("<"),
  mapping: (v) => isDict(v),
  ne,
  "!=": ne,
  none: (v) => v === null,
  number: (v) => isNumeric(v),
  odd: (v) => {
    if (!isNumeric(v)) throw new PyError("TypeError", `not all arguments converted during string formatting`);
    return Math.abs(toNumber(v) % 2) === 1;
  },
  sameas: (v, a) => v === a[0] || (v instanceof PyFloat && a[0] instanceof PyFloat && v.value === a[0].value),
  sequence: (v) => typeof v === "string" || seqItems(v) !== null || isDict(v),
  string: (v) => typeof v === "string",
  test: (v) => typeof v === "string" && Object.hasOwn(TESTS, v),
  true: (v) => v === true,
  undefined: (v) => v === undefined,
  upper: (v) => {
    const t = s(v);
    return t.toLowerCase() !== t.toUpperCase() && t === t.toUpperCase();
  },
};

export function isKnownFilter(name: string): boolean {
  return Object.hasOwn(FILTERS, name);
}

export function isKnownTest(name: string): boolean {
  return Object.hasOwn(TESTS, name);
}
