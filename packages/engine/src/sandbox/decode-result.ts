/**
 * Turns a worker's run result into main()'s value or the SandboxError the caller sees.
 * Results cross the thread boundary as JSON; NaN and ±Infinity travel tagged (JSON has no
 * spelling for them) so the code node can reject them by name instead of seeing null.
 */
import type { CodeLanguage } from "../capabilities/types.js";
import { SandboxError } from "../errors.js";
import type { ResolvedSandboxOptions } from "./sandbox-options.js";
import type { RunResultMessage } from "./worker-protocol.js";

export const NONFINITE_TAG = "__tributary_nonfinite__";
const NONFINITE = new Map([
  ["NaN", Number.NaN],
  ["Infinity", Number.POSITIVE_INFINITY],
  ["-Infinity", Number.NEGATIVE_INFINITY],
]);

export type DecodedResult = { ok: true; value: Record<string, unknown> } | { ok: false; error: SandboxError };

export function decodeResult(
  result: RunResultMessage,
  language: CodeLanguage,
  options: Pick<ResolvedSandboxOptions, "memoryLimitMb" | "jsMemoryLimitMb">,
): DecodedResult {
  const detail = result.detail ? { cause: new Error(result.detail) } : undefined;
  switch (result.status) {
    case "ok":
      return decodeJson(result.payload, result.detail === "nonfinite");
    case "error":
      return { ok: false, error: new SandboxError(result.payload, detail) };
    case "memory": {
      const limit = language === "python3" ? options.memoryLimitMb : options.jsMemoryLimitMb;
      return {
        ok: false,
        error: new SandboxError(`The code ran out of memory (limit ${limit} MB): ${result.payload}`, detail),
      };
    }
    case "interrupted":
      return { ok: false, error: new SandboxError("Code execution was interrupted.") };
    case "fatal":
      return {
        ok: false,
        error: new SandboxError(`The code broke the sandbox interpreter (${result.payload}); its worker was replaced.`),
      };
  }
}

function decodeJson(payload: string, hasNonFinite: boolean): DecodedResult {
  let value: unknown;
  try {
    value = hasNonFinite ? JSON.parse(payload, reviveNonFinite) : JSON.parse(payload);
  } catch {
    return { ok: false, error: new SandboxError("The sandbox returned a result that is not valid JSON.") };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, error: new SandboxError("The sandbox returned a result that is not an object.") };
  }
  return { ok: true, value: value as Record<string, unknown> };
}

function reviveNonFinite(_key: string, value: unknown): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== NONFINITE_TAG) return value;
  const tag = (value as Record<string, unknown>)[NONFINITE_TAG];
  return typeof tag === "string" && NONFINITE.has(tag) ? NONFINITE.get(tag) : value;
}
