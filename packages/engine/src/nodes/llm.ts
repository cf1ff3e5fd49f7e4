/**
 * Dify's `llm` node: renders the prompt template (basic `{{#node.var#}}` or Jinja2), adds
 * context and vision files, streams the completion through `caps.llm`, and outputs `text`,
 * `reasoning_content`, `usage`, `finish_reason` and, when enabled, `structured_output`.
 * Provider credentials never come from the workflow; only provider and model names do.
 */
import { z } from "zod";
import type { LlmContentPart, LlmMessage, LlmRequest, LlmUsage } from "../capabilities/types.js";
import { NodeExecutionError } from "../errors.js";
import { parseModelJson } from "../llm/json-output.js";
import { normalizeProviderName } from "../llm/providers.js";
import { splitThinkTags, ThinkTagSplitter } from "../llm/reasoning.js";
import { checkJinja2Syntax, renderJinja2 } from "../template/jinja.js";
import { type FileValue, isFileValue } from "../variables/file-value.js";
import { referencesInText, replaceReferences, selectorKey, type VariableSelector } from "../variables/selector.js";
import { valueToText } from "../variables/text.js";
import { completionParamsSchema, fileToPart, mimeOf, modelConfigSchema, resolveModelParams } from "./model-call.js";
import { defineNode, type NodeRunContext } from "./node-definition.js";
import { variableBindingSchema } from "./variable-binding.js";

const selectorSchema = z.array(z.string());
const editionTypeSchema = z.enum(["basic", "jinja2"]).nullish();

const chatMessageSchema = z.looseObject({
  role: z.enum(["system", "user", "assistant"]),
  text: z.string().nullish(),
  edition_type: editionTypeSchema,
  jinja2_text: z.string().nullish(),
});

const completionTemplateSchema = z.looseObject({
  text: z.string().nullish(),
  edition_type: editionTypeSchema,
  jinja2_text: z.string().nullish(),
});

const llmDataSchema = z.looseObject({
  type: z.literal("llm"),
  // The shared model config, plus the llm node's own structured-output params.
  model: modelConfigSchema.extend({
    completion_params: completionParamsSchema
      .extend({
        response_format: z.string().nullish(),
        json_schema: z.union([z.string(), z.record(z.string(), z.unknown())]).nullish(),
      })
      .nullish(),
  }),
  prompt_template: z.union([z.array(chatMessageSchema), completionTemplateSchema]),
  prompt_config: z
    .looseObject({
      jinja2_variables: z.array(variableBindingSchema).nullish(),
    })
    .nullish(),
  context: z.looseObject({ enabled: z.boolean().default(false), variable_selector: selectorSchema.nullish() }).nullish(),
  vision: z
    .looseObject({
      enabled: z.boolean().default(false),
      configs: z
        .looseObject({ variable_selector: selectorSchema.nullish(), detail: z.enum(["high", "low"]).nullish() })
        .nullish(),
    })
    .nullish(),
  /** Newer Dify name of the switch; `structured_output_enabled` is the older one. */
  structured_output_switch_on: z.boolean().nullish(),
  structured_output_enabled: z.boolean().nullish(),
  structured_output: z.looseObject({ schema: z.unknown() }).nullish(),
  reasoning_format: z.enum(["tagged", "separated"]).nullish(),
});

export type LlmNodeData = z.infer<typeof llmDataSchema>;
type ChatMessage = z.infer<typeof chatMessageSchema>;

const CONTEXT_PLACEHOLDER = "{{#context#}}";
const DEFAULT_VISION_SELECTOR = ["sys", "files"];

/** The prompt as an ordered list of messages, whatever the mode. */
function templates(data: LlmNodeData): ChatMessage[] {
  const t = data.prompt_template;
  return Array.isArray(t) ? t : [{ ...t, role: "user" }];
}

const isJinja = (m: { edition_type?: string | null | undefined }) => m.edition_type === "jinja2";

function structuredOutputOn(data: LlmNodeData): boolean {
  return (data.structured_output_switch_on ?? data.structured_output_enabled ?? false) && !!data.structured_output;
}

function visionSelector(data: LlmNodeData): VariableSelector {
  const s = data.vision?.configs?.variable_selector;
  return s && s.length >= 2 ? s : DEFAULT_VISION_SELECTOR;
}

function paramReferences(data: LlmNodeData): VariableSelector[] {
  const params = data.model.completion_params ?? {};
  return Object.values(params).flatMap((v) => (typeof v === "string" ? referencesInText(v) : []));
}

function references(data: LlmNodeData): VariableSelector[] {
  const out: VariableSelector[] = [];
  const messages = templates(data);
  for (const m of messages) if (!isJinja(m)) out.push(...referencesInText(m.text ?? ""));
  if (messages.some(isJinja)) for (const v of data.prompt_config?.jinja2_variables ?? []) out.push(v.value_selector);
  if (data.context?.enabled && data.context.variable_selector) out.push(data.context.variable_selector);
  if (data.vision?.enabled) out.push(visionSelector(data));
  out.push(...paramReferences(data));
  return out.filter((s) => s.length >= 2);
}

function schemaOf(data: LlmNodeData): Record<string, unknown> | string {
  let schema = data.structured_output?.schema;
  if (typeof schema === "string") {
    try {
      schema = JSON.parse(schema);
    } catch {
      return "the structured output schema is not valid JSON";
    }
  }
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
    return "structured output is enabled but structured_output.schema is not a JSON schema object";
  }
  return schema as Record<string, unknown>;
}

export const llmNode = defineNode({
  type: "llm",
  schema: llmDataSchema,
  usesIo: true,
  references,
  validate(data, ctx) {
    const messages = templates(data);
    const hasPrompt = messages.some((m) => (isJinja(m) ? m.jinja2_text : m.text)?.trim());
    if (!hasPrompt) ctx.report("the prompt is empty: write at least one message");
    if (structuredOutputOn(data)) {
      const schema = schemaOf(data);
      if (typeof schema === "string") ctx.report(schema);
    }
    for (const [i, m] of messages.entries()) {
      const problem = isJinja(m) && m.jinja2_text ? checkJinja2Syntax(m.jinja2_text) : null;
      if (problem) ctx.report(`prompt message ${i + 1} has a Jinja2 syntax error: ${problem}`);
    }
    for (const v of data.prompt_config?.jinja2_variables ?? []) {
      if (v.value_selector.length < 2 && messages.some(isJinja))
        ctx.report(`Jinja2 variable "${v.variable}" has no variable selected`);
    }
  },
  run: runLlm,
});

interface PromptRecord {
  role: string;
  text: string;
  files: Array<Record<string, unknown>>;
}

interface UsageOutput {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  total_price: number;
  currency: string;
  /** Seconds, as Dify reports them. */
  latency: number;
  time_to_first_token: number | null;
  time_to_generate: number | null;
}

async function runLlm(ctx: NodeRunContext<LlmNodeData>) {
  const data = ctx.data;
  const provider = normalizeProviderName(data.model.provider);
  const modelName = data.model.name;
  const inputs: Record<string, unknown> = {};

  const params = resolveParams(ctx, inputs);
  const context = data.context?.enabled ? contextText(ctx.pool.get(data.context.variable_selector ?? [])) : "";
  if (data.context?.enabled && context) inputs["#context#"] = context;

  const visionFiles = data.vision?.enabled ? filesAt(ctx, visionSelector(data)) : [];
  if (visionFiles.length > 0) inputs["#files#"] = visionFiles;
  const detail = data.vision?.configs?.detail ?? "high";

  // Build the messages: text from the template, files referenced in it, then the vision files.
  const messages: LlmMessage[] = [];
  const records: PromptRecord[] = [];
  const jinjaVars = jinjaVariables(ctx, inputs);
  for (const m of templates(data)) {
    const referenced: FileValue[] = [];
    const text = isJinja(m)
      ? await renderJinjaPrompt(m.jinja2_text ?? "", jinjaVars, ctx)
      : renderPromptText((m.text ?? "").replaceAll(CONTEXT_PLACEHOLDER, context), ctx, inputs, referenced);
    if (m.role === "user" && referenced.length > 0) {
      const parts = await Promise.all(referenced.map((f) => fileToPart(f, detail, ctx)));
      const content: LlmContentPart[] = text ? [{ type: "text", text }, ...parts] : parts;
      messages.push({ role: "user", content });
      records.push({ role: "user", text, files: referenced.map((f) => fileRecord(f, detail)) });
    } else if (text) {
      messages.push({ role: m.role, content: text });
      records.push({ role: m.role, text, files: [] });
    }
  }
  if (visionFiles.length > 0) {
    const parts = await Promise.all(visionFiles.map((f) => fileToPart(f, detail, ctx)));
    const fileRecords = visionFiles.map((f) => fileRecord(f, detail));
    const last = messages.at(-1);
    const lastRecord = records.at(-1);
    // Dify puts the files in front of the last user message, or sends them as a new one.
    if (last?.role === "user" && lastRecord) {
      const existing: LlmContentPart[] = typeof last.content === "string" ? [{ type: "text", text: last.content }] : last.content;
      last.content = [...parts, ...existing];
      lastRecord.files = [...fileRecords, ...lastRecord.files];
    } else {
      messages.push({ role: "user", content: parts });
      records.push({ role: "user", text: "", files: fileRecords });
    }
  }
  if (messages.length === 0) {
    throw new NodeExecutionError(
      "No prompt found in the LLM configuration: every message rendered to empty text. Write a prompt or check its variables.",
      { errorType: "NoPromptFoundError" },
    );
  }

  const structured = structuredOutputOn(data) ? schemaOf(data) : undefined;
  if (typeof structured === "string") throw new NodeExecutionError(structured, { errorType: "LLMNodeError" });
  const request: LlmRequest = {
    provider,
    model: modelName,
    messages,
    params: params.request,
    ...(structured ? { structuredOutputSchema: structured } : params.schema ? { structuredOutputSchema: params.schema } : {}),
  };
  inputs.model_provider = provider;
  inputs.model_name = modelName;

  const separated = (data.reasoning_format ?? "tagged") === "separated";
  const selector: VariableSelector = [ctx.nodeId, "text"];
  const splitter = separated ? new ThinkTagSplitter() : null;
  let full = "";
  let providerReasoning = "";
  let reasoningOpen = false;
  let usage: LlmUsage = { promptTokens: 0, completionTokens: 0, totalTokens: 0, totalPrice: 0, currency: "USD" };
  let finishReason: string | null = null;
  const started = performance.now();
  let firstTokenAt: number | null = null;

  const emit = (text: string) => {
    if (text) ctx.emitText(text, selector);
  };
  const onText = (text: string) => {
    if (splitter) {
      emit(splitter.push(text).text);
    } else {
      emit(text);
    }
  };
  // Tagged mode shows separately streamed reasoning inline, the way Dify's model plugins do.
  const closeReasoning = () => {
    if (!reasoningOpen) return;
    reasoningOpen = false;
    full += "\n</think>";
    emit("\n</think>");
  };

  for await (const part of ctx.caps.llm.stream(request, ctx.signal)) {
    switch (part.type) {
      case "text":
        firstTokenAt ??= performance.now();
        closeReasoning();
        full += part.text;
        onText(part.text);
        break;
      case "reasoning":
        firstTokenAt ??= performance.now();
        if (separated) {
          providerReasoning += part.text;
        } else {
          if (!reasoningOpen) {
            reasoningOpen = true;
            full += "<think>\n";
            emit("<think>\n");
          }
          full += part.text;
          emit(part.text);
        }
        break;
      case "finish":
        usage = part.usage;
        finishReason = part.finishReason;
        break;
      case "tool-call":
        // The llm node offers no tools; a stray call carries no text.
        break;
    }
  }
  closeReasoning();
  if (splitter) emit(splitter.flush().text);
  const ended = performance.now();

  let text = full;
  let reasoningContent = "";
  if (separated) {
    const split = splitThinkTags(full);
    text = split.text;
    reasoningContent = [providerReasoning.trim(), split.reasoning].filter(Boolean).join("\n");
  }

  const usageOut: UsageOutput = {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.totalTokens,
    total_price: usage.totalPrice,
    currency: usage.currency,
    latency: seconds(ended - started),
    time_to_first_token: firstTokenAt === null ? null : seconds(firstTokenAt - started),
    time_to_generate: firstTokenAt === null ? null : seconds(ended - firstTokenAt),
  };
  const outputs: Record<string, unknown> = {
    text,
    reasoning_content: reasoningContent,
    usage: usageOut,
    finish_reason: finishReason,
  };
  if (structured) outputs.structured_output = parseStructuredOutput(text, structured);

  return {
    inputs,
    processData: {
      model_mode: data.model.mode,
      prompts: records,
      model_provider: provider,
      model_name: modelName,
      usage: usageOut,
      finish_reason: finishReason,
    },
    outputs,
    usage,
  };
}

const seconds = (ms: number) => Math.round(ms) / 1000;

/** Substitutes references; files referenced in the text become message parts instead of text. */
function renderPromptText(
  text: string,
  ctx: NodeRunContext<LlmNodeData>,
  inputs: Record<string, unknown>,
  files: FileValue[],
): string {
  return replaceReferences(text, (sel) => {
    const value = ctx.pool.get(sel);
    inputs[`#${selectorKey(sel)}#`] = value ?? null;
    if (isFileValue(value)) {
      files.push(value);
      return "";
    }
    if (Array.isArray(value) && value.length > 0 && value.every(isFileValue)) {
      files.push(...value);
      return "";
    }
    return valueToText(value);
  });
}

function jinjaVariables(ctx: NodeRunContext<LlmNodeData>, inputs: Record<string, unknown>): Record<string, unknown> {
  const vars: Record<string, unknown> = {};
  if (!templates(ctx.data).some(isJinja)) return vars;
  for (const v of ctx.data.prompt_config?.jinja2_variables ?? []) {
    const value = ctx.pool.get(v.value_selector);
    vars[v.variable] = value ?? "";
    inputs[v.variable] = value ?? null;
  }
  return vars;
}

/** Jinja2 prompts get the raw variable values (lists stay lists), bounded like template nodes. */
async function renderJinjaPrompt(
  template: string,
  vars: Record<string, unknown>,
  ctx: NodeRunContext<LlmNodeData>,
): Promise<string> {
  if (!template) return "";
  return await renderJinja2(template, vars, {
    timeoutMs: ctx.limits.templateTimeoutMs,
    maxOutputChars: ctx.limits.maxTemplateOutputChars,
  });
}

/** Dify's context: a string as is; a list of strings or knowledge chunks (`content`, `summary`) joined by lines. */
function contextText(value: unknown): string {
  if (typeof value === "string") return value;
  if (!Array.isArray(value)) return "";
  let out = "";
  for (const item of value) {
    if (typeof item === "string") {
      out += `${item}\n`;
    } else if (typeof item === "object" && item !== null && "content" in item) {
      const chunk = item as { content?: unknown; summary?: unknown };
      if (chunk.summary) out += `${valueToText(chunk.summary)}\n`;
      out += `${valueToText(chunk.content)}\n`;
    } else {
      throw new NodeExecutionError(
        `Invalid context structure: ${valueToText(item)}. Context items must be strings or objects with "content".`,
        {
          errorType: "InvalidContextStructureError",
        },
      );
    }
  }
  return out.trim();
}

function filesAt(ctx: NodeRunContext<LlmNodeData>, selector: VariableSelector): FileValue[] {
  const value = ctx.pool.get(selector);
  if (value === undefined || value === null) return [];
  if (isFileValue(value)) return [value];
  if (Array.isArray(value) && value.every(isFileValue)) return value;
  throw new NodeExecutionError(`Vision is enabled but ${selectorKey(selector)} is not a file or a list of files.`, {
    errorType: "InvalidVariableTypeError",
  });
}

function fileRecord(file: FileValue, detail: string): Record<string, unknown> {
  const isImage = file.type === "image" || mimeOf(file).startsWith("image/");
  return {
    type: file.type,
    filename: file.filename,
    mime_type: mimeOf(file),
    url: file.remote_url ?? file.url,
    ...(isImage ? { detail } : {}),
  };
}

interface ResolvedParams {
  request: LlmRequest["params"];
  schema: Record<string, unknown> | undefined;
}

/** Completion params via the shared resolver, plus the llm node's `response_format` / `json_schema`. */
function resolveParams(ctx: NodeRunContext<LlmNodeData>, inputs: Record<string, unknown>): ResolvedParams {
  const raw = ctx.data.model.completion_params ?? {};
  const request = resolveModelParams(ctx.data.model, ctx, inputs);
  const format =
    typeof raw.response_format === "string" ? renderParam(raw.response_format, ctx, inputs).trim().toLowerCase() : "";
  let schema: Record<string, unknown> | undefined;
  if (format === "json_schema" && raw.json_schema) {
    const js =
      typeof raw.json_schema === "string" ? parseModelJson(raw.json_schema) : { ok: true as const, value: raw.json_schema };
    // Dify's json_schema param is `{name, schema}`; a bare schema is accepted too.
    const value = js.ok ? (js.value as { schema?: unknown }) : undefined;
    const candidate = value && typeof value.schema === "object" ? value.schema : value;
    if (candidate && typeof candidate === "object" && !Array.isArray(candidate)) schema = candidate as Record<string, unknown>;
  }
  if (format === "json_object" || (format === "json_schema" && !schema)) request.jsonMode = true;
  return { request, schema };
}

function renderParam(value: string, ctx: NodeRunContext<LlmNodeData>, inputs: Record<string, unknown>): string {
  return replaceReferences(value, (sel) => {
    const v = ctx.pool.get(sel);
    inputs[`#${selectorKey(sel)}#`] = v ?? null;
    // Dify caps resolved parameter values so a huge variable cannot bloat the request.
    return valueToText(v).slice(0, 1024);
  });
}

function parseStructuredOutput(text: string, schema: Record<string, unknown>): Record<string, unknown> {
  const parsed = parseModelJson(text);
  if (!parsed.ok) {
    throw new NodeExecutionError(`Failed to parse structured output: the model did not reply with JSON (${parsed.error}).`, {
      errorType: "LLMNodeError",
    });
  }
  const value = parsed.value;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new NodeExecutionError("Failed to parse structured output: the model replied with JSON that is not an object.", {
      errorType: "LLMNodeError",
    });
  }
  let validator: z.ZodType | null = null;
  try {
    validator = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch {
    // zod cannot express every JSON schema (e.g. draft-7 `definitions` refs); such schemas still
    // shape the request, we just cannot check the reply against them.
    validator = null;
  }
  const check = validator?.safeParse(value);
  if (check && !check.success) {
    const issue = check.error.issues[0];
    const path = issue && issue.path.length > 0 ? `$.${issue.path.join(".")}` : "$";
    throw new NodeExecutionError(
      `Structured output validation failed (path=${path}): ${issue?.message ?? "does not match the schema"}.`,
      {
        errorType: "LLMNodeError",
      },
    );
  }
  return value as Record<string, unknown>;
}
