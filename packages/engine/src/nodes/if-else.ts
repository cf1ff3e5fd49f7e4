import { z } from "zod";
import { conditionReferences, conditionSchema, evaluateConditions } from "./conditions.js";
import { defineNode } from "./node-definition.js";

const caseSchema = z.looseObject({
  case_id: z.string().min(1),
  logical_operator: z.enum(["and", "or"]).default("and"),
  conditions: z.array(conditionSchema).default([]),
});

/** Dify ≥0.6 stores `cases`; older exports have one top-level condition list whose handle is "true". */
const ifElseDataSchema = z
  .looseObject({
    type: z.literal("if-else"),
    cases: z.array(caseSchema).optional(),
    logical_operator: z.enum(["and", "or"]).optional(),
    conditions: z.array(conditionSchema).optional(),
  })
  .transform((d) => ({
    ...d,
    cases: d.cases ?? [{ case_id: "true", logical_operator: d.logical_operator ?? "and", conditions: d.conditions ?? [] }],
  }));

/** Takes the first case whose conditions hold (its case id is the edge handle), else "false". */
export const ifElseNode = defineNode({
  type: "if-else",
  schema: ifElseDataSchema,
  branching: true,
  handles: (data) => [...data.cases.map((c) => c.case_id), "false"],
  references: (data) => data.cases.flatMap((c) => conditionReferences(c.conditions)),
  run(ctx) {
    const results: Array<{ case_id: string; result: boolean }> = [];
    let selected = "false";
    for (const c of ctx.data.cases) {
      const result = evaluateConditions(ctx.pool, c.conditions, c.logical_operator);
      results.push({ case_id: c.case_id, result });
      if (result) {
        selected = c.case_id;
        break;
      }
    }
    return {
      inputs: {},
      processData: { condition_results: results },
      outputs: { result: selected !== "false", selected_case_id: selected },
      handle: selected,
    };
  },
});
