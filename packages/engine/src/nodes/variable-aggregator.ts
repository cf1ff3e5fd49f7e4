import { z } from "zod";
import { defineNode } from "./node-definition.js";

const selectorList = z.array(z.array(z.string()));

const aggregatorDataSchema = z.looseObject({
  type: z.enum(["variable-aggregator", "variable-assigner"]),
  output_type: z.string().optional(),
  variables: selectorList.default([]),
  advanced_settings: z
    .looseObject({
      group_enabled: z.boolean().default(false),
      groups: z
        .array(
          z.looseObject({
            group_name: z.string(),
            groupId: z.string().optional(),
            output_type: z.string().optional(),
            variables: selectorList.default([]),
          }),
        )
        .default([]),
    })
    .nullish(),
});
type AggregatorData = z.infer<typeof aggregatorDataSchema>;

function firstPresent(pool: { get(s: readonly string[]): unknown }, selectors: readonly (readonly string[])[]): unknown {
  for (const s of selectors) {
    const v = pool.get(s);
    if (v !== undefined && v !== null) return v;
  }
  return null;
}

function allSelectors(data: AggregatorData): string[][] {
  const groups = data.advanced_settings?.group_enabled ? data.advanced_settings.groups.flatMap((g) => g.variables) : [];
  return [...data.variables, ...groups];
}

/**
 * Outputs the first variable (in declared order) that has a value — the join point of
 * exclusive branches. With groups enabled each group aggregates separately.
 */
function defineAggregator(type: "variable-aggregator" | "variable-assigner") {
  return defineNode({
    type,
    schema: aggregatorDataSchema,
    references: (data) => allSelectors(data).filter((s) => s.length >= 2),
    run(ctx) {
      const settings = ctx.data.advanced_settings;
      if (settings?.group_enabled) {
        const outputs: Record<string, unknown> = {};
        for (const g of settings.groups) outputs[g.group_name] = { output: firstPresent(ctx.pool, g.variables) };
        return { outputs };
      }
      return { outputs: { output: firstPresent(ctx.pool, ctx.data.variables) } };
    },
  });
}

export const variableAggregatorNode = defineAggregator("variable-aggregator");
/** Dify's legacy name for the aggregator (before the assigner node existed). */
export const legacyVariableAssignerNode = defineAggregator("variable-assigner");
