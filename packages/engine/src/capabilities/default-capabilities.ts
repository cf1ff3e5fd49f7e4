import { randomUUID } from "node:crypto";
import { createHttpClient } from "../http/http-client.js";
import { type CredentialsLookup, createAiSdkLlm } from "../llm/ai-sdk-llm.js";
import { credentialsFromEnv } from "../llm/providers.js";
import { createSandbox, type Sandbox } from "../sandbox/create-sandbox.js";
import type { SandboxOptions } from "../sandbox/sandbox-options.js";
import { createMemoryFiles } from "./memory-files.js";
import type { Capabilities, FileCapability } from "./types.js";

export interface DefaultCapabilityOptions {
  /** LLM credentials; defaults to the environment (`OPENAI_API_KEY`, `TRIBUTARY_PROVIDER_*`, …). */
  credentials?: CredentialsLookup;
  /** Hosts/CIDRs the HTTP node may reach although private (e.g. a local test server). */
  httpAllowList?: string[];
  /** An existing sandbox to share, or options for a new one. */
  sandbox?: Sandbox | SandboxOptions;
  /** Where uploaded and produced files live; defaults to memory. */
  files?: FileCapability;
}

export type OwnedCapabilities = Capabilities & { close(): Promise<void> };

function isSandbox(v: Sandbox | SandboxOptions | undefined): v is Sandbox {
  return typeof (v as Sandbox | undefined)?.run === "function";
}

/**
 * The real capabilities for running workflows in this process: AI SDK providers, the
 * SSRF-guarded HTTP client, the worker-pool sandbox. `close()` releases what was created here.
 */
export function createDefaultCapabilities(options: DefaultCapabilityOptions = {}): OwnedCapabilities {
  const http = createHttpClient({ allowList: options.httpAllowList ?? [] });
  const ownSandbox = !isSandbox(options.sandbox);
  const sandbox = isSandbox(options.sandbox) ? options.sandbox : createSandbox(options.sandbox);
  return {
    clock: { now: () => Date.now() },
    ids: { newId: () => randomUUID() },
    llm: createAiSdkLlm({ credentials: options.credentials ?? credentialsFromEnv(process.env) }),
    http,
    sandbox,
    files: options.files ?? createMemoryFiles(http),
    async close() {
      await Promise.all([http.close(), ownSandbox ? sandbox.close() : Promise.resolve()]);
    },
  };
}
