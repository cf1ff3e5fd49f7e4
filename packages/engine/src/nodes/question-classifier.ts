/**
 * Dify's `question-classifier`: a model picks one of the configured classes for a text and
 * the node takes the branch whose handle is that class id. Outputs `class_name`, `class_id`,
 * `class_label` and `usage`.
 *
 * Models answer in many shapes (a JSON object with the id, with only the name, fenced, after
 * a `<think>` block, or just the class name in prose), so the answer is matched leniently;
 * when nothing matches, the first class is taken, as in Dify.
 */
import { z } from "zod";
import type { LlmMessage } from "../capabilities/types.js";
import { NodeExecutionError } from "../errors.js";
import { parseModelJson } from "../llm/json-output.js";
import { normalizeProviderName } from "../llm/providers.js";
import { splitThinkTags } from "../llm/reasoning.js";
import { referencesInText, type VariableSelector } from "../variables/selector.js";
import { valueToText } from "../variables/text.js";
import {
  attachVisionFiles,
  callModel,
  forMode,
  modelConfigSchema,
  modelReferences,
  promptRecords,
  resolveModelParams,
  visionConfigSchema,
  visionFiles,
} from "./model-call.js";
import { defineNode, type NodeRunContext } from "./node-definition.js";

const classSchema = z.looseObject({
  id: z.union([z.string(), z.number()]).transform(String),
  name: z
    .string()
    .nullish()
    .transform((n) => n ?? ""),
  label: z.string().nullish(),
});

const questionClassifierDataSchema = z.looseObject({
  type: z.literal("question-classifier"),
  model: modelConfigSchema,
  query_variable_selector: z.array(z.string()),
  classes: z.array(classSchema).default([]),
  instruction: z.string().nullish(),
  vision: visionConfigSchema,
});
export type QuestionClassifierData = z.infer<typeof questionClassifierDataSchema>;

export interface ClassChoice {
  id: string;
  name: string;
  label: string;
}

/** How the answer was matched to a class, reported in process_data. */
export type MatchKind = "category_id" | "category_name" | "text" | "fallback";

export const questionClassifierNode = defineNode({
  type: "question-classifier",
  schema: questionClassifierDataSchema,
  usesIo: true,
  branching: true,
  handles: (data) => data.classes.map((c) => c.id),
  references(data): VariableSelector[] {
    return [
      data.query_variable_selector,
      ...referencesInText(data.instruction ?? ""),
      ...data.classes.flatMap((c) => referencesInText(c.name)),
      ...modelReferences(data.model, data.vision),
    ].filter((s) => s.length >= 2);
  },
  validate(data, ctx) {
    if (data.query_variable_selector.length < 2) ctx.report("no input variable is selected; select the text to classify");
    if (data.classes.length === 0) ctx.report("no classes are defined; add at least one class");
    const seen = new Set<string>();
    for (const [i, c] of data.classes.entries()) {
      if (!c.id) ctx.report(`class ${i + 1} has no id`);
      else if (seen.has(c.id)) ctx.report(`class id "${c.id}" is used twice; every class needs its own id`);
      seen.add(c.id);
      if (!c.name.trim()) ctx.report(`class ${i + 1} (${c.id}) has no name; describe the topic the model should recognise`);
    }
  },
  run: runQuestionClassifier,
});

async function runQuestionClassifier(ctx: NodeRunContext<QuestionClassifierData>) {
  const data = ctx.data;
  const classes: ClassChoice[] = data.classes.map((c, i) => ({
    id: c.id,
    name: ctx.pool.renderText(c.name),
    label: c.label || `CLASS ${i + 1}`,
  }));
  const first = classes[0];
  if (!first) {
    throw new NodeExecutionError("The question classifier has no classes; add at least one class.", {
      errorType: "QuestionClassifierNodeError",
    });
  }
  const queryValue = ctx.pool.get(data.query_variable_selector);
  const query = valueToText(queryValue);
  const instruction = ctx.pool.renderText(data.instruction ?? "");
  const files = visionFiles(ctx, data.vision);
  const provider = normalizeProviderName(data.model.provider);
  const inputs: Record<string, unknown> = { query: queryValue ?? null };
  const params = resolveModelParams(data.model, ctx, inputs);
  inputs.model_provider = provider;
  inputs.model_name = data.model.name;

  const messages = forMode(data.model.mode, classifierPrompt(query, classes, instruction));
  await attachVisionFiles(messages, files, data.vision, ctx);
  const reply = await callModel(data.model, messages, params, ctx);
  const { choice, matchedBy } = resolveClass(reply.text, classes);

  return {
    inputs,
    processData: {
      model_mode: data.model.mode,
      prompts: promptRecords(messages),
      usage: reply.usageOutput,
      finish_reason: reply.finishReason,
      model_provider: provider,
      model_name: data.model.name,
      llm_text: reply.text,
      matched_by: matchedBy,
    },
    outputs: {
      class_name: choice.name,
      class_label: choice.label,
      class_id: choice.id,
      usage: reply.usageOutput,
    },
    usage: reply.usage,
    handle: choice.id,
  };
}

const SYSTEM_PROMPT = [
  "You are a text classification engine. Assign exactly one of the given categories to the input text.",
  'The input is a JSON object: "input_text" is the text, "categories" lists the categories (each with category_id and category_name), and "classification_instructions" may refine how to classify.',
  "Also pick the keywords of the text that decided the category.",
  'Reply with only one JSON object and nothing else: {"keywords": [...], "category_id": "<id of the chosen category>", "category_name": "<its name>"}.',
].join("\n");

interface Example {
  text: string;
  categories: Array<{ category_id: string; category_name: string }>;
  instructions: string[];
  answer: { keywords: string[]; category_id: string; category_name: string };
}

/** Worked examples keep chat models to the reply format (Dify sends two as well). */
const EXAMPLES: Example[] = [
  {
    text: "My parcel was supposed to arrive on Monday and it is still not here.",
    categories: [
      { category_id: "c-billing", category_name: "Billing" },
      { category_id: "c-shipping", category_name: "Shipping and delivery" },
      { category_id: "c-product", category_name: "Product question" },
    ],
    instructions: ["classify customer support messages"],
    answer: { keywords: ["parcel", "arrive", "not here"], category_id: "c-shipping", category_name: "Shipping and delivery" },
  },
  {
    text: "The soup was cold and the waiter ignored us.",
    categories: [
      { category_id: "r-food", category_name: "Food quality" },
      { category_id: "r-service", category_name: "Service" },
      { category_id: "r-price", category_name: "Price" },
    ],
    instructions: [],
    answer: { keywords: ["waiter", "ignored", "cold"], category_id: "r-service", category_name: "Service" },
  },
];

function inputJson(text: string, categories: Example["categories"], instructions: string[]): string {
  return JSON.stringify({ input_text: [text], categories, classification_instructions: instructions });
}

function classifierPrompt(query: string, classes: ClassChoice[], instruction: string): LlmMessage[] {
  const messages: LlmMessage[] = [{ role: "system", content: SYSTEM_PROMPT }];
  for (const ex of EXAMPLES) {
    messages.push({ role: "user", content: inputJson(ex.text, ex.categories, ex.instructions) });
    messages.push({ role: "assistant", content: JSON.stringify(ex.answer) });
  }
  const categories = classes.map((c) => ({ category_id: c.id, category_name: c.name }));
  messages.push({ role: "user", content: inputJson(query, categories, instruction ? [instruction] : []) });
  return messages;
}

const norm = (s: string) =>
  s
    .trim()
    .toLowerCase()
    .replace(/^["'`*\s]+|["'`*.\s]+$/g, "");

/**
 * Matches the model's answer to a class: a JSON `category_id`, then a JSON `category_name`
 * (or `category` / `class` / `name` / `id`), then the reply text itself (an exact id or name,
 * else the class name mentioned first, the longer one on a tie). Falls back to the first class.
 */
export function resolveClass(reply: string, classes: readonly ClassChoice[]): { choice: ClassChoice; matchedBy: MatchKind } {
  const fallback = classes[0] as ClassChoice;
  const text = splitThinkTags(reply).text;
  const byId = (v: unknown) =>
    typeof v === "string" || typeof v === "number" ? classes.find((c) => c.id === String(v)) : undefined;
  const byName = (v: unknown) => (typeof v === "string" ? classes.find((c) => norm(c.name) === norm(v)) : undefined);

  const parsed = parseModelJson(text);
  if (parsed.ok) {
    const value = Array.isArray(parsed.value) ? parsed.value[0] : parsed.value;
    if (typeof value === "object" && value !== null) {
      const o = value as Record<string, unknown>;
      const id = byId(o.category_id) ?? byId(o.id) ?? byId(o.class_id);
      if (id) return { choice: id, matchedBy: "category_id" };
      const name = byName(o.category_name) ?? byName(o.category) ?? byName(o.class) ?? byName(o.class_name) ?? byName(o.name);
      if (name) return { choice: name, matchedBy: "category_name" };
    } else {
      const exact = byId(value) ?? byName(value);
      if (exact) return { choice: exact, matchedBy: "text" };
    }
  }

  const exact = byId(text.trim()) ?? byName(text);
  if (exact) return { choice: exact, matchedBy: "text" };
  const lower = text.toLowerCase();
  let best: { choice: ClassChoice; at: number; length: number } | null = null;
  for (const c of classes) {
    // Short ids ("1", "2") would match any digit in the prose; only names and long ids are searched.
    const needles = [c.name.trim().toLowerCase(), c.id.length >= 6 ? c.id.toLowerCase() : ""].filter(Boolean);
    for (const needle of needles) {
      const at = lower.indexOf(needle);
      // At the same position the longer name wins ("Product returns" over "Product").
      if (at >= 0 && (best === null || at < best.at || (at === best.at && needle.length > best.length))) {
        best = { choice: c, at, length: needle.length };
      }
    }
  }
  if (best) return { choice: best.choice, matchedBy: "text" };
  return { choice: fallback, matchedBy: "fallback" };
}
