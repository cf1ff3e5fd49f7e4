import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANSWER_TEXT, FIXED_REPLY, type OpenAiTestServer, REASONING_TEXT, startOpenAiTestServer } from "./openai-test-server.js";

let server: OpenAiTestServer;
beforeAll(async () => {
  server = await startOpenAiTestServer();
});
afterAll(async () => {
  await server.close();
});

interface Chunk {
  choices: Array<{
    delta: {
      content?: string;
      reasoning_content?: string;
      tool_calls?: Array<{ index: number; id?: string; function: { name?: string; arguments?: string } }>;
    };
    finish_reason: string | null;
  }>;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

async function post(body: Record<string, unknown>, signal?: AbortSignal): Promise<Response> {
  return fetch(`${server.url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-test" },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

async function streamChunks(body: Record<string, unknown>): Promise<{ chunks: Chunk[]; done: boolean }> {
  const res = await post({ ...body, stream: true, stream_options: { include_usage: true } });
  expect(res.headers.get("content-type")).toBe("text/event-stream");
  const text = await res.text();
  const frames = text
    .split("\n\n")
    .filter((f) => f.startsWith("data: "))
    .map((f) => f.slice(6));
  return { chunks: frames.filter((f) => f !== "[DONE]").map((f) => JSON.parse(f) as Chunk), done: frames.at(-1) === "[DONE]" };
}

const content = (chunks: Chunk[]) => chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");

describe("openai test server", () => {
  it("echoes the last user message in word chunks, with a final usage chunk", async () => {
    const { chunks, done } = await streamChunks({
      model: "gpt-4o-mini",
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: [{ type: "text", text: "one two three" }] },
      ],
    });
    expect(done).toBe(true);
    expect(content(chunks)).toBe("one two three");
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBe(3);
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toEqual({ prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("stop");
  });

  it("records method, path, headers and body", async () => {
    const before = server.requests.length;
    await (await post({ model: "fixed", messages: [{ role: "user", content: "hi" }] })).json();
    const req = server.requests[before];
    expect(req?.method).toBe("POST");
    expect(req?.path).toBe("/v1/chat/completions");
    expect(req?.headers.authorization).toBe("Bearer sk-test");
    expect(req?.body.model).toBe("fixed");
    await expect(req?.outcome).resolves.toBe("completed");
  });

  it("answers non-streaming requests with a chat.completion", async () => {
    const res = await post({ model: "fixed", messages: [{ role: "user", content: "hi" }] });
    const json = (await res.json()) as { object: string; choices: Array<{ message: { content: string } }>; usage: unknown };
    expect(json.object).toBe("chat.completion");
    expect(json.choices[0]?.message.content).toBe(FIXED_REPLY);
    expect(json.usage).toEqual({ prompt_tokens: 1, completion_tokens: 9, total_tokens: 10 });
  });

  it("streams reasoning_content before the answer", async () => {
    const { chunks } = await streamChunks({ model: "reasoning", messages: [{ role: "user", content: "q" }] });
    const reasoning = chunks.map((c) => c.choices[0]?.delta.reasoning_content ?? "").join("");
    expect(reasoning).toBe(REASONING_TEXT);
    expect(content(chunks)).toBe(ANSWER_TEXT);
  });

  it("splits <think> tags across chunks", async () => {
    const { chunks } = await streamChunks({ model: "think", messages: [{ role: "user", content: "q" }] });
    expect(content(chunks)).toBe(`<think>${REASONING_TEXT}</think>${ANSWER_TEXT}`);
    expect(chunks.some((c) => c.choices[0]?.delta.content === "<thi")).toBe(true);
  });

  it("streams tool call arguments in pieces, sampled from the schema", async () => {
    const { chunks } = await streamChunks({
      model: "tool",
      messages: [{ role: "user", content: "weather?" }],
      tools: [
        {
          type: "function",
          function: {
            name: "get_weather",
            parameters: { type: "object", properties: { city: { type: "string" }, unit: { enum: ["c", "f"] } } },
          },
        },
      ],
    });
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls[0]?.function.name).toBe("get_weather");
    expect(calls.length).toBeGreaterThan(2);
    const args = calls.map((c) => c.function.arguments ?? "").join("");
    expect(JSON.parse(args)).toEqual({ city: "example city", unit: "c" });
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("tool_calls");
  });

  it("replies with JSON matching response_format's schema", async () => {
    const { chunks } = await streamChunks({
      model: "json",
      messages: [{ role: "user", content: "x" }],
      response_format: {
        type: "json_schema",
        json_schema: {
          name: "r",
          schema: { type: "object", properties: { n: { type: "integer" }, tags: { type: "array", items: { type: "string" } } } },
        },
      },
    });
    expect(JSON.parse(content(chunks))).toEqual({ n: 42, tags: ["example tags"] });
  });

  it("truncates at max_tokens with finish_reason length", async () => {
    const { chunks } = await streamChunks({ model: "fixed", max_tokens: 2, messages: [{ role: "user", content: "x" }] });
    expect(content(chunks)).toBe("Hello! This ");
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("length");
  });

  it.each([
    ["error-401", 401, "invalid_api_key"],
    ["error-429", 429, "rate_limit_exceeded"],
    ["error-500", 500, null],
    ["error-context-length", 400, "context_length_exceeded"],
  ])("%s answers with OpenAI's error JSON", async (model, status, code) => {
    const res = await post({ model, messages: [] });
    expect(res.status).toBe(status);
    const body = (await res.json()) as { error: { message: string; code: string | null } };
    expect(body.error.code).toBe(code);
    expect(body.error.message.length).toBeGreaterThan(0);
    if (status === 429) expect(res.headers.get("retry-after")).toBe("7");
  });

  it("serves scripted responses before falling back to the model", async () => {
    server.script({ text: "scripted one" }, { error: { status: 503, message: "overloaded" } });
    const a = (await (await post({ model: "fixed", messages: [] })).json()) as {
      choices: Array<{ message: { content: string } }>;
    };
    expect(a.choices[0]?.message.content).toBe("scripted one");
    const b = await post({ model: "fixed", messages: [] });
    expect(b.status).toBe(503);
    const c = (await (await post({ model: "fixed", messages: [] })).json()) as {
      choices: Array<{ message: { content: string } }>;
    };
    expect(c.choices[0]?.message.content).toBe(FIXED_REPLY);
  });

  it("sees the client hang up during a slow stream", async () => {
    const controller = new AbortController();
    const res = await post({ model: "slow-20", stream: true, messages: [] }, controller.signal);
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    const req = server.requests.at(-1);
    await expect(req?.outcome).resolves.toBe("aborted");
  });

  it("checks the API key when configured", async () => {
    const guarded = await startOpenAiTestServer({ apiKey: "sk-right" });
    try {
      const res = await fetch(`${guarded.url}/chat/completions`, {
        method: "POST",
        headers: { authorization: "Bearer sk-wrong", "content-type": "application/json" },
        body: JSON.stringify({ model: "fixed", messages: [] }),
      });
      expect(res.status).toBe(401);
    } finally {
      await guarded.close();
    }
  });

  it("lists its models and 404s unknown paths", async () => {
    const models = (await (await fetch(`${server.url}/models`)).json()) as { data: Array<{ id: string }> };
    expect(models.data.map((m) => m.id)).toContain("echo");
    const res = await fetch(`${server.url}/embeddings`, { method: "POST", body: "{}" });
    expect(res.status).toBe(404);
  });
});
