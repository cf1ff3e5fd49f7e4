/**
 * VectorVein's reply envelope. Every answer under /api/v1/open-api/ is HTTP 200 with
 * `{status, msg, data}`: the SDK never reads the HTTP status, only the body's `status` (200
 * success, 202 still running, 4xx/5xx errors), and a body without it crashes 0.2.1. Errors from
 * below (request parsing, the run service, the engine) are translated here by their code.
 */
import type { Context } from "hono";
import { ApiError, translateError } from "../http/errors.js";
import type { Logger } from "../logger.js";

export type EnvelopeStatus = 200 | 202 | 400 | 401 | 403 | 404 | 405 | 413 | 415 | 429 | 500 | 503;

export interface Envelope {
  status: number;
  msg: string;
  data: unknown;
  [extra: string]: unknown;
}

/** One error answered in the envelope; `data` carries details such as validation problems. */
export class VvError extends Error {
  readonly status: EnvelopeStatus;
  readonly data: unknown;
  readonly headers: Record<string, string>;
  constructor(status: EnvelopeStatus, msg: string, options: { data?: unknown; headers?: Record<string, string> } = {}) {
    super(msg);
    this.name = "VvError";
    this.status = status;
    this.data = options.data ?? null;
    this.headers = options.headers ?? {};
  }
}

const KNOWN: ReadonlySet<number> = new Set([400, 401, 403, 404, 405, 413, 415, 429, 500, 503]);

/** What an error thrown anywhere below a VectorVein route becomes on the wire. */
export function errorEnvelope(
  error: unknown,
  logger: Logger,
  requestId: string,
  path: string,
): { body: Envelope; headers: Record<string, string> } {
  if (error instanceof VvError) {
    return { body: { status: error.status, msg: error.message, data: error.data }, headers: error.headers };
  }
  const translated = error instanceof ApiError ? error : translateError(error);
  if (translated) {
    const status = KNOWN.has(translated.status) ? translated.status : translated.status >= 500 ? 500 : 400;
    const problems = translated.extra["problems"];
    return { body: { status, msg: translated.message, data: problems === undefined ? null : { problems } }, headers: {} };
  }
  // Our own services' errors that carry an HTTP status with their code (503 while shutting down).
  const e = error as { status?: unknown; code?: unknown; message?: unknown };
  if (typeof e.status === "number" && e.status >= 400 && e.status < 600 && typeof e.code === "string") {
    return { body: { status: KNOWN.has(e.status) ? e.status : 500, msg: String(e.message), data: null }, headers: {} };
  }
  logger.error({ err: error, requestId, path }, "unhandled error in the VectorVein API");
  return {
    body: {
      status: 500,
      msg: `The server hit an unexpected error (request ${requestId}). Try again; if it keeps failing, report the request id to the operator, who can find it in the server log.`,
      data: null,
    },
    headers: {},
  };
}

export function sendEnvelope(c: Context, body: Envelope, headers: Record<string, string> = {}): Response {
  for (const [k, v] of Object.entries(headers)) c.header(k, v);
  // Always HTTP 200: the meaning is in the body, as VectorVein's clients expect.
  return c.json(body, 200);
}
