/**
 * `LlmCapability` on the Vercel AI SDK: one `streamText` call per request, providers chosen
 * by Dify provider name, credentials looked up per call so admin changes apply at once.
 *
 * - Retries are off (`maxRetries: 0`): the node's `retry_config` owns them, and a hidden SDK
 *   retry would double the wait the user configured.
 * - The SDK never downloads prompt URLs itself (`experimental_download`): it has no SSRF
 *   guard. The node reads file bytes through `files.read`; remote image URLs go to the provider.
 * - OpenAI goes through Chat Completions (`.chat`), not the Responses API, so an
 *   `OPENAI_BASE_URL` pointing at a proxy or an OpenAI-compatible server keeps working.
 */
import {
  type FilePart,
  type ImagePart,
  type JSONSchema7,
  jsonSchema,
  type LanguageModel,
  type LanguageModelUsage,
  type ModelMessage,
  type OutputInterface,
  streamText,
  type TextPart,
  type ToolChoice,
  type ToolSet,
  tool,
} from "ai";
import type {
  LlmCapability,
  LlmContentPart,
  LlmMessage,
  LlmRequest,
  LlmStreamPart,
  LlmUsage,
  ProviderCredentials,
} from "../capabilities/types.js";
import { RunStoppedError } from "../errors.js";
import { abortable } from "../runtime/abortable.js";
import { notConfiguredError, type ProviderErrorContext, toProviderError } from "./errors.js";
import { parseModelJson } from "./json-output.js";
import { type ProviderInfo, providerInfo } from "./providers.js";

export type CredentialsLookup = (provider: string) => ProviderCredentials | undefined | Promise<ProviderCredentials | undefined>;

export interface AiSdkLlmOptions {
  /** Called with the normalised provider name on every request. */
  credentials: CredentialsLookup;
}

export function createAiSdkLlm(options: AiSdkLlmOptions): LlmCapability {
  return { stream: (request, signal) => streamLlm(options, request, signal) };
}

interface ResolvedModel {
  model: LanguageModel;
  info: ProviderInfo;
  baseUrl: string;
  credentials: ProviderCredentials;
}

/**
 * Builds the SDK model; throws `provider_not_configured` when a needed key or URL is missing.
 * Provider packages load on first use: together they cost ~200 ms of server start-up.
 */
export async function resolveModel(
  info: ProviderInfo,
  modelId: string,
  credentials: ProviderCredentials | undefined,
): Promise<ResolvedModel> {
  if (!credentials) throw notConfiguredError(info.name, info.requiresApiKey ? "apiKey" : "baseUrl", info.defaultBaseUrl);
  const baseUrl = credentials.baseUrl?.trim() || info.defaultBaseUrl;
  if (!baseUrl) throw notConfiguredError(info.name, "baseUrl");
  const apiKey = credentials.apiKey?.trim() || undefined;
  // The SDK falls back to process.env when apiKey is undefined; keys must come from our config only.
  if (info.requiresApiKey && !apiKey) throw notConfiguredError(info.name, "apiKey");
  const key = apiKey ?? "";
  let model: LanguageModel;
  switch (info.kind) {
    case "openai": {
      const { createOpenAI } = await import("@ai-sdk/openai");
      model = createOpenAI({ apiKey: key, baseURL: baseUrl }).chat(modelId);
      break;
    }
    case "anthropic": {
      const { createAnthropic } = await import("@ai-sdk/anthropic");
      model = createAnthropic({ apiKey: key, baseURL: baseUrl })(modelId);
      break;
    }
    case "google": {
      const { createGoogleGenerativeAI } = await import("@ai-sdk/google");
      model = createGoogleGenerativeAI({ apiKey: key, baseURL: baseUrl })(modelId);
      break;
    }
    case "openai-compatible": {
      const { createOpenAICompatible } = await import("@ai-sdk/openai-compatible");
      model = createOpenAICompatible({
        name: info.name,
        baseURL: baseUrl,
        ...(apiKey !== undefined ? { apiKey } : {}),
        includeUsage: true,
        // Without this the SDK would fetch image URLs itself instead of passing them on.
        supportedUrls: () => ({ "image/*": [/^https?:\/\/.+$/] }),
      }).chatModel(modelId);
      break;
    }
  }
  return { model, info, baseUrl, credentials };
}

async function* streamLlm(options: AiSdkLlmOptions, request: LlmRequest, signal: AbortSignal): AsyncGenerator<LlmStreamPart> {
  signal.throwIfAborted();
  const info = providerInfo(request.provider);
  const credentials = await abortable(Promise.resolve(options.credentials(info.name)), signal);
  const resolved = await abortable(resolveModel(info, request.model, credentials), signal);
  const ctx: ProviderErrorContext = { provider: info.name, model: request.model, baseUrl: resolved.baseUrl };

  // Our own controller so a consumer that stops reading early also ends the HTTP request.
  const inner = new AbortController();
  const forward = () => inner.abort(signal.reason);
  signal.addEventListener("abort", forward, { once: true });
  let finished = false;
  let iterator: AsyncIterator<{ type: string }> | undefined;
  try {
    const structured = request.structuredOutputSchema;
    const nativeJson = info.kind !== "openai-compatible";
    const wantsJson = structured !== undefined || request.params.jsonMode === true;
    const messages = toModelMessages(
      structured !== undefined && !nativeJson ? withSchemaInstruction(request.messages, structured) : request.messages,
    );
    const p = request.params;
    const result = streamText({
      model: resolved.model,
      messages,
      allowSystemInMessages: true,
      ...(p.temperature !== undefined ? { temperature: p.temperature } : {}),
      ...(p.topP !== undefined ? { topP: p.topP } : {}),
      ...(p.maxTokens !== undefined ? { maxOutputTokens: p.maxTokens } : {}),
      ...(p.stop !== undefined && p.stop.length > 0 ? { stopSequences: p.stop } : {}),
      ...(p.presencePenalty !== undefined ? { presencePenalty: p.presencePenalty } : {}),
      ...(p.frequencyPenalty !== undefined ? { frequencyPenalty: p.frequencyPenalty } : {}),
      ...(p.seed !== undefined ? { seed: p.seed } : {}),
      ...(request.tools && request.tools.length > 0
        ? { tools: toToolSet(request.tools), ...(request.toolChoice ? { toolChoice: toToolChoice(request.toolChoice) } : {}) }
        : {}),
      ...(wantsJson ? { output: jsonOutput(nativeJson ? structured : undefined) } : {}),
      // Dify sends schemas as written; strict mode would reject any optional property.
      providerOptions: { openai: { strictJsonSchema: false } },
      maxRetries: 0,
      abortSignal: inner.signal,
      experimental_download: async (requested) => requested.map(() => null),
      // Errors arrive as `error` parts below; the default handler would log them to stderr.
      onError: () => {},
    });
    iterator = result.fullStream[Symbol.asyncIterator]();
    let sawFinish = false;
    for (;;) {
      const step = await abortable(iterator.next(), signal);
      if (step.done) break;
      const part = step.value as StreamPart;
      // `start-step` comes once the response headers are in; only then is a network error a dropped stream.
      if (part.type !== "start" && part.type !== "error" && part.type !== "abort") ctx.midStream = true;
      switch (part.type) {
        case "text-delta":
          if (part.text) yield { type: "text", text: part.text };
          break;
        case "reasoning-delta":
          if (part.text) yield { type: "reasoning", text: part.text };
          break;
        case "tool-call":
          yield { type: "tool-call", name: part.toolName, arguments: toArguments(part.input) };
          break;
        case "finish":
          sawFinish = true;
          yield {
            type: "finish",
            finishReason: finishReason(part.rawFinishReason, part.finishReason),
            usage: toUsage(part.totalUsage, request.model, resolved.credentials),
          };
          break;
        case "error":
          throw toProviderError(part.error, ctx);
        case "abort":
          throw signal.aborted ? signal.reason : new RunStoppedError("The LLM call was aborted.");
      }
    }
    if (!sawFinish) {
      signal.throwIfAborted();
      yield { type: "finish", finishReason: "unknown", usage: toUsage(undefined, request.model, resolved.credentials) };
    }
    finished = true;
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    throw toProviderError(e, ctx);
  } finally {
    signal.removeEventListener("abort", forward);
    if (!finished) inner.abort(signal.aborted ? signal.reason : new Error("The LLM stream was abandoned by its reader."));
    iterator?.return?.()?.catch(() => {});
  }
}

type StreamPart =
  | { type: "text-delta" | "reasoning-delta"; text: string }
  | { type: "tool-call"; toolName: string; input: unknown }
  | { type: "finish"; finishReason: string; rawFinishReason: string | undefined; totalUsage: LanguageModelUsage }
  | { type: "error"; error: unknown }
  | { type: "abort" }
  | { type: "start" | "start-step" | "other" };

function toModelMessages(messages: LlmMessage[]): ModelMessage[] {
  return messages.map((m): ModelMessage => {
    if (m.role === "system") return { role: "system", content: textOf(m.content) };
    if (m.role === "assistant") return { role: "assistant", content: textOf(m.content) };
    if (typeof m.content === "string") return { role: "user", content: m.content };
    return { role: "user", content: m.content.map(toUserPart) };
  });
}

function textOf(content: string | LlmContentPart[]): string {
  if (typeof content === "string") return content;
  return content
    .filter((p): p is Extract<LlmContentPart, { type: "text" }> => p.type === "text")
    .map((p) => p.text)
    .join("\n");
}

function toUserPart(part: LlmContentPart): TextPart | ImagePart | FilePart {
  switch (part.type) {
    case "text":
      return { type: "text", text: part.text };
    case "image":
      return {
        type: "image",
        image: part.data,
        mediaType: part.mimeType,
        ...(part.detail ? { providerOptions: { openai: { imageDetail: part.detail } } } : {}),
      };
    case "file":
      return {
        type: "file",
        data: part.data,
        mediaType: part.mimeType,
        ...(part.filename !== undefined ? { filename: part.filename } : {}),
      };
  }
}

/**
 * OpenAI-compatible servers mostly know only `json_object`, which constrains syntax but not
 * shape; the schema goes into the system prompt, as Dify does for such models.
 */
function withSchemaInstruction(messages: LlmMessage[], schema: Record<string, unknown>): LlmMessage[] {
  const instruction = `Respond with only a JSON object (no markdown, no other text) that conforms to this JSON schema:\n${JSON.stringify(schema)}`;
  const first = messages[0];
  if (first?.role === "system") {
    return [{ role: "system", content: `${textOf(first.content)}\n\n${instruction}` }, ...messages.slice(1)];
  }
  return [{ role: "system", content: instruction }, ...messages];
}

/**
 * Only sets the response format: the node parses the text itself, leniently, so a reply that
 * misses the schema fails with the node's own message rather than the SDK's.
 */
function jsonOutput(schema: Record<string, unknown> | undefined): OutputInterface<string, string, never> {
  return {
    name: "json",
    responseFormat: Promise.resolve(
      schema ? { type: "json" as const, schema: schema as JSONSchema7, name: "llm_response" } : { type: "json" as const },
    ),
    parseCompleteOutput: async ({ text }) => text,
    parsePartialOutput: async () => undefined,
    createElementStreamTransform: () => undefined,
  };
}

function toToolSet(tools: NonNullable<LlmRequest["tools"]>): ToolSet {
  const set: ToolSet = {};
  for (const t of tools) {
    set[t.name] = tool({ description: t.description, inputSchema: jsonSchema(t.parameters as JSONSchema7) });
  }
  return set;
}

function toToolChoice(choice: NonNullable<LlmRequest["toolChoice"]>): ToolChoice<ToolSet> {
  return typeof choice === "string" ? choice : { type: "tool", toolName: choice.name };
}

function toArguments(input: unknown): Record<string, unknown> {
  if (typeof input === "object" && input !== null && !Array.isArray(input)) return input as Record<string, unknown>;
  // Unparsable arguments reach us as the raw string (the SDK marks the call invalid).
  if (typeof input === "string") {
    const parsed = parseModelJson(input);
    if (parsed.ok && typeof parsed.value === "object" && parsed.value !== null && !Array.isArray(parsed.value)) {
      return parsed.value as Record<string, unknown>;
    }
  }
  return {};
}

const UNIFIED_FINISH: Record<string, string> = {
  "tool-calls": "tool_calls",
  "content-filter": "content_filter",
};

/** Dify reports the provider's own finish reason (`stop`, `length`, `tool_calls`). */
function finishReason(raw: string | undefined, unified: string): string {
  return raw ?? UNIFIED_FINISH[unified] ?? unified;
}

export function priceOf(
  pricing: ProviderCredentials["pricing"],
  model: string,
  promptTokens: number,
  completionTokens: number,
): { totalPrice: number; currency: string } {
  const entry = pricing?.[model] ?? pricing?.["*"];
  if (!entry) return { totalPrice: 0, currency: "USD" };
  const raw = (promptTokens * entry.input + completionTokens * entry.output) / 1_000_000;
  // Dify quantises prices to 7 decimals; it also keeps float noise out of sums.
  return { totalPrice: Math.round(raw * 1e7) / 1e7, currency: entry.currency ?? "USD" };
}

function toUsage(usage: LanguageModelUsage | undefined, model: string, credentials: ProviderCredentials): LlmUsage {
  const promptTokens = usage?.inputTokens ?? 0;
  const completionTokens = usage?.outputTokens ?? 0;
  const totalTokens = usage?.totalTokens ?? promptTokens + completionTokens;
  return { promptTokens, completionTokens, totalTokens, ...priceOf(credentials.pricing, model, promptTokens, completionTokens) };
}
