/**
 * What the LLM-backed helper nodes (parameter-extractor, question-classifier) share: Dify's
 * `model` and `vision` data, completion params with `{{#…#}}` references, vision files as
 * message parts, one non-streamed model call collected from `caps.llm.stream`, and Dify's
 * `usage` output shape. The `llm` node builds on the same pieces and adds streaming, Jinja2
 * prompts, context and structured output; these nodes never stream text to clients.
 */
import { z } from "zod";
import type { LlmContentPart, LlmMessage, LlmRequest, LlmUsage } from "../capabilities/types.js";
import { NodeExecutionError } from "../errors.js";
import { normalizeProviderName } from "../llm/providers.js";
import { type FileValue, isFileValue } from "../variables/file-value.js";
import { referencesInText, replaceReferences, selectorKey, type VariableSelector } from "../variables/selector.js";
import { valueToText } from "../variables/text.js";
import type { NodeRunContext } from "./node-definition.js";

/** Numbers may also be `{{#…#}}` references, resolved at run time as Dify does. */
const numberParam = z.union([z.number(), z.string()]).nullish();

export const completionParamsSchema = z.looseObject({
  temperature: numberParam,
  top_p: numberParam,
  max_tokens: numberParam,
  presence_penalty: numberParam,
  frequency_penalty: numberParam,
  seed: numberParam,
  stop: z.union([z.array(z.string()), z.string()]).nullish(),
});

export const modelConfigSchema = z.looseObject({
  provider: z.string().min(1),
  name: z.string().min(1),
  mode: z.enum(["chat", "completion"]).default("chat"),
  completion_params: completionParamsSchema.nullish(),
});
export type ModelConfig = z.infer<typeof modelConfigSchema>;

export const visionConfigSchema = z
  .looseObject({
    enabled: z.boolean().default(false),
    configs: z
      .looseObject({ variable_selector: z.array(z.string()).nullish(), detail: z.enum(["high", "low"]).nullish() })
      .nullish(),
  })
  .nullish();
export type VisionConfig = z.infer<typeof visionConfigSchema>;

const DEFAULT_VISION_SELECTOR: VariableSelector = ["sys", "files"];

export function visionSelector(vision: VisionConfig): VariableSelector {
  const s = vision?.configs?.variable_selector;
  return s && s.length >= 2 ? s : DEFAULT_VISION_SELECTOR;
}

/** Selectors read by the model config and vision settings. */
export function modelReferences(model: ModelConfig, vision: VisionConfig): VariableSelector[] {
  const out: VariableSelector[] = [];
  for (const v of Object.values(model.completion_params ?? {})) if (typeof v === "string") out.push(...referencesInText(v));
  if (vision?.enabled) out.push(visionSelector(vision));
  return out.filter((s) => s.length >= 2);
}

const resolvedParamsSchema = z.object({
  temperature: z.number().optional(),
  top_p: z.number().optional(),
  max_tokens: z.number().int().positive().optional(),
  presence_penalty: z.number().optional(),
  frequency_penalty: z.number().optional(),
  seed: z.number().int().optional(),
});

/** Resolves references in completion params and restores numbers ("0.7" → 0.7). */
export function resolveModelParams(
  model: ModelConfig,
  ctx: NodeRunContext<unknown>,
  inputs: Record<string, unknown>,
): LlmRequest["params"] {
  const raw = model.completion_params ?? {};
  const numeric: Record<string, unknown> = {};
  for (const key of ["temperature", "top_p", "max_tokens", "presence_penalty", "frequency_penalty", "seed"] as const) {
    const v = raw[key];
    if (v === undefined || v === null || v === "") continue;
    if (typeof v === "number") {
      numeric[key] = v;
      continue;
    }
    const text = replaceReferences(v, (sel) => {
      const value = ctx.pool.get(sel);
      inputs[`#${selectorKey(sel)}#`] = value ?? null;
      // Dify caps resolved parameter values so a huge variable cannot bloat the request.
      return valueToText(value).slice(0, 1024);
    }).trim();
    if (!text) continue;
    const n = Number(text);
    numeric[key] = Number.isNaN(n) ? text : n;
  }
  const parsed = resolvedParamsSchema.safeParse(numeric);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue?.path[0] ?? "");
    throw new NodeExecutionError(
      `Invalid model parameter ${key}: ${issue?.message ?? "invalid value"} (got ${JSON.stringify(numeric[key])}). Fix it in the node's model settings.`,
      { errorType: "InvalidModelParameterError" },
    );
  }
  const p = parsed.data;
  const stop = typeof raw.stop === "string" ? (raw.stop ? [raw.stop] : []) : (raw.stop ?? []);
  return {
    ...(p.temperature !== undefined ? { temperature: p.temperature } : {}),
    ...(p.top_p !== undefined ? { topP: p.top_p } : {}),
    ...(p.max_tokens !== undefined ? { maxTokens: p.max_tokens } : {}),
    ...(p.presence_penalty !== undefined ? { presencePenalty: p.presence_penalty } : {}),
    ...(p.frequency_penalty !== undefined ? { frequencyPenalty: p.frequency_penalty } : {}),
    ...(p.seed !== undefined ? { seed: p.seed } : {}),
    ...(stop.length > 0 ? { stop } : {}),
  };
}

/** The vision files of a node (none when vision is off); a non-file value is a configuration error. */
export function visionFiles(ctx: NodeRunContext<unknown>, vision: VisionConfig): FileValue[] {
  if (!vision?.enabled) return [];
  const selector = visionSelector(vision);
  const value = ctx.pool.get(selector);
  if (value === undefined || value === null) return [];
  if (isFileValue(value)) return [value];
  if (Array.isArray(value) && value.every(isFileValue)) return value;
  throw new NodeExecutionError(
    `Vision is enabled but ${selectorKey(selector)} is not a file or a list of files; select a file variable in the vision settings.`,
    { errorType: "InvalidVariableTypeError" },
  );
}

const EXTENSION_MIME: Record<string, string> = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  gif: "image/gif",
  webp: "image/webp",
  svg: "image/svg+xml",
  pdf: "application/pdf",
  txt: "text/plain",
  md: "text/markdown",
  csv: "text/csv",
  html: "text/html",
  json: "application/json",
  mp3: "audio/mpeg",
  wav: "audio/wav",
  mp4: "video/mp4",
};

export function mimeOf(file: FileValue): string {
  if (file.mime_type && file.mime_type !== "application/octet-stream") return file.mime_type;
  return EXTENSION_MIME[file.extension.toLowerCase().replace(/^\./, "")] ?? file.mime_type ?? "application/octet-stream";
}

/**
 * Remote images go to the provider as URLs; everything else is read through the files
 * capability (and its SSRF guard) and sent inline.
 */
export async function fileToPart(
  file: FileValue,
  detail: "high" | "low",
  ctx: Pick<NodeRunContext<unknown>, "caps" | "signal">,
): Promise<LlmContentPart> {
  const mimeType = mimeOf(file);
  const isImage = file.type === "image" || mimeType.startsWith("image/");
  if (isImage && file.transfer_method === "remote_url" && file.remote_url && /^https?:\/\//i.test(file.remote_url)) {
    return { type: "image", data: new URL(file.remote_url), mimeType, detail };
  }
  const bytes = await ctx.caps.files.read(file, ctx.signal);
  return isImage
    ? { type: "image", data: bytes, mimeType, detail }
    : { type: "file", data: bytes, mimeType, filename: file.filename };
}

/**
 * Adds vision files to the last user message (files first, as the llm node does), or as a
 * message of their own when the prompt ends with another role.
 */
export async function attachVisionFiles(
  messages: LlmMessage[],
  files: readonly FileValue[],
  vision: VisionConfig,
  ctx: NodeRunContext<unknown>,
): Promise<void> {
  if (files.length === 0) return;
  const detail = vision?.configs?.detail ?? "high";
  const parts = await Promise.all(files.map((f) => fileToPart(f, detail, ctx)));
  const last = messages.at(-1);
  if (last?.role === "user") {
    const existing: LlmContentPart[] = typeof last.content === "string" ? [{ type: "text", text: last.content }] : last.content;
    last.content = [...parts, ...existing];
  } else {
    messages.push({ role: "user", content: parts });
  }
}

/** Completion-mode models get the whole prompt as one user message, as the llm node sends completion templates. */
export function forMode(mode: ModelConfig["mode"], messages: LlmMessage[]): LlmMessage[] {
  if (mode === "chat") return messages;
  const text = messages
    .map((m) => (typeof m.content === "string" ? m.content : ""))
    .filter(Boolean)
    .join("\n\n");
  return [{ role: "user", content: text }];
}

/** Prompt messages as node_finished `process_data.prompts` shows them (file parts summarised). */
export function promptRecords(messages: readonly LlmMessage[]): Array<{ role: string; text: string; files: number }> {
  return messages.map((m) => ({
    role: m.role,
    text: typeof m.content === "string" ? m.content : m.content.map((p) => (p.type === "text" ? p.text : "")).join(""),
    files: typeof m.content === "string" ? 0 : m.content.filter((p) => p.type !== "text").length,
  }));
}

export interface ModelReply {
  text: string;
  reasoning: string;
  toolCalls: Array<{ name: string; arguments: Record<string, unknown> }>;
  usage: LlmUsage;
  finishReason: string | null;
  usageOutput: UsageOutput;
}

/** Dify's `usage` output (token counts, price, seconds of latency). */
export interface UsageOutput {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  total_price: number;
  currency: string;
  latency: number;
}

/** Runs one model call to its end and collects what it produced. */
export async function callModel(
  model: ModelConfig,
  messages: LlmMessage[],
  params: LlmRequest["params"],
  ctx: NodeRunContext<unknown>,
  extra: Pick<LlmRequest, "tools" | "toolChoice"> = {},
): Promise<ModelReply> {
  const request: LlmRequest = {
    provider: normalizeProviderName(model.provider),
    model: model.name,
    messages,
    params,
    ...extra,
  };
  let text = "";
  let reasoning = "";
  const toolCalls: ModelReply["toolCalls"] = [];
  let usage: LlmUsage = { promptTokens: 0, completionTokens: 0, totalTokens: 0, totalPrice: 0, currency: "USD" };
  let finishReason: string | null = null;
  const started = performance.now();
  for await (const part of ctx.caps.llm.stream(request, ctx.signal)) {
    switch (part.type) {
      case "text":
        text += part.text;
        break;
      case "reasoning":
        reasoning += part.text;
        break;
      case "tool-call":
        toolCalls.push({ name: part.name, arguments: part.arguments });
        break;
      case "finish":
        usage = part.usage;
        finishReason = part.finishReason;
        break;
    }
  }
  return {
    text,
    reasoning,
    toolCalls,
    usage,
    finishReason,
    usageOutput: {
      prompt_tokens: usage.promptTokens,
      completion_tokens: usage.completionTokens,
      total_tokens: usage.totalTokens,
      total_price: usage.totalPrice,
      currency: usage.currency,
      latency: Math.round(performance.now() - started) / 1000,
    },
  };
}
