/**
 * Exit codes and the one error type commands throw. Every failure ends as a `CliError` with
 * the exit code the issue fixes (0 ok, 1 unexpected, 2 usage or invalid workflow,
 * 3 authentication, 4 API error, 5 network) and a message that says what to do.
 */
import {
  APIKeyError,
  DifyApiError,
  DifyAuthenticationError,
  InvalidResponseError,
  NetworkError,
  RequestAbortedError,
  RequestError,
  RequestTimeoutError,
  TributaryError,
  VectorVeinAPIError,
} from "@tributary/sdk";

export const EXIT = {
  ok: 0,
  unexpected: 1,
  usage: 2,
  auth: 3,
  api: 4,
  network: 5,
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  readonly exitCode: ExitCode;
  /** Machine-readable reason for `--format json` (`invalid_workflow`, `not_found`, …). */
  readonly code: string;
  /** Extra fields for the JSON error object (e.g. validation problems). */
  readonly details: Record<string, unknown>;
  readonly requestId: string | null;

  constructor(
    exitCode: ExitCode,
    code: string,
    message: string,
    options: { details?: Record<string, unknown>; requestId?: string | null; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CliError";
    this.exitCode = exitCode;
    this.code = code;
    this.details = options.details ?? {};
    this.requestId = options.requestId ?? null;
  }
}

export const usageError = (message: string, details: Record<string, unknown> = {}) =>
  new CliError(EXIT.usage, "usage", message, { details });

/** SDK errors to exit codes; anything else is unexpected (1). */
export function toCliError(error: unknown, server?: string): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof TributaryError) {
    const requestId = error.requestId;
    if (error instanceof DifyAuthenticationError || error instanceof APIKeyError) {
      return new CliError(EXIT.auth, "unauthorized", error.message, { requestId, cause: error });
    }
    if (error instanceof RequestAbortedError || (error instanceof RequestError && error.kind === "aborted")) {
      return new CliError(EXIT.interrupted, "interrupted", "Interrupted.", { requestId, cause: error });
    }
    if (
      error instanceof NetworkError ||
      error instanceof RequestTimeoutError ||
      (error instanceof RequestError && (error.kind === "network" || error.kind === "timeout"))
    ) {
      const hint = server
        ? ` Is the server running at ${server}? Start it with \`tributary serve\`, or point --server / TRIBUTARY_SERVER at it.`
        : "";
      return new CliError(EXIT.network, "network_error", `${error.message}${hint}`, { requestId, cause: error });
    }
    if (error instanceof DifyApiError) {
      return new CliError(EXIT.api, error.code, error.message, { requestId, cause: error, details: { status: error.status } });
    }
    if (error instanceof VectorVeinAPIError) {
      return new CliError(EXIT.api, `status_${error.statusCode ?? "unknown"}`, error.message, {
        requestId,
        cause: error,
        details: { status: error.statusCode },
      });
    }
    if (error instanceof InvalidResponseError) {
      return new CliError(EXIT.api, "invalid_response", error.message, { requestId, cause: error });
    }
    return new CliError(EXIT.api, "api_error", error.message, { requestId, cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new CliError(EXIT.unexpected, "unexpected", message, { cause: error });
}
