import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LlmCapability, LlmRequest, LlmStreamPart, ProviderCredentials } from "../capabilities/types.js";
import { isTributaryError, ProviderError } from "../errors.js";
import {
  ANSWER_TEXT,
  FIXED_REPLY,
  type OpenAiTestServer,
  REASONING_TEXT,
  startOpenAiTestServer,
} from "../test-support/openai-test-server.js";
import { createAiSdkLlm } from "./ai-sdk-llm.js";

let server: OpenAiTestServer;
let llm: LlmCapability;
const configs: Record<string, ProviderCredentials> = {};

beforeAll(async () => {
  server = await startOpenAiTestServer();
  configs.openai = { apiKey: "sk-openai", baseUrl: server.url, pricing: { fixed: { input: 2, output: 10 } } };
  configs.deepseek = { apiKey: "sk-deepseek", baseUrl: server.url };
  configs.my_gateway = { baseUrl: server.url };
  llm = createAiSdkLlm({ credentials: async (p) => configs[p] });
});
afterAll(async () => {
  await server.close();
});

function req(overrides: Partial<LlmRequest> = {}): LlmRequest {
  return { provider: "openai", model: "fixed", messages: [{ role: "user", content: "hello there" }], params: {}, ...overrides };
}

async function collect(capability: LlmCapability, request: LlmRequest, signal = new AbortController().signal) {
  const parts: LlmStreamPart[] = [];
  for await (const p of capability.stream(request, signal)) parts.push(p);
  return parts;
}

const texts = (parts: LlmStreamPart[]) => parts.flatMap((p) => (p.type === "text" ? [p.text] : []));
const finish = (parts: LlmStreamPart[]) =>
  parts.find((p): p is Extract<LlmStreamPart, { type: "finish" }> => p.type === "finish");

async function failure(request: LlmRequest, capability = llm): Promise<ProviderError> {
  try {
    await collect(capability, request);
  } catch (e) {
    expect(e).toBeInstanceOf(ProviderError);
    return e as ProviderError;
  }
  throw new Error("expected the stream to fail");
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("createAiSdkLlm against the OpenAI test server", () => {
  it("streams text chunks in order (openai provider), with usage and price", async () => {
    const before = server.requests.length;
    const parts = await collect(llm, req());
    expect(texts(parts).length).toBeGreaterThan(3);
    expect(texts(parts).join("")).toBe(FIXED_REPLY);
    const f = finish(parts);
    expect(f?.finishReason).toBe("stop");
    // prompt: "hello there" = 2 words; reply = 9 words. Price: (2*2 + 9*10) / 1e6.
    expect(f?.usage).toEqual({ promptTokens: 2, completionTokens: 9, totalTokens: 11, totalPrice: 0.000094, currency: "USD" });
    expect(parts.at(-1)?.type).toBe("finish");
    const sent = server.requests[before];
    expect(sent?.path).toBe("/v1/chat/completions");
    expect(sent?.headers.authorization).toBe("Bearer sk-openai");
    expect(sent?.body.stream).toBe(true);
    expect(sent?.body.stream_options?.include_usage).toBe(true);
  });

  it("serves an openai-compatible provider (deepseek) with include_usage", async () => {
    const before = server.requests.length;
    const parts = await collect(
      llm,
      req({ provider: "deepseek", model: "echo", messages: [{ role: "user", content: "a b c" }] }),
    );
    expect(texts(parts).join("")).toBe("a b c");
    expect(finish(parts)?.usage).toMatchObject({ promptTokens: 3, completionTokens: 3, totalTokens: 6, totalPrice: 0 });
    expect(server.requests[before]?.headers.authorization).toBe("Bearer sk-deepseek");
    expect(server.requests[before]?.body.stream_options?.include_usage).toBe(true);
  });

  it("normalises Dify plugin provider ids", async () => {
    const parts = await collect(llm, req({ provider: "langgenius/openai/openai" }));
    expect(texts(parts).join("")).toBe(FIXED_REPLY);
    const ds = await collect(llm, req({ provider: "langgenius/deepseek/deepseek", model: "echo" }));
    expect(texts(ds).join("")).toBe("hello there");
  });

  it("serves an unknown provider that has a base URL, without a key", async () => {
    const before = server.requests.length;
    const parts = await collect(llm, req({ provider: "my-gateway", model: "echo" }));
    expect(texts(parts).join("")).toBe("hello there");
    expect(server.requests[before]?.headers.authorization).toBeUndefined();
  });

  it("passes system messages and sampling parameters", async () => {
    const before = server.requests.length;
    await collect(
      llm,
      req({
        messages: [
          { role: "system", content: "You are terse." },
          { role: "user", content: "hi" },
          { role: "assistant", content: "hello" },
          { role: "user", content: "again" },
        ],
        params: {
          temperature: 0.3,
          topP: 0.9,
          maxTokens: 50,
          stop: ["END"],
          presencePenalty: 0.1,
          frequencyPenalty: 0.2,
          seed: 7,
        },
      }),
    );
    const body = server.requests[before]?.body as Record<string, unknown>;
    expect(body.messages).toEqual([
      { role: "system", content: "You are terse." },
      { role: "user", content: "hi" },
      { role: "assistant", content: "hello" },
      { role: "user", content: "again" },
    ]);
    expect(body).toMatchObject({
      temperature: 0.3,
      top_p: 0.9,
      max_tokens: 50,
      stop: ["END"],
      presence_penalty: 0.1,
      frequency_penalty: 0.2,
      seed: 7,
    });
  });

  it("reports finish_reason length", async () => {
    const parts = await collect(llm, req({ params: { maxTokens: 3 } }));
    expect(texts(parts).join("")).toBe("Hello! This reply ");
    expect(finish(parts)?.finishReason).toBe("length");
  });

  it("streams DeepSeek-style reasoning_content as reasoning parts", async () => {
    const parts = await collect(llm, req({ provider: "deepseek", model: "reasoning" }));
    const reasoning = parts.flatMap((p) => (p.type === "reasoning" ? [p.text] : [])).join("");
    expect(reasoning).toBe(REASONING_TEXT);
    expect(texts(parts).join("")).toBe(ANSWER_TEXT);
    const firstText = parts.findIndex((p) => p.type === "text");
    const lastReasoning = parts.map((p) => p.type).lastIndexOf("reasoning");
    expect(lastReasoning).toBeLessThan(firstText);
  });

  it("passes <think> tags through as text (the node decides what to do with them)", async () => {
    const parts = await collect(llm, req({ provider: "deepseek", model: "think" }));
    expect(texts(parts).join("")).toBe(`<think>${REASONING_TEXT}</think>${ANSWER_TEXT}`);
  });

  it("makes tool calls with arguments assembled from streamed pieces", async () => {
    for (const provider of ["openai", "deepseek"]) {
      const before = server.requests.length;
      const parts = await collect(
        llm,
        req({
          provider,
          model: "tool",
          tools: [
            {
              name: "extract",
              description: "Extract parameters",
              parameters: {
                type: "object",
                properties: { city: { type: "string" }, days: { type: "integer" } },
                required: ["city"],
              },
            },
            { name: "other", description: "unused", parameters: { type: "object", properties: {} } },
          ],
          toolChoice: { name: "extract" },
        }),
      );
      expect(parts.filter((p) => p.type === "tool-call")).toEqual([
        { type: "tool-call", name: "extract", arguments: { city: "example city", days: 42 } },
      ]);
      expect(finish(parts)?.finishReason).toBe("tool_calls");
      const body = server.requests[before]?.body as Record<string, unknown>;
      expect(body.tool_choice).toEqual({ type: "function", function: { name: "extract" } });
      expect((body.tools as unknown[]).length).toBe(2);
    }
  });

  it("yields an empty argument object for unparsable tool arguments", async () => {
    server.script({ toolCalls: [{ name: "extract", arguments: "{not json" }] });
    const parts = await collect(
      llm,
      req({ model: "anything", tools: [{ name: "extract", description: "x", parameters: { type: "object", properties: {} } }] }),
    );
    expect(parts.filter((p) => p.type === "tool-call")).toEqual([{ type: "tool-call", name: "extract", arguments: {} }]);
  });

  describe("structured output", () => {
    const schema = {
      type: "object",
      properties: { name: { type: "string" }, age: { type: "integer" } },
      required: ["name", "age"],
      additionalProperties: false,
    };

    it("openai: sends response_format json_schema (not strict)", async () => {
      const before = server.requests.length;
      const parts = await collect(llm, req({ model: "json", structuredOutputSchema: schema }));
      expect(JSON.parse(texts(parts).join(""))).toEqual({ name: "example name", age: 42 });
      const rf = server.requests[before]?.body.response_format as Record<string, unknown>;
      expect(rf.type).toBe("json_schema");
      expect(rf.json_schema).toMatchObject({ name: "llm_response", strict: false, schema });
    });

    it("openai-compatible: sends json_object and puts the schema into the system prompt", async () => {
      const before = server.requests.length;
      server.script({ text: '{"name": "Ada", "age": 36}' });
      const parts = await collect(
        llm,
        req({
          provider: "deepseek",
          messages: [
            { role: "system", content: "Extract." },
            { role: "user", content: "Ada is 36" },
          ],
          structuredOutputSchema: schema,
        }),
      );
      expect(JSON.parse(texts(parts).join(""))).toEqual({ name: "Ada", age: 36 });
      const body = server.requests[before]?.body;
      expect(body?.response_format).toEqual({ type: "json_object" });
      const system = body?.messages?.[0];
      expect(system?.role).toBe("system");
      expect(system?.content).toContain("Extract.");
      expect(system?.content).toContain(JSON.stringify(schema));
    });

    it("jsonMode asks for json_object", async () => {
      const before = server.requests.length;
      await collect(llm, req({ model: "json", params: { jsonMode: true } }));
      expect(server.requests[before]?.body.response_format).toEqual({ type: "json_object" });
    });
  });

  describe("vision", () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);

    it("sends image bytes as a data URL and remote images as their URL (openai, with detail)", async () => {
      const before = server.requests.length;
      await collect(
        llm,
        req({
          messages: [
            {
              role: "user",
              content: [
                { type: "image", data: png, mimeType: "image/png", detail: "low" },
                { type: "image", data: new URL("https://example.com/cat.jpg"), mimeType: "image/jpeg" },
                { type: "text", text: "what is this" },
              ],
            },
          ],
        }),
      );
      const content = server.requests[before]?.body.messages?.[0]?.content as Array<Record<string, unknown>>;
      expect(content[0]).toEqual({
        type: "image_url",
        image_url: { url: `data:image/png;base64,${Buffer.from(png).toString("base64")}`, detail: "low" },
      });
      expect(content[1]).toMatchObject({ type: "image_url", image_url: { url: "https://example.com/cat.jpg" } });
      expect(content[2]).toEqual({ type: "text", text: "what is this" });
    });

    it("openai-compatible passes image URLs on instead of downloading them", async () => {
      const before = server.requests.length;
      const parts = await collect(
        llm,
        req({
          provider: "deepseek",
          model: "echo",
          messages: [
            {
              role: "user",
              content: [
                { type: "image", data: new URL("https://example.com/dog.png"), mimeType: "image/png" },
                { type: "text", text: "describe" },
              ],
            },
          ],
        }),
      );
      expect(texts(parts).join("")).toBe("describe");
      const content = server.requests[before]?.body.messages?.[0]?.content as Array<Record<string, unknown>>;
      expect(content[0]).toEqual({ type: "image_url", image_url: { url: "https://example.com/dog.png" } });
    });
  });

  describe("errors", () => {
    it("401 → invalid key, naming where to fix it", async () => {
      const e = await failure(req({ model: "error-401" }));
      expect(e.code).toBe("provider_error");
      expect(e.status).toBe(401);
      expect(e.message).toContain("rejected the API key");
      expect(e.message).toContain("Incorrect API key provided");
      expect(e.message).toContain("TRIBUTARY_PROVIDER_OPENAI_API_KEY");
      expect(e.message).toContain("PUT /api/admin/providers/openai");
    });

    it("429 → rate limited, with Retry-After, and no SDK retry", async () => {
      const before = server.requests.length;
      const e = await failure(req({ model: "error-429" }));
      expect(e.status).toBe(429);
      expect(e.message).toContain("rate limiting");
      expect(e.message).toContain("Retry after 7 s");
      expect(server.requests.length - before).toBe(1);
    });

    it("500 → upstream failure, no SDK retry", async () => {
      const before = server.requests.length;
      const e = await failure(req({ provider: "deepseek", model: "error-500" }));
      expect(e.status).toBe(500);
      expect(e.message).toContain("failed upstream (HTTP 500)");
      expect(e.message).toContain("The server had an error");
      expect(server.requests.length - before).toBe(1);
    });

    it("400 context_length_exceeded → prompt too long", async () => {
      const e = await failure(req({ model: "error-context-length" }));
      expect(e.status).toBe(400);
      expect(e.message).toContain("too long for the context window");
      expect(e.message).toContain("maximum context length is 8192 tokens");
    });

    it("other 4xx keep status and upstream message", async () => {
      server.script({ error: { status: 422, message: "temperature must be <= 2" } });
      const e = await failure(req());
      expect(e.status).toBe(422);
      expect(e.message).toContain("temperature must be <= 2");
    });

    it("unreachable server → network error with the base URL", async () => {
      const port = await closedPort();
      const down = createAiSdkLlm({ credentials: () => ({ apiKey: "k", baseUrl: `http://127.0.0.1:${port}/v1` }) });
      const e = await failure(req(), down);
      expect(e.status).toBeNull();
      expect(e.message).toContain(`Cannot reach LLM provider openai at http://127.0.0.1:${port}/v1`);
    });

    it("connection dropped mid-stream → provider error", async () => {
      const e = await failure(req({ model: "disconnect" }));
      expect(e.code).toBe("provider_error");
      expect(e.status).toBeNull();
      expect(e.message).toContain("dropped in the middle of the response");
    });
  });

  describe("native providers are wired (the test server answers 404 to their protocols)", () => {
    it.each([
      ["anthropic", "/v1/messages", "x-api-key"],
      ["langgenius/gemini/google", "/v1/models/gemini-x:streamGenerateContent", "x-goog-api-key"],
    ])("%s calls %s with %s", async (provider, path, header) => {
      const native = createAiSdkLlm({ credentials: () => ({ apiKey: "sk-native", baseUrl: server.url }) });
      const before = server.requests.length;
      const e = await failure(req({ provider, model: provider === "anthropic" ? "claude-x" : "gemini-x" }), native);
      expect(e.status).toBe(404);
      expect(server.requests[before]?.path).toBe(path);
      expect(server.requests[before]?.headers[header]).toBe("sk-native");
    });
  });

  describe("configuration", () => {
    it("missing credentials → provider_not_configured naming the env var and admin endpoint", async () => {
      const e = await failure(req({ provider: "anthropic", model: "claude-x" }));
      expect(e.code).toBe("provider_not_configured");
      expect(e.message).toContain("ANTHROPIC_API_KEY");
      expect(e.message).toContain("TRIBUTARY_PROVIDER_ANTHROPIC_API_KEY");
      expect(e.message).toContain("PUT /api/admin/providers/anthropic");
    });

    it("a key-less config for a provider that needs a key is not configured", async () => {
      const noKey = createAiSdkLlm({ credentials: () => ({ baseUrl: server.url }) });
      const e = await failure(req(), noKey);
      expect(e.code).toBe("provider_not_configured");
      expect(e.message).toContain("OPENAI_API_KEY");
    });

    it("an unknown provider without base URL is not configured", async () => {
      const e = await failure(req({ provider: "langgenius/acme/acme" }));
      expect(e.code).toBe("provider_not_configured");
      expect(e.message).toContain("TRIBUTARY_PROVIDER_ACME_BASE_URL");
      expect(e.message).toContain("PUT /api/admin/providers/acme");
    });

    it("looks credentials up by normalised provider name", async () => {
      const asked: string[] = [];
      const spy = createAiSdkLlm({
        credentials: (p) => {
          asked.push(p);
          return { apiKey: "k", baseUrl: server.url };
        },
      });
      await collect(spy, req({ provider: "langgenius/gemini/google", model: "x" })).catch(() => {});
      await collect(spy, req({ provider: "Qwen", model: "echo" }));
      expect(asked).toEqual(["google", "tongyi"]);
    });
  });

  describe("abort", () => {
    it("rejects within 1 s with the signal's reason and the server sees the socket close", async () => {
      const controller = new AbortController();
      const before = server.requests.length;
      const received: string[] = [];
      const reason = new Error("stop requested");
      const started = Date.now();
      let abortedAt = 0;
      const run = (async () => {
        for await (const p of llm.stream(req({ model: "slow-50" }), controller.signal)) {
          if (p.type === "text") received.push(p.text);
          if (received.length === 3) {
            abortedAt = Date.now();
            controller.abort(reason);
          }
        }
      })();
      await expect(run).rejects.toBe(reason);
      expect(Date.now() - abortedAt).toBeLessThan(1000);
      expect(received.length).toBe(3);
      await expect(server.requests[before]?.outcome).resolves.toBe("aborted");
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it("rejects at once when the signal is already aborted, without a request", async () => {
      const before = server.requests.length;
      const controller = new AbortController();
      controller.abort(new Error("already"));
      await expect(collect(llm, req(), controller.signal)).rejects.toThrow("already");
      expect(server.requests.length).toBe(before);
    });

    it("aborting while waiting for the first chunk ends promptly", async () => {
      const controller = new AbortController();
      const before = server.requests.length;
      server.script({ text: "late reply", chunkDelayMs: 5000 });
      setTimeout(() => controller.abort(new Error("timeout")), 100);
      const t0 = Date.now();
      await expect(collect(llm, req(), controller.signal)).rejects.toThrow("timeout");
      expect(Date.now() - t0).toBeLessThan(1000);
      await expect(server.requests[before]?.outcome).resolves.toBe("aborted");
    });

    it("a reader that stops early ends the HTTP request", async () => {
      const before = server.requests.length;
      for await (const p of llm.stream(req({ model: "slow-20" }), new AbortController().signal)) {
        if (p.type === "text") break;
      }
      await expect(server.requests[before]?.outcome).resolves.toBe("aborted");
    });
  });

  it("errors are TributaryErrors with stable codes", async () => {
    try {
      await collect(llm, req({ model: "error-500" }));
    } catch (e) {
      expect(isTributaryError(e)).toBe(true);
    }
  });
});
