import { z } from "zod";
import { SYSTEM_NODE_ID } from "../variables/selector.js";
import { defineNode } from "./node-definition.js";

export const START_INPUT_TYPES = [
  "text-input",
  "paragraph",
  "select",
  "number",
  "file",
  "file-list",
  "checkbox",
  "json_object",
] as const;

export const startVariableSchema = z.looseObject({
  variable: z.string().min(1),
  label: z.union([z.string(), z.record(z.string(), z.string())]).optional(),
  type: z.enum(START_INPUT_TYPES),
  required: z.boolean().default(false),
  max_length: z.number().int().positive().nullish(),
  options: z.array(z.string()).nullish(),
  default: z.unknown().optional(),
  allowed_file_types: z.array(z.string()).nullish(),
  allowed_file_extensions: z.array(z.string()).nullish(),
  allowed_file_upload_methods: z.array(z.string()).nullish(),
});
export type StartVariable = z.infer<typeof startVariableSchema>;

const startDataSchema = z.looseObject({
  type: z.literal("start"),
  title: z.string().default("Start"),
  variables: z.array(startVariableSchema).default([]),
});

/**
 * The start node publishes the (already validated) inputs; like Dify it also lists the
 * system variables under `sys.<name>` keys in its outputs.
 */
export const startNode = defineNode({
  type: "start",
  schema: startDataSchema,
  references: () => [],
  validate(data, ctx) {
    const seen = new Set<string>();
    for (const v of data.variables) {
      if (seen.has(v.variable)) ctx.report(`input variable "${v.variable}" is declared twice`);
      seen.add(v.variable);
      if (v.type === "select" && (!v.options || v.options.length === 0))
        ctx.report(`select input "${v.variable}" has no options`);
    }
  },
  run(ctx) {
    const outputs: Record<string, unknown> = {};
    for (const v of ctx.data.variables) outputs[v.variable] = ctx.pool.get([ctx.nodeId, v.variable]) ?? null;
    const sys = ctx.pool.nodeValues(SYSTEM_NODE_ID);
    for (const k in sys) outputs[`${SYSTEM_NODE_ID}.${k}`] = sys[k];
    return { inputs: outputs, outputs };
  },
});
