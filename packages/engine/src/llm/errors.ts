/**
 * Turns whatever the AI SDK or the network throws into a `ProviderError` whose message says
 * what went wrong and what to do, keeping the HTTP status for adapters and retry policy.
 */
import { APICallError, RetryError, UnsupportedFunctionalityError } from "ai";
import { errorMessage, isTributaryError, ProviderError, type TributaryError } from "../errors.js";
import { providerEnvVars } from "./providers.js";

export interface ProviderErrorContext {
  provider: string;
  model: string;
  baseUrl: string;
  /** The response had started: a network failure now is a dropped stream, not an unreachable host. */
  midStream?: boolean;
}

export function notConfiguredError(
  provider: string,
  missing: "apiKey" | "baseUrl",
  exampleBaseUrl?: string | null,
): ProviderError {
  const vars = providerEnvVars(provider);
  const what =
    missing === "apiKey"
      ? `no API key is configured. Set ${vars.apiKey.join(" or ")}`
      : `no base URL is configured. Set ${vars.baseUrl.join(" or ")}${exampleBaseUrl ? ` (e.g. ${exampleBaseUrl})` : ""}`;
  return new ProviderError(
    `LLM provider "${provider}" is not configured: ${what} in the server's environment, or configure it with PUT /api/admin/providers/${provider}.`,
    { code: "provider_not_configured" },
  );
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "ConnectionRefused",
  "ConnectionClosed",
  "FailedToOpenSocket",
]);

function networkCause(e: unknown): { code: string; message: string } | null {
  const seen = new Set<unknown>();
  let current = e;
  while (current instanceof Error && !seen.has(current)) {
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return { code, message: current.message };
    current = (current as { cause?: unknown }).cause;
  }
  return null;
}

/** The provider's own explanation: OpenAI-style `{error: {message}}`, Google `{error: {message}}`, else the raw body. */
function upstreamMessage(e: APICallError): string {
  const fromData = (e.data as { error?: { message?: unknown } } | undefined)?.error?.message;
  if (typeof fromData === "string" && fromData) return fromData;
  if (e.responseBody) {
    try {
      const body = JSON.parse(e.responseBody) as { error?: { message?: unknown } | string; message?: unknown };
      if (typeof body.error === "object" && typeof body.error?.message === "string") return body.error.message;
      if (typeof body.error === "string") return body.error;
      if (typeof body.message === "string") return body.message;
    } catch {
      // Not JSON: a proxy's HTML error page or plain text.
    }
    return e.responseBody.length > 300 ? `${e.responseBody.slice(0, 300)}…` : e.responseBody;
  }
  return e.message;
}

/** Upstream messages end with their own full stop; ours follow them. */
function clause(text: string): string {
  return text.trim().replace(/[.\s]+$/, "");
}

function upstreamCode(e: APICallError): string | null {
  const code = (e.data as { error?: { code?: unknown; type?: unknown } } | undefined)?.error?.code;
  if (typeof code === "string") return code;
  if (e.responseBody?.includes("context_length_exceeded")) return "context_length_exceeded";
  return null;
}

const CONTEXT_TOO_LONG =
  /context[ _]length|context window|maximum context|too many tokens|prompt is too long|input is too long|exceeds the (?:model'?s? )?(?:maximum|max)|token limit/i;

function retryAfterSeconds(headers: Record<string, string> | undefined): number | null {
  const raw = headers?.["retry-after"];
  if (!raw) return null;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return seconds;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? null : Math.max(0, Math.round((date - Date.now()) / 1000));
}

export function toProviderError(error: unknown, ctx: ProviderErrorContext): TributaryError {
  if (isTributaryError(error)) return error;
  // With maxRetries 0 the SDK should not wrap, but unwrap defensively.
  if (RetryError.isInstance(error)) return toProviderError(error.lastError, ctx);

  const who = `${ctx.provider} (model ${ctx.model})`;
  if (APICallError.isInstance(error)) {
    const status = error.statusCode;
    // A 2xx status here means the body broke off after the headers (the SDK keeps the status).
    if (status === undefined || status < 400) {
      const net = networkCause(error);
      if (ctx.midStream || status !== undefined) return droppedError(error, ctx, net?.message ?? error.message);
      return new ProviderError(
        `Cannot reach LLM provider ${ctx.provider} at ${ctx.baseUrl}: ${clause(net?.message ?? error.message)}. Check the base URL and that the server can reach it.`,
        { cause: error, status: null },
      );
    }
    const detail = clause(upstreamMessage(error));
    if (status === 401 || status === 403) {
      return new ProviderError(
        `LLM provider ${ctx.provider} rejected the API key (HTTP ${status}): ${detail}. Check the key in ${providerEnvVars(ctx.provider).apiKey.join(" / ")} or PUT /api/admin/providers/${ctx.provider}.`,
        { cause: error, status },
      );
    }
    if (status === 429) {
      const wait = retryAfterSeconds(error.responseHeaders);
      return new ProviderError(
        `LLM provider ${who} is rate limiting requests or the quota is used up (HTTP 429): ${detail}.${wait !== null ? ` Retry after ${wait} s.` : ""}`,
        { cause: error, status },
      );
    }
    if (status >= 500) {
      return new ProviderError(`LLM provider ${who} failed upstream (HTTP ${status}): ${detail}. Retrying later may help.`, {
        cause: error,
        status,
      });
    }
    if (
      upstreamCode(error) === "context_length_exceeded" ||
      ((status === 400 || status === 413) && CONTEXT_TOO_LONG.test(detail))
    ) {
      return new ProviderError(
        `The prompt is too long for the context window of ${who} (HTTP ${status}): ${detail}. Shorten the prompt or its variables, or lower max_tokens.`,
        { cause: error, status },
      );
    }
    if (status === 404) {
      return new ProviderError(
        `LLM provider ${ctx.provider} does not know model "${ctx.model}" or the endpoint ${error.url} (HTTP 404): ${detail}.`,
        { cause: error, status },
      );
    }
    return new ProviderError(`LLM provider ${who} rejected the request (HTTP ${status}): ${detail}.`, { cause: error, status });
  }

  if (UnsupportedFunctionalityError.isInstance(error)) {
    return new ProviderError(`LLM provider ${who} does not support ${error.functionality}.`, { cause: error });
  }

  const net = networkCause(error);
  if (net || (error instanceof TypeError && /terminated|fetch failed|socket/i.test(error.message))) {
    if (ctx.midStream) return droppedError(error, ctx, net?.message ?? errorMessage(error));
    return new ProviderError(
      `Cannot reach LLM provider ${ctx.provider} at ${ctx.baseUrl}: ${clause(net?.message ?? errorMessage(error))}. Check the base URL and that the server can reach it.`,
      { cause: error },
    );
  }
  return new ProviderError(`LLM provider ${who} failed: ${clause(errorMessage(error))}.`, { cause: error });
}

function droppedError(error: unknown, ctx: ProviderErrorContext, detail: string): ProviderError {
  return new ProviderError(
    `The connection to LLM provider ${ctx.provider} at ${ctx.baseUrl} dropped in the middle of the response: ${clause(detail)}.`,
    { cause: error, status: null },
  );
}
