import { z } from "zod";
import { NodeExecutionError } from "../errors.js";
import type { VariableSelector } from "../variables/selector.js";
import { conditionReferences, conditionSchema, evaluateConditions } from "./conditions.js";
import { defineNode } from "./node-definition.js";

const loopVariableSchema = z.looseObject({
  id: z.string().optional(),
  label: z.string().min(1),
  var_type: z.string().default("string"),
  value_type: z.enum(["constant", "variable"]).default("constant"),
  value: z.unknown().optional(),
});
type LoopVariable = z.infer<typeof loopVariableSchema>;

const loopDataSchema = z.looseObject({
  type: z.literal("loop"),
  start_node_id: z.string().min(1),
  loop_count: z.number().int().min(0).default(10),
  break_conditions: z.array(conditionSchema).default([]),
  logical_operator: z.enum(["and", "or"]).default("and"),
  loop_variables: z.array(loopVariableSchema).default([]),
});

function initialValue(v: LoopVariable, get: (s: VariableSelector) => unknown): unknown {
  if (v.value_type === "variable") return Array.isArray(v.value) ? (get(v.value as string[]) ?? null) : null;
  const raw = v.value;
  switch (v.var_type) {
    case "number": {
      const n = typeof raw === "number" ? raw : Number(raw);
      return Number.isFinite(n) ? n : 0;
    }
    case "boolean":
      return raw === true || raw === "true";
    case "object":
    case "array[string]":
    case "array[number]":
    case "array[object]":
    case "array[boolean]":
      if (typeof raw === "string") {
        try {
          return JSON.parse(raw);
        } catch {
          return v.var_type === "object" ? {} : [];
        }
      }
      return raw ?? (v.var_type === "object" ? {} : []);
    default:
      return raw ?? "";
  }
}

/**
 * Runs its child graph until a break condition holds (checked before the first round and
 * after every round), a loop-end node is reached, or `loop_count` rounds ran. Loop variables
 * live on the loop node (`[loop_id, label]`) and persist across rounds; child outputs are
 * fresh each round.
 */
export const loopNode = defineNode({
  type: "loop",
  schema: loopDataSchema,
  container: "loop",
  references: (data) => [
    ...conditionReferences(data.break_conditions).filter((s) => s[0] !== undefined),
    ...data.loop_variables.filter((v) => v.value_type === "variable" && Array.isArray(v.value)).map((v) => v.value as string[]),
  ],
  validate(data, ctx) {
    if (data.loop_count > 1000) ctx.report(`loop_count ${data.loop_count} is above the maximum of 1000`);
  },
  async run(ctx) {
    const { data, pool, container } = ctx;
    const maxRounds = Math.min(data.loop_count, ctx.limits.maxLoopCount);
    if (data.loop_count > ctx.limits.maxLoopCount) {
      throw new NodeExecutionError(
        `loop_count ${data.loop_count} exceeds this server's limit of ${ctx.limits.maxLoopCount} rounds; lower it or raise the limit.`,
        { errorType: "LoopCountExceededError" },
      );
    }
    for (const v of data.loop_variables)
      pool.set(
        ctx.nodeId,
        v.label,
        initialValue(v, (s) => pool.get(s)),
      );
    const variables = (): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (const v of data.loop_variables) out[v.label] = pool.get([ctx.nodeId, v.label]) ?? null;
      return out;
    };
    const inputs = { loop_count: data.loop_count, ...variables() };
    container.emit({ type: "loop_started", inputs, metadata: { loop_length: data.loop_count } });

    const shouldBreak = (p = pool): boolean =>
      data.break_conditions.length > 0 && evaluateConditions(p, data.break_conditions, data.logical_operator);

    let rounds = 0;
    let reason: "condition" | "loop-end" | "count" = "count";
    if (shouldBreak()) reason = "condition";
    else {
      for (let index = 0; index < maxRounds; index++) {
        container.emit({ type: "loop_next", index, preOutput: variables() });
        const round = pool.fork();
        round.set(ctx.nodeId, "index", index);
        const result = await container.runRound({ pool: round, loopIndex: index, signal: ctx.signal });
        rounds++;
        if (result.reachedLoopEnd) {
          reason = "loop-end";
          break;
        }
        if (shouldBreak(round)) {
          reason = "condition";
          break;
        }
      }
    }
    return { inputs, outputs: variables(), metadata: { loop_round: rounds, break_reason: reason } };
  },
});

const loopStartSchema = z.looseObject({ type: z.literal("loop-start") });
const loopEndSchema = z.looseObject({ type: z.literal("loop-end") });

export const loopStartNode = defineNode({
  type: "loop-start",
  schema: loopStartSchema,
  references: () => [],
  run: () => ({ outputs: {} }),
});

/** Reaching it ends the current loop round and the loop. */
export const loopEndNode = defineNode({
  type: "loop-end",
  schema: loopEndSchema,
  endsLoop: true,
  references: () => [],
  run: () => ({ outputs: {} }),
});
