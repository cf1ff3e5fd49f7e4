/** Variable selectors (`[node_id, var, ...path]`) and `{{#node_id.var.path#}}` references in text. */

export type VariableSelector = readonly string[];

/** Dify's pattern: node id (or sys/env), then 1–10 dotted names. */
const REFERENCE_PATTERN = /\{\{#([a-zA-Z0-9_]{1,50}(?:\.[a-zA-Z0-9_][a-zA-Z0-9_]{0,29}){1,10})#\}\}/g;

/** Every selector referenced in a text field, in order of appearance. */
export function referencesInText(text: string): VariableSelector[] {
  const out: VariableSelector[] = [];
  for (const m of text.matchAll(REFERENCE_PATTERN)) {
    if (m[1]) out.push(m[1].split("."));
  }
  return out;
}

/** Replaces each `{{#…#}}` with `render(selector)`. */
export function replaceReferences(text: string, render: (selector: VariableSelector) => string): string {
  if (!text.includes("{{#")) return text;
  return text.replace(REFERENCE_PATTERN, (_all, path: string) => render(path.split(".")));
}

/** Splits a text into literal parts and references, for streaming-aware rendering. */
export type TemplatePart = { kind: "text"; text: string } | { kind: "ref"; selector: VariableSelector };

export function parseTemplate(text: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const m of text.matchAll(REFERENCE_PATTERN)) {
    const at = m.index ?? 0;
    if (at > last) parts.push({ kind: "text", text: text.slice(last, at) });
    if (m[1]) parts.push({ kind: "ref", selector: m[1].split(".") });
    last = at + m[0].length;
  }
  if (last < text.length) parts.push({ kind: "text", text: text.slice(last) });
  return parts;
}

export function selectorKey(selector: VariableSelector): string {
  return selector.join(".");
}

export const SYSTEM_NODE_ID = "sys";
export const ENVIRONMENT_NODE_ID = "env";
export const CONVERSATION_NODE_ID = "conversation";
/** Pseudo node ids that are always "upstream". */
export const RESERVED_NODE_IDS: ReadonlySet<string> = new Set([SYSTEM_NODE_ID, ENVIRONMENT_NODE_ID, CONVERSATION_NODE_ID]);
