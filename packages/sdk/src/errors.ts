/**
 * Every error the SDK throws is a `TributaryError`, so one `catch` and one `instanceof` cover
 * both protocols. Each carries the HTTP status of the answer that caused it (null when there
 * was none: network failure, timeout, cancellation) and the request id, which the server
 * logs: quote it when reporting a problem.
 *
 * Dify's errors keep Dify's body fields (`status`, `code`, `message`, `params`). VectorVein's
 * mirror the Python SDK 0.2.1 class for class (`VectorVeinAPIError` → `APIKeyError`,
 * `WorkflowError`, `AccessKeyError`, `RequestError`, `TimeoutError`), with `statusCode` being
 * the envelope's `status` as in Python.
 */

export interface ErrorContext {
  /** HTTP status of the response; null when no response arrived. */
  httpStatus?: number | null;
  /** The `X-Request-ID` the server answered with, or the one the SDK sent. */
  requestId?: string | null;
  cause?: unknown;
}

export class TributaryError extends Error {
  readonly httpStatus: number | null;
  readonly requestId: string | null;

  constructor(message: string, context: ErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = new.target.name;
    this.httpStatus = context.httpStatus ?? null;
    this.requestId = context.requestId ?? null;
  }
}

/**
 * The request may not have reached the server, or its answer was lost (DNS, refused or reset
 * connection, a stream cut off). `maybeProcessed` tells whether the server could have acted on
 * it: false only when the connection was never established.
 */
export class NetworkError extends TributaryError {
  readonly maybeProcessed: boolean;
  constructor(message: string, context: ErrorContext & { maybeProcessed: boolean }) {
    super(message, context);
    this.maybeProcessed = context.maybeProcessed;
  }
}

/** No (complete) answer within the time limit (`timeoutMs`, or a stream's idle limit). */
export class RequestTimeoutError extends TributaryError {
  readonly timeoutMs: number;
  constructor(message: string, context: ErrorContext & { timeoutMs: number }) {
    super(message, context);
    this.timeoutMs = context.timeoutMs;
  }
}

/**
 * The caller cancelled through its `AbortSignal`. Named `AbortError` (like fetch's own) so
 * `error.name === "AbortError"` checks keep working; the signal's reason is the `cause`.
 */
export class RequestAbortedError extends TributaryError {
  constructor(message: string, context: ErrorContext = {}) {
    super(message, context);
    this.name = "AbortError";
  }
}

/** The server answered with something that is not the protocol's JSON (e.g. a proxy's HTML page). */
export class InvalidResponseError extends TributaryError {
  /** The start of the body, for diagnosis. */
  readonly bodySnippet: string;
  constructor(message: string, context: ErrorContext & { bodySnippet: string }) {
    super(message, context);
    this.bodySnippet = context.bodySnippet;
  }
}

// ---------------------------------------------------------------------------------------------
// Dify Workflow App API

/** Dify's error body, `{code, message, status}` (plus `params` for a field error). */
export interface DifyErrorBody {
  code: string;
  message: string;
  status: number;
  params?: string;
  [extra: string]: unknown;
}

/** An error answer of the Dify API (4xx/5xx), or an `error` frame of a stream. */
export class DifyApiError extends TributaryError {
  /** Dify's `status` (the HTTP status, or the frame's status for a stream error). */
  readonly status: number;
  /** Dify's snake_case `code`, e.g. `invalid_param`, `not_found`, `too_many_requests`. */
  readonly code: string;
  /** The field a 400 is about, when the server names one. */
  readonly params: string | undefined;
  /** The whole error body (extra fields such as validation `problems` included). */
  readonly body: DifyErrorBody;
  /** From `Retry-After`, when the server sent one. */
  readonly retryAfterMs: number | undefined;

  constructor(body: DifyErrorBody, context: ErrorContext & { retryAfterMs?: number } = {}) {
    super(body.message, context);
    this.status = body.status;
    this.code = body.code;
    this.params = body.params;
    this.body = body;
    this.retryAfterMs = context.retryAfterMs;
  }
}

/** 401 (missing, malformed or unknown app key) or 403 (the app is disabled). */
export class DifyAuthenticationError extends DifyApiError {}

/** The run's event stream ended with an `error` frame (a failure of the stream, not of a node). */
export class DifyStreamError extends DifyApiError {
  readonly runId: string;
  constructor(body: DifyErrorBody, runId: string, context: ErrorContext = {}) {
    super(body, context);
    this.runId = runId;
  }
}

/** `waitForRun` gave up before the run finished; the run itself goes on. */
export class RunWaitTimeoutError extends TributaryError {
  readonly runId: string;
  constructor(message: string, runId: string, context: ErrorContext = {}) {
    super(message, context);
    this.runId = runId;
  }
}

// ---------------------------------------------------------------------------------------------
// VectorVein Open API (class names and hierarchy of the Python SDK 0.2.1)

/** Base of the VectorVein errors; `statusCode` is the envelope's `status` (HTTP is always 200). */
export class VectorVeinAPIError extends TributaryError {
  readonly statusCode: number | null;
  /** From `Retry-After`, when the server sent one with a 429 envelope. */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, statusCode: number | null = null, context: ErrorContext & { retryAfterMs?: number } = {}) {
    super(message, context);
    this.statusCode = statusCode;
    this.retryAfterMs = context.retryAfterMs;
  }
}

/** The Open API key is missing, malformed, unknown or revoked (envelope status 401/403). */
export class APIKeyError extends VectorVeinAPIError {}

/** A run failed (check-status answered 500), or its result could not be read. */
export class WorkflowError extends VectorVeinAPIError {}

/** An access key does not exist, has expired or is used up, or the request about it is invalid. */
export class AccessKeyError extends VectorVeinAPIError {}

/**
 * The HTTP exchange itself failed (Python: any `httpx.HTTPError`). `kind` says how; the
 * underlying `NetworkError`/`RequestTimeoutError`/`RequestAbortedError`/`InvalidResponseError`
 * is the `cause`.
 */
export class RequestError extends VectorVeinAPIError {
  readonly kind: "network" | "timeout" | "aborted" | "invalid_response";
  constructor(message: string, kind: RequestError["kind"], context: ErrorContext = {}) {
    super(message, null, context);
    this.kind = kind;
  }
}

/**
 * `runWorkflow({waitForCompletion: true})` gave up after its `timeout` (seconds). The Python
 * name shadows the global `TimeoutError` only where it is imported; `VectorVeinTimeoutError`
 * is the same class under an unambiguous name.
 */
export class TimeoutError extends VectorVeinAPIError {
  readonly rid: string;
  constructor(message: string, rid: string, context: ErrorContext = {}) {
    super(message, null, context);
    this.rid = rid;
  }
}
export { TimeoutError as VectorVeinTimeoutError };
