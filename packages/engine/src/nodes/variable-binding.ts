import { z } from "zod";

/** `{variable, value_selector}`: how code, template and Jinja2 prompt nodes name their inputs. */
export const variableBindingSchema = z.looseObject({
  variable: z.string(),
  value_selector: z.array(z.string()),
});
export type VariableBinding = z.infer<typeof variableBindingSchema>;
