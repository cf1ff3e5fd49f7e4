/**
 * Template source → a typed tree the renderer walks. Lexing and parsing are
 * `@huggingface/jinja`'s; this module adds what Python's Jinja2 has and that library lacks at
 * the syntax level (`{% raw %}`, tests with arguments such as `is divisibleby 3`), rejects
 * unknown filters and tests at compile time like Jinja2 does, and turns the library's
 * position-less parse errors into messages with line numbers.
 */
import { parse, tokenize } from "@huggingface/jinja";
import { isKnownFilter, isKnownTest } from "./filters.js";
import { MUTATING_METHODS } from "./ops.js";
import { makeFloat, PyError } from "./py-values.js";

type Token = ReturnType<typeof tokenize>[number];
type LibNode = ReturnType<typeof parse>["body"][number];

// ---- the tree the renderer walks -----------------------------------------------------------

export type Arg =
  | { k: "pos"; e: Expr }
  | { k: "kw"; name: string; e: Expr }
  | { k: "spread"; e: Expr }
  | { k: "kwspread"; e: Expr };

export type Expr =
  | { k: "const"; v: unknown }
  | { k: "name"; name: string }
  | { k: "list"; items: Expr[] }
  | { k: "tuple"; items: Expr[] }
  | { k: "dict"; entries: Array<[Expr, Expr]> }
  | { k: "attr"; obj: Expr; name: string }
  | { k: "item"; obj: Expr; key: Expr }
  | { k: "slice"; obj: Expr; start: Expr | null; stop: Expr | null; step: Expr | null }
  | { k: "call"; callee: Expr; args: Arg[] }
  | { k: "not"; arg: Expr }
  | { k: "neg"; arg: Expr }
  | { k: "pos"; arg: Expr }
  | { k: "and"; left: Expr; right: Expr }
  | { k: "or"; left: Expr; right: Expr }
  | { k: "bin"; op: string; left: Expr; right: Expr }
  /** `a < b < c`: Python's chained comparison, each operand evaluated once. */
  | { k: "chain"; ops: string[]; operands: Expr[] }
  | { k: "filter"; name: string; operand: Expr; args: Arg[] }
  | { k: "test"; name: string; negate: boolean; operand: Expr; args: Arg[] }
  | { k: "cond"; test: Expr; ifTrue: Expr; ifFalse: Expr | null };

export type Target = { k: "name"; name: string } | { k: "unpack"; items: Target[] } | { k: "nsattr"; obj: Expr; name: string };

export interface Param {
  name: string;
  dflt: Expr | null;
}

export type Stmt =
  | { k: "text"; text: string }
  | { k: "out"; e: Expr }
  | { k: "if"; test: Expr; body: Stmt[]; else: Stmt[] }
  | { k: "for"; target: Target; iter: Expr; cond: Expr | null; body: Stmt[]; else: Stmt[] }
  | { k: "set"; target: Target; value: Expr }
  | { k: "setblock"; target: Target; body: Stmt[] }
  | { k: "macro"; name: string; params: Param[]; body: Stmt[]; varargs: boolean; kwargs: boolean }
  | { k: "callblock"; call: Expr; params: Param[]; body: Stmt[] }
  | { k: "filterblock"; name: string; args: Arg[]; body: Stmt[] }
  | { k: "break" }
  | { k: "continue" };

export interface CompiledTemplate {
  body: Stmt[];
  /** The template calls methods that mutate their receiver (`xs.append(x)`): render on a copy of the inputs. */
  mutates: boolean;
}

/** A syntax problem; `line` is 1-based when it could be located. */
export class TemplateSyntaxProblem extends Error {
  constructor(
    message: string,
    readonly line: number | null,
  ) {
    super(message);
  }
}

// ---- source preparation ---------------------------------------------------------------------

const TEST_PREFIX = "\u0000is:";
/** Marks `(x,)` (a one-element tuple) and `()` (the empty tuple), which the library cannot parse. */
const TUPLE_END = "\u0000tuple-end";
const EMPTY_TUPLE = "\u0000empty-tuple";
const TEST_NOT_PREFIX = "\u0000isnot:";
const RAW_BLOCK = /\{%(-?)\s*raw\s*(-?)%\}([\s\S]*?)\{%(-?)\s*endraw\s*(-?)%\}/g;

/** Newlines as Jinja2 normalises them, `{% raw %}` blocks turned into string output (line count kept). */
function prepareSource(source: string): string {
  let src = source.replace(/\r\n?/g, "\n");
  if (src.includes("raw")) {
    src = src.replace(RAW_BLOCK, (_all, l1: string, r1: string, content: string, l2: string, r2: string) => {
      let c = content;
      if (r1) c = c.replace(/^\s+/, "");
      if (l2) c = c.replace(/\s+$/, "");
      return `{{${l1 ? "-" : ""} '${c.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}' ${r2 ? "-" : ""}}}`;
    });
  }
  return src;
}

const NOT_AN_ARGUMENT = new Set(["and", "or", "else", "if", "in", "is", "not", "for", "recursive"]);

/**
 * The library parses `x is name` only without arguments. Jinja2 also allows
 * `x is divisibleby(3)`, `x is divisibleby 3` and filters after tests; rewriting each test as
 * a filter call keeps Jinja2's precedence (tests and filters are both postfix in Jinja2).
 */
/**
 * The library lexes `1e16` as a number and a name, and `2.5e-10` as a number, a name, a minus
 * and a number; join them back into one float literal.
 */
function joinExponents(tokens: Token[]): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    const next = tokens[i + 1];
    if (t.type === "NumericLiteral" && next?.type === "Identifier" && /^[eE]\d+$/.test(next.value)) {
      out.push({ value: `${t.value.includes(".") ? t.value : `${t.value}.`}${next.value}`, type: t.type } as Token);
      i++;
      continue;
    }
    const sign = tokens[i + 2];
    const digits = tokens[i + 3];
    if (
      t.type === "NumericLiteral" &&
      next?.type === "Identifier" &&
      /^[eE]$/.test(next.value) &&
      sign?.type === "AdditiveBinaryOperator" &&
      (sign.value === "-" || sign.value === "+") &&
      digits?.type === "NumericLiteral" &&
      /^\d+$/.test(digits.value)
    ) {
      out.push({
        value: `${t.value.includes(".") ? t.value : `${t.value}.`}e${sign.value}${digits.value}`,
        type: t.type,
      } as Token);
      i += 3;
      continue;
    }
    out.push(t);
  }
  return out;
}

const CALLABLE_BEFORE = new Set(["Identifier", "CloseParen", "CloseSquareBracket", "StringLiteral"]);

function markTuples(tokens: Token[]): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    const next = tokens[i + 1];
    out.push(t);
    if (t.type === "Comma" && next?.type === "CloseParen") out.push({ value: TUPLE_END, type: "Identifier" } as Token);
    else if (t.type === "OpenParen" && next?.type === "CloseParen" && !CALLABLE_BEFORE.has(tokens[i - 1]?.type ?? "")) {
      out.push({ value: EMPTY_TUPLE, type: "Identifier" } as Token);
    }
  }
  return out;
}

function rewriteTests(tokens: Token[]): Token[] {
  if (!tokens.some((t) => t.type === "Identifier" && t.value === "is")) return tokens;
  const out: Token[] = [];
  const tok = (value: string, type: Token["type"]): Token => ({ value, type }) as Token;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (!(t.type === "Identifier" && t.value === "is")) {
      out.push(t);
      continue;
    }
    let j = i + 1;
    let negate = false;
    if (tokens[j]?.type === "Identifier" && tokens[j]?.value === "not") {
      negate = true;
      j++;
    }
    const name = tokens[j];
    if (name?.type !== "Identifier") {
      out.push(t);
      continue;
    }
    out.push(tok("|", "Pipe"), tok((negate ? TEST_NOT_PREFIX : TEST_PREFIX) + name.value, "Identifier"));
    i = j;
    const next = tokens[i + 1];
    if (!next || next.type === "OpenParen") continue;
    // One argument without parentheses: a literal, a name with attributes, or a list/dict literal.
    let end = i + 1;
    if (next.type === "NumericLiteral" || next.type === "StringLiteral") end = i + 2;
    else if (next.type === "Identifier" && !NOT_AN_ARGUMENT.has(next.value)) {
      end = i + 2;
      while (tokens[end]?.type === "Dot" && tokens[end + 1]?.type === "Identifier") end += 2;
    } else if (next.type === "OpenSquareBracket" || next.type === "OpenCurlyBracket") {
      let depth = 0;
      for (end = i + 1; end < tokens.length; end++) {
        const ty = tokens[end]?.type;
        if (ty === "OpenSquareBracket" || ty === "OpenCurlyBracket") depth++;
        else if (ty === "CloseSquareBracket" || ty === "CloseCurlyBracket") depth--;
        if (depth === 0) break;
      }
      end++;
    }
    if (end > i + 1) {
      out.push(tok("(", "OpenParen"), ...tokens.slice(i + 1, end), tok(")", "CloseParen"));
      i = end - 1;
    }
  }
  return out;
}

const TOKEN_NAMES: Record<string, string> = {
  CloseExpression: "'}}'",
  CloseStatement: "'%}'",
  OpenExpression: "'{{'",
  OpenStatement: "'{%'",
  OpenParen: "'('",
  CloseParen: "')'",
  OpenSquareBracket: "'['",
  CloseSquareBracket: "']'",
  OpenCurlyBracket: "'{'",
  CloseCurlyBracket: "'}'",
  Comma: "','",
  Dot: "'.'",
  Colon: "':'",
  Pipe: "'|'",
  Equals: "'='",
  Text: "text",
  Identifier: "a name",
  NumericLiteral: "a number",
  StringLiteral: "a string",
};

/** The library's messages name token types; say them the way a template author writes them. */
function cleanMessage(e: unknown): string {
  let m = e instanceof Error ? e.message : String(e);
  if (e instanceof TypeError && /reading 'type'|undefined/.test(m)) return "unexpected end of template";
  const pe = /^Parser Error: (.*?)\. (\w+) !== (\w+)\.$/.exec(m);
  if (pe) m = `${pe[1]}, found ${TOKEN_NAMES[pe[2] as string] ?? pe[2]}`;
  m = m.replace(
    /\b(CloseExpression|CloseStatement|OpenExpression|OpenStatement|OpenParen|CloseParen|OpenSquareBracket|CloseSquareBracket|OpenCurlyBracket|CloseCurlyBracket|Comma|Colon|Pipe|Equals|Identifier|NumericLiteral|StringLiteral)\b/g,
    (t) => TOKEN_NAMES[t] ?? t,
  );
  m = m.replace(/^Unknown statement type: (\w+)$/, "unknown tag '$1'");
  m = m.replace(/^Unexpected end of input$/, "unexpected end of template (an unclosed string or tag?)");
  return m.replace(/\u0000isnot?:/g, "");
}

function parseSource(src: string): LibNode[] {
  let tokens: Token[] = tokenize(src, {});
  if (tokens.some((t) => t.type === "Identifier" && /^[eE]\d*$/.test(t.value))) tokens = joinExponents(tokens);
  if (
    tokens.some((t, i) => t.type === "CloseParen" && (tokens[i - 1]?.type === "Comma" || tokens[i - 1]?.type === "OpenParen"))
  ) {
    tokens = markTuples(tokens);
  }
  return parse(rewriteTests(tokens)).body;
}

// ---- error location -------------------------------------------------------------------------

const BLOCK_TAGS: Record<string, string> = {
  for: "endfor",
  if: "endif",
  macro: "endmacro",
  call: "endcall",
  filter: "endfilter",
  set: "endset",
};

const UNSUPPORTED_TAGS = new Set(["with", "block", "extends", "include", "import", "from", "autoescape", "do", "trans"]);

function lineAt(src: string, index: number): number {
  let n = 1;
  for (let i = src.indexOf("\n"); i >= 0 && i < index; i = src.indexOf("\n", i + 1)) n++;
  return n;
}

/** Finds the end of a `{{ … }}` / `{% … %}` tag, skipping string literals and nested braces. */
function tagEnd(src: string, from: number, close: "}}" | "%}"): number {
  let quote: string | null = null;
  let depth = 0;
  for (let i = from; i < src.length; i++) {
    const c = src[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    else if (close === "}}" && c === "{") depth++;
    else if (close === "}}" && c === "}" && depth > 0) depth--;
    else if (src.startsWith(close, i) && depth === 0) return i;
  }
  return -1;
}

function hasTopLevelAssign(inner: string): boolean {
  let quote: string | null = null;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = null;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "=" && inner[i + 1] !== "=" && !"=!<>".includes(inner[i - 1] ?? "")) return true;
  }
  return false;
}

function trySnippet(snippet: string): string | null {
  try {
    parseSource(snippet);
    return null;
  } catch (e) {
    return cleanMessage(e);
  }
}

/**
 * Walks the tags of a template that failed to parse and reports the first problem with its
 * line: unbalanced blocks, unknown tags, or a tag whose own syntax is wrong.
 */
function locateProblem(src: string): TemplateSyntaxProblem | null {
  const stack: Array<{ name: string; line: number }> = [];
  let i = 0;
  for (;;) {
    const open = src.slice(i).search(/\{[{%#]/);
    if (open < 0) break;
    const start = i + open;
    const line = lineAt(src, start);
    const kind = src[start + 1];
    if (kind === "#") {
      const end = src.indexOf("#}", start + 2);
      if (end < 0) return new TemplateSyntaxProblem("the comment is never closed (missing '#}')", line);
      i = end + 2;
      continue;
    }
    const close = kind === "{" ? "}}" : "%}";
    const end = tagEnd(src, start + 2, close);
    if (end < 0) return new TemplateSyntaxProblem(`'${src.slice(start, start + 2)}' is never closed (missing '${close}')`, line);
    const raw = src.slice(start, end + 2);
    i = end + 2;
    if (kind === "{") {
      const msg = trySnippet(raw);
      if (msg) return new TemplateSyntaxProblem(`in '${raw.length > 60 ? `${raw.slice(0, 57)}...` : raw}': ${msg}`, line);
      continue;
    }
    const inner = src
      .slice(start + 2, end)
      .replace(/^[-+]/, "")
      .replace(/-$/, "")
      .trim();
    const name = /^\w*/.exec(inner)?.[0] ?? "";
    const top = stack[stack.length - 1];
    const check = (snippet: string): TemplateSyntaxProblem | null => {
      const msg = trySnippet(snippet);
      return msg ? new TemplateSyntaxProblem(`in '{% ${inner} %}': ${msg}`, line) : null;
    };
    if (name === "") return new TemplateSyntaxProblem("a '{%' tag must start with a tag name", line);
    if (Object.hasOwn(BLOCK_TAGS, name)) {
      const endName = BLOCK_TAGS[name] as string;
      if (name === "set" && hasTopLevelAssign(inner)) {
        const p = check(`{% ${inner} %}`);
        if (p) return p;
        continue;
      }
      const p = check(`{% ${inner} %}{% ${endName} %}`);
      if (p) return p;
      stack.push({ name, line });
      continue;
    }
    if (name.startsWith("end")) {
      const opener = name.slice(3);
      if (!top) return new TemplateSyntaxProblem(`'{% ${name} %}' has no matching '{% ${opener} %}'`, line);
      if (top.name !== opener) {
        return new TemplateSyntaxProblem(
          `'{% ${name} %}' does not match the innermost open block, '{% ${top.name} %}' from line ${top.line} (expected '{% ${BLOCK_TAGS[top.name]} %}')`,
          line,
        );
      }
      stack.pop();
      continue;
    }
    if (name === "elif" || name === "else") {
      if (!top || (top.name !== "if" && !(name === "else" && top.name === "for"))) {
        return new TemplateSyntaxProblem(
          `'{% ${name} %}' outside of an '{% if %}'${name === "else" ? " or '{% for %}'" : ""} block`,
          line,
        );
      }
      if (name === "elif") {
        const p = check(`{% if ${inner.slice(4)} %}{% endif %}`);
        if (p) return p;
      }
      continue;
    }
    if (name === "break" || name === "continue") {
      if (!stack.some((b) => b.name === "for"))
        return new TemplateSyntaxProblem(`'{% ${name} %}' outside of a '{% for %}' loop`, line);
      continue;
    }
    if (UNSUPPORTED_TAGS.has(name)) return new TemplateSyntaxProblem(`the '{% ${name} %}' tag is not supported`, line);
    return new TemplateSyntaxProblem(`unknown tag '${name}'`, line);
  }
  const open = stack[stack.length - 1];
  if (open) {
    return new TemplateSyntaxProblem(
      `unexpected end of template: the '{% ${open.name} %}' block opened on line ${open.line} is never closed (missing '{% ${BLOCK_TAGS[open.name]} %}')`,
      lineAt(src, src.length),
    );
  }
  return null;
}

// ---- lowering -------------------------------------------------------------------------------

/** The library's node classes are not exported; nodes are read by their `type` tag. */
type Node = LibNode & Record<string, unknown>;

interface LowerState {
  mutates: boolean;
  /** Loops enclosing the block being lowered (macro bodies start again at 0). */
  loops: number;
  unknownFilter: string | null;
  unknownTest: string | null;
}

function node(n: unknown): Node {
  return n as Node;
}

function isMarker(n: unknown, marker: string): boolean {
  const x = node(n);
  return x.type === "Identifier" && x.value === marker;
}

function lowerArgs(args: unknown[], st: LowerState): Arg[] {
  return args
    .filter((a) => !isMarker(a, TUPLE_END))
    .map((a): Arg => {
      const n = node(a);
      switch (n.type) {
        case "KeywordArgumentExpression":
          return { k: "kw", name: String(node(n.key).value), e: lowerExpr(n.value, st) };
        case "SpreadExpression":
          return { k: "spread", e: lowerExpr(n.argument, st) };
        case "KeywordSpreadExpression":
          return { k: "kwspread", e: lowerExpr(n.argument, st) };
        default:
          return { k: "pos", e: lowerExpr(n, st) };
      }
    });
}

const COMPARISON_OPS = new Set(["<", ">", "<=", ">=", "==", "!=", "in", "not in"]);

function isComparison(n: unknown): boolean {
  const x = node(n);
  return x.type === "BinaryExpression" && COMPARISON_OPS.has(String(node(x.operator).value));
}

const CONSTANT_NAMES: Record<string, unknown> = { true: true, True: true, false: false, False: false, none: null, None: null };

function lowerFilter(operand: Expr, filter: unknown, st: LowerState): Expr {
  const f = node(filter);
  let name: string;
  let args: Arg[] = [];
  if (f.type === "Identifier") name = String(f.value);
  else if (f.type === "CallExpression" && node(f.callee).type === "Identifier") {
    name = String(node(f.callee).value);
    args = lowerArgs(f.args as unknown[], st);
  } else throw new TemplateSyntaxProblem("a filter must be a name", null);
  if (name.startsWith(TEST_PREFIX) || name.startsWith(TEST_NOT_PREFIX)) {
    const negate = name.startsWith(TEST_NOT_PREFIX);
    const test = name.slice(negate ? TEST_NOT_PREFIX.length : TEST_PREFIX.length);
    if (!isKnownTest(test)) st.unknownTest ??= test;
    return { k: "test", name: test, negate, operand, args };
  }
  if (!isKnownFilter(name)) st.unknownFilter ??= name;
  return { k: "filter", name, operand, args };
}

function lowerExpr(n0: unknown, st: LowerState): Expr {
  const n = node(n0);
  switch (n.type) {
    case "StringLiteral":
      return { k: "const", v: n.value };
    case "IntegerLiteral":
      return { k: "const", v: n.value };
    case "FloatLiteral":
      return { k: "const", v: makeFloat(n.value as number) };
    case "ArrayLiteral":
      return { k: "list", items: (n.value as unknown[]).map((x) => lowerExpr(x, st)) };
    case "TupleLiteral":
      return {
        k: "tuple",
        items: (n.value as unknown[]).filter((x) => !isMarker(x, TUPLE_END)).map((x) => lowerExpr(x, st)),
      };
    case "ObjectLiteral":
      return {
        k: "dict",
        entries: [...(n.value as Map<unknown, unknown>)].map(([key, v]) => [lowerExpr(key, st), lowerExpr(v, st)]),
      };
    case "Identifier": {
      const name = String(n.value);
      if (name === EMPTY_TUPLE) return { k: "tuple", items: [] };
      if (name === TUPLE_END) throw new TemplateSyntaxProblem("unexpected ','", null);
      return Object.hasOwn(CONSTANT_NAMES, name) ? { k: "const", v: CONSTANT_NAMES[name] } : { k: "name", name };
    }
    case "MemberExpression": {
      const obj = lowerExpr(n.object, st);
      const prop = node(n.property);
      if (!n.computed) return { k: "attr", obj, name: String(prop.value) };
      if (prop.type === "SliceExpression") {
        const opt = (x: unknown): Expr | null => (x === undefined ? null : lowerExpr(x, st));
        return { k: "slice", obj, start: opt(prop.start), stop: opt(prop.stop), step: opt(prop.step) };
      }
      return { k: "item", obj, key: lowerExpr(prop, st) };
    }
    case "CallExpression": {
      const callee = lowerExpr(n.callee, st);
      if (callee.k === "attr" && MUTATING_METHODS.has(callee.name)) st.mutates = true;
      return { k: "call", callee, args: lowerArgs(n.args as unknown[], st) };
    }
    case "UnaryExpression": {
      const op = String(node(n.operator).value);
      const arg = lowerExpr(n.argument, st);
      if (op === "not") return { k: "not", arg };
      return op === "-" ? { k: "neg", arg } : { k: "pos", arg };
    }
    case "BinaryExpression": {
      const op = String(node(n.operator).value);
      if (COMPARISON_OPS.has(op) && isComparison(n.left)) {
        // The parse tree has no parentheses, so `(a < b) < c` reads as a chain too; chains are the common case.
        const ops: string[] = [op];
        const operands: unknown[] = [n.right];
        let left: unknown = n.left;
        while (isComparison(left)) {
          ops.unshift(String(node(node(left).operator).value));
          operands.unshift(node(left).right);
          left = node(left).left;
        }
        operands.unshift(left);
        return { k: "chain", ops, operands: operands.map((x) => lowerExpr(x, st)) };
      }
      const left = lowerExpr(n.left, st);
      const right = lowerExpr(n.right, st);
      if (op === "and" || op === "or") return { k: op, left, right };
      return { k: "bin", op, left, right };
    }
    case "FilterExpression":
      return lowerFilter(lowerExpr(n.operand, st), n.filter, st);
    case "TestExpression": {
      const name = String(node(n.test).value);
      if (!isKnownTest(name)) st.unknownTest ??= name;
      return { k: "test", name, negate: !!n.negate, operand: lowerExpr(n.operand, st), args: [] };
    }
    case "SelectExpression":
      return { k: "cond", test: lowerExpr(n.test, st), ifTrue: lowerExpr(n.lhs, st), ifFalse: null };
    case "Ternary":
      return {
        k: "cond",
        test: lowerExpr(n.condition, st),
        ifTrue: lowerExpr(n.trueExpr, st),
        ifFalse: lowerExpr(n.falseExpr, st),
      };
    default:
      throw new TemplateSyntaxProblem(`unexpected ${n.type} in an expression`, null);
  }
}

function lowerTarget(n0: unknown, st: LowerState): Target {
  const n = node(n0);
  if (n.type === "Identifier") return { k: "name", name: String(n.value) };
  if (n.type === "TupleLiteral") return { k: "unpack", items: (n.value as unknown[]).map((x) => lowerTarget(x, st)) };
  if (n.type === "MemberExpression" && !n.computed) {
    return { k: "nsattr", obj: lowerExpr(n.object, st), name: String(node(n.property).value) };
  }
  throw new TemplateSyntaxProblem("can't assign to this expression", null);
}

function lowerParams(params: unknown[] | null, st: LowerState): Param[] {
  return (params ?? []).map((p0) => {
    const p = node(p0);
    if (p.type === "Identifier") return { name: String(p.value), dflt: null };
    return { name: String(node(p.key).value), dflt: lowerExpr(p.value, st) };
  });
}

/** Whether a macro body reads `varargs` / `kwargs` (Jinja2 only accepts extra arguments then). */
function readsName(body: unknown, name: string): boolean {
  const stack: unknown[] = [body];
  while (stack.length > 0) {
    const n = stack.pop();
    if (Array.isArray(n)) stack.push(...n);
    else if (n instanceof Map) for (const [k, v] of n) stack.push(k, v);
    else if (n && typeof n === "object") {
      const rec = n as Record<string, unknown>;
      if (rec.type === "Identifier" && rec.value === name) return true;
      for (const v of Object.values(rec)) if (v && typeof v === "object") stack.push(v);
    }
  }
  return false;
}

function lowerBlock(nodes: unknown[], st: LowerState): Stmt[] {
  const out: Stmt[] = [];
  for (const n0 of nodes) {
    const n = node(n0);
    switch (n.type) {
      case "Comment":
        break;
      case "StringLiteral": {
        const last = out[out.length - 1];
        if (last?.k === "text") last.text += String(n.value);
        else out.push({ k: "text", text: String(n.value) });
        break;
      }
      case "If":
        out.push({
          k: "if",
          test: lowerExpr(n.test, st),
          body: lowerBlock(n.body as unknown[], st),
          else: lowerBlock(n.alternate as unknown[], st),
        });
        break;
      case "For": {
        const iterable = node(n.iterable);
        const select = iterable.type === "SelectExpression";
        out.push({
          k: "for",
          target: lowerTarget(n.loopvar, st),
          iter: lowerExpr(select ? iterable.lhs : iterable, st),
          cond: select ? lowerExpr(iterable.test, st) : null,
          body: lowerLoopBody(n.body as unknown[], st),
          else: lowerBlock(n.defaultBlock as unknown[], st),
        });
        break;
      }
      case "Set":
        if (n.value) out.push({ k: "set", target: lowerTarget(n.assignee, st), value: lowerExpr(n.value, st) });
        else out.push({ k: "setblock", target: lowerTarget(n.assignee, st), body: lowerBlock(n.body as unknown[], st) });
        break;
      case "Macro":
        out.push({
          k: "macro",
          name: String(node(n.name).value),
          params: lowerParams(n.args as unknown[], st),
          body: lowerOutsideLoops(n.body as unknown[], st),
          varargs: readsName(n.body, "varargs"),
          kwargs: readsName(n.body, "kwargs"),
        });
        break;
      case "CallStatement":
        out.push({
          k: "callblock",
          call: lowerExpr(n.call, st),
          params: lowerParams(n.callerArgs as unknown[] | null, st),
          body: lowerOutsideLoops(n.body as unknown[], st),
        });
        break;
      case "FilterStatement": {
        const f = lowerFilter({ k: "const", v: "" }, n.filter, st);
        if (f.k !== "filter") throw new TemplateSyntaxProblem("a filter block needs a filter", null);
        out.push({ k: "filterblock", name: f.name, args: f.args, body: lowerBlock(n.body as unknown[], st) });
        break;
      }
      case "Break":
      case "Continue":
        if (st.loops === 0)
          throw new TemplateSyntaxProblem(`'{% ${n.type.toLowerCase()} %}' outside of a '{% for %}' loop`, null);
        out.push({ k: n.type === "Break" ? "break" : "continue" });
        break;
      default:
        out.push({ k: "out", e: lowerExpr(n, st) });
    }
  }
  return out;
}

function lowerLoopBody(nodes: unknown[], st: LowerState): Stmt[] {
  st.loops++;
  try {
    return lowerBlock(nodes, st);
  } finally {
    st.loops--;
  }
}

function lowerOutsideLoops(nodes: unknown[], st: LowerState): Stmt[] {
  const saved = st.loops;
  st.loops = 0;
  try {
    return lowerBlock(nodes, st);
  } finally {
    st.loops = saved;
  }
}

function findLine(src: string, pattern: RegExp): number | null {
  const m = pattern.exec(src);
  return m ? lineAt(src, m.index) : null;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Compiles a template; throws TemplateSyntaxProblem. */
export function compileTemplate(source: string): CompiledTemplate {
  const src = prepareSource(source);
  let nodes: LibNode[];
  try {
    nodes = parseSource(src);
  } catch (e) {
    if (e instanceof PyError) throw e;
    throw locateProblem(src) ?? new TemplateSyntaxProblem(cleanMessage(e), null);
  }
  const st: LowerState = { mutates: false, loops: 0, unknownFilter: null, unknownTest: null };
  let body: Stmt[];
  try {
    body = lowerBlock(nodes, st);
  } catch (e) {
    // Lowering problems carry no position; the tag scan can usually find the line.
    if (e instanceof TemplateSyntaxProblem && e.line === null) throw locateProblem(src) ?? e;
    throw e;
  }
  if (st.unknownFilter !== null) {
    throw new TemplateSyntaxProblem(
      `no filter named '${st.unknownFilter}'`,
      findLine(src, new RegExp(`\\|\\s*${escapeRe(st.unknownFilter)}\\b`)),
    );
  }
  if (st.unknownTest !== null) {
    throw new TemplateSyntaxProblem(
      `no test named '${st.unknownTest}'`,
      findLine(src, new RegExp(`\\bis\\s+(?:not\\s+)?${escapeRe(st.unknownTest)}\\b`)),
    );
  }
  return { body, mutates: st.mutates };
}
