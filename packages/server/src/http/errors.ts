/**
 * One error type for every HTTP answer that is not a success, rendered in Dify's shape
 * `{code, message, status}` (plus `params` for a field error) on every API surface, so a client
 * needs one error parser. Engine and run-service errors are translated by their `code`, never
 * by their message.
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export interface ErrorBody {
  code: string;
  message: string;
  status: number;
  params?: string;
  [extra: string]: unknown;
}

export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: string;
  readonly params: string | undefined;
  readonly headers: Record<string, string>;
  /** Extra top-level fields of the body (e.g. validation `problems`). */
  readonly extra: Record<string, unknown>;

  constructor(
    status: ContentfulStatusCode,
    code: string,
    message: string,
    options: { params?: string; headers?: Record<string, string>; extra?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.params = options.params;
    this.headers = options.headers ?? {};
    this.extra = options.extra ?? {};
  }

  body(): ErrorBody {
    return {
      code: this.code,
      message: this.message,
      status: this.status,
      ...(this.params !== undefined ? { params: this.params } : {}),
      ...this.extra,
    };
  }
}

export const INVALID_JSON_MESSAGE = "Invalid JSON payload received or JSON payload is empty.";

export const badRequest = (message: string, params?: string) =>
  new ApiError(400, "invalid_param", message, params === undefined ? {} : { params });

export function unauthorized(message: string): ApiError {
  return new ApiError(401, "unauthorized", message, { headers: { "WWW-Authenticate": 'Bearer realm="api"' } });
}

export function respondError(c: Context, error: ApiError): Response {
  for (const [k, v] of Object.entries(error.headers)) c.header(k, v);
  return c.json(error.body(), error.status);
}

/** Minimal structural view of errors that carry a stable code (engine, run service, store). */
interface CodedError {
  code: string;
  message: string;
  field?: unknown;
}

function isCoded(error: unknown): error is CodedError {
  return (
    typeof error === "object" &&
    error !== null &&
    typeof (error as { code?: unknown }).code === "string" &&
    typeof (error as { message?: unknown }).message === "string"
  );
}

/**
 * Translates an error thrown below the HTTP layer. Unknown errors become null; the caller
 * answers 500 and logs them.
 */
export function translateError(error: unknown): ApiError | null {
  if (error instanceof ApiError) return error;
  if (!isCoded(error)) return null;
  const field = typeof error.field === "string" ? error.field : undefined;
  switch (error.code) {
    case "invalid_input":
      return new ApiError(400, "invalid_param", error.message, field === undefined ? {} : { params: field });
    case "invalid_workflow":
      return new ApiError(400, "app_unavailable", `App unavailable: its workflow cannot run. ${error.message}`);
    case "not_workflow_app":
      return new ApiError(400, "not_workflow_app", error.message);
    case "too_many_requests":
      return new ApiError(429, "too_many_requests", error.message);
    case "not_found":
      return new ApiError(404, "not_found", error.message);
    case "idempotency_conflict":
      return new ApiError(409, "idempotency_conflict", error.message);
    case "provider_not_configured":
      return new ApiError(400, "provider_not_initialize", error.message);
    case "provider_quota_exceeded":
      return new ApiError(400, "provider_quota_exceeded", error.message);
    case "provider_error":
      return new ApiError(400, "completion_request_error", error.message);
    case "limit_exceeded":
    case "node_failed":
    case "timeout":
    case "stopped":
    case "http_error":
    case "ssrf_blocked":
    case "template_error":
    case "sandbox_error":
      return new ApiError(400, "workflow_request_error", error.message);
    default:
      return null;
  }
}
