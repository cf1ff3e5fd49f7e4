/**
 * Which SDK client serves which Dify provider, their default base URLs, and where their
 * credentials come from. Credentials are operator configuration (environment or the admin
 * API); a workflow only names a provider and a model.
 */
import { z } from "zod";
import type { ProviderCredentials } from "../capabilities/types.js";

export type ProviderKind = "openai" | "anthropic" | "google" | "openai-compatible";

export interface ProviderInfo {
  /** Normalised provider name. */
  name: string;
  kind: ProviderKind;
  /** Used when the configuration has no `baseUrl`; null = the operator must give one. */
  defaultBaseUrl: string | null;
  /** False for local servers (Ollama, vLLM) and generic OpenAI-compatible endpoints. */
  requiresApiKey: boolean;
}

const KNOWN: Record<string, Omit<ProviderInfo, "name">> = {
  openai: { kind: "openai", defaultBaseUrl: "https://api.openai.com/v1", requiresApiKey: true },
  anthropic: { kind: "anthropic", defaultBaseUrl: "https://api.anthropic.com/v1", requiresApiKey: true },
  google: { kind: "google", defaultBaseUrl: "https://generativelanguage.googleapis.com/v1beta", requiresApiKey: true },
  deepseek: { kind: "openai-compatible", defaultBaseUrl: "https://api.deepseek.com/v1", requiresApiKey: true },
  tongyi: {
    kind: "openai-compatible",
    defaultBaseUrl: "https://dashscope.aliyuncs.com/compatible-mode/v1",
    requiresApiKey: true,
  },
  moonshot: { kind: "openai-compatible", defaultBaseUrl: "https://api.moonshot.cn/v1", requiresApiKey: true },
  zhipuai: { kind: "openai-compatible", defaultBaseUrl: "https://open.bigmodel.cn/api/paas/v4", requiresApiKey: true },
  siliconflow: { kind: "openai-compatible", defaultBaseUrl: "https://api.siliconflow.cn/v1", requiresApiKey: true },
  openrouter: { kind: "openai-compatible", defaultBaseUrl: "https://openrouter.ai/api/v1", requiresApiKey: true },
  groq: { kind: "openai-compatible", defaultBaseUrl: "https://api.groq.com/openai/v1", requiresApiKey: true },
  xai: { kind: "openai-compatible", defaultBaseUrl: "https://api.x.ai/v1", requiresApiKey: true },
  mistralai: { kind: "openai-compatible", defaultBaseUrl: "https://api.mistral.ai/v1", requiresApiKey: true },
  togetherai: { kind: "openai-compatible", defaultBaseUrl: "https://api.together.xyz/v1", requiresApiKey: true },
  volcengine_maas: {
    kind: "openai-compatible",
    defaultBaseUrl: "https://ark.cn-beijing.volces.com/api/v3",
    requiresApiKey: true,
  },
  ollama: { kind: "openai-compatible", defaultBaseUrl: "http://localhost:11434/v1", requiresApiKey: false },
  vllm: { kind: "openai-compatible", defaultBaseUrl: "http://localhost:8000/v1", requiresApiKey: false },
  openai_api_compatible: { kind: "openai-compatible", defaultBaseUrl: null, requiresApiKey: false },
};

/** Other spellings seen in DSL files and configs. */
const ALIASES: Record<string, string> = {
  gemini: "google",
  google_gemini: "google",
  claude: "anthropic",
  qwen: "tongyi",
  dashscope: "tongyi",
  zhipu: "zhipuai",
  glm: "zhipuai",
  kimi: "moonshot",
  moonshotai: "moonshot",
  mistral: "mistralai",
  together: "togetherai",
  volcengine: "volcengine_maas",
  doubao: "volcengine_maas",
  openai_compatible: "openai_api_compatible",
  openaicompatible: "openai_api_compatible",
};

/**
 * Dify names providers by plugin id (`langgenius/openai/openai`, `langgenius/gemini/google`);
 * the provider is the last segment. Version suffixes (`:0.0.1@sha`) and case are dropped,
 * `-` becomes `_`.
 */
export function normalizeProviderName(provider: string): string {
  const last = provider.trim().split("/").at(-1) ?? "";
  const bare = last.split(/[:@]/)[0] ?? "";
  const name = bare.toLowerCase().replace(/-/g, "_");
  return ALIASES[name] ?? name;
}

/** Anything not known is served as OpenAI-compatible, provided a base URL is configured. */
export function providerInfo(provider: string): ProviderInfo {
  const name = normalizeProviderName(provider);
  const known = KNOWN[name];
  return known ? { name, ...known } : { name, kind: "openai-compatible", defaultBaseUrl: null, requiresApiKey: false };
}

export function knownProviderNames(): string[] {
  return Object.keys(KNOWN);
}

/** Conventional variable names (besides `TRIBUTARY_PROVIDER_<NAME>_*`), most preferred first. */
const CONVENTIONAL_ENV: Record<string, { apiKey?: string[]; baseUrl?: string[] }> = {
  openai: { apiKey: ["OPENAI_API_KEY"], baseUrl: ["OPENAI_BASE_URL"] },
  anthropic: { apiKey: ["ANTHROPIC_API_KEY"], baseUrl: ["ANTHROPIC_BASE_URL"] },
  google: { apiKey: ["GOOGLE_GENERATIVE_AI_API_KEY", "GEMINI_API_KEY"], baseUrl: ["GOOGLE_GENERATIVE_AI_BASE_URL"] },
  deepseek: { apiKey: ["DEEPSEEK_API_KEY"], baseUrl: ["DEEPSEEK_BASE_URL"] },
  tongyi: { apiKey: ["DASHSCOPE_API_KEY"], baseUrl: ["DASHSCOPE_BASE_URL"] },
  moonshot: { apiKey: ["MOONSHOT_API_KEY"], baseUrl: ["MOONSHOT_BASE_URL"] },
  zhipuai: { apiKey: ["ZHIPUAI_API_KEY", "ZHIPU_API_KEY"], baseUrl: ["ZHIPUAI_BASE_URL"] },
  siliconflow: { apiKey: ["SILICONFLOW_API_KEY"], baseUrl: ["SILICONFLOW_BASE_URL"] },
  openrouter: { apiKey: ["OPENROUTER_API_KEY"], baseUrl: ["OPENROUTER_BASE_URL"] },
  groq: { apiKey: ["GROQ_API_KEY"], baseUrl: ["GROQ_BASE_URL"] },
  xai: { apiKey: ["XAI_API_KEY"], baseUrl: ["XAI_BASE_URL"] },
  mistralai: { apiKey: ["MISTRAL_API_KEY"], baseUrl: ["MISTRAL_BASE_URL"] },
  togetherai: { apiKey: ["TOGETHER_API_KEY"], baseUrl: ["TOGETHER_BASE_URL"] },
  volcengine_maas: { apiKey: ["ARK_API_KEY"], baseUrl: ["ARK_BASE_URL"] },
  ollama: { baseUrl: ["OLLAMA_BASE_URL"] },
  vllm: { apiKey: ["VLLM_API_KEY"], baseUrl: ["VLLM_BASE_URL"] },
};

export function tributaryEnvPrefix(provider: string): string {
  return `TRIBUTARY_PROVIDER_${normalizeProviderName(provider)
    .toUpperCase()
    .replace(/[^A-Z0-9]/g, "_")}`;
}

/** The variables `credentialsFromEnv` reads for a provider, the Tributary-specific one first. */
export function providerEnvVars(provider: string): { apiKey: string[]; baseUrl: string[]; pricing: string } {
  const prefix = tributaryEnvPrefix(provider);
  const conventional = CONVENTIONAL_ENV[normalizeProviderName(provider)] ?? {};
  return {
    apiKey: [`${prefix}_API_KEY`, ...(conventional.apiKey ?? [])],
    baseUrl: [`${prefix}_BASE_URL`, ...(conventional.baseUrl ?? [])],
    pricing: `${prefix}_PRICING`,
  };
}

const pricingSchema = z.record(
  z.string(),
  z.object({ input: z.number().nonnegative(), output: z.number().nonnegative(), currency: z.string().optional() }),
);

/**
 * Credentials from environment variables: `TRIBUTARY_PROVIDER_<NAME>_API_KEY`, `_BASE_URL`
 * and `_PRICING` (JSON `{"<model>": {"input": 0.15, "output": 0.6}}`, per 1M tokens), then
 * the conventional names (`OPENAI_API_KEY`, `DEEPSEEK_API_KEY`, …). A provider with none
 * of them set is not configured (undefined).
 */
export function credentialsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): (provider: string) => ProviderCredentials | undefined {
  const first = (names: string[]) => {
    for (const n of names) {
      const v = env[n]?.trim();
      if (v) return v;
    }
    return undefined;
  };
  return (provider) => {
    const vars = providerEnvVars(provider);
    const apiKey = first(vars.apiKey);
    const baseUrl = first(vars.baseUrl);
    const pricingText = env[vars.pricing]?.trim();
    let pricing: ProviderCredentials["pricing"];
    if (pricingText) {
      let raw: unknown;
      try {
        raw = JSON.parse(pricingText);
      } catch {
        raw = undefined;
      }
      const parsed = pricingSchema.safeParse(raw);
      // A broken price table must not take the provider down; it only costs the price figures.
      if (parsed.success) pricing = parsed.data;
    }
    if (apiKey === undefined && baseUrl === undefined && pricing === undefined) return undefined;
    return {
      ...(apiKey !== undefined ? { apiKey } : {}),
      ...(baseUrl !== undefined ? { baseUrl } : {}),
      ...(pricing !== undefined ? { pricing } : {}),
    };
  };
}
