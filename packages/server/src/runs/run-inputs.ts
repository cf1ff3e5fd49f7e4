import type { PreparedInputs } from "@tributary/engine";
import type { JsonObject } from "../store/types.js";

/** Declared inputs plus `sys.*`, the shape Dify shows as a run's inputs (and the engine's workflow_started). */
export function runInputs(prepared: PreparedInputs, sys: Record<string, string>): Record<string, unknown> {
  const inputs: Record<string, unknown> = { ...prepared.inputs, "sys.files": prepared.files };
  for (const [k, v] of Object.entries(sys)) inputs[`sys.${k}`] = v;
  return inputs;
}

/**
 * The inverse of `runInputs`: what the engine needs to execute a stored run. A worker rebuilds
 * a queued run from its row, so the row (not the queue message) is the one source of truth and a
 * run re-enqueued after a Redis restart executes exactly what was admitted.
 */
export function preparedFromRunInputs(stored: JsonObject): PreparedInputs {
  const inputs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(stored)) if (!k.startsWith("sys.")) inputs[k] = v;
  const files = stored["sys.files"];
  return { inputs, files: Array.isArray(files) ? (files as PreparedInputs["files"]) : [] };
}
