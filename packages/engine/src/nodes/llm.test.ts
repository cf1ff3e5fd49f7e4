import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Capabilities, ProviderCredentials } from "../capabilities/types.js";
import { isTributaryError, NodeExecutionError, ProviderError } from "../errors.js";
import { createAiSdkLlm } from "../llm/ai-sdk-llm.js";
import { makeNodeContext } from "../test-support/node-context.js";
import {
  ANSWER_TEXT,
  FIXED_REPLY,
  type OpenAiTestServer,
  REASONING_TEXT,
  startOpenAiTestServer,
} from "../test-support/openai-test-server.js";
import { FILE_IDENTITY, type FileValue } from "../variables/file-value.js";
import { VariablePool } from "../variables/variable-pool.js";
import { type LlmNodeData, llmNode } from "./llm.js";

let server: OpenAiTestServer;
let caps: Partial<Capabilities>;
const configs: Record<string, ProviderCredentials> = {};

beforeAll(async () => {
  server = await startOpenAiTestServer();
  configs.openai = { apiKey: "sk-test", baseUrl: server.url, pricing: { fixed: { input: 1, output: 2, currency: "USD" } } };
  configs.deepseek = { apiKey: "sk-ds", baseUrl: server.url };
  caps = { llm: createAiSdkLlm({ credentials: (p) => configs[p] }) };
});
afterAll(async () => {
  await server.close();
});

function data(overrides: Record<string, unknown> = {}): LlmNodeData {
  return llmNode.schema.parse({
    type: "llm",
    title: "LLM",
    model: { provider: "langgenius/openai/openai", name: "fixed", mode: "chat", completion_params: { temperature: 0.7 } },
    prompt_template: [
      { role: "system", text: "You are helpful." },
      { role: "user", text: "Hello {{#start.name#}}" },
    ],
    context: { enabled: false, variable_selector: [] },
    vision: { enabled: false },
    ...overrides,
  });
}

function poolWith(values: Record<string, Record<string, unknown>> = { start: { name: "Ada" } }): VariablePool {
  const pool = new VariablePool();
  for (const [node, vars] of Object.entries(values)) pool.setAll(node, vars);
  return pool;
}

async function run(d: LlmNodeData, options: { pool?: VariablePool; signal?: AbortSignal; caps?: Partial<Capabilities> } = {}) {
  const ctx = makeNodeContext(d, {
    nodeId: "llm1",
    pool: options.pool ?? poolWith(),
    caps: { ...caps, ...options.caps },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const before = server.requests.length;
  const result = await llmNode.run(ctx);
  return { result, chunks: ctx.chunks, sent: server.requests[before] };
}

function file(overrides: Partial<FileValue>): FileValue {
  return {
    dify_model_identity: FILE_IDENTITY,
    id: "f1",
    type: "image",
    transfer_method: "local_file",
    remote_url: null,
    related_id: "upload-1",
    filename: "cat.png",
    extension: "png",
    mime_type: "image/png",
    size: 4,
    url: null,
    ...overrides,
  };
}

describe("llm node", () => {
  it("streams text chunks in order to emitText and outputs Dify's shape", async () => {
    const { result, chunks, sent } = await run(data());
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.every((c) => c.selector.join(".") === "llm1.text")).toBe(true);
    expect(chunks.map((c) => c.text).join("")).toBe(FIXED_REPLY);
    expect(result.outputs.text).toBe(FIXED_REPLY);
    expect(result.outputs.reasoning_content).toBe("");
    expect(result.outputs.finish_reason).toBe("stop");
    // prompt: "You are helpful." (3) + "Hello Ada" (2) = 5 words; reply 9 words; price (5*1 + 9*2)/1e6.
    expect(result.outputs.usage).toMatchObject({
      prompt_tokens: 5,
      completion_tokens: 9,
      total_tokens: 14,
      total_price: 0.000023,
      currency: "USD",
    });
    expect(typeof (result.outputs.usage as { latency: number }).latency).toBe("number");
    expect(result.usage).toEqual({
      promptTokens: 5,
      completionTokens: 9,
      totalTokens: 14,
      totalPrice: 0.000023,
      currency: "USD",
    });
    expect(result.processData).toMatchObject({
      model_mode: "chat",
      model_provider: "openai",
      model_name: "fixed",
      finish_reason: "stop",
      prompts: [
        { role: "system", text: "You are helpful.", files: [] },
        { role: "user", text: "Hello Ada", files: [] },
      ],
    });
    expect(result.inputs).toMatchObject({ "#start.name#": "Ada", model_provider: "openai", model_name: "fixed" });
    expect(sent?.body.messages).toEqual([
      { role: "system", content: "You are helpful." },
      { role: "user", content: "Hello Ada" },
    ]);
    expect(sent?.body.temperature).toBe(0.7);
  });

  it("renders non-string values like Dify and fills {{#context#}}", async () => {
    const { sent } = await run(
      data({
        model: { provider: "openai", name: "echo", mode: "chat" },
        prompt_template: [
          { role: "user", text: "ctx={{#context#}} obj={{#start.obj#}} n={{#start.n#}} missing={{#start.nope#}}" },
        ],
        context: { enabled: true, variable_selector: ["kr", "result"] },
      }),
      {
        pool: poolWith({
          start: { obj: { a: 1, b: [true, null] }, n: 3 },
          kr: { result: [{ content: "chunk one", metadata: {} }, "chunk two"] },
        }),
      },
    );
    expect(sent?.body.messages).toEqual([
      { role: "user", content: 'ctx=chunk one\nchunk two obj={"a": 1, "b": [true, null]} n=3 missing=' },
    ]);
  });

  it("completion mode sends the template as one user message", async () => {
    const { result, sent } = await run(
      data({
        model: { provider: "openai", name: "echo", mode: "completion", completion_params: { stop: ["Human:"], max_tokens: 100 } },
        prompt_template: { text: "Say {{#start.name#}}" },
      }),
    );
    expect(sent?.body.messages).toEqual([{ role: "user", content: "Say Ada" }]);
    expect(sent?.body.stop).toEqual(["Human:"]);
    expect(sent?.body.max_tokens).toBe(100);
    expect(result.outputs.text).toBe("Say Ada");
    expect(result.processData?.model_mode).toBe("completion");
  });

  it("resolves references in completion params and rejects bad values", async () => {
    const d = data({
      model: {
        provider: "openai",
        name: "fixed",
        completion_params: { temperature: "{{#start.temp#}}", seed: 5, response_format: "json_object" },
      },
    });
    const { sent } = await run(d, { pool: poolWith({ start: { name: "x", temp: "0.25" } }) });
    expect(sent?.body).toMatchObject({ temperature: 0.25, seed: 5, response_format: { type: "json_object" } });
    await expect(run(d, { pool: poolWith({ start: { name: "x", temp: "hot" } }) })).rejects.toThrow(
      /Invalid model parameter temperature/,
    );
  });

  it("works with an openai-compatible provider", async () => {
    const { result, sent } = await run(data({ model: { provider: "langgenius/deepseek/deepseek", name: "echo" } }));
    expect(result.outputs.text).toBe("Hello Ada");
    expect(sent?.headers.authorization).toBe("Bearer sk-ds");
    expect(result.processData?.model_provider).toBe("deepseek");
  });

  describe("vision", () => {
    const bytes = new Uint8Array([1, 2, 3, 4]);
    const read: string[] = [];
    const files: Partial<Capabilities> = {
      files: {
        resolve: () => Promise.reject(new Error("unused")),
        save: () => Promise.reject(new Error("unused")),
        read: async (f) => {
          read.push(f.filename);
          return bytes;
        },
      },
    };

    it("sends uploaded images as bytes and remote images as URLs, before the last user message", async () => {
      const local = file({});
      const remote = file({
        id: "f2",
        transfer_method: "remote_url",
        remote_url: "https://example.com/dog.jpg",
        filename: "dog.jpg",
        mime_type: "image/jpeg",
      });
      const { result, sent } = await run(
        data({
          model: { provider: "openai", name: "echo" },
          vision: { enabled: true, configs: { variable_selector: ["sys", "files"], detail: "low" } },
        }),
        { pool: poolWith({ start: { name: "Ada" }, sys: { files: [local, remote] } }), caps: files },
      );
      expect(read).toEqual(["cat.png"]);
      const user = sent?.body.messages?.[1];
      expect(user?.role).toBe("user");
      expect(user?.content).toEqual([
        {
          type: "image_url",
          image_url: { url: `data:image/png;base64,${Buffer.from(bytes).toString("base64")}`, detail: "low" },
        },
        { type: "image_url", image_url: { url: "https://example.com/dog.jpg", detail: "low" } },
        { type: "text", text: "Hello Ada" },
      ]);
      expect(result.outputs.text).toBe("Hello Ada");
      const prompts = result.processData?.prompts as Array<{ files: unknown[] }>;
      expect(prompts[1]?.files).toHaveLength(2);
      expect(result.inputs?.["#files#"]).toEqual([local, remote]);
    });

    it("sends files referenced inside a user prompt as parts of that message", async () => {
      const { sent } = await run(
        data({
          model: { provider: "deepseek", name: "echo" },
          prompt_template: [{ role: "user", text: "Describe {{#start.pic#}}" }],
        }),
        { pool: poolWith({ start: { pic: file({ filename: "inline.png" }) } }), caps: files },
      );
      expect(sent?.body.messages?.[0]?.content).toEqual([
        { type: "text", text: "Describe " },
        { type: "image_url", image_url: { url: `data:image/png;base64,${Buffer.from(bytes).toString("base64")}` } },
      ]);
    });

    it("fails clearly when the vision variable is not a file", async () => {
      await expect(
        run(data({ vision: { enabled: true, configs: { variable_selector: ["start", "name"] } } }), { caps: files }),
      ).rejects.toThrow("start.name is not a file");
    });
  });

  describe("structured output", () => {
    const schema = {
      type: "object",
      properties: { name: { type: "string" }, age: { type: "integer" } },
      required: ["name", "age"],
    };

    it("parses the JSON reply into structured_output (openai, json_schema)", async () => {
      const { result, sent } = await run(
        data({ model: { provider: "openai", name: "json" }, structured_output_enabled: true, structured_output: { schema } }),
      );
      expect(result.outputs.structured_output).toEqual({ name: "example name", age: 42 });
      expect(JSON.parse(result.outputs.text as string)).toEqual({ name: "example name", age: 42 });
      expect(sent?.body.response_format?.type).toBe("json_schema");
    });

    it("accepts the newer switch name and fenced JSON from a compatible provider", async () => {
      server.script({ text: '```json\n{"name": "Ada", "age": 36}\n```' });
      const { result } = await run(
        data({
          model: { provider: "deepseek", name: "any" },
          structured_output_switch_on: true,
          structured_output: { schema: JSON.stringify(schema) },
        }),
      );
      expect(result.outputs.structured_output).toEqual({ name: "Ada", age: 36 });
    });

    it("fails when the reply is not JSON or misses the schema", async () => {
      server.script({ text: "sorry, no" });
      const d = data({
        model: { provider: "deepseek", name: "any" },
        structured_output_enabled: true,
        structured_output: { schema },
      });
      await expect(run(d)).rejects.toThrow(/Failed to parse structured output/);
      server.script({ text: '{"name": "Ada"}' });
      await expect(run(d)).rejects.toThrow(/Structured output validation failed \(path=\$\.age\)/);
    });
  });

  it("renders Jinja2 prompts with the raw variable values", async () => {
    const { result, sent } = await run(
      data({
        model: { provider: "openai", name: "echo" },
        prompt_template: [
          {
            role: "system",
            text: "stale {{#gone.var#}}",
            edition_type: "jinja2",
            jinja2_text: "Items: {{ items | join(', ') }}",
          },
          {
            role: "user",
            text: "",
            edition_type: "jinja2",
            jinja2_text: "{% for i in items %}{{ loop.index }}={{ i }} {% endfor %}{{ who }}",
          },
        ],
        prompt_config: {
          jinja2_variables: [
            { variable: "items", value_selector: ["start", "items"] },
            { variable: "who", value_selector: ["start", "name"] },
          ],
        },
      }),
      { pool: poolWith({ start: { name: "Ada", items: ["a", "b"] } }) },
    );
    expect(sent?.body.messages).toEqual([
      { role: "system", content: "Items: a, b" },
      { role: "user", content: "1=a 2=b Ada" },
    ]);
    expect(result.inputs).toMatchObject({ items: ["a", "b"], who: "Ada" });
  });

  describe("reasoning", () => {
    it("separated: strips <think> from text and the stream, outputs reasoning_content", async () => {
      const { result, chunks } = await run(
        data({ model: { provider: "deepseek", name: "think" }, reasoning_format: "separated" }),
      );
      expect(chunks.map((c) => c.text).join("")).toBe(ANSWER_TEXT);
      expect(chunks.some((c) => c.text.includes("<"))).toBe(false);
      expect(result.outputs.text).toBe(ANSWER_TEXT);
      expect(result.outputs.reasoning_content).toBe(REASONING_TEXT);
    });

    it("tagged: keeps <think> in text", async () => {
      const { result, chunks } = await run(data({ model: { provider: "deepseek", name: "think" }, reasoning_format: "tagged" }));
      const full = `<think>${REASONING_TEXT}</think>${ANSWER_TEXT}`;
      expect(chunks.map((c) => c.text).join("")).toBe(full);
      expect(result.outputs.text).toBe(full);
      expect(result.outputs.reasoning_content).toBe("");
    });

    it("separated: reasoning streamed by the provider goes to reasoning_content only", async () => {
      const { result, chunks } = await run(
        data({ model: { provider: "deepseek", name: "reasoning" }, reasoning_format: "separated" }),
      );
      expect(chunks.map((c) => c.text).join("")).toBe(ANSWER_TEXT);
      expect(result.outputs.text).toBe(ANSWER_TEXT);
      expect(result.outputs.reasoning_content).toBe(REASONING_TEXT);
    });

    it("tagged (the default): reasoning streamed by the provider is wrapped in <think> like Dify's plugins do", async () => {
      const { result, chunks } = await run(data({ model: { provider: "deepseek", name: "reasoning" } }));
      const full = `<think>\n${REASONING_TEXT}\n</think>${ANSWER_TEXT}`;
      expect(chunks.map((c) => c.text).join("")).toBe(full);
      expect(result.outputs.text).toBe(full);
    });
  });

  describe("failures", () => {
    it("provider errors propagate as ProviderError with status", async () => {
      const e = await run(data({ model: { provider: "openai", name: "error-429" } })).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ProviderError);
      expect((e as ProviderError).status).toBe(429);
    });

    it("missing credentials → provider_not_configured", async () => {
      const e = await run(data({ model: { provider: "langgenius/anthropic/anthropic", name: "claude" } })).catch(
        (x: unknown) => x,
      );
      expect(isTributaryError(e) && e.code).toBe("provider_not_configured");
      expect((e as Error).message).toContain("ANTHROPIC_API_KEY");
    });

    it("aborting mid-stream ends the node within 1 s and closes the connection", async () => {
      const controller = new AbortController();
      const d = data({ model: { provider: "openai", name: "slow-50" } });
      const ctx = makeNodeContext(d, { nodeId: "llm1", pool: poolWith(), caps, signal: controller.signal });
      const original = ctx.emitText;
      let abortedAt = 0;
      ctx.emitText = (text, selector) => {
        original(text, selector);
        if (ctx.chunks.length === 2 && !abortedAt) {
          abortedAt = Date.now();
          controller.abort(new Error("run stopped"));
        }
      };
      const before = server.requests.length;
      await expect(llmNode.run(ctx)).rejects.toThrow("run stopped");
      expect(Date.now() - abortedAt).toBeLessThan(1000);
      await expect(server.requests[before]?.outcome).resolves.toBe("aborted");
    });

    it("a prompt that renders empty fails with NoPromptFoundError", async () => {
      const e = await run(data({ prompt_template: [{ role: "user", text: "{{#start.empty#}}" }] }), {
        pool: poolWith({ start: { empty: "" } }),
      }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(NodeExecutionError);
      expect((e as NodeExecutionError).errorType).toBe("NoPromptFoundError");
    });

    it("a Jinja2 render error fails the node with a template_error", async () => {
      const e = await run(
        data({ prompt_template: [{ role: "user", text: "", edition_type: "jinja2", jinja2_text: "{{ 1 / 0 }}" }] }),
      ).catch((x: unknown) => x);
      expect(isTributaryError(e) && e.code).toBe("template_error");
    });
  });

  describe("definition", () => {
    it("references every selector: prompts, context, vision, jinja2 variables and params", () => {
      const d = data({
        model: { provider: "openai", name: "m", completion_params: { temperature: "{{#start.t#}}" } },
        prompt_template: [
          { role: "system", text: "{{#a.x#}} {{#context#}}" },
          { role: "user", text: "{{#b.y.z#}}" },
          { role: "user", text: "{{#stale.ref#}}", edition_type: "jinja2", jinja2_text: "{{ v }}" },
        ],
        prompt_config: { jinja2_variables: [{ variable: "v", value_selector: ["c", "v"] }] },
        context: { enabled: true, variable_selector: ["kr", "result"] },
        vision: { enabled: true, configs: { variable_selector: ["start", "pics"] } },
      });
      expect(llmNode.references(d)).toEqual([
        ["a", "x"],
        ["b", "y", "z"],
        ["c", "v"],
        ["kr", "result"],
        ["start", "pics"],
        ["start", "t"],
      ]);
    });

    it("defaults the vision selector to sys.files and skips disabled context", () => {
      const d = data({ vision: { enabled: true, configs: null }, context: { enabled: false, variable_selector: ["kr", "r"] } });
      expect(llmNode.references(d)).toEqual([
        ["start", "name"],
        ["sys", "files"],
      ]);
    });

    it("keeps unknown fields (loose schema) and accepts Dify's shapes", () => {
      const d = data({ memory: { window: { enabled: false } }, selected: true, reasoning_format: "separated" });
      expect((d as Record<string, unknown>).selected).toBe(true);
      expect(d.model.mode).toBe("chat");
    });

    it("validation reports empty prompts and bad schemas", () => {
      const problems: string[] = [];
      const report = { nodeId: "llm1", report: (m: string) => problems.push(m) };
      llmNode.validate?.(data({ prompt_template: [{ role: "user", text: "  " }] }), report);
      llmNode.validate?.(data({ structured_output_enabled: true, structured_output: { schema: "{oops" } }), report);
      llmNode.validate?.(
        data({ prompt_template: [{ role: "user", text: "", edition_type: "jinja2", jinja2_text: "{% if %}" }] }),
        report,
      );
      expect(problems.slice(0, 2)).toEqual([
        "the prompt is empty: write at least one message",
        "the structured output schema is not valid JSON",
      ]);
      expect(problems[2]).toMatch(/^prompt message 1 has a Jinja2 syntax error: /);
      expect(problems).toHaveLength(3);
    });
  });
});
