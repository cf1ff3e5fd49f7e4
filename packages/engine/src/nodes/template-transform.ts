/**
 * Dify's `template-transform` node: renders a Jinja2 template over named variables into
 * `output`. As in Dify, a variable whose selector finds nothing is passed as None (it prints
 * "None"), not left undefined.
 */
import { z } from "zod";
import { isTributaryError, NodeExecutionError, TemplateError } from "../errors.js";
import { checkJinja2Syntax, renderJinja2 } from "../template/jinja.js";
import { defineNode } from "./node-definition.js";
import { variableBindingSchema } from "./variable-binding.js";

export const templateTransformDataSchema = z.looseObject({
  variables: z.array(variableBindingSchema).default([]),
  template: z.string().default(""),
});

export type TemplateTransformData = z.infer<typeof templateTransformDataSchema>;

export const templateTransformNode = defineNode<TemplateTransformData>({
  type: "template-transform",
  schema: templateTransformDataSchema,
  references: (data) => data.variables.filter((v) => v.value_selector.length >= 2).map((v) => v.value_selector),
  validate(data, ctx) {
    const problem = checkJinja2Syntax(data.template);
    if (problem) ctx.report(`the Jinja2 template has a syntax error (${problem})`);
    const seen = new Set<string>();
    for (const v of data.variables) {
      if (!v.variable) ctx.report("a template variable has no name");
      else if (seen.has(v.variable)) ctx.report(`the template variable "${v.variable}" is declared twice`);
      seen.add(v.variable);
      if (v.value_selector.length < 2) ctx.report(`the template variable "${v.variable}" is not bound to a value`);
    }
  },
  run(ctx) {
    const variables: Record<string, unknown> = {};
    for (const v of ctx.data.variables) {
      const value = ctx.pool.get(v.value_selector);
      variables[v.variable] = value === undefined ? null : value;
    }
    if (ctx.signal.aborted && isTributaryError(ctx.signal.reason)) throw ctx.signal.reason;
    let output: string;
    try {
      output = renderJinja2(ctx.data.template, variables, {
        timeoutMs: ctx.limits.templateTimeoutMs,
        maxOutputChars: ctx.limits.maxTemplateOutputChars,
      });
    } catch (e) {
      if (e instanceof TemplateError) throw new NodeExecutionError(e.message, { cause: e, errorType: "TemplateTransformError" });
      throw e;
    }
    return { inputs: variables, outputs: { output } };
  },
});
