/**
 * Dify's `http-request` node. Data, request assembly and outputs follow Dify's executor
 * (graphon `http_request`): headers and params are "key: value" lines, `{{#node.var#}}`
 * references are substituted everywhere, and the outputs are `status_code`, `body`, `headers`
 * and `files` (a file response is saved and its text body is empty). A 4xx/5xx response is a
 * success with that status code, unless the node has retry or an error strategy configured,
 * where Dify fails it so the retry / fail branch can act.
 *
 * IO goes through `ctx.caps.http` (which carries the SSRF guard) and `ctx.caps.files`.
 */
import { z } from "zod";
import type { HttpRequestSpec, HttpResponseData } from "../capabilities/types.js";
import { errorMessage, isTributaryError, NodeExecutionError } from "../errors.js";
import {
  decodeText,
  dispositionFilename,
  extensionFromMime,
  extensionOf,
  isFileResponse,
  mediaType,
  mimeFromFilename,
} from "../http/response-kind.js";
import { type FileValue, isFileValue } from "../variables/file-value.js";
import { referencesInText, type VariableSelector } from "../variables/selector.js";
import type { VariablePool } from "../variables/variable-pool.js";
import { defineNode, type NodeRunContext } from "./node-definition.js";

const METHODS = ["get", "post", "put", "patch", "delete", "head", "options"] as const;
const BODY_TYPES = ["none", "json", "form-data", "x-www-form-urlencoded", "raw-text", "binary"] as const;

const bodyItemSchema = z.looseObject({
  key: z.string().nullish(),
  type: z.enum(["text", "file"]).nullish(),
  value: z.string().nullish(),
  file: z.array(z.string()).nullish(),
});

const secondsSchema = z
  .union([
    z.number(),
    z
      .string()
      .regex(/^\s*\d+(\.\d+)?\s*$/)
      .transform(Number),
  ])
  .nullish();

export const httpRequestDataSchema = z.looseObject({
  method: z
    .string()
    .transform((m) => m.toLowerCase())
    .pipe(z.enum(METHODS, { message: `method must be one of ${METHODS.join(", ")}` })),
  url: z.string(),
  authorization: z
    .looseObject({
      type: z.enum(["no-auth", "api-key"]),
      config: z
        .looseObject({
          type: z.enum(["basic", "bearer", "custom"]).nullish(),
          api_key: z.string().nullish(),
          header: z.string().nullish(),
        })
        .nullish(),
    })
    .nullish(),
  headers: z.string().nullish(),
  params: z.string().nullish(),
  body: z
    .looseObject({
      type: z.enum(BODY_TYPES),
      /** Dify ≥ 0.8: a list of items; older exports: one string. */
      data: z.union([z.string(), z.array(bodyItemSchema)]).nullish(),
    })
    .nullish(),
  timeout: z
    .looseObject({
      connect: secondsSchema,
      read: secondsSchema,
      write: secondsSchema,
      max_connect_timeout: secondsSchema,
      max_read_timeout: secondsSchema,
      max_write_timeout: secondsSchema,
    })
    .nullish(),
  ssl_verify: z.boolean().nullish(),
  error_strategy: z.string().nullish(),
  retry_config: z.looseObject({ retry_enabled: z.boolean().nullish() }).nullish(),
});

export type HttpRequestData = z.infer<typeof httpRequestDataSchema>;
type BodyItem = z.infer<typeof bodyItemSchema>;

/** Dify's defaults (HTTP_REQUEST_MAX_CONNECT/READ/WRITE_TIMEOUT), in seconds. */
const DEFAULT_TIMEOUTS = { connect: 10, read: 600, write: 600 };

const SENSITIVE_HEADERS = new Set(["authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "x-auth-token"]);
const MASK = "******";

function fail(message: string, errorType = "HttpRequestNodeError", cause?: unknown): NodeExecutionError {
  return new NodeExecutionError(message, { errorType, cause });
}

/** Body items in today's shape; the old string form becomes one text item, or "key:value" lines for form bodies. */
function bodyItems(data: HttpRequestData): BodyItem[] {
  const body = data.body;
  if (!body || body.data === null || body.data === undefined) return [];
  if (typeof body.data !== "string") return body.data;
  if (body.type === "form-data" || body.type === "x-www-form-urlencoded") {
    return keyValueLines(body.data).map(([key, value]) => ({ key, type: "text", value }));
  }
  return [{ key: "", type: "text", value: body.data }];
}

/** Dify's "key:value" lines: split at the first colon, both sides trimmed, empty keys skipped. */
export function keyValueLines(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const raw of text.split(/\r\n|\r|\n/)) {
    const line = raw.trim();
    if (!line) continue;
    const colon = line.indexOf(":");
    const key = (colon < 0 ? line : line.slice(0, colon)).trim();
    if (!key) continue;
    out.push([key, colon < 0 ? "" : line.slice(colon + 1).trim()]);
  }
  return out;
}

function itemSelector(item: BodyItem | undefined): VariableSelector | null {
  return item?.file && item.file.length >= 2 ? item.file : null;
}

function collectReferences(data: HttpRequestData): VariableSelector[] {
  const refs: VariableSelector[] = [...referencesInText(data.url)];
  refs.push(...referencesInText(data.headers ?? ""), ...referencesInText(data.params ?? ""));
  if (data.authorization?.type === "api-key") refs.push(...referencesInText(data.authorization.config?.api_key ?? ""));
  const body = data.body;
  if (body && body.type !== "none") {
    const items = bodyItems(data);
    for (const item of body.type === "binary" ? items.slice(0, 1) : items) {
      const sel = itemSelector(item);
      if (item.type === "file" || body.type === "binary") {
        if (sel) refs.push(sel);
      } else refs.push(...referencesInText(item.value ?? ""));
      refs.push(...referencesInText(item.key ?? ""));
    }
  }
  return refs;
}

/**
 * Parses JSON the way Python's `json.loads(strict=False)` does: control characters (a raw
 * newline from a substituted variable) are accepted inside strings. Returns the text to send.
 */
function checkJsonBody(text: string): { ok: true; text: string } | { ok: false; error: string } {
  try {
    JSON.parse(text);
    return { ok: true, text };
  } catch (first) {
    let escaped = "";
    let inString = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i] as string;
      if (inString) {
        if (c === "\\") {
          escaped += c + (text[i + 1] ?? "");
          i++;
          continue;
        }
        if (c === '"') inString = false;
        else if (c.charCodeAt(0) < 0x20) {
          escaped += `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
          continue;
        }
      } else if (c === '"') inString = true;
      escaped += c;
    }
    try {
      JSON.parse(escaped);
      return { ok: true, text: escaped };
    } catch {
      return { ok: false, error: errorMessage(first) };
    }
  }
}

function filesAt(pool: VariablePool, selector: VariableSelector | null): FileValue[] {
  if (!selector) return [];
  const v = pool.get(selector);
  if (isFileValue(v)) return [v];
  if (Array.isArray(v)) return v.filter(isFileValue);
  return [];
}

interface Assembled {
  spec: HttpRequestSpec;
  /** For node_finished: what was sent, secrets masked. */
  inputs: Record<string, unknown>;
  rawLog: string;
}

function maskHeaderValue(value: string): string {
  const scheme = /^(Bearer|Basic|Token)\s+/i.exec(value);
  return scheme ? `${scheme[1]} ${MASK}` : MASK;
}

async function assemble(ctx: NodeRunContext<HttpRequestData>): Promise<Assembled> {
  const { data, pool } = ctx;
  const render = (text: string | null | undefined): string => pool.renderText(text ?? "");

  const rawUrl = render(data.url).trim();
  if (!rawUrl) throw fail("The URL is empty.", "InvalidURLError");
  if (!/^https?:\/\//i.test(rawUrl))
    throw fail(`The URL must start with http:// or https:// (got "${rawUrl}").`, "InvalidURLError");
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw fail(`"${rawUrl}" is not a valid URL.`, "InvalidURLError");
  }
  // Params: split into lines first, then substitute (a value may itself contain newlines).
  for (const [key, value] of keyValueLines(data.params ?? "")) url.searchParams.append(render(key), render(value));

  // Headers: substitute first, then split (Dify's order). Later lines win, case-insensitively.
  const headers = new Map<string, [string, string]>();
  for (const [key, value] of keyValueLines(render(data.headers))) headers.set(key.toLowerCase(), [key, value]);

  const secrets: string[] = [];
  let authHeader: string | null = null;
  const auth = data.authorization;
  if (auth?.type === "api-key") {
    const config = auth.config;
    if (!config) throw fail("The authorization is set to API key but has no configuration.", "AuthorizationConfigError");
    const key = render(config.api_key);
    if (!key)
      throw fail(
        "The API key is empty; check the node's authorization settings and the variable they reference.",
        "AuthorizationConfigError",
      );
    authHeader = config.header?.trim() || "Authorization";
    let value: string | null = null;
    if (config.type === "bearer") value = `Bearer ${key}`;
    else if (config.type === "basic") value = `Basic ${key.includes(":") ? Buffer.from(key, "utf8").toString("base64") : key}`;
    else if (config.type === "custom") value = key;
    if (value !== null) headers.set(authHeader.toLowerCase(), [authHeader, value]);
    secrets.push(key);
    if (value) secrets.push(value);
  }

  let body: HttpRequestSpec["body"];
  let bodyLog = "";
  let defaultType: string | null = null;
  const bodyType = data.body?.type ?? "none";
  const items = bodyItems(data);
  switch (bodyType) {
    case "none":
      break;
    case "raw-text":
      body = render(items[0]?.value);
      bodyLog = body;
      defaultType = "text/plain";
      break;
    case "json": {
      const text = render(items[0]?.value);
      if (text.trim() !== "") {
        const checked = checkJsonBody(text);
        if (!checked.ok) {
          throw fail(
            `The JSON body is not valid JSON after variables were substituted (${checked.error}). ` +
              `A substituted text containing quotes often causes this. The body was: ${text.length > 500 ? `${text.slice(0, 500)}…` : text}`,
            "RequestBodyError",
          );
        }
        // The rendered text is sent as is (not re-serialised), so large integers keep their digits.
        body = checked.text;
        bodyLog = checked.text;
      }
      defaultType = "application/json";
      break;
    }
    case "x-www-form-urlencoded": {
      // A dict in Dify: a repeated key keeps its last value.
      const fields = new Map<string, string>();
      for (const item of items) fields.set(render(item.key), render(item.value));
      const params = new URLSearchParams([...fields]);
      body = params.toString();
      bodyLog = body;
      defaultType = "application/x-www-form-urlencoded";
      break;
    }
    case "form-data": {
      const form = new FormData();
      const logParts: string[] = [];
      for (const item of items) {
        const key = render(item.key);
        if (item.type === "file") {
          // A missing optional file is skipped, as in Dify.
          for (const file of filesAt(pool, itemSelector(item))) {
            const bytes = await ctx.caps.files.read(file, ctx.signal);
            form.append(key, new Blob([bytes], { type: file.mime_type || "application/octet-stream" }), file.filename);
            logParts.push(`${key}: <file ${file.filename}, ${bytes.byteLength} bytes>`);
          }
        } else {
          const value = render(item.value);
          form.append(key, value);
          logParts.push(`${key}: ${value}`);
        }
      }
      body = form;
      bodyLog = logParts.join("\n");
      break;
    }
    case "binary": {
      const selector = itemSelector(items[0]);
      const file = filesAt(pool, selector)[0];
      if (!file) {
        throw fail(
          selector
            ? `The binary body names the file variable ${selector.join(".")}, which holds no file.`
            : "The binary body has no file selected.",
          "FileFetchError",
        );
      }
      body = await ctx.caps.files.read(file, ctx.signal);
      bodyLog = `<file ${file.filename}, ${body.byteLength} bytes>`;
      defaultType = file.mime_type || "application/octet-stream";
      break;
    }
  }
  if (defaultType && !headers.has("content-type")) headers.set("content-type", ["Content-Type", defaultType]);

  const t = data.timeout;
  const cap = ctx.limits.nodeTimeoutMs;
  const ms = (v: number | null | undefined, dflt: number): number => Math.min(cap, Math.round((v && v > 0 ? v : dflt) * 1000));
  const spec: HttpRequestSpec = {
    method: data.method.toUpperCase(),
    url: url.href,
    headers: [...headers.values()],
    body,
    timeouts: {
      connectMs: ms(t?.connect, DEFAULT_TIMEOUTS.connect),
      readMs: ms(t?.read, DEFAULT_TIMEOUTS.read),
      writeMs: ms(t?.write, DEFAULT_TIMEOUTS.write),
    },
    maxTextBytes: ctx.limits.httpMaxTextBytes,
    maxBinaryBytes: ctx.limits.httpMaxBinaryBytes,
    followRedirects: true,
    sslVerify: data.ssl_verify ?? true,
  };

  // Everything shown in node_finished is masked: credential headers and the API key wherever it appears.
  const redact = (text: string): string => secrets.reduce((acc, s) => (s.length >= 4 ? acc.split(s).join(MASK) : acc), text);
  const shownHeaders: Record<string, string> = {};
  for (const [name, value] of spec.headers) {
    const lower = name.toLowerCase();
    shownHeaders[name] =
      SENSITIVE_HEADERS.has(lower) || lower === authHeader?.toLowerCase() ? maskHeaderValue(value) : redact(value);
  }
  const shownUrl = redact(url.href);
  const path = `${url.pathname}${url.search}`;
  const rawLog =
    `${spec.method} ${redact(path)} HTTP/1.1\r\nHost: ${url.host}\r\n` +
    Object.entries(shownHeaders)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("") +
    `\r\n${redact(bodyLog)}`;
  const inputs: Record<string, unknown> = {
    method: spec.method,
    url: shownUrl,
    headers: shownHeaders,
    body_type: bodyType,
    body: redact(bodyLog),
    ssl_verify: spec.sslVerify,
  };
  return { spec, inputs, rawLog };
}

async function responseFiles(ctx: NodeRunContext<HttpRequestData>, res: HttpResponseData): Promise<FileValue[]> {
  const fromDisposition = dispositionFilename(res.headers["content-disposition"]);
  const lastSegment = new URL(res.url).pathname.split("/").pop() ?? "";
  let urlName = lastSegment;
  try {
    urlName = decodeURIComponent(lastSegment);
  } catch {
    // keep the raw segment
  }
  const contentType = mediaType(res.headers["content-type"]);
  // Dify's order: the type the disposition filename implies, the Content-Type, the URL's filename.
  const mimeType =
    (fromDisposition ? mimeFromFilename(fromDisposition) : null) ||
    contentType ||
    mimeFromFilename(urlName) ||
    "application/octet-stream";
  let filename = fromDisposition || (extensionOf(urlName) ? urlName : "");
  if (!filename) {
    const ext = extensionFromMime(mimeType);
    filename = ext ? `file.${ext}` : "file";
  }
  return [await ctx.caps.files.save(res.body, { filename, mimeType })];
}

export const httpRequestNode = defineNode<HttpRequestData>({
  type: "http-request",
  schema: httpRequestDataSchema,
  references: collectReferences,
  validate(data, ctx) {
    if (!data.url.trim()) ctx.report("the URL is empty");
    else if (!data.url.includes("{{#") && !/^https?:\/\//i.test(data.url.trim())) {
      ctx.report(`the URL must start with http:// or https:// (got "${data.url}")`);
    }
    const body = data.body;
    if (body?.type === "json") {
      const text = bodyItems(data)[0]?.value ?? "";
      if (text.trim() && !text.includes("{{#")) {
        const checked = checkJsonBody(text);
        if (!checked.ok) ctx.report(`the JSON body is not valid JSON (${checked.error})`);
      }
    }
    if (body?.type === "binary" && !itemSelector(bodyItems(data)[0])) ctx.report("the binary body has no file variable selected");
    if (data.authorization?.type === "api-key" && !data.authorization.config) {
      ctx.report("the authorization is set to API key but has no configuration");
    }
  },
  async run(ctx) {
    const { spec, inputs, rawLog } = await assemble(ctx);
    let res: HttpResponseData;
    try {
      res = await ctx.caps.http.request(spec, ctx.signal);
    } catch (e) {
      if (isTributaryError(e) && (e.code === "http_error" || e.code === "ssrf_blocked")) {
        throw fail(e.message, e.code === "ssrf_blocked" ? "SSRFBlockedError" : "HttpRequestNodeError", e);
      }
      // A stopped run or a node timeout keeps its own error.
      if (isTributaryError(e)) throw e;
      throw fail(`The HTTP request failed: ${errorMessage(e)}`, "HttpRequestNodeError", e);
    }
    const file = isFileResponse(res.headers, res.body);
    const files = file ? await responseFiles(ctx, res) : [];
    const outputs = {
      status_code: res.status,
      body: file ? "" : decodeText(res.headers, res.body),
      headers: res.headers,
      files,
    };
    const ok = res.status >= 200 && res.status < 300;
    if (!ok && (ctx.data.error_strategy || ctx.data.retry_config?.retry_enabled)) {
      // Dify fails non-2xx responses only when a retry or error strategy is there to act on it.
      throw fail(`Request failed with status code ${res.status}`, "HTTPResponseCodeError");
    }
    return { inputs, outputs, processData: { request: rawLog } };
  },
});
