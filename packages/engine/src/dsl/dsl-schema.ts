import { z } from "zod";

/**
 * The native workflow format: Dify's DSL (`kind: app`, `workflow.graph`). Only what the
 * engine needs is checked here; every other field (positions, UI state, features) passes
 * through untouched so an export round-trips. Node `data` is checked per node type by the
 * node's own schema during validation.
 */

export const nodeDataBaseSchema = z.looseObject({
  type: z.string(),
  title: z.string().optional(),
  desc: z.string().optional(),
  error_strategy: z.enum(["fail-branch", "default-value", "none"]).nullish(),
  default_value: z.array(z.looseObject({ key: z.string(), type: z.string().optional(), value: z.unknown() })).nullish(),
  retry_config: z
    .looseObject({
      retry_enabled: z.boolean().optional(),
      max_retries: z.number().int().min(0).max(10).optional(),
      retry_interval: z.number().int().min(0).max(600_000).optional(),
    })
    .nullish(),
  isInIteration: z.boolean().optional(),
  isInLoop: z.boolean().optional(),
  iteration_id: z.string().optional(),
  loop_id: z.string().optional(),
});
export type NodeDataBase = z.infer<typeof nodeDataBaseSchema>;

export const dslNodeSchema = z.looseObject({
  id: z.string().min(1),
  /** UI type: `custom`, `custom-note`, `custom-iteration-start`, `custom-loop-start`, … */
  type: z.string().optional(),
  parentId: z.string().optional(),
  data: z.looseObject({ type: z.string().optional() }).default({}),
});
export type DslNode = z.infer<typeof dslNodeSchema>;

export const dslEdgeSchema = z.looseObject({
  id: z.string().optional(),
  source: z.string().min(1),
  sourceHandle: z.string().nullish(),
  target: z.string().min(1),
  targetHandle: z.string().nullish(),
});
export type DslEdge = z.infer<typeof dslEdgeSchema>;

export const environmentVariableSchema = z.looseObject({
  id: z.string().optional(),
  name: z.string().min(1),
  value_type: z.enum(["string", "number", "secret"]).default("string"),
  value: z.union([z.string(), z.number()]).default(""),
  description: z.string().optional(),
});
export type EnvironmentVariable = z.infer<typeof environmentVariableSchema>;

export const dslDocumentSchema = z.looseObject({
  app: z
    .looseObject({
      name: z.string().default("Untitled workflow"),
      mode: z.string().default("workflow"),
      description: z.string().default(""),
      icon: z.string().nullish(),
      icon_background: z.string().nullish(),
    })
    .default({ name: "Untitled workflow", mode: "workflow", description: "" }),
  kind: z.string().default("app"),
  version: z.string().default("0.6.0"),
  workflow: z.looseObject({
    environment_variables: z.array(environmentVariableSchema).default([]),
    conversation_variables: z.array(z.looseObject({ name: z.string() })).default([]),
    features: z.record(z.string(), z.unknown()).default({}),
    graph: z.looseObject({
      nodes: z.array(dslNodeSchema),
      edges: z.array(dslEdgeSchema).default([]),
    }),
  }),
});
export type DslDocument = z.infer<typeof dslDocumentSchema>;

/** Note nodes are kept but neither validated nor executed. */
export function isNoteNode(node: DslNode): boolean {
  return node.type === "custom-note" || !node.data.type;
}
