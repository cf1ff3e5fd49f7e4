/**
 * A real OpenAI-compatible HTTP server for tests: `node:http` on 127.0.0.1, a random port,
 * `POST /v1/chat/completions` (streaming SSE and non-streaming) and `GET /v1/models`.
 * Every LLM test in the repo (engine, server, SDK end-to-end) talks to this instead of a
 * provider, through the real client code path.
 *
 * ```ts
 * const server = await startOpenAiTestServer();
 * // Point any OpenAI client at server.url ("http://127.0.0.1:<port>/v1"), any API key.
 * server.script({ text: "Hello there" }, { error: { status: 503 } }); // next two requests
 * …
 * server.requests[0].body.messages;            // what the client sent
 * await server.requests[0].outcome;            // "completed" | "aborted" (client hung up)
 * await server.close();
 * ```
 *
 * Without a script, the request's `model` picks the behaviour (all deterministic):
 *
 * | model                 | reply                                                                   |
 * |-----------------------|-------------------------------------------------------------------------|
 * | `echo`, anything else | the last user message's text parts, one chunk per word                  |
 * | `fixed`               | {@link FIXED_REPLY}, one chunk per word                                 |
 * | `reasoning`           | `reasoning_content` deltas ({@link REASONING_TEXT}), then {@link ANSWER_TEXT} (DeepSeek style) |
 * | `think`               | `<think>REASONING_TEXT</think>ANSWER_TEXT` in `content`, tags split across chunks |
 * | `tool`                | a call of the named (`tool_choice`) or first tool; arguments sampled from its JSON schema, streamed in pieces |
 * | `json`                | JSON sampled from `response_format.json_schema.schema`, else `{"answer": <echo>}`, in pieces |
 * | `error-401`           | 401 `invalid_api_key`                                                   |
 * | `error-429`           | 429 `rate_limit_exceeded` with `Retry-After: 7`                         |
 * | `error-500`           | 500 `server_error`                                                      |
 * | `error-context-length`| 400 `context_length_exceeded`                                           |
 * | `slow`, `slow-<ms>`   | 200 word chunks, `<ms>` apart (default `slowChunkDelayMs`, 100) — for abort tests |
 * | `disconnect`          | two chunks, then the socket is destroyed mid-stream                     |
 *
 * Samples from a JSON schema: first `enum` value, strings `"example <property>"`, numbers 42,
 * booleans true, arrays of one sample item, objects with every property.
 *
 * Usage is deterministic: `prompt_tokens` = words in all message text parts,
 * `completion_tokens` = words generated (reasoning + content + tool arguments).
 * `max_tokens` / `max_completion_tokens` truncates the content to that many words and
 * sets `finish_reason: "length"`. Streaming sends a final usage chunk (`choices: []`) when
 * the request has `stream_options.include_usage`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";

export const FIXED_REPLY = "Hello! This reply comes from the Tributary test server.";
export const REASONING_TEXT = "Let me think about this carefully.";
export const ANSWER_TEXT = "The answer is 42.";

export interface ScriptedToolCall {
  name: string;
  /** An object is JSON-encoded; a string is sent as is (so tests can send broken JSON). */
  arguments: string | Record<string, unknown>;
  id?: string;
}

export interface ScriptedReply {
  /** Answer content, sent one word per chunk unless `chunks` is given. */
  text?: string;
  /** Exact content chunks (overrides `text`). */
  chunks?: string[];
  /** DeepSeek-style `reasoning_content`, sent before the content (a string is split per word). */
  reasoning?: string | string[];
  toolCalls?: ScriptedToolCall[];
  /** Default: "tool_calls" with tool calls, else "stop". */
  finishReason?: string;
  usage?: { prompt_tokens: number; completion_tokens: number };
  /** Pause before each chunk (and before a non-streaming reply, times the chunk count). */
  chunkDelayMs?: number;
  /** Destroy the socket after this many content chunks (a network failure mid-stream). */
  disconnectAfterChunks?: number;
}

export interface ScriptedError {
  error: {
    status: number;
    message?: string;
    type?: string;
    code?: string | null;
    headers?: Record<string, string>;
  };
}

export type ScriptedResponse = ScriptedReply | ScriptedError;

export type ChatRequestBody = z.infer<typeof chatRequestSchema>;

export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. "/v1/chat/completions". */
  path: string;
  /** Lower-case header names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The parsed JSON body ({} when there was none). */
  body: ChatRequestBody;
  /** Settles when the response is over: "aborted" when the client closed the connection first. */
  outcome: Promise<"completed" | "aborted">;
}

export interface OpenAiTestServerOptions {
  /** When set, requests must send `Authorization: Bearer <apiKey>` or get a 401. */
  apiKey?: string;
  /** Delay between chunks for the `slow` model. Default 100 ms. */
  slowChunkDelayMs?: number;
}

export interface OpenAiTestServer {
  /** Base URL including `/v1`, e.g. "http://127.0.0.1:40123/v1". */
  readonly url: string;
  /** Every request received, in arrival order. */
  readonly requests: RecordedRequest[];
  /** Queues responses; each request takes the next one before falling back to its model's behaviour. */
  script(...responses: ScriptedResponse[]): void;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

const contentPartSchema = z.looseObject({ type: z.string(), text: z.string().optional() });
const messageSchema = z.looseObject({
  role: z.string(),
  content: z.union([z.string(), z.array(contentPartSchema)]).nullish(),
});
const toolSchema = z.looseObject({
  type: z.string().optional(),
  function: z.looseObject({ name: z.string(), parameters: z.record(z.string(), z.unknown()).optional() }),
});
const chatRequestSchema = z.looseObject({
  model: z.string().optional(),
  messages: z.array(messageSchema).optional(),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: z.number().nullish(),
  max_completion_tokens: z.number().nullish(),
  tools: z.array(toolSchema).nullish(),
  tool_choice: z.unknown().optional(),
  response_format: z
    .looseObject({
      type: z.string(),
      json_schema: z.looseObject({ schema: z.record(z.string(), z.unknown()).optional() }).optional(),
    })
    .nullish(),
});

type Behaviour = { kind: "reply"; reply: ScriptedReply } | ScriptedError;

interface ToolCallOut {
  id: string;
  name: string;
  arguments: string;
}

export async function startOpenAiTestServer(options: OpenAiTestServerOptions = {}): Promise<OpenAiTestServer> {
  const requests: RecordedRequest[] = [];
  const queue: ScriptedResponse[] = [];
  const slowDelay = options.slowChunkDelayMs ?? 100;

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      // A handler bug must show up in the test that triggered it, not hang it.
      if (!res.headersSent) sendError(res, 500, `test server failure: ${String(e)}`, "server_error", null);
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const outcome = new Promise<"completed" | "aborted">((resolve) => {
      res.on("close", () => resolve(res.writableFinished ? "completed" : "aborted"));
    });
    outcome.catch(() => {});
    const raw = await readBody(req);
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    let json: unknown = {};
    let badJson = false;
    if (raw.length > 0) {
      try {
        json = JSON.parse(raw);
      } catch {
        badJson = true;
      }
    }
    const parsed = chatRequestSchema.safeParse(json);
    const body: ChatRequestBody = parsed.success ? parsed.data : (json as ChatRequestBody);
    requests.push({ method: req.method ?? "GET", path, headers: flattenHeaders(req), body, outcome });

    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return sendError(res, 401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key");
    }
    if (req.method === "GET" && path === "/v1/models") {
      return sendJson(res, 200, { object: "list", data: MODEL_NAMES.map((id) => modelEntry(id)) });
    }
    if (req.method !== "POST" || path !== "/v1/chat/completions") {
      return sendError(res, 404, `Unknown request URL: ${req.method} ${path}.`, "invalid_request_error", "unknown_url");
    }
    if (badJson || !parsed.success) {
      return sendError(res, 400, "We could not parse the JSON body of your request.", "invalid_request_error", null);
    }

    const model = body.model ?? "echo";
    const scripted = queue.shift();
    const behaviour: Behaviour = scripted
      ? "error" in scripted
        ? scripted
        : { kind: "reply", reply: scripted }
      : behaviourForModel(model, body, slowDelay);
    if ("error" in behaviour) {
      const e = behaviour.error;
      return sendError(
        res,
        e.status,
        e.message ?? `Scripted error (HTTP ${e.status}).`,
        e.type ?? (e.status >= 500 ? "server_error" : "invalid_request_error"),
        e.code ?? null,
        e.headers,
      );
    }
    await sendReply(res, body, model, behaviour.reply, requests.length);
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    script: (...responses) => {
      queue.push(...responses);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const MODEL_NAMES = [
  "echo",
  "fixed",
  "reasoning",
  "think",
  "tool",
  "json",
  "error-401",
  "error-429",
  "error-500",
  "error-context-length",
  "slow",
  "disconnect",
];

function modelEntry(id: string): Record<string, unknown> {
  return { id, object: "model", created: 1_700_000_000, owned_by: "tributary-test" };
}

function behaviourForModel(model: string, body: ChatRequestBody, slowDelay: number): Behaviour {
  const reply = (r: ScriptedReply): Behaviour => ({ kind: "reply", reply: r });
  switch (model) {
    case "fixed":
      return reply({ text: FIXED_REPLY });
    case "reasoning":
      return reply({ reasoning: REASONING_TEXT, text: ANSWER_TEXT });
    case "think":
      return reply({ chunks: ["<thi", "nk>Let me ", "think about ", "this carefully.</th", "ink>The answer ", "is 42."] });
    case "tool":
      return reply(toolReply(body));
    case "json":
      return reply({ chunks: splitEvery(JSON.stringify(jsonReply(body)), 8) });
    case "error-401":
      return {
        error: {
          status: 401,
          message: "Incorrect API key provided: sk-test. You can find your API key in your account settings.",
          type: "invalid_request_error",
          code: "invalid_api_key",
        },
      };
    case "error-429":
      return {
        error: {
          status: 429,
          message: "Rate limit reached for requests. Please try again in 7s.",
          type: "requests",
          code: "rate_limit_exceeded",
          headers: { "retry-after": "7" },
        },
      };
    case "error-500":
      return {
        error: { status: 500, message: "The server had an error while processing your request.", type: "server_error" },
      };
    case "error-context-length":
      return {
        error: {
          status: 400,
          message:
            "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens. Please reduce the length of the messages.",
          type: "invalid_request_error",
          code: "context_length_exceeded",
        },
      };
    case "disconnect":
      return reply({ text: FIXED_REPLY, disconnectAfterChunks: 2 });
    default: {
      const slow = /^slow(?:-(\d+))?$/.exec(model);
      if (slow) {
        const words = Array.from({ length: 200 }, (_, i) => `tick${i + 1} `);
        return reply({ chunks: words, chunkDelayMs: slow[1] ? Number(slow[1]) : slowDelay });
      }
      return reply({ text: lastUserText(body) });
    }
  }
}

function toolReply(body: ChatRequestBody): ScriptedReply {
  const tools = body.tools ?? [];
  const choice = body.tool_choice;
  // `{type: "function", function: {name}}` names the tool; "auto" / "required" take the first.
  const wanted =
    typeof choice === "object" && choice !== null ? (choice as { function?: { name?: unknown } }).function?.name : undefined;
  const tool = tools.find((t) => t.function.name === wanted) ?? tools[0];
  if (!tool) return { text: "No tools were offered." };
  const args = sampleFromSchema(tool.function.parameters ?? { type: "object" }, "value");
  return { toolCalls: [{ name: tool.function.name, arguments: JSON.stringify(args) }] };
}

function jsonReply(body: ChatRequestBody): unknown {
  const schema = body.response_format?.json_schema?.schema;
  if (body.response_format?.type === "json_schema" && schema) return sampleFromSchema(schema, "value");
  return { answer: lastUserText(body) };
}

/** A deterministic value that satisfies simple JSON schemas. */
export function sampleFromSchema(schema: unknown, name: string): unknown {
  if (typeof schema !== "object" || schema === null) return `example ${name}`;
  const s = schema as Record<string, unknown>;
  if ("const" in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  const anyOf = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(anyOf) && anyOf.length > 0) {
    const firstNonNull = anyOf.find((x) => (x as { type?: unknown }).type !== "null") ?? anyOf[0];
    return sampleFromSchema(firstNonNull, name);
  }
  const type = Array.isArray(s.type) ? (s.type.find((t) => t !== "null") ?? s.type[0]) : s.type;
  switch (type) {
    case "string":
      return `example ${name}`;
    case "number":
    case "integer":
      return 42;
    case "boolean":
      return true;
    case "null":
      return null;
    case "array":
      return [sampleFromSchema(s.items, name)];
    default: {
      const out: Record<string, unknown> = {};
      const props = (s.properties ?? {}) as Record<string, unknown>;
      for (const [key, sub] of Object.entries(props)) out[key] = sampleFromSchema(sub, key);
      return out;
    }
  }
}

async function sendReply(
  res: ServerResponse,
  body: ChatRequestBody,
  model: string,
  reply: ScriptedReply,
  requestNumber: number,
): Promise<void> {
  const id = `chatcmpl-test-${requestNumber}`;
  const created = 1_700_000_000 + requestNumber;
  const reasoningChunks =
    reply.reasoning === undefined ? [] : typeof reply.reasoning === "string" ? splitWords(reply.reasoning) : reply.reasoning;
  let contentChunks = reply.chunks ?? (reply.text !== undefined ? splitWords(reply.text) : []);
  const toolCalls: ToolCallOut[] = (reply.toolCalls ?? []).map((t, i) => ({
    id: t.id ?? `call_${requestNumber}_${i}`,
    name: t.name,
    arguments: typeof t.arguments === "string" ? t.arguments : JSON.stringify(t.arguments),
  }));

  let finishReason = reply.finishReason ?? (toolCalls.length > 0 ? "tool_calls" : "stop");
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (typeof maxTokens === "number" && maxTokens >= 0 && reply.finishReason === undefined) {
    const limited = truncateWords(contentChunks, maxTokens);
    if (limited.length < contentChunks.length || limited.join("") !== contentChunks.join("")) finishReason = "length";
    contentChunks = limited;
  }

  const content = contentChunks.join("");
  const reasoning = reasoningChunks.join("");
  const promptTokens = reply.usage?.prompt_tokens ?? countPromptWords(body);
  const completionTokens =
    reply.usage?.completion_tokens ??
    countWords(content) + countWords(reasoning) + toolCalls.reduce((n, t) => n + countWords(t.arguments), 0);
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    ...(reasoning ? { completion_tokens_details: { reasoning_tokens: countWords(reasoning) } } : {}),
  };
  const delay = reply.chunkDelayMs ?? 0;

  if (!body.stream) {
    const chunkCount = reasoningChunks.length + contentChunks.length + toolCalls.length;
    if (delay > 0 && !(await sleepUnlessClosed(res, delay * chunkCount))) return;
    const message: Record<string, unknown> = { role: "assistant", content: toolCalls.length > 0 && !content ? null : content };
    if (reasoning) message.reasoning_content = reasoning;
    if (toolCalls.length > 0) {
      message.tool_calls = toolCalls.map((t) => ({
        id: t.id,
        type: "function",
        function: { name: t.name, arguments: t.arguments },
      }));
    }
    return sendJson(res, 200, {
      id,
      object: "chat.completion",
      created,
      model,
      choices: [{ index: 0, message, finish_reason: finishReason, logprobs: null }],
      usage,
    });
  }

  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
    id,
    object: "chat.completion.chunk",
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
  });
  const send = async (data: unknown): Promise<boolean> => {
    if (delay > 0 && !(await sleepUnlessClosed(res, delay))) return false;
    if (res.destroyed || res.writableEnded) return false;
    res.write(`data: ${JSON.stringify(data)}\n\n`);
    return true;
  };

  res.write(`data: ${JSON.stringify(chunk({ role: "assistant", content: "" }))}\n\n`);
  for (const r of reasoningChunks) if (!(await send(chunk({ reasoning_content: r })))) return;
  let sent = 0;
  for (const c of contentChunks) {
    if (reply.disconnectAfterChunks !== undefined && sent >= reply.disconnectAfterChunks) {
      // Let what was written reach the client first, so it fails mid-body and not before the headers.
      await new Promise<void>((resolve) => res.write("", () => resolve()));
      await sleepUnlessClosed(res, 20);
      res.destroy();
      return;
    }
    if (!(await send(chunk({ content: c })))) return;
    sent++;
  }
  for (const [index, t] of toolCalls.entries()) {
    const head = { tool_calls: [{ index, id: t.id, type: "function", function: { name: t.name, arguments: "" } }] };
    if (!(await send(chunk(head)))) return;
    for (const piece of splitEvery(t.arguments, 7)) {
      if (!(await send(chunk({ tool_calls: [{ index, function: { arguments: piece } }] })))) return;
    }
  }
  if (!(await send(chunk({}, finishReason)))) return;
  if (body.stream_options?.include_usage) {
    res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [], usage })}\n\n`);
  }
  res.end("data: [DONE]\n\n");
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  type: string,
  code: string | null,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error: { message, type, param: null, code } }, headers);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on("data", (b: Buffer) => parts.push(b));
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    req.on("error", reject);
  });
}

function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

/** Resolves false as soon as the client goes away, so slow streams stop writing at once. */
function sleepUnlessClosed(res: ServerResponse, ms: number): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      res.off("close", onClose);
      resolve(!res.destroyed);
    }, ms);
    res.once("close", onClose);
  });
}

function messageText(content: z.infer<typeof messageSchema>["content"]): string {
  if (typeof content === "string") return content;
  if (!content) return "";
  return content
    .filter((p) => p.type === "text" && typeof p.text === "string")
    .map((p) => p.text)
    .join("\n");
}

function lastUserText(body: ChatRequestBody): string {
  const messages = body.messages ?? [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m?.role === "user") return messageText(m.content);
  }
  return "";
}

function countWords(text: string): number {
  return text.split(/\s+/).filter((w) => w.length > 0).length;
}

function countPromptWords(body: ChatRequestBody): number {
  return (body.messages ?? []).reduce((n, m) => n + countWords(messageText(m.content)), 0);
}

/** Word chunks that keep their trailing whitespace, so joining them gives the text back. */
function splitWords(text: string): string[] {
  return text.match(/\s*\S+\s*/g) ?? (text ? [text] : []);
}

function splitEvery(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** Keeps chunks until `maxWords` words were sent; the chunk that crosses the limit is cut. */
function truncateWords(chunks: string[], maxWords: number): string[] {
  const out: string[] = [];
  let words = 0;
  for (const c of chunks) {
    const n = countWords(c);
    if (words + n <= maxWords) {
      out.push(c);
      words += n;
      continue;
    }
    const keep = maxWords - words;
    if (keep > 0) out.push((c.match(/\s*\S+\s*/g) ?? []).slice(0, keep).join(""));
    break;
  }
  return out;
}
