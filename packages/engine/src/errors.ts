/**
 * One error hierarchy for the engine. Every error a user can see carries a stable `code`
 * and a message that says what was wrong and what to do. Adapters map `code` onto their
 * protocol's error shape; they never parse messages.
 *
 * `instanceof` is unreliable across worker-thread and sandbox boundaries, so `isTributaryError`
 * checks a brand instead.
 */
const BRAND = Symbol.for("tributary.error");

export type ErrorCode =
  | "invalid_workflow"
  | "invalid_input"
  | "node_failed"
  | "stopped"
  | "timeout"
  | "limit_exceeded"
  | "provider_error"
  | "provider_not_configured"
  | "sandbox_error"
  | "http_error"
  | "ssrf_blocked"
  | "template_error"
  | "internal_error";

export class TributaryError extends Error {
  readonly [BRAND] = true;
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export function isTributaryError(e: unknown): e is TributaryError {
  return typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
}

export interface ValidationProblem {
  /** The node (or edge) the problem is about; null for whole-graph problems. */
  nodeId: string | null;
  message: string;
}

export class WorkflowValidationError extends TributaryError {
  readonly problems: readonly ValidationProblem[];
  constructor(problems: readonly ValidationProblem[]) {
    const lines = problems.map((p) => (p.nodeId ? `node ${p.nodeId}: ${p.message}` : p.message));
    super(
      "invalid_workflow",
      `The workflow is invalid (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n- ${lines.join("\n- ")}`,
    );
    this.problems = problems;
  }
}

export class InputValidationError extends TributaryError {
  readonly field: string | null;
  constructor(message: string, field: string | null = null) {
    super("invalid_input", message);
    this.field = field;
  }
}

/** A node failed; `errorType` is the class-like name Dify reports as `error_type`. */
export class NodeExecutionError extends TributaryError {
  readonly errorType: string;
  constructor(message: string, options?: { cause?: unknown; errorType?: string; code?: ErrorCode }) {
    super(options?.code ?? "node_failed", message, options);
    this.errorType = options?.errorType ?? "NodeExecutionError";
  }
}

export class RunStoppedError extends TributaryError {
  constructor(message = "The run was stopped.") {
    super("stopped", message);
  }
}

export class RunTimeoutError extends TributaryError {
  constructor(message: string) {
    super("timeout", message);
  }
}

export class LimitExceededError extends TributaryError {
  constructor(message: string) {
    super("limit_exceeded", message);
  }
}

export class ProviderError extends TributaryError {
  readonly status: number | null;
  constructor(message: string, options?: { cause?: unknown; status?: number | null; code?: ErrorCode }) {
    super(options?.code ?? "provider_error", message, options);
    this.status = options?.status ?? null;
  }
}

export class SandboxError extends TributaryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("sandbox_error", message, options);
  }
}

export class HttpRequestError extends TributaryError {
  constructor(message: string, options?: { cause?: unknown; code?: ErrorCode }) {
    super(options?.code ?? "http_error", message, options);
  }
}

export class TemplateError extends TributaryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("template_error", message, options);
  }
}

/** Best-effort message for anything thrown. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === "string") return e;
  try {
    return JSON.stringify(e);
  } catch {
    return String(e);
  }
}
