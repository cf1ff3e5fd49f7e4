/**
 * The engine capabilities of a server process: wall clock, UUIDs, the code sandbox (warm
 * worker pool), LLMs through the AI SDK with credentials from the admin API first and the
 * environment second, HTTP through the SSRF-guarded client with the operator's allow list,
 * and the server's files. One set per process; `close()` releases workers and connections.
 */
import { randomUUID } from "node:crypto";
import {
  type Capabilities,
  type CredentialsLookup,
  createAiSdkLlm,
  createHttpClient,
  createSandbox,
  credentialsFromEnv,
  errorMessage,
  type FileCapability,
  type HttpCapability,
  type ProviderCredentials,
  ProviderError,
  type Sandbox,
  type SandboxCapability,
  SandboxError,
  type SandboxOptions,
} from "@tributary/engine";
import type { Config } from "./config.js";
import type { Store } from "./store/types.js";

/** A file capability that can narrow itself to one app's uploads (ServerFileCapability). */
export type ScopableFileCapability = FileCapability & { forApp?(appId: string): FileCapability };

export interface ServerCapabilitiesOptions {
  store: Store;
  config: Pick<Config, "httpAllowList">;
  /**
   * The file capability, or what builds it from the HTTP capability (ServerFiles: remote
   * files are read through the same SSRF guard as the HTTP node).
   */
  files: ScopableFileCapability | { capability(http: HttpCapability): ScopableFileCapability };
  /** Where provider credentials come from when the admin API has none. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Sandbox pool settings. `warm: false` starts the workers on the first code run instead of
   * now (tools and tests that may never run code skip the interpreter start-up). Default warm.
   */
  sandbox?: SandboxOptions & { warm?: boolean };
}

export interface ServerCapabilities extends Capabilities {
  /** The same capabilities with files limited to one app's uploads (for `capabilitiesFor` of the run service). */
  forApp(appId: string): Capabilities;
  /** Stops sandbox workers and closes pooled HTTP connections. */
  close(): Promise<void>;
}

export function createServerCapabilities(options: ServerCapabilitiesOptions): ServerCapabilities {
  const http = createHttpClient({ allowList: [...options.config.httpAllowList] });
  const files = "capability" in options.files ? options.files.capability(http) : options.files;
  const { warm = true, ...sandboxOptions } = options.sandbox ?? {};
  const sandbox = warm ? eagerSandbox(createSandbox(sandboxOptions)) : lazySandbox(sandboxOptions);
  const base: Capabilities = {
    clock: { now: () => Date.now() },
    ids: { newId: () => randomUUID() },
    llm: createAiSdkLlm({ credentials: storeThenEnvCredentials(options.store, options.env ?? process.env) }),
    http,
    sandbox,
    files,
  };
  let closing: Promise<void> | undefined;
  return {
    ...base,
    forApp: (appId) => (files.forApp ? { ...base, files: files.forApp(appId) } : base),
    close() {
      closing ??= Promise.allSettled([http.close(), sandbox.close()]).then(() => {});
      return closing;
    },
  };
}

/**
 * Provider credentials set through the admin API win over the environment, whole: a stored
 * entry is used as it is (an environment base URL never redirects a stored key elsewhere).
 * Looked up on every call, so admin changes apply to the next LLM call without a restart.
 */
export function storeThenEnvCredentials(store: Store, env: Readonly<Record<string, string | undefined>>): CredentialsLookup {
  const fromEnv = credentialsFromEnv(env);
  return async (provider) => {
    let stored: Record<string, unknown> | undefined;
    try {
      stored = await store.getCredentials(provider);
    } catch (error) {
      throw new ProviderError(`The credentials stored for provider "${provider}" cannot be used: ${errorMessage(error)}`, {
        code: "provider_not_configured",
        cause: error,
      });
    }
    return stored ? toEngineCredentials(stored) : fromEnv(provider);
  };
}

function toEngineCredentials(stored: Record<string, unknown>): ProviderCredentials {
  const out: ProviderCredentials = {};
  if (typeof stored["apiKey"] === "string") out.apiKey = stored["apiKey"];
  if (typeof stored["baseUrl"] === "string") out.baseUrl = stored["baseUrl"];
  // The admin API validates the price table before storing it.
  if (stored["pricing"] && typeof stored["pricing"] === "object")
    out.pricing = stored["pricing"] as ProviderCredentials["pricing"];
  return out;
}

interface ClosableSandbox extends SandboxCapability {
  close(): Promise<void>;
}

function eagerSandbox(sandbox: Sandbox): ClosableSandbox {
  return sandbox;
}

function lazySandbox(options: SandboxOptions): ClosableSandbox {
  let sandbox: Sandbox | undefined;
  let closed = false;
  return {
    run(request, signal) {
      if (closed) return Promise.reject(new SandboxError("The code sandbox is closed."));
      sandbox ??= createSandbox(options);
      return sandbox.run(request, signal);
    },
    async close() {
      closed = true;
      await sandbox?.close();
    },
  };
}
