/**
 * Request bodies and query strings through zod, with Dify's error answers: bad or empty JSON
 * is 400 "Invalid JSON payload received or JSON payload is empty.", oversized bodies are 413,
 * and a field problem is 400 `invalid_param` naming the field in `params`.
 */
import type { Context } from "hono";
import type { z } from "zod";
import { ApiError, INVALID_JSON_MESSAGE } from "./errors.js";

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;

export function tooLarge(limit: number): ApiError {
  return new ApiError(
    413,
    "request_entity_too_large",
    `The request body is larger than the limit of ${limit} bytes. Send a smaller body (operators can raise TRIBUTARY_MAX_BODY_BYTES).`,
  );
}

/** Reads the body as text, refusing more than `limit` bytes without buffering past it. */
export async function readBodyText(c: Context, limit: number): Promise<string> {
  const declared = c.req.header("content-length");
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
  const body = c.req.raw.body;
  if (!body) return "";
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The parsed JSON body. A non-JSON Content-Type is 415; a missing one is read as JSON (curl -d). */
export async function readJsonBody(c: Context, limit: number): Promise<unknown> {
  const type = (c.req.header("content-type") ?? "").split(";")[0]?.trim() ?? "";
  if (type !== "" && !JSON_TYPE.test(type)) {
    throw new ApiError(
      415,
      "unsupported_media_type",
      `Did not attempt to load JSON data because the request Content-Type was not 'application/json' (got '${type}'). Send the body as JSON with Content-Type: application/json.`,
    );
  }
  const text = await readBodyText(c, limit);
  if (text.trim() === "") throw new ApiError(400, "bad_request", INVALID_JSON_MESSAGE);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ApiError(400, "bad_request", INVALID_JSON_MESSAGE);
  }
}

/** Validates `value`; the first problem becomes a 400 `invalid_param` naming its field. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what = "request"): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw new ApiError(400, "invalid_param", `The ${what} is invalid.`);
  const path = issue.path.map(String).join(".");
  const message = describeIssue(issue, path, what);
  throw new ApiError(400, "invalid_param", message, path ? { params: path } : {});
}

function describeIssue(issue: z.core.$ZodIssue, path: string, what: string): string {
  const where = path ? `${path}` : `the ${what}`;
  // Messages written in the schemas are meant for users; zod's generic ones are rephrased.
  if (!/^(Invalid|Too (small|big)|Unrecognized)/.test(issue.message)) {
    return path && !issue.message.includes(path) ? `${path}: ${issue.message}` : issue.message;
  }
  switch (issue.code) {
    case "invalid_type":
      return issue.message.includes("received undefined")
        ? `${where} is required.`
        : `${where} must be ${article(issue.expected)} ${issue.expected}.`;
    case "invalid_value":
      return `${where} must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}.`;
    case "too_small":
      return `${where} must be at least ${String(issue.minimum)}.`;
    case "too_big":
      return `${where} must be at most ${String(issue.maximum)}.`;
    case "unrecognized_keys":
      return `${where} has unknown field${issue.keys.length === 1 ? "" : "s"} ${issue.keys.map((k) => `"${k}"`).join(", ")}; remove ${issue.keys.length === 1 ? "it" : "them"}.`;
    default:
      return `${where}: ${issue.message}`;
  }
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? "an" : "a";
}
