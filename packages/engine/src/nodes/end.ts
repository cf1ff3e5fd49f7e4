import { z } from "zod";
import { defineNode } from "./node-definition.js";

export const outputBindingSchema = z.looseObject({
  variable: z.string().min(1),
  value_selector: z.array(z.string()).default([]),
  value_type: z.string().optional(),
});

const endDataSchema = z.looseObject({
  type: z.literal("end"),
  outputs: z.array(outputBindingSchema).default([]),
});

/** Collects the run's outputs. Unresolved selectors give null, as in Dify. */
export const endNode = defineNode({
  type: "end",
  schema: endDataSchema,
  references: (data) => data.outputs.filter((o) => o.value_selector.length >= 2).map((o) => o.value_selector),
  validate(data, ctx) {
    const seen = new Set<string>();
    for (const o of data.outputs) {
      if (seen.has(o.variable)) ctx.report(`output "${o.variable}" is declared twice`);
      seen.add(o.variable);
      if (o.value_selector.length < 2) ctx.report(`output "${o.variable}" has no variable selected`);
    }
  },
  run(ctx) {
    const outputs: Record<string, unknown> = {};
    for (const o of ctx.data.outputs) outputs[o.variable] = ctx.pool.get(o.value_selector) ?? null;
    return { inputs: outputs, outputs };
  },
});
