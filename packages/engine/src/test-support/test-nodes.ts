/**
 * Node types for scheduler tests only: they exercise scheduling rules (timing, failures,
 * retries) without LLM, HTTP or sandbox IO. They are real NodeDefinitions run by the real
 * engine, registered next to the core nodes.
 */
import { z } from "zod";
import { NodeExecutionError } from "../errors.js";
import { defineNode } from "../nodes/node-definition.js";
import { coreNodes, createNodeRegistry } from "../nodes/registry.js";
import { referencesInText } from "../variables/selector.js";

/** Outputs `value` ({{#…#}} rendered) as `text`, and `number` if given. */
export const echoNode = defineNode({
  type: "test-echo",
  schema: z.looseObject({ value: z.string().default(""), number: z.number().optional() }),
  references: (d) => referencesInText(d.value),
  run: (ctx) => ({
    outputs: { text: ctx.pool.renderText(ctx.data.value), ...(ctx.data.number !== undefined ? { number: ctx.data.number } : {}) },
  }),
});

const attempts = new Map<string, number>();

/** Fails its first `failTimes` attempts (per `key`), then succeeds. */
export const flakyNode = defineNode({
  type: "test-flaky",
  schema: z.looseObject({ key: z.string(), failTimes: z.number().int().default(1_000_000) }),
  references: () => [],
  run(ctx) {
    const n = (attempts.get(ctx.data.key) ?? 0) + 1;
    attempts.set(ctx.data.key, n);
    if (n <= ctx.data.failTimes) throw new NodeExecutionError(`flaky failure #${n}`, { errorType: "FlakyError" });
    return { outputs: { attempts: n } };
  },
});

/** Waits `ms` (abortable unless `ignoreAbort`), records start/end times in a shared log. */
export const sleepLog: Array<{ id: string; phase: "start" | "end"; at: number }> = [];
export const sleepNode = defineNode({
  type: "test-sleep",
  usesIo: true,
  schema: z.looseObject({ ms: z.number(), ignoreAbort: z.boolean().default(false), value: z.string().default("") }),
  references: () => [],
  run(ctx) {
    sleepLog.push({ id: ctx.nodeId, phase: "start", at: performance.now() });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        sleepLog.push({ id: ctx.nodeId, phase: "end", at: performance.now() });
        resolve({ outputs: { text: ctx.data.value || ctx.nodeId } });
      }, ctx.data.ms);
      if (!ctx.data.ignoreAbort) {
        ctx.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          reject(ctx.signal.reason);
        });
      }
    });
  },
});

/** Emits its text as chunks through emitText, like an LLM would. */
export const streamNode = defineNode({
  type: "test-stream",
  schema: z.looseObject({ chunks: z.array(z.string()) }),
  references: () => [],
  async run(ctx) {
    for (const c of ctx.data.chunks) {
      await Promise.resolve();
      ctx.emitText(c, [ctx.nodeId, "text"]);
    }
    return { outputs: { text: ctx.data.chunks.join("") } };
  },
});

/** Writes `value` into a loop variable (a minimal assigner for loop tests). */
export const setNode = defineNode({
  type: "test-set",
  schema: z.looseObject({ target: z.array(z.string()).length(2), add: z.number() }),
  references: (d) => [d.target],
  run(ctx) {
    const [nodeId, name] = ctx.data.target as [string, string];
    const current = Number(ctx.pool.get(ctx.data.target) ?? 0);
    ctx.pool.assign(nodeId, name, current + ctx.data.add);
    return { outputs: { value: current + ctx.data.add } };
  },
});

export function resetTestNodes(): void {
  attempts.clear();
  sleepLog.length = 0;
}

export const testRegistry = createNodeRegistry([...coreNodes, echoNode, flakyNode, sleepNode, streamNode, setNode]);
