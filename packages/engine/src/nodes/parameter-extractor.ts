/**
 * Dify's `parameter-extractor`: asks a model to pull typed parameters out of a text, either
 * through a forced tool call (`reasoning_mode: function_call`) or by asking for a JSON object
 * (`prompt`). Outputs every parameter (coerced to its type; missing ones get Dify's zero
 * values), `__is_success` (1/0), `__reason` (null or what was wrong) and `__usage`.
 *
 * As in Dify, a reply that does not fit the parameters is not a node failure: the node
 * succeeds with `__is_success: 0` so the workflow can branch on it. A failed model call is.
 */
import { z } from "zod";
import type { LlmMessage, LlmToolDefinition } from "../capabilities/types.js";
import { parseModelJson } from "../llm/json-output.js";
import { normalizeProviderName } from "../llm/providers.js";
import { referencesInText, type VariableSelector } from "../variables/selector.js";
import { pythonJsonDumps, valueToText } from "../variables/text.js";
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

/** Dify's type names, old (`bool`, `select`) and new (`boolean`, `array[boolean]`). */
const PARAMETER_TYPES = [
  "string",
  "number",
  "bool",
  "boolean",
  "select",
  "array[string]",
  "array[number]",
  "array[object]",
  "array[bool]",
  "array[boolean]",
] as const;

const parameterSchema = z.looseObject({
  name: z.string(),
  type: z.enum(PARAMETER_TYPES),
  description: z.string().nullish(),
  required: z.boolean().nullish(),
  options: z.array(z.string()).nullish(),
});
type Parameter = z.infer<typeof parameterSchema>;

const parameterExtractorDataSchema = z.looseObject({
  type: z.literal("parameter-extractor"),
  model: modelConfigSchema,
  query: z.array(z.string()),
  parameters: z.array(parameterSchema).default([]),
  instruction: z.string().nullish(),
  // Dify treats an empty mode as function calling.
  reasoning_mode: z
    .enum(["function_call", "prompt", ""])
    .nullish()
    .transform((m) => (m === "prompt" ? "prompt" : "function_call")),
  vision: visionConfigSchema,
});
export type ParameterExtractorData = z.infer<typeof parameterExtractorDataSchema>;

type Kind = "string" | "number" | "boolean" | "object";
interface ParameterType {
  kind: Kind;
  array: boolean;
}

/** `bool` and `select` are Dify's old names for boolean and an enumerated string. */
function typeOf(p: Parameter): ParameterType {
  switch (p.type) {
    case "string":
    case "select":
      return { kind: "string", array: false };
    case "number":
      return { kind: "number", array: false };
    case "bool":
    case "boolean":
      return { kind: "boolean", array: false };
    case "array[string]":
      return { kind: "string", array: true };
    case "array[number]":
      return { kind: "number", array: true };
    case "array[object]":
      return { kind: "object", array: true };
    case "array[bool]":
    case "array[boolean]":
      return { kind: "boolean", array: true };
  }
}

const typeName = (t: ParameterType) => (t.array ? `array[${t.kind}]` : t.kind);

const RESERVED_NAMES = new Set(["__is_success", "__reason", "__usage"]);
export const EXTRACTOR_TOOL_NAME = "extract_parameters";

/** The JSON schema of the parameters, as the tool's arguments and the prompt's structure. */
export function parameterJsonSchema(parameters: readonly Parameter[]): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const p of parameters) {
    const t = typeOf(p);
    const schema: Record<string, unknown> = { description: p.description ?? "" };
    if (t.array) {
      schema.type = "array";
      schema.items = { type: t.kind };
    } else {
      schema.type = t.kind;
    }
    if (p.options && p.options.length > 0) schema.enum = p.options;
    properties[p.name] = schema;
    if (p.required) required.push(p.name);
  }
  return { type: "object", properties, required };
}

export const parameterExtractorNode = defineNode({
  type: "parameter-extractor",
  schema: parameterExtractorDataSchema,
  usesIo: true,
  references(data): VariableSelector[] {
    return [data.query, ...referencesInText(data.instruction ?? ""), ...modelReferences(data.model, data.vision)].filter(
      (s) => s.length >= 2,
    );
  },
  validate(data, ctx) {
    if (data.query.length < 2) ctx.report("no input variable is selected (query); select the text to extract parameters from");
    if (data.parameters.length === 0) ctx.report("no parameters are defined; add at least one parameter to extract");
    const seen = new Set<string>();
    for (const p of data.parameters) {
      if (!p.name.trim()) ctx.report("a parameter has no name; every parameter needs one");
      else if (RESERVED_NAMES.has(p.name))
        ctx.report(`parameter name "${p.name}" is reserved for the node's own outputs; rename it`);
      else if (seen.has(p.name)) ctx.report(`parameter "${p.name}" is defined twice; parameter names must be unique`);
      seen.add(p.name);
    }
  },
  run: runParameterExtractor,
});

async function runParameterExtractor(ctx: NodeRunContext<ParameterExtractorData>) {
  const data = ctx.data;
  const query = valueToText(ctx.pool.get(data.query));
  const instruction = ctx.pool.renderText(data.instruction ?? "");
  const files = visionFiles(ctx, data.vision);
  const schema = parameterJsonSchema(data.parameters);
  const structure = JSON.stringify(schema);
  const inputs: Record<string, unknown> = {
    query,
    files,
    parameters: data.parameters,
    instruction,
  };
  const params = resolveModelParams(data.model, ctx, inputs);

  const functionCall = data.reasoning_mode === "function_call";
  let messages = functionCall
    ? functionCallPrompt(query, structure, instruction)
    : jsonPrompt(query, structure, instruction, data.model.mode === "chat");
  messages = forMode(data.model.mode, messages);
  await attachVisionFiles(messages, files, data.vision, ctx);

  const tool: LlmToolDefinition = {
    name: EXTRACTOR_TOOL_NAME,
    description: "Extract parameters from the natural language text",
    parameters: schema,
  };
  // Forcing the call keeps models from answering in prose; a text reply is still parsed below.
  const reply = await callModel(
    data.model,
    messages,
    params,
    ctx,
    functionCall ? { tools: [tool], toolChoice: { name: EXTRACTOR_TOOL_NAME } } : {},
  );

  const call = reply.toolCalls.find((c) => c.name === EXTRACTOR_TOOL_NAME) ?? reply.toolCalls[0];
  let raw: Record<string, unknown> | null = call ? call.arguments : null;
  if (!raw) {
    const parsed = parseModelJson(reply.text);
    if (parsed.ok && typeof parsed.value === "object" && parsed.value !== null && !Array.isArray(parsed.value)) {
      raw = parsed.value as Record<string, unknown>;
    }
  }

  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  if (raw === null) {
    problems.push(
      "Failed to extract result from function call or text response: the model replied with neither a tool call nor a JSON object, so every parameter has its default value.",
    );
    for (const p of data.parameters) values[p.name] = defaultValue(typeOf(p));
  } else {
    for (const p of data.parameters) values[p.name] = extractParameter(p, raw[p.name], problems);
  }

  const provider = normalizeProviderName(data.model.provider);
  inputs.model_provider = provider;
  inputs.model_name = data.model.name;
  return {
    inputs,
    processData: {
      model_mode: data.model.mode,
      prompts: promptRecords(messages),
      usage: reply.usageOutput,
      function: functionCall ? tool : {},
      tool_call: call ? { name: call.name, arguments: call.arguments } : null,
      model_provider: provider,
      model_name: data.model.name,
      llm_text: reply.text,
      finish_reason: reply.finishReason,
    },
    outputs: {
      __is_success: problems.length === 0 ? 1 : 0,
      __reason: problems.length === 0 ? null : problems.join(" "),
      __usage: reply.usageOutput,
      ...values,
    },
    usage: reply.usage,
  };
}

function functionCallPrompt(query: string, structure: string, instruction: string): LlmMessage[] {
  const system = [
    "You extract structured information from text.",
    `Always answer by calling the \`${EXTRACTOR_TOOL_NAME}\` function with arguments that match its parameters.`,
    "If the text holds several values for a parameter that is a list, return all of them.",
    "Leave out a parameter only when the text says nothing about it. Do not add XML tags to the arguments.",
    instruction ? `Follow these additional instructions:\n<instruction>\n${instruction}\n</instruction>` : "",
  ]
    .filter(Boolean)
    .join("\n");
  const user = `Extract the parameters from the text inside <context></context> by calling ${EXTRACTOR_TOOL_NAME}. The parameters are described by the JSON schema inside <structure></structure>.\n<context>\n${query}\n</context>\n\n<structure>\n${structure}\n</structure>`;
  return [
    { role: "system", content: system },
    { role: "user", content: user },
  ];
}

function jsonUserMessage(query: string, structure: string): string {
  return `### Structure\nThe JSON object must follow this JSON schema:\n<structure>\n${structure}\n</structure>\n\n### Text\nConvert the text inside <text></text> into that JSON object.\n<text>\n${query}\n</text>`;
}

/** Two worked examples teach chat models the exact reply format (Dify does the same). */
const JSON_EXAMPLES: Array<{ schema: Record<string, unknown>; text: string; answer: Record<string, unknown> }> = [
  {
    schema: {
      type: "object",
      properties: { location: { type: "string", description: "The location to get the weather for" } },
      required: ["location"],
    },
    text: "What is the weather today in SF?",
    answer: { location: "San Francisco" },
  },
  {
    schema: {
      type: "object",
      properties: { food: { type: "string", description: "The food to eat" } },
      required: ["food"],
    },
    text: "I want to eat some apple pie.",
    answer: { food: "apple pie" },
  },
];

function jsonPrompt(query: string, structure: string, instruction: string, withExamples: boolean): LlmMessage[] {
  const system = [
    "You extract structured information from text and reply with one valid JSON object only: no prose, no markdown fences, no XML tags.",
    "Use the parameter names of the structure as keys. Leave out a parameter only when the text says nothing about it.",
    instruction ? `Follow these additional instructions:\n<instructions>\n${instruction}\n</instructions>` : "",
  ]
    .filter(Boolean)
    .join("\n");
  const messages: LlmMessage[] = [{ role: "system", content: system }];
  if (withExamples) {
    for (const ex of JSON_EXAMPLES) {
      messages.push({ role: "user", content: jsonUserMessage(ex.text, JSON.stringify(ex.schema)) });
      messages.push({ role: "assistant", content: JSON.stringify(ex.answer) });
    }
  }
  messages.push({ role: "user", content: jsonUserMessage(query, structure) });
  return messages;
}

/** Dify's values for parameters the model did not provide. */
function defaultValue(t: ParameterType): unknown {
  if (t.array) return [];
  switch (t.kind) {
    case "string":
      return "";
    case "number":
      return 0;
    case "boolean":
      return false;
    case "object":
      return {};
  }
}

type Coerced = { ok: true; value: unknown } | { ok: false };
const FAIL: Coerced = { ok: false };

/**
 * Models often send numbers as strings, booleans as 0/1 or lists as JSON text; those are
 * converted. Anything else does not fit the type.
 */
function coerceScalar(kind: Kind, v: unknown): Coerced {
  switch (kind) {
    case "string":
      if (typeof v === "string") return { ok: true, value: v };
      if (typeof v === "number" || typeof v === "boolean") return { ok: true, value: String(v) };
      return FAIL;
    case "number":
      if (typeof v === "number" && Number.isFinite(v)) return { ok: true, value: v };
      if (typeof v === "boolean") return { ok: true, value: v ? 1 : 0 };
      if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return { ok: true, value: Number(v) };
      return FAIL;
    case "boolean":
      if (typeof v === "boolean") return { ok: true, value: v };
      if (typeof v === "number") return { ok: true, value: v !== 0 };
      if (typeof v === "string" && /^(true|false)$/i.test(v.trim()))
        return { ok: true, value: v.trim().toLowerCase() === "true" };
      return FAIL;
    case "object":
      return typeof v === "object" && v !== null && !Array.isArray(v) ? { ok: true, value: v } : FAIL;
  }
}

function extractParameter(p: Parameter, value: unknown, problems: string[]): unknown {
  const t = typeOf(p);
  if (value === undefined || value === null) {
    if (p.required) problems.push(`Parameter ${p.name} is required, but the model did not provide it.`);
    return defaultValue(t);
  }
  const invalid = () => {
    problems.push(`Invalid value for parameter ${p.name}: expected ${typeName(t)}, got ${pythonJsonDumps(value)}.`);
    return defaultValue(t);
  };
  if (!t.array) {
    const c = coerceScalar(t.kind, value);
    if (!c.ok) return invalid();
    if (p.options && p.options.length > 0 && !p.options.includes(c.value as string)) {
      problems.push(
        `Invalid \`select\` value for parameter ${p.name}: ${pythonJsonDumps(c.value)} is not one of ${pythonJsonDumps(p.options)}.`,
      );
    }
    return c.value;
  }
  let list: unknown = value;
  if (typeof list === "string") {
    const parsed = parseModelJson(list);
    if (parsed.ok) list = parsed.value;
  }
  if (!Array.isArray(list)) return invalid();
  const out: unknown[] = [];
  let dropped = 0;
  for (const item of list) {
    const c = coerceScalar(t.kind, item);
    if (c.ok) out.push(c.value);
    else dropped++;
  }
  if (dropped > 0) {
    problems.push(`Parameter ${p.name}: ${dropped} item(s) were not ${t.kind} values and were dropped.`);
  }
  return out;
}
