export { type AiSdkLlmOptions, type CredentialsLookup, createAiSdkLlm, priceOf } from "./ai-sdk-llm.js";
export { notConfiguredError, toProviderError } from "./errors.js";
export { type JsonParseResult, parseModelJson } from "./json-output.js";
export {
  credentialsFromEnv,
  knownProviderNames,
  normalizeProviderName,
  type ProviderInfo,
  type ProviderKind,
  providerEnvVars,
  providerInfo,
} from "./providers.js";
export { type ReasoningSplit, splitThinkTags, ThinkTagSplitter } from "./reasoning.js";
