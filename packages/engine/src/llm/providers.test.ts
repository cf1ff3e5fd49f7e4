import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIXED_REPLY, type OpenAiTestServer, startOpenAiTestServer } from "../test-support/openai-test-server.js";
import { createAiSdkLlm } from "./ai-sdk-llm.js";
import { credentialsFromEnv, normalizeProviderName, providerEnvVars, providerInfo } from "./providers.js";

describe("normalizeProviderName", () => {
  it.each([
    ["openai", "openai"],
    ["langgenius/openai/openai", "openai"],
    ["langgenius/gemini/google", "google"],
    ["langgenius/tongyi/tongyi", "tongyi"],
    ["langgenius/openai_api_compatible/openai_api_compatible", "openai_api_compatible"],
    ["langgenius/ollama/ollama:0.0.9@abcdef", "ollama"],
    ["DeepSeek", "deepseek"],
    ["gemini", "google"],
    ["qwen", "tongyi"],
    ["openai-compatible", "openai_api_compatible"],
    ["volcengine-maas", "volcengine_maas"],
    ["my-gateway", "my_gateway"],
  ])("%s → %s", (input, expected) => {
    expect(normalizeProviderName(input)).toBe(expected);
  });

  it("classifies providers", () => {
    expect(providerInfo("langgenius/anthropic/anthropic")).toMatchObject({
      name: "anthropic",
      kind: "anthropic",
      requiresApiKey: true,
    });
    expect(providerInfo("deepseek")).toMatchObject({ kind: "openai-compatible", defaultBaseUrl: "https://api.deepseek.com/v1" });
    expect(providerInfo("ollama")).toMatchObject({ kind: "openai-compatible", requiresApiKey: false });
    expect(providerInfo("acme")).toEqual({
      name: "acme",
      kind: "openai-compatible",
      defaultBaseUrl: null,
      requiresApiKey: false,
    });
  });
});

describe("credentialsFromEnv", () => {
  it("prefers TRIBUTARY_PROVIDER_* over the conventional names", () => {
    const creds = credentialsFromEnv({
      OPENAI_API_KEY: "sk-conventional",
      TRIBUTARY_PROVIDER_OPENAI_API_KEY: "sk-tributary",
      OPENAI_BASE_URL: "http://proxy.local/v1",
    });
    expect(creds("openai")).toEqual({ apiKey: "sk-tributary", baseUrl: "http://proxy.local/v1" });
  });

  it("reads conventional names per provider", () => {
    const creds = credentialsFromEnv({
      ANTHROPIC_API_KEY: "a",
      GEMINI_API_KEY: "g",
      DEEPSEEK_API_KEY: "d",
      DASHSCOPE_API_KEY: "q",
      OLLAMA_BASE_URL: "http://127.0.0.1:11434/v1",
    });
    expect(creds("anthropic")).toEqual({ apiKey: "a" });
    expect(creds("langgenius/gemini/google")).toEqual({ apiKey: "g" });
    expect(creds("deepseek")).toEqual({ apiKey: "d" });
    expect(creds("tongyi")).toEqual({ apiKey: "q" });
    expect(creds("ollama")).toEqual({ baseUrl: "http://127.0.0.1:11434/v1" });
    expect(creds("moonshot")).toBeUndefined();
  });

  it("serves unknown providers from their TRIBUTARY_PROVIDER_<NAME>_* variables", () => {
    const creds = credentialsFromEnv({ TRIBUTARY_PROVIDER_MY_GATEWAY_BASE_URL: "http://gw/v1" });
    expect(creds("my-gateway")).toEqual({ baseUrl: "http://gw/v1" });
    expect(providerEnvVars("my-gateway").baseUrl).toEqual(["TRIBUTARY_PROVIDER_MY_GATEWAY_BASE_URL"]);
  });

  it("parses a price table and ignores a broken one", () => {
    const good = credentialsFromEnv({
      DEEPSEEK_API_KEY: "d",
      TRIBUTARY_PROVIDER_DEEPSEEK_PRICING: '{"deepseek-chat": {"input": 0.27, "output": 1.1, "currency": "CNY"}}',
    });
    expect(good("deepseek")?.pricing).toEqual({ "deepseek-chat": { input: 0.27, output: 1.1, currency: "CNY" } });
    const bad = credentialsFromEnv({ DEEPSEEK_API_KEY: "d", TRIBUTARY_PROVIDER_DEEPSEEK_PRICING: "{oops" });
    expect(bad("deepseek")).toEqual({ apiKey: "d" });
  });

  it("ignores blank values", () => {
    expect(credentialsFromEnv({ OPENAI_API_KEY: "  " })("openai")).toBeUndefined();
  });
});

describe("credentialsFromEnv + createAiSdkLlm", () => {
  let server: OpenAiTestServer;
  beforeAll(async () => {
    server = await startOpenAiTestServer({ apiKey: "sk-env" });
  });
  afterAll(async () => {
    await server.close();
  });

  it("reaches the configured endpoint with the configured key and prices the call", async () => {
    const llm = createAiSdkLlm({
      credentials: credentialsFromEnv({
        OPENAI_API_KEY: "sk-env",
        OPENAI_BASE_URL: server.url,
        TRIBUTARY_PROVIDER_OPENAI_PRICING: '{"*": {"input": 1000000, "output": 0}}',
      }),
    });
    let text = "";
    let price = -1;
    for await (const p of llm.stream(
      {
        provider: "langgenius/openai/openai",
        model: "fixed",
        messages: [{ role: "user", content: "one two three" }],
        params: {},
      },
      new AbortController().signal,
    )) {
      if (p.type === "text") text += p.text;
      if (p.type === "finish") price = p.usage.totalPrice;
    }
    expect(text).toBe(FIXED_REPLY);
    expect(price).toBe(3);
  });
});
