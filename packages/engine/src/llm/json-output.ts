/**
 * Models asked for JSON still wrap it in ```json fences, prefix it with a sentence or put a
 * `<think>` block first. Structured output and the parameter extractor both need the object.
 */
import { splitThinkTags } from "./reasoning.js";

export type JsonParseResult = { ok: true; value: unknown } | { ok: false; error: string };

/** Parses the JSON a model produced, tolerating fences, think blocks and surrounding prose. */
export function parseModelJson(text: string): JsonParseResult {
  const cleaned = splitThinkTags(text).text;
  const candidates: string[] = [cleaned];
  const fenced = /```(?:json|JSON)?\s*([\s\S]*?)```/.exec(cleaned);
  if (fenced?.[1]) candidates.push(fenced[1]);
  const firstBrace = cleaned.search(/[[{]/);
  if (firstBrace >= 0) {
    const close = cleaned[firstBrace] === "{" ? "}" : "]";
    const last = cleaned.lastIndexOf(close);
    if (last > firstBrace) candidates.push(cleaned.slice(firstBrace, last + 1));
  }
  let lastError = "the reply is empty";
  for (const c of candidates) {
    const trimmed = c.trim();
    if (!trimmed) continue;
    try {
      return { ok: true, value: JSON.parse(trimmed) };
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    }
  }
  return { ok: false, error: lastError };
}
