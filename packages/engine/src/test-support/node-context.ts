/**
 * Builds a NodeRunContext for unit-testing one node without a scheduler. Capabilities not
 * given throw when used, so a test shows exactly which IO a node touches.
 */
import { randomUUID } from "node:crypto";
import type { Capabilities } from "../capabilities/types.js";
import { type RunLimits, resolveLimits } from "../limits.js";
import type { NodeRunContext } from "../nodes/node-definition.js";
import type { VariableSelector } from "../variables/selector.js";
import { VariablePool } from "../variables/variable-pool.js";

function missing(name: string): never {
  throw new Error(`capability "${name}" was not provided to this test`);
}

export function testCapabilities(overrides: Partial<Capabilities> = {}): Capabilities {
  return {
    clock: { now: () => Date.now() },
    ids: { newId: () => randomUUID() },
    llm: { stream: () => missing("llm") },
    http: { request: () => missing("http") },
    sandbox: { run: () => missing("sandbox") },
    files: { resolve: () => missing("files"), read: () => missing("files"), save: () => missing("files") },
    ...overrides,
  };
}

export interface TestNodeContext<D> extends NodeRunContext<D> {
  chunks: Array<{ text: string; selector: VariableSelector }>;
}

export function makeNodeContext<D>(
  data: D,
  options: {
    nodeId?: string;
    pool?: VariablePool;
    caps?: Partial<Capabilities>;
    limits?: Partial<RunLimits>;
    signal?: AbortSignal;
  } = {},
): TestNodeContext<D> {
  const chunks: Array<{ text: string; selector: VariableSelector }> = [];
  return {
    nodeId: options.nodeId ?? "node",
    title: "node",
    data,
    pool: options.pool ?? new VariablePool(),
    caps: testCapabilities(options.caps),
    limits: resolveLimits(options.limits),
    signal: options.signal ?? new AbortController().signal,
    emitText: (text, selector) => chunks.push({ text, selector }),
    container: {
      runRound: () => missing("container"),
      emit: () => {},
      now: () => Date.now(),
    },
    chunks,
  };
}
