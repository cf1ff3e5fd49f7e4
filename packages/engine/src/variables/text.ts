import { isFileValue } from "./file-value.js";

/**
 * Renders a value as text the way Dify does when it substitutes `{{#…#}}`: strings as is,
 * objects and arrays as Python's `json.dumps(ensure_ascii=False)` (", " and ": " separators),
 * missing values as "".
 */
export function valueToText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number") return formatNumber(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  if (isFileValue(value)) return value.url ?? value.remote_url ?? value.filename;
  return pythonJsonDumps(value);
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (!Number.isFinite(n)) return n > 0 ? "Infinity" : "-Infinity";
  return String(n);
}

/** `json.dumps(value, ensure_ascii=False)` with Python's default separators. */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return "null";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? String(value) : formatNumber(value);
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      return value.toString();
    case "object": {
      if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(", ")}]`;
      if (value instanceof Uint8Array) return JSON.stringify(`<${value.byteLength} bytes>`);
      const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${pythonJsonDumps(v)}`).join(", ")}}`;
    }
    default:
      return JSON.stringify(String(value));
  }
}

/**
 * Approximate serialised size in bytes, stopping as soon as `limit` is passed, so large
 * values are rejected without serialising them whole.
 */
export function exceedsSize(value: unknown, limit: number): boolean {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === "string") total += v.length + 2;
    else if (v === null || v === undefined || typeof v === "number" || typeof v === "boolean") total += 8;
    else if (v instanceof Uint8Array) total += v.byteLength;
    else if (Array.isArray(v)) {
      total += 2 + v.length;
      for (const item of v) stack.push(item);
    } else if (typeof v === "object") {
      for (const [k, item] of Object.entries(v)) {
        total += k.length + 4;
        stack.push(item);
      }
    }
    if (total > limit) return true;
  }
  return false;
}
