/**
 * VectorVein's workflow JSON (`{nodes, edges, viewport}`), as its web editor, its API
 * (`workflow/get` → `data`) and its Python SDK (`Workflow.to_dict`) write it. Only what the
 * import needs is checked; every other key is kept.
 *
 * A node is `{id, type (class name), category, data: {task_name, template: {port: …}}}`; a
 * port is `{name, field_type, value, show, is_output, required, options, type, …}`; an edge
 * connects an output port (`sourceHandle`) to an input port (`targetHandle`).
 *
 * The format has two spellings of categories (`textProcessing` from the editor and SDK,
 * `text_processing` in older exports) and two misspelled keys that are part of it:
 * `seleted_workflow_title` (node data) and `group_collpased` (ports). Both spellings of each
 * are accepted; they only matter to VectorVein's editor.
 */
import { z } from "zod";

export const vectorVeinPortSchema = z.looseObject({
  name: z.string().optional(),
  display_name: z.string().nullish(),
  /** Editor widget: input, textarea, number, checkbox, select, radio, file, list, temperature, text, … */
  field_type: z.string().nullish(),
  /** Python type of the value: str, int, float, bool (used by ProgrammingFunction). */
  type: z.string().nullish(),
  value: z.unknown().optional(),
  show: z.boolean().nullish(),
  is_output: z.boolean().nullish(),
  required: z.boolean().nullish(),
  options: z.array(z.unknown()).nullish(),
  multiple: z.boolean().nullish(),
  list: z.boolean().nullish(),
  /** The format's own spelling; `group_collapsed` is accepted too. */
  group_collpased: z.boolean().nullish(),
  group_collapsed: z.boolean().nullish(),
});
export type VectorVeinPort = z.infer<typeof vectorVeinPortSchema>;

export const vectorVeinNodeSchema = z.looseObject({
  id: z.string().min(1),
  type: z.string().min(1),
  category: z.string().nullish(),
  position: z.looseObject({ x: z.number(), y: z.number() }).nullish(),
  ignored: z.boolean().nullish(),
  data: z
    .looseObject({
      task_name: z.string().nullish(),
      description: z.string().nullish(),
      has_inputs: z.boolean().nullish(),
      /** The format's own spelling; `selected_workflow_title` is accepted too. */
      seleted_workflow_title: z.string().nullish(),
      selected_workflow_title: z.string().nullish(),
      template: z.record(z.string(), vectorVeinPortSchema).default({}),
    })
    .prefault({}),
});
export type VectorVeinNode = z.infer<typeof vectorVeinNodeSchema>;

export const vectorVeinEdgeSchema = z.looseObject({
  id: z.string().nullish(),
  source: z.string().min(1),
  sourceHandle: z.string().nullish(),
  target: z.string().min(1),
  targetHandle: z.string().nullish(),
  ignored: z.boolean().nullish(),
});
export type VectorVeinEdge = z.infer<typeof vectorVeinEdgeSchema>;

export const vectorVeinWorkflowSchema = z.looseObject({
  nodes: z.array(vectorVeinNodeSchema),
  edges: z.array(vectorVeinEdgeSchema).default([]),
  viewport: z.looseObject({ x: z.number(), y: z.number(), zoom: z.number() }).nullish(),
});
export type VectorVeinWorkflow = z.infer<typeof vectorVeinWorkflowSchema>;

/** VectorVein's categories in the editor's camelCase, by their letters (so both spellings meet). */
const CATEGORIES = [
  "llms",
  "textProcessing",
  "controlFlows",
  "outputs",
  "tools",
  "triggers",
  "assistedNodes",
  "fileProcessing",
  "mediaProcessing",
  "mediaEditing",
  "imageGeneration",
  "videoGeneration",
  "audioGeneration",
  "webCrawlers",
  "vectorDb",
  "relationalDb",
  "cloudStorage",
] as const;
const CATEGORY_BY_KEY = new Map<string, string>(CATEGORIES.map((c) => [c.toLowerCase(), c]));

/**
 * `textProcessing`, `text_processing` and `TextProcessing` are the same category. Without a
 * category the node's `task_name` (`text_processing.template_compose`) names it.
 */
export function normalizeCategory(category: string | null | undefined, taskName?: string | null): string {
  const raw = category || taskName?.split(".")[0] || "";
  const key = raw.replace(/[_\s-]/g, "").toLowerCase();
  // task_name uses `output.text` and `control_flows.…` while the category is `outputs`.
  if (key === "output") return "outputs";
  return CATEGORY_BY_KEY.get(key) ?? raw;
}

/**
 * Accepts the workflow itself, a JSON string of it, or what VectorVein's API returns around
 * it (`{wid, title, data: {nodes, edges}}`), and reports a title when there is one.
 */
export function unwrapVectorVeinJson(input: unknown): { workflow: unknown; title?: string; description?: string } {
  let value = input;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch (e) {
      throw new Error(`The VectorVein workflow is not valid JSON: ${(e as Error).message}`);
    }
  }
  if (value && typeof value === "object" && !Array.isArray(value) && !("nodes" in value) && "data" in value) {
    const wrapper = value as { data: unknown; title?: unknown; brief?: unknown };
    const inner = typeof wrapper.data === "string" ? JSON.parse(wrapper.data) : wrapper.data;
    return {
      workflow: inner,
      ...(typeof wrapper.title === "string" ? { title: wrapper.title } : {}),
      ...(typeof wrapper.brief === "string" ? { description: wrapper.brief } : {}),
    };
  }
  return { workflow: value };
}
