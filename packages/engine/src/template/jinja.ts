/**
 * Jinja2 templates rendered in-process, with output that matches Python's Jinja2 (what Dify
 * runs): `True`/`None`, Python reprs of lists and dicts, `1.0` for floats, `%` formatting,
 * Jinja2's filters and tests. Parsing is `@huggingface/jinja`'s; the evaluator is ours
 * (render.ts) because that library's interpreter prints JavaScript values and cannot be
 * extended with filters.
 *
 * Compiled templates are cached by source, so rendering a template seen before costs only
 * the tree walk (a trivial template renders in a few microseconds).
 */
import { TemplateError } from "../errors.js";
import { type CompiledTemplate, compileTemplate, TemplateSyntaxProblem } from "./compile.js";
import { newDict, PyError } from "./py-values.js";
import { RenderLimitError, renderCompiled } from "./render.js";

export interface Jinja2RenderOptions {
  /** Rendering stops with a TemplateError past this many milliseconds. */
  timeoutMs: number;
  /** The rendered text may not be longer than this (checked while rendering). */
  maxOutputChars: number;
}

const CACHE_MAX_ENTRIES = 512;
const cache = new Map<string, CompiledTemplate | TemplateSyntaxProblem>();

function compileCached(template: string): CompiledTemplate | TemplateSyntaxProblem {
  const hit = cache.get(template);
  if (hit) return hit;
  let result: CompiledTemplate | TemplateSyntaxProblem;
  try {
    result = compileTemplate(template);
  } catch (e) {
    if (e instanceof TemplateSyntaxProblem) result = e;
    else if (e instanceof PyError) result = new TemplateSyntaxProblem(e.message, null);
    else throw e;
  }
  if (cache.size >= CACHE_MAX_ENTRIES) {
    const oldest = cache.keys().next();
    if (!oldest.done) cache.delete(oldest.value);
  }
  cache.set(template, result);
  return result;
}

function syntaxMessage(p: TemplateSyntaxProblem): string {
  return p.line === null ? p.message : `line ${p.line}: ${p.message}`;
}

/**
 * Deep copy of JSON-like inputs, for templates that mutate values (`xs.append(…)`), so the
 * caller's data is untouched. Copies have no prototype, so a `__proto__` key stays a key.
 */
function copyInputs(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(copyInputs);
  if (v && typeof v === "object") {
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) {
      const out = newDict();
      for (const [k, x] of Object.entries(v)) out[k] = copyInputs(x);
      return out;
    }
  }
  return v;
}

/**
 * Renders a Jinja2 template. Throws TemplateError for syntax errors, render errors
 * (`UndefinedError: 'x' is undefined`, `TypeError: …`), an output over `maxOutputChars`, or a
 * render that runs past `timeoutMs`.
 */
export function renderJinja2(template: string, variables: Record<string, unknown>, options: Jinja2RenderOptions): string {
  const compiled = compileCached(template);
  if (compiled instanceof TemplateSyntaxProblem) {
    throw new TemplateError(`Jinja2 syntax error, ${syntaxMessage(compiled)}`);
  }
  const inputs = compiled.mutates ? (copyInputs(variables) as Record<string, unknown>) : variables;
  try {
    return renderCompiled(compiled, inputs, {
      maxOutputChars: options.maxOutputChars,
      // Strings built along the way (set blocks, joins, macros) may exceed the final output
      // (a template can slice them), but not without bound.
      maxStringChars: Math.max(options.maxOutputChars * 10, 1_000_000),
      deadline: performance.now() + options.timeoutMs,
      timeoutMs: options.timeoutMs,
    });
  } catch (e) {
    if (e instanceof RenderLimitError) throw new TemplateError(`Jinja2 template stopped: ${e.message}`);
    if (e instanceof PyError) {
      if (e.pyType === "LimitExceeded") throw new TemplateError(`Jinja2 template stopped: ${e.message}.`);
      throw new TemplateError(`Jinja2 render error: ${e.pyType}: ${e.message}`);
    }
    if (e instanceof RangeError && /call stack/i.test(e.message)) {
      throw new TemplateError("Jinja2 render error: the template (or its data) nests too deeply.", { cause: e });
    }
    throw new TemplateError(`Jinja2 render error: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** null when the template compiles; otherwise a plain message, with the line when it can be located. */
export function checkJinja2Syntax(template: string): string | null {
  const compiled = compileCached(template);
  return compiled instanceof TemplateSyntaxProblem ? syntaxMessage(compiled) : null;
}
