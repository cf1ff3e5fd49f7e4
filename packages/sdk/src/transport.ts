/**
 * The HTTP layer both clients share: one `fetch` per attempt with a time limit and the
 * caller's `AbortSignal`, a request id on every call, and retries with exponential backoff
 * and jitter only where a retry cannot do harm:
 *
 * - the connection was never established (nothing reached the server): always;
 * - 429: always (the server refused before acting), after `Retry-After` when it sends one;
 * - other network failures, timeouts and 502/503/504: only for idempotent calls (reads, stop,
 *   and runs sent with an `Idempotency-Key`), since the server may have acted already.
 *
 * A body that can be sent only once (a stream being uploaded) is never retried.
 */
import {
  InvalidResponseError,
  NetworkError,
  RequestAbortedError,
  RequestTimeoutError,
  TributaryError,
  VectorVeinAPIError,
} from "./errors.js";

/** The subset of `fetch` the SDK uses; pass your own (e.g. with a proxy agent) in the options. */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface RetryPolicy {
  /** Retries after the first attempt. Default 2. */
  maxRetries: number;
  /** First backoff delay. Default 500 ms. */
  baseDelayMs: number;
  /** Longest backoff delay. Default 8 s. */
  maxDelayMs: number;
  /** A `Retry-After` longer than this is not waited for: the error is thrown instead. Default 60 s. */
  maxRetryAfterMs: number;
}

export interface TransportConfig {
  /** Absolute URL prefix without a trailing slash, e.g. `http://127.0.0.1:8080/v1`. */
  baseUrl: string;
  timeoutMs: number;
  retry: RetryPolicy;
  fetch: FetchLike;
  /** Sent on every request (authentication, protocol version). */
  headers: () => Record<string, string>;
}

/** Per-call options every SDK method accepts. */
export interface CallOptions {
  /** Cancels the call (and, for a stream, closes it). The run on the server is not stopped. */
  signal?: AbortSignal;
  /** Overrides the client's `timeoutMs` for this call. */
  timeoutMs?: number;
}

export type QueryValue = string | number | boolean | null | undefined;

export interface RequestPlan {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Relative to the base URL, starting with `/`. */
  path: string;
  query?: Record<string, QueryValue | readonly string[]>;
  headers?: Record<string, string>;
  /** Builds the body for each attempt (a fresh FormData or stream every time). */
  body?: () => RequestInit["body"];
  /** Safe to repeat even if the server may have acted on an earlier attempt. */
  idempotent: boolean;
  /** False when the body can be sent only once (a stream): then no retry at all. Default true. */
  replayable?: boolean;
  /** The body is a ReadableStream: fetch needs `duplex: "half"` for it. */
  streamingBody?: boolean;
}

/** What a response handler gets besides the response. */
export interface ExchangeContext {
  requestId: string;
  url: string;
  /** Aborts the underlying request (the handler keeps it open for streams). */
  controller: AbortController;
  /**
   * For streams: stop the timeout (the headers are in) and keep the caller's signal linked
   * until `close` is called. Returns the `close` function, which unlinks and aborts.
   */
  detach(): () => void;
}

const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** Node's fetch reports the socket error as `cause` (sometimes nested once more). */
function causeCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current && typeof current === "object"; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A request id the server accepts (`[\w.-]{1,128}`), also in browsers without `randomUUID`. */
export function newRequestId(): string {
  const c = globalThis.crypto;
  if (typeof c?.randomUUID === "function") return c.randomUUID();
  const bytes = new Uint8Array(16);
  c.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

export function buildUrl(baseUrl: string, path: string, query?: RequestPlan["query"]): string {
  let url = baseUrl + path;
  if (query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined || value === null) continue;
      if (Array.isArray(value)) for (const item of value) params.append(key, String(item));
      else params.append(key, String(value));
    }
    const text = params.toString();
    if (text) url += `?${text}`;
  }
  return url;
}

/** Exponential backoff with "equal jitter": half the delay fixed, half random. */
export function backoffDelay(attempt: number, policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs">): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/** How long to wait before retrying after `error`, or null when a retry is not safe. */
export function retryDelay(error: unknown, attempt: number, plan: RequestPlan, policy: RetryPolicy): number | null {
  if (plan.replayable === false) return null;
  if (!(error instanceof TributaryError) || error instanceof RequestAbortedError) return null;
  const backoff = backoffDelay(attempt, policy);
  const honour = (retryAfterMs: number | undefined): number | null => {
    if (retryAfterMs === undefined) return backoff;
    return retryAfterMs > policy.maxRetryAfterMs ? null : retryAfterMs;
  };
  if (error instanceof NetworkError) return !error.maybeProcessed || plan.idempotent ? backoff : null;
  if (error instanceof RequestTimeoutError) return plan.idempotent ? backoff : null;
  // VectorVein answers HTTP 200 and puts the status in the envelope.
  if (error instanceof VectorVeinAPIError && error.statusCode === 429) return honour(error.retryAfterMs);
  const status = error.httpStatus;
  const retryAfterMs = (error as { retryAfterMs?: number }).retryAfterMs;
  if (status === 429) return honour(retryAfterMs);
  if ((status === 502 || status === 503 || status === 504) && plan.idempotent) return honour(retryAfterMs);
  return null;
}

/** Waits `ms`, or rejects with RequestAbortedError when `signal` fires first. */
export function sleep(ms: number, signal: AbortSignal | undefined, requestId: string | null): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new RequestAbortedError("The call was cancelled while waiting to retry.", { requestId, cause: signal.reason }));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new RequestAbortedError("The call was cancelled while waiting to retry.", { requestId, cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Reads a body as text and parses it as JSON, or explains what came instead. */
export async function readJson(response: Response, ctx: Pick<ExchangeContext, "requestId" | "url">): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new InvalidResponseError(
      `Expected JSON from ${ctx.url} but got HTTP ${response.status} with ${JSON.stringify(text.slice(0, 200))}. ` +
        "Check that the base URL points at a Tributary server (and not at a proxy or web page).",
      { httpStatus: response.status, requestId: responseRequestId(response, ctx.requestId), bodySnippet: text.slice(0, 500) },
    );
  }
}

export function responseRequestId(response: Response, sent: string): string {
  return response.headers.get("x-request-id") ?? sent;
}

export class Transport {
  readonly config: TransportConfig;

  constructor(config: TransportConfig) {
    this.config = config;
  }

  /**
   * Runs `plan` with retries; `handle` turns a response into the result (or throws the
   * protocol's error) and runs inside the time limit, so reading the body is covered too.
   */
  async send<T>(
    plan: RequestPlan,
    call: CallOptions,
    handle: (response: Response, ctx: ExchangeContext) => Promise<T>,
  ): Promise<T> {
    const requestId = newRequestId();
    const policy = this.config.retry;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(plan, call, requestId, handle);
      } catch (error) {
        const delay = attempt < policy.maxRetries ? retryDelay(error, attempt, plan, policy) : null;
        if (delay === null) throw error;
        await sleep(delay, call.signal, requestId);
      }
    }
  }

  private async attempt<T>(
    plan: RequestPlan,
    call: CallOptions,
    requestId: string,
    handle: (response: Response, ctx: ExchangeContext) => Promise<T>,
  ): Promise<T> {
    const url = buildUrl(this.config.baseUrl, plan.path, plan.query);
    const timeoutMs = call.timeoutMs ?? this.config.timeoutMs;
    const userSignal = call.signal;
    const controller = new AbortController();
    let timedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onUserAbort = () => controller.abort(userSignal?.reason);
    if (userSignal?.aborted) {
      throw new RequestAbortedError(`The call to ${plan.method} ${url} was cancelled before it started.`, {
        requestId,
        cause: userSignal.reason,
      });
    }
    userSignal?.addEventListener("abort", onUserAbort, { once: true });
    if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, timeoutMs);
    }
    let detached = false;
    const cleanup = () => {
      clearTimeout(timer);
      userSignal?.removeEventListener("abort", onUserAbort);
    };
    const ctx: ExchangeContext = {
      requestId,
      url,
      controller,
      detach: () => {
        detached = true;
        clearTimeout(timer);
        return () => {
          userSignal?.removeEventListener("abort", onUserAbort);
          controller.abort();
        };
      },
    };

    let response: Response | undefined;
    try {
      const init: RequestInit & { duplex?: "half" } = {
        method: plan.method,
        headers: { ...this.config.headers(), "X-Request-ID": requestId, ...plan.headers },
        signal: controller.signal,
      };
      const body = plan.body?.();
      if (body !== undefined) init.body = body;
      // Node's fetch refuses a stream body without it; browsers that stream uploads need it too.
      if (plan.streamingBody) init.duplex = "half";
      response = await this.config.fetch(url, init);
      return await handle(response, ctx);
    } catch (error) {
      if (error instanceof TributaryError) throw error;
      const sentId = response ? responseRequestId(response, requestId) : requestId;
      const where = `${plan.method} ${url}`;
      if (userSignal?.aborted) {
        throw new RequestAbortedError(`The call to ${where} was cancelled.`, {
          requestId: sentId,
          httpStatus: response?.status ?? null,
          cause: userSignal.reason,
        });
      }
      if (timedOut) {
        throw new RequestTimeoutError(
          `${where} did not answer within ${timeoutMs} ms. Raise timeoutMs if the server is slow, or check that it is reachable.`,
          { requestId: sentId, httpStatus: response?.status ?? null, timeoutMs, cause: error },
        );
      }
      const code = causeCode(error);
      const maybeProcessed = response !== undefined || code === undefined || !NOT_SENT_CODES.has(code);
      throw new NetworkError(
        response === undefined
          ? `Cannot reach ${where}${code ? ` (${code})` : ""}: ${(error as Error)?.message ?? String(error)}. ` +
              "Check the base URL and that the server is running."
          : `The connection broke while reading the answer of ${where}: ${(error as Error)?.message ?? String(error)}.`,
        { requestId: sentId, httpStatus: response?.status ?? null, maybeProcessed, cause: error },
      );
    } finally {
      if (!detached) cleanup();
    }
  }
}
