/**
 * The value model of the Jinja2 evaluator: plain JS values standing in for Python's, plus a
 * few boxes where JS has no equivalent. Python semantics live here (truthiness, equality,
 * ordering, `str()` / `repr()`), so templates print what Python's Jinja2 prints.
 *
 * Mapping:
 *   undefined → jinja2.Undefined      null → None            boolean → bool
 *   integral number → int             non-integral number or PyFloat → float
 *   string → str                      array → list           PyTuple → tuple
 *   plain object → dict               PyObject subclasses → everything else
 *
 * Values arrive from the variable pool as JSON-like data, so they are used as is (no copy
 * per render); integral floats from JSON (`1.0`) are indistinguishable from ints in JS and
 * print as ints.
 */

/** Raised for Python-level errors (TypeError, ValueError…); the renderer turns it into a TemplateError. */
export class PyError extends Error {
  constructor(
    readonly pyType: string,
    message: string,
  ) {
    super(message);
  }
}

export abstract class PyObject {
  abstract get typeName(): string;
  /** `obj.name`; undefined when there is no such attribute. */
  getattr(_name: string): unknown {
    return undefined;
  }
  repr(): string {
    return `<${this.typeName} object>`;
  }
}

/** A float whose value is integral (`2.0`); other floats are plain non-integral numbers. */
export class PyFloat extends PyObject {
  constructor(readonly value: number) {
    super();
  }
  get typeName(): string {
    return "float";
  }
  override repr(): string {
    return floatRepr(this.value);
  }
}

export class PyTuple extends PyObject {
  constructor(
    readonly items: readonly unknown[],
    /** Field names of a namedtuple (groupby's `_GroupTuple`), readable as attributes; it prints as a plain tuple. */
    readonly fields?: readonly string[],
    readonly name = "tuple",
  ) {
    super();
  }
  get typeName(): string {
    return this.name;
  }
  override getattr(name: string): unknown {
    const i = this.fields?.indexOf(name) ?? -1;
    return i >= 0 ? this.items[i] : undefined;
  }
}

export class PyNamespace extends PyObject {
  readonly attrs = new Map<string, unknown>();
  get typeName(): string {
    return "Namespace";
  }
  override getattr(name: string): unknown {
    return this.attrs.get(name);
  }
  override repr(): string {
    return `<Namespace {${[...this.attrs].map(([k, v]) => `${strRepr(k)}: ${pyRepr(v)}`).join(", ")}}>`;
  }
}

export type Kwargs = Map<string, unknown>;
export type PyFunction = (args: unknown[], kwargs: Kwargs) => unknown;

export class PyCallable extends PyObject {
  constructor(
    readonly name: string,
    readonly fn: PyFunction,
  ) {
    super();
  }
  get typeName(): string {
    return "function";
  }
  override repr(): string {
    return `<function ${this.name}>`;
  }
}

// ---- type tests --------------------------------------------------------------------------

export function isInt(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v);
}

export function isFloat(v: unknown): boolean {
  return v instanceof PyFloat || (typeof v === "number" && !Number.isInteger(v));
}

/** int, float or bool (Python's bool is an int). */
export function isNumeric(v: unknown): boolean {
  return typeof v === "number" || typeof v === "boolean" || v instanceof PyFloat;
}

export function toNumber(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (v instanceof PyFloat) return v.value;
  throw new PyError("TypeError", `expected a number, got ${typeName(v)}`);
}

/** A float result: boxed when integral so it still prints as `2.0`. */
export function makeFloat(n: number): number | PyFloat {
  return Number.isInteger(n) ? new PyFloat(n) : n;
}

export function isDict(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof PyObject);
}

/** Items of a list or tuple; null for anything else. */
export function seqItems(v: unknown): readonly unknown[] | null {
  if (Array.isArray(v)) return v;
  if (v instanceof PyTuple) return v.items;
  return null;
}

/** A dict with no prototype, so keys like `__proto__` are plain keys. */
export function newDict(): Record<string, unknown> {
  return Object.create(null) as Record<string, unknown>;
}

export function dictKeys(d: Record<string, unknown>): string[] {
  return Object.keys(d);
}

export function dictGet(d: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(d, key) ? d[key] : undefined;
}

export function typeName(v: unknown): string {
  if (v === undefined) return "Undefined";
  if (v === null) return "NoneType";
  switch (typeof v) {
    case "boolean":
      return "bool";
    case "number":
      return Number.isInteger(v) ? "int" : "float";
    case "string":
      return "str";
    case "function":
      return "function";
    default:
      break;
  }
  if (Array.isArray(v)) return "list";
  if (v instanceof PyObject) return v.typeName;
  return "dict";
}

export function truthy(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  switch (typeof v) {
    case "boolean":
      return v;
    case "number":
      return v !== 0; // NaN is truthy in Python, and `NaN !== 0` agrees
    case "string":
      return v.length > 0;
    default:
      break;
  }
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof PyFloat) return v.value !== 0;
  if (v instanceof PyTuple) return v.items.length > 0;
  if (v instanceof PyObject) return true;
  for (const _ in v as object) return true;
  return false;
}

// ---- length and strings by code point ----------------------------------------------------

const SURROGATE = /[\uD800-\uDFFF]/;

/** Python's view of a string: a sequence of code points. Fast path when there are no surrogates. */
export function codePoints(s: string): string[] {
  return SURROGATE.test(s) ? Array.from(s) : s.split("");
}

export function strLen(s: string): number {
  if (!SURROGATE.test(s)) return s.length;
  let n = 0;
  for (const _ of s) n++;
  return n;
}

export function pyLen(v: unknown): number {
  if (typeof v === "string") return strLen(v);
  const items = seqItems(v);
  if (items) return items.length;
  if (isDict(v)) return dictKeys(v).length;
  if (v instanceof PyNamespace) return v.attrs.size;
  if (v === undefined) return 0;
  throw new PyError("TypeError", `object of type '${typeName(v)}' has no len()`);
}

/** Python iteration: lists, tuples, dict keys, string characters; Undefined iterates as empty. */
export function iterate(v: unknown): readonly unknown[] {
  const items = seqItems(v);
  if (items) return items;
  if (typeof v === "string") return codePoints(v);
  if (isDict(v)) return dictKeys(v);
  if (v === undefined) return [];
  throw new PyError("TypeError", `'${typeName(v)}' object is not iterable`);
}

// ---- str() and repr() --------------------------------------------------------------------

export function formatInt(n: number): string {
  return Math.abs(n) < 1e21 ? String(n) : BigInt(n).toString();
}

/** Python's `repr(float)`: shortest round-trip digits, exponent outside 1e-4 ≤ |x| < 1e16. */
export function floatRepr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Number.POSITIVE_INFINITY) return "inf";
  if (x === Number.NEGATIVE_INFINITY) return "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mant = "", expPart = "0"] = x.toExponential().split("e");
  const exp = Number(expPart);
  const neg = mant.startsWith("-");
  const digits = mant.replace("-", "").replace(".", "");
  const sign = neg ? "-" : "";
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  if (exp >= 0) {
    const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
    return `${sign}${intPart}.${digits.slice(exp + 1) || "0"}`;
  }
  return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
}

function numberStr(n: number): string {
  return Number.isInteger(n) ? formatInt(n) : floatRepr(n);
}

const PLAIN_REPR = /^[\x20-\x26\x28-\x5b\x5d-\x7e]*$/;
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** Python's `repr(str)`. */
export function strRepr(s: string): string {
  if (PLAIN_REPR.test(s)) return `'${s}'`;
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch !== " " && NON_PRINTABLE.test(ch)) {
      const cp = ch.codePointAt(0) ?? 0;
      if (cp < 0x100) out += `\\x${cp.toString(16).padStart(2, "0")}`;
      else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, "0")}`;
      else out += `\\U${cp.toString(16).padStart(8, "0")}`;
    } else out += ch;
  }
  return out + quote;
}

/** Python's `str()`, which is what `{{ value }}` prints. */
export function pyStr(v: unknown): string {
  if (typeof v === "string") return v;
  if (v === undefined) return "";
  if (typeof v === "number") return numberStr(v);
  return pyRepr(v);
}

/** Python's `repr()`, used inside containers. `seen` breaks cycles the way Python does (`[...]`). */
export function pyRepr(v: unknown, seen?: Set<object>): string {
  if (v === undefined) return "Undefined";
  if (v === null) return "None";
  switch (typeof v) {
    case "boolean":
      return v ? "True" : "False";
    case "number":
      return numberStr(v);
    case "string":
      return strRepr(v);
    case "bigint":
      return v.toString();
    case "function":
      return "<function>";
    default:
      break;
  }
  const obj = v as object;
  if (obj instanceof PyTuple) {
    if (seen?.has(obj)) return "(...)";
    const s = (seen ?? new Set()).add(obj);
    const parts = obj.items.map((x) => pyRepr(x, s));
    s.delete(obj);
    return parts.length === 1 ? `(${parts[0]},)` : `(${parts.join(", ")})`;
  }
  if (obj instanceof PyObject) return obj.repr();
  if (seen?.has(obj)) return Array.isArray(obj) ? "[...]" : "{...}";
  const s = (seen ?? new Set()).add(obj);
  let out: string;
  if (Array.isArray(obj)) out = `[${obj.map((x) => pyRepr(x, s)).join(", ")}]`;
  else if (obj instanceof Uint8Array) out = `b'<${obj.byteLength} bytes>'`;
  else {
    const d = obj as Record<string, unknown>;
    out = `{${dictKeys(d)
      .map((k) => `${strRepr(k)}: ${pyRepr(d[k], s)}`)
      .join(", ")}}`;
  }
  s.delete(obj);
  return out;
}

// ---- equality and ordering ---------------------------------------------------------------

export function pyEq(a: unknown, b: unknown): boolean {
  if (a === b) return !(typeof a === "number" && Number.isNaN(a));
  if (isNumeric(a) && isNumeric(b)) return toNumber(a) === toNumber(b);
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => pyEq(x, b[i]));
  }
  if (a instanceof PyTuple || b instanceof PyTuple) {
    if (!(a instanceof PyTuple && b instanceof PyTuple) || a.items.length !== b.items.length) return false;
    return a.items.every((x, i) => pyEq(x, b.items[i]));
  }
  if (a instanceof PyObject || b instanceof PyObject) return false;
  const da = a as Record<string, unknown>;
  const db = b as Record<string, unknown>;
  const ka = dictKeys(da);
  if (ka.length !== dictKeys(db).length) return false;
  return ka.every((k) => Object.hasOwn(db, k) && pyEq(da[k], db[k]));
}

/** Python ordering (`<`); TypeError for types Python cannot compare. */
export function pyCompare(a: unknown, b: unknown, op = "<"): number {
  if (isNumeric(a) && isNumeric(b)) {
    const x = toNumber(a);
    const y = toNumber(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  const sa = seqItems(a);
  const sb = seqItems(b);
  if (sa && sb && Array.isArray(a) === Array.isArray(b)) {
    const n = Math.min(sa.length, sb.length);
    for (let i = 0; i < n; i++) {
      if (!pyEq(sa[i], sb[i])) return pyCompare(sa[i], sb[i], op);
    }
    return sa.length - sb.length < 0 ? -1 : sa.length > sb.length ? 1 : 0;
  }
  throw new PyError("TypeError", `'${op}' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`);
}

export function pyContains(container: unknown, item: unknown): boolean {
  if (typeof container === "string") {
    if (typeof item !== "string") {
      throw new PyError("TypeError", `'in <string>' requires string as left operand, not ${typeName(item)}`);
    }
    return container.includes(item);
  }
  if (container === undefined) return false;
  const items = seqItems(container);
  if (items) return items.some((x) => pyEq(x, item));
  if (isDict(container)) return typeof item === "string" && Object.hasOwn(container, item);
  throw new PyError("TypeError", `argument of type '${typeName(container)}' is not iterable`);
}

// ---- rounding and fixed-point formatting ------------------------------------------------

/**
 * `x.toFixed(p)` rounded the way Python rounds: exact ties of the binary value go to even
 * (`'%.2f' % 0.125 == '0.12'`, JS gives "0.13").
 */
export function toFixedPy(x: number, p: number): string {
  if (!Number.isFinite(x)) return floatRepr(x);
  if (Math.abs(x) >= 1e21) return `${BigInt(x).toString()}${p > 0 ? `.${"0".repeat(p)}` : ""}`;
  const s = x.toFixed(p);
  if (p > 78) return s;
  const ax = Math.abs(x);
  const longer = ax.toFixed(p + 1);
  if (!longer.endsWith("5") || ax.toFixed(Math.min(100, p + 21)) !== longer + "0".repeat(Math.min(100, p + 21) - p - 1)) {
    return s;
  }
  // An exact tie: JS rounded away from zero; Python keeps the even neighbour.
  const truncated = longer.slice(0, -1).replace(/\.$/, "");
  const lastDigit = Number(truncated.replace(".", "").slice(-1));
  if (lastDigit % 2 === 1) return s;
  const sign = x < 0 && Number(truncated) !== 0 ? "-" : "";
  return sign + truncated;
}

/** Python's `round(x, ndigits)` for floats (round-half-even on the exact binary value). */
export function roundHalfEven(x: number, ndigits: number): number {
  if (!Number.isFinite(x)) return x;
  if (ndigits >= 0) return Number(toFixedPy(x, Math.min(ndigits, 100)));
  const f = 10 ** -ndigits;
  const q = x / f;
  let r = Math.round(q);
  if (Math.abs(q % 1) === 0.5) r = 2 * Math.round(q / 2);
  return r * f;
}

// ---- printf-style formatting (`"%.2f" % x`, the `format` filter) -------------------------

const PERCENT_SPEC = /%(?:\(([^)]*)\))?([#0\- +]*)(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([diouxXeEfFgGcrsa%])?/g;

export function percentFormat(fmt: string, args: unknown): string {
  let positional: readonly unknown[];
  let mapping: Record<string, unknown> | null = null;
  let single = false;
  if (args instanceof PyTuple) positional = args.items;
  else {
    positional = [args];
    single = true;
    if (isDict(args)) mapping = args;
  }
  let next = 0;
  let usedMapping = false;
  const take = (): unknown => {
    if (next >= positional.length) throw new PyError("TypeError", "not enough arguments for format string");
    return positional[next++];
  };
  const out = fmt.replace(
    PERCENT_SPEC,
    (
      _m,
      key: string | undefined,
      flags: string,
      width: string | undefined,
      prec: string | undefined,
      conv: string | undefined,
    ) => {
      if (conv === undefined) throw new PyError("ValueError", "incomplete format");
      if (conv === "%" && key === undefined && !flags && width === undefined && prec === undefined) return "%";
      let value: unknown;
      const w = width === "*" ? Math.trunc(toNumber(take())) : width === undefined ? undefined : Number(width);
      const p = prec === "*" ? Math.trunc(toNumber(take())) : prec === undefined ? undefined : Number(prec);
      if (key !== undefined) {
        if (!mapping) throw new PyError("TypeError", "format requires a mapping");
        if (!Object.hasOwn(mapping, key)) throw new PyError("KeyError", strRepr(key));
        value = mapping[key];
        usedMapping = true;
      } else if (conv !== "%") {
        // `"%s" % {"a": 1}` formats the dict itself.
        if (single && mapping) {
          next++;
          value = args;
        } else value = take();
      }
      return formatPercentValue(value, conv, flags, w, p);
    },
  );
  if (!usedMapping && !(single && mapping) && next < positional.length) {
    throw new PyError("TypeError", "not all arguments converted during string formatting");
  }
  return out;
}

function pad(body: string, width: number | undefined, left: boolean, fill = " "): string {
  if (width === undefined || body.length >= width) return body;
  const padding = fill.repeat(width - body.length);
  return left ? body + padding : padding + body;
}

function signOf(neg: boolean, flags: string): string {
  return neg ? "-" : flags.includes("+") ? "+" : flags.includes(" ") ? " " : "";
}

function formatPercentValue(value: unknown, conv: string, flags: string, width?: number, prec?: number): string {
  const left = flags.includes("-");
  const zero = flags.includes("0") && !left;
  switch (conv) {
    case "%":
      return pad("%", width, left);
    case "s":
    case "r":
    case "a": {
      let s = conv === "s" ? pyStr(value) : pyRepr(value);
      if (prec !== undefined) s = codePoints(s).slice(0, prec).join("");
      return pad(s, width, left);
    }
    case "c": {
      let s: string;
      if (typeof value === "string" && strLen(value) === 1) s = value;
      else if (isInt(value)) s = String.fromCodePoint(value);
      else throw new PyError("TypeError", "%c requires an int or a unicode character");
      return pad(s, width, left);
    }
    case "d":
    case "i":
    case "u":
    case "o":
    case "x":
    case "X": {
      if (!isNumeric(value)) {
        const what = conv === "d" || conv === "i" || conv === "u" ? "a real number" : "an integer";
        throw new PyError("TypeError", `%${conv} format: ${what} is required, not ${typeName(value)}`);
      }
      if ((conv === "o" || conv === "x" || conv === "X") && isFloat(value)) {
        throw new PyError("TypeError", `%${conv} format: an integer is required, not float`);
      }
      const n = Math.trunc(toNumber(value));
      const base = conv === "o" ? 8 : conv === "x" || conv === "X" ? 16 : 10;
      let digits = (Math.abs(n) < 2 ** 53 ? Math.abs(n).toString(base) : BigInt(Math.abs(n)).toString(base)).toString();
      if (conv === "X") digits = digits.toUpperCase();
      if (prec !== undefined) digits = digits.padStart(prec, "0");
      const prefix = flags.includes("#") ? (conv === "o" ? "0o" : conv === "x" ? "0x" : conv === "X" ? "0X" : "") : "";
      return padNumber(signOf(n < 0, flags) + prefix, digits, width, left, zero);
    }
    default: {
      if (!isNumeric(value)) {
        throw new PyError("TypeError", `must be real number, not ${typeName(value)}`);
      }
      const x = toNumber(value);
      const body = formatFloatBody(Math.abs(x), conv, prec ?? 6, flags.includes("#"));
      const neg = x < 0 || Object.is(x, -0);
      return padNumber(signOf(neg, flags), body, width, left, zero && Number.isFinite(x));
    }
  }
}

function padNumber(sign: string, digits: string, width: number | undefined, left: boolean, zero: boolean): string {
  if (width !== undefined && zero) return sign + digits.padStart(width - sign.length, "0");
  return pad(sign + digits, width, left);
}

/** Formats a non-negative float for e/E/f/F/g/G (and `%` for str.format). */
export function formatFloatBody(x: number, conv: string, prec: number, alternate: boolean): string {
  const upper = conv === "E" || conv === "F" || conv === "G";
  if (!Number.isFinite(x)) {
    const s = Number.isNaN(x) ? "nan" : "inf";
    return upper ? s.toUpperCase() : s;
  }
  switch (conv) {
    case "f":
    case "F": {
      const s = toFixedPy(x, prec);
      return alternate && prec === 0 ? `${s}.` : s;
    }
    case "e":
    case "E": {
      const s = expFormat(x, prec, alternate);
      return upper ? s.toUpperCase() : s;
    }
    default: {
      // g / G
      const p = prec === 0 ? 1 : prec;
      if (x === 0) return alternate ? `0.${"0".repeat(p - 1)}` : "0";
      const exp = Number(x.toExponential(p - 1).split("e")[1]);
      let s: string;
      if (exp >= -4 && exp < p) {
        s = toFixedPy(x, Math.max(0, p - 1 - exp));
        if (!alternate && s.includes(".")) s = s.replace(/\.?0+$/, "");
      } else {
        s = expFormat(x, p - 1, alternate);
        if (!alternate) s = s.replace(/\.?0+e/, "e");
      }
      return upper ? s.toUpperCase() : s;
    }
  }
}

function expFormat(x: number, digits: number, alternate: boolean): string {
  const [m = "", e = "0"] = x.toExponential(Math.min(digits, 100)).split("e");
  const exp = Number(e);
  const mant = alternate && !m.includes(".") ? `${m}.` : m;
  return `${mant}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
}

// ---- str.format ----------------------------------------------------------------------------

const FORMAT_SPEC = /^(?:(.)?([<>=^]))?([+\- ])?(z)?(#)?(0)?(\d+)?([,_])?(?:\.(\d+))?([bcdeEfFgGnosxX%])?$/s;

/** Python's format-spec mini-language, for `"{:.2f}".format(x)`. */
export function formatWithSpec(value: unknown, spec: string): string {
  if (spec === "") return pyStr(value);
  const m = FORMAT_SPEC.exec(spec);
  if (!m) throw new PyError("ValueError", `Invalid format specifier '${spec}'`);
  const [, fillChar, alignChar, signChar, , alt, zeroFlag, widthStr, grouping, precStr, typeChar] = m;
  let fill = fillChar ?? " ";
  let align = alignChar;
  if (zeroFlag && !alignChar) {
    fill = "0";
    align = "=";
  }
  const width = widthStr === undefined ? 0 : Number(widthStr);
  const prec = precStr === undefined ? undefined : Number(precStr);
  let sign = "";
  let body: string;
  let numeric = false;
  if (typeof value === "string" || !isNumeric(value) || typeChar === "s") {
    if (typeChar && typeChar !== "s") {
      throw new PyError("ValueError", `Unknown format code '${typeChar}' for object of type '${typeName(value)}'`);
    }
    body = pyStr(value);
    if (prec !== undefined) body = codePoints(body).slice(0, prec).join("");
  } else {
    numeric = true;
    const x = toNumber(value);
    const neg = x < 0 || Object.is(x, -0);
    sign = neg ? "-" : signChar === "+" ? "+" : signChar === " " ? " " : "";
    const ax = Math.abs(x);
    const intLike = isInt(value) || typeof value === "boolean";
    const t = typeChar ?? (intLike ? "d" : "");
    switch (t) {
      case "d":
      case "n":
        if (!intLike) throw new PyError("ValueError", `Unknown format code '${t}' for object of type 'float'`);
        body = formatInt(ax);
        break;
      case "b":
      case "o":
      case "x":
      case "X":
      case "c":
        if (!intLike) throw new PyError("ValueError", `Unknown format code '${t}' for object of type 'float'`);
        if (t === "c") body = String.fromCodePoint(ax);
        else {
          body = BigInt(ax).toString(t === "b" ? 2 : t === "o" ? 8 : 16);
          if (t === "X") body = body.toUpperCase();
          if (alt) body = `0${t === "X" ? "X" : t}${body}`;
        }
        break;
      case "%":
        body = `${formatFloatBody(ax * 100, "f", prec ?? 6, !!alt)}%`;
        break;
      case "":
        if (prec === undefined) body = floatRepr(ax);
        else {
          body = formatFloatBody(ax, "g", prec, !!alt);
          if (/^\d+$/.test(body)) body += ".0";
        }
        break;
      default:
        body = formatFloatBody(ax, t, prec ?? 6, !!alt);
    }
    if (grouping) {
      const idx = body.search(/[.eE%]/);
      const intPart = idx >= 0 ? body.slice(0, idx) : body;
      if (/^\d+$/.test(intPart)) {
        body = intPart.replace(/\B(?=(\d{3})+(?!\d))/g, grouping) + (idx >= 0 ? body.slice(idx) : "");
      }
    }
  }
  const total = sign.length + strLen(body);
  if (total >= width) return sign + body;
  const padding = width - total;
  switch (align ?? (numeric ? ">" : "<")) {
    case "<":
      return sign + body + fill.repeat(padding);
    case "^": {
      const l = Math.floor(padding / 2);
      return fill.repeat(l) + sign + body + fill.repeat(padding - l);
    }
    case "=":
      return sign + fill.repeat(padding) + body;
    default:
      return fill.repeat(padding) + sign + body;
  }
}

/** Python's `str.format(*args, **kwargs)`. `getField` resolves `.attr` / `[key]` chains. */
export function strFormat(
  fmt: string,
  args: readonly unknown[],
  kwargs: Kwargs,
  getField: (obj: unknown, key: string | number) => unknown,
): string {
  let auto = 0;
  let out = "";
  let i = 0;
  while (i < fmt.length) {
    const ch = fmt[i] as string;
    if (ch === "{" && fmt[i + 1] === "{") {
      out += "{";
      i += 2;
      continue;
    }
    if (ch === "}" && fmt[i + 1] === "}") {
      out += "}";
      i += 2;
      continue;
    }
    if (ch === "}") throw new PyError("ValueError", "Single '}' encountered in format string");
    if (ch !== "{") {
      out += ch;
      i++;
      continue;
    }
    // Find the matching close brace, allowing one level of nested `{}` in the spec.
    let depth = 1;
    let j = i + 1;
    while (j < fmt.length && depth > 0) {
      if (fmt[j] === "{") depth++;
      else if (fmt[j] === "}") depth--;
      if (depth > 0) j++;
    }
    if (depth > 0) throw new PyError("ValueError", "Single '{' encountered in format string");
    const field = fmt.slice(i + 1, j);
    i = j + 1;
    const colon = field.search(/:(?![^[]*\])/);
    let head = colon >= 0 ? field.slice(0, colon) : field;
    let spec = colon >= 0 ? field.slice(colon + 1) : "";
    let conversion = "";
    const bang = head.lastIndexOf("!");
    if (bang >= 0) {
      conversion = head.slice(bang + 1);
      head = head.slice(0, bang);
    }
    if (spec.includes("{")) spec = strFormat(spec, args, kwargs, getField);
    const first = /^[^.[]*/.exec(head)?.[0] ?? "";
    let value: unknown;
    if (first === "") {
      if (auto >= args.length)
        throw new PyError("IndexError", `Replacement index ${auto} out of range for positional args tuple`);
      value = args[auto++];
    } else if (/^\d+$/.test(first)) {
      const n = Number(first);
      if (n >= args.length) throw new PyError("IndexError", `Replacement index ${n} out of range for positional args tuple`);
      value = args[n];
    } else {
      if (!kwargs.has(first)) throw new PyError("KeyError", strRepr(first));
      value = kwargs.get(first);
    }
    for (const m of head.slice(first.length).matchAll(/\.([^.[]+)|\[([^\]]*)\]/g)) {
      if (m[1] !== undefined) value = getField(value, m[1]);
      else if (m[2] !== undefined) value = getField(value, /^\d+$/.test(m[2]) ? Number(m[2]) : m[2]);
    }
    if (conversion === "r" || conversion === "a") value = pyRepr(value);
    else if (conversion === "s") value = pyStr(value);
    else if (conversion !== "") throw new PyError("ValueError", `Unknown conversion specifier ${conversion}`);
    out += formatWithSpec(value, spec);
  }
  return out;
}
