import { z } from "zod";
import { NodeExecutionError } from "../errors.js";
import { defineNode } from "./node-definition.js";

const iterationDataSchema = z.looseObject({
  type: z.literal("iteration"),
  start_node_id: z.string().min(1),
  iterator_selector: z.array(z.string()).min(2),
  output_selector: z.array(z.string()).min(2),
  output_type: z.string().optional(),
  is_parallel: z.boolean().default(false),
  parallel_nums: z.number().int().min(1).default(10),
  error_handle_mode: z.enum(["terminated", "continue-on-error", "remove-abnormal-output"]).default("terminated"),
  flatten_output: z.boolean().default(true),
});

const DROPPED = Symbol("dropped");

/**
 * Runs its child graph once per item of `iterator_selector`, with `[id, item]` and
 * `[id, index]` set in a pool forked per round (parallel rounds never share values), and
 * outputs the `output_selector` value of each round, in item order.
 */
export const iterationNode = defineNode({
  type: "iteration",
  schema: iterationDataSchema,
  container: "iteration",
  // output_selector names a child of this container; the graph checks it separately.
  references: (data) => [data.iterator_selector],
  async run(ctx) {
    const { data, pool, container } = ctx;
    const items = pool.get(data.iterator_selector);
    if (!Array.isArray(items)) {
      throw new NodeExecutionError(
        `The iteration input ${data.iterator_selector.join(".")} must be an array, got ${items === undefined || items === null ? "nothing" : typeof items}.`,
        { errorType: "InvalidIteratorValueError" },
      );
    }
    const inputs = { iterator_selector: items };
    container.emit({ type: "iteration_started", inputs, metadata: { iterator_length: items.length } });

    const results: unknown[] = new Array(items.length);
    const errors: string[] = [];
    const parallel = data.is_parallel ? Math.max(1, Math.min(data.parallel_nums, ctx.limits.maxIterationParallel)) : 1;
    let previous: unknown = null;
    let next = 0;

    const runOne = async (index: number): Promise<void> => {
      container.emit({ type: "iteration_next", index, preOutput: previous });
      const round = pool.fork();
      round.set(ctx.nodeId, "item", items[index]);
      round.set(ctx.nodeId, "index", index);
      try {
        await container.runRound({ pool: round, iterationIndex: index, signal: ctx.signal });
        results[index] = round.get(data.output_selector) ?? null;
      } catch (e) {
        if (ctx.signal.aborted || data.error_handle_mode === "terminated") throw e;
        errors.push(`item ${index}: ${(e as Error).message}`);
        results[index] = data.error_handle_mode === "continue-on-error" ? null : DROPPED;
      }
      previous = results[index] === DROPPED ? null : results[index];
    };

    // A fixed set of workers pulls the next index, so at most `parallel` rounds run at once.
    const worker = async (): Promise<void> => {
      while (next < items.length) {
        const index = next++;
        await runOne(index);
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));

    let output: unknown[] = results.filter((r) => r !== DROPPED);
    if (data.flatten_output && output.length > 0 && output.every(Array.isArray)) output = (output as unknown[][]).flat();
    return {
      inputs,
      outputs: { output },
      metadata: { iterator_length: items.length, ...(errors.length ? { iteration_errors: errors } : {}) },
    };
  },
});

const iterationStartSchema = z.looseObject({ type: z.literal("iteration-start") });

/** Entry of an iteration's child graph; does nothing itself. */
export const iterationStartNode = defineNode({
  type: "iteration-start",
  schema: iterationStartSchema,
  references: () => [],
  run: () => ({ outputs: {} }),
});
