/**
 * Errors the run service throws at adapters. Each carries a stable `code` (the Dify error
 * code the adapter puts on the wire) and the HTTP status that goes with it, so adapters map
 * them without parsing messages.
 */
export class RunServiceError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = status;
    this.name = new.target.name;
  }
}

export type ConcurrencyScope = "app" | "server";

export class TooManyRunsError extends RunServiceError {
  readonly scope: ConcurrencyScope;
  readonly limit: number;
  constructor(scope: ConcurrencyScope, limit: number) {
    super(
      "too_many_requests",
      429,
      scope === "app"
        ? `This app already has ${limit} run${limit === 1 ? "" : "s"} in progress, its concurrency limit; retry once one has finished or raise the app's max concurrency.`
        : `The server already has ${limit} run${limit === 1 ? "" : "s"} in progress, its concurrency limit; retry once one has finished.`,
    );
    this.scope = scope;
    this.limit = limit;
  }
}

export class IdempotencyConflictError extends RunServiceError {
  readonly runId: string;
  constructor(key: string, runId: string) {
    super(
      "idempotency_conflict",
      409,
      `The Idempotency-Key "${key}" was already used in the last 24 hours with a different request body (run ${runId}). ` +
        "Resend the original body to get that run back, or use a new key for a different request.",
    );
    this.runId = runId;
  }
}

export class RunNotFoundError extends RunServiceError {
  readonly runId: string;
  constructor(runId: string) {
    super("not_found", 404, `Workflow run ${runId} not found.`);
    this.runId = runId;
  }
}

/** `start` after `shutdown` began: the process is going away and takes no new runs. */
export class RunServiceClosedError extends RunServiceError {
  constructor() {
    super(
      "service_unavailable",
      503,
      "The server is shutting down and accepts no new runs; retry against another instance or later.",
    );
  }
}
