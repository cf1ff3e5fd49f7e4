/**
 * IO reaches nodes only through these capabilities. The server, workers and tests supply
 * their own; `createDefaultCapabilities` (node-only) wires the real implementations.
 */
import type { FileInputRef, FileValue } from "../variables/file-value.js";

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export interface IdGenerator {
  newId(): string;
}

// ---- LLM -------------------------------------------------------------------------------

export type LlmContentPart =
  | { type: "text"; text: string }
  | { type: "image"; data: Uint8Array | URL; mimeType: string; detail?: "low" | "high" }
  | { type: "file"; data: Uint8Array | URL; mimeType: string; filename?: string };

export interface LlmMessage {
  role: "system" | "user" | "assistant";
  content: string | LlmContentPart[];
}

export interface LlmToolDefinition {
  name: string;
  description: string;
  /** JSON schema of the arguments. */
  parameters: Record<string, unknown>;
}

export interface LlmRequest {
  /** Dify provider name, normalised (`openai`, `anthropic`, `google`, `deepseek`, `ollama`, …). */
  provider: string;
  model: string;
  messages: LlmMessage[];
  params: {
    temperature?: number;
    topP?: number;
    maxTokens?: number;
    stop?: string[];
    presencePenalty?: number;
    frequencyPenalty?: number;
    seed?: number;
    /** Ask the provider for a JSON object (response_format json_object). */
    jsonMode?: boolean;
  };
  /** When set, the model must produce JSON matching this schema (structured output). */
  structuredOutputSchema?: Record<string, unknown>;
  /** Function/tool calling (parameter extractor). */
  tools?: LlmToolDefinition[];
  toolChoice?: "auto" | "required" | { name: string };
}

export interface LlmUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** Price of this call when the provider config has a price table; 0 otherwise. */
  totalPrice: number;
  currency: string;
}

export type LlmStreamPart =
  | { type: "text"; text: string }
  | { type: "reasoning"; text: string }
  | { type: "tool-call"; name: string; arguments: Record<string, unknown> }
  | { type: "finish"; finishReason: string; usage: LlmUsage };

export interface LlmCapability {
  /** Streams the completion. Aborting `signal` must abort the underlying request. */
  stream(request: LlmRequest, signal: AbortSignal): AsyncIterable<LlmStreamPart>;
}

// ---- HTTP ------------------------------------------------------------------------------

export interface HttpRequestSpec {
  method: string;
  url: string;
  headers: Array<[string, string]>;
  body?: string | Uint8Array | FormData | URLSearchParams;
  timeouts: { connectMs: number; readMs: number; writeMs: number };
  /** Caps on the response body; a larger body fails the request. */
  maxTextBytes: number;
  maxBinaryBytes: number;
  followRedirects: boolean;
  sslVerify: boolean;
}

export interface HttpResponseData {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
  /** Final URL after redirects. */
  url: string;
}

export interface HttpCapability {
  /** Performs the request (with the SSRF guard of the implementation). */
  request(spec: HttpRequestSpec, signal: AbortSignal): Promise<HttpResponseData>;
}

// ---- Code sandbox ----------------------------------------------------------------------

export type CodeLanguage = "python3" | "javascript";

export interface SandboxRequest {
  language: CodeLanguage;
  code: string;
  /** Keyword arguments for `main(**inputs)`. JSON-serialisable values only. */
  inputs: Record<string, unknown>;
  timeoutMs: number;
}

export interface SandboxCapability {
  /** Runs `main(**inputs)` and returns its result (must be an object). */
  run(request: SandboxRequest, signal: AbortSignal): Promise<unknown>;
}

// ---- Files -----------------------------------------------------------------------------

export interface FileCapability {
  /** Turns a file input reference (upload id or remote URL) into a file value; throws InputValidationError when unknown. */
  resolve(ref: FileInputRef): Promise<FileValue>;
  /** Reads a file's bytes (uploaded file or remote URL through the SSRF guard). */
  read(file: FileValue, signal: AbortSignal): Promise<Uint8Array>;
  /** Stores bytes produced by a node (e.g. an HTTP response file) and returns its value. */
  save(bytes: Uint8Array, meta: { filename: string; mimeType: string }): Promise<FileValue>;
}

// ---- Credentials -----------------------------------------------------------------------

export interface ProviderCredentials {
  apiKey?: string;
  baseUrl?: string;
  /** Price per 1M tokens, for `total_price`. */
  pricing?: Record<string, { input: number; output: number; currency?: string }>;
}

export interface Capabilities {
  clock: Clock;
  ids: IdGenerator;
  llm: LlmCapability;
  http: HttpCapability;
  sandbox: SandboxCapability;
  files: FileCapability;
}
