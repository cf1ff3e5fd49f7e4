/**
 * Talking to Tributary the way the `vectorvein` SDK does (headers, envelope), the exact field
 * sets of the 0.2.1 SDK's dataclasses, and an independent implementation of its
 * `generate_vapp_url` with Node's crypto, written step by step after the Python code.
 */
import { createCipheriv, randomBytes } from "node:crypto";
import { expect } from "vitest";
import { json, type TestServer } from "./harness.js";

/** vectorvein 0.2.1 `api/models.py`: `Dataclass(**dict)` crashes on one key missing or extra. */
export const ACCESS_KEY_FIELDS = [
  "access_key",
  "access_key_type",
  "use_count",
  "max_use_count",
  "max_credits",
  "used_credits",
  "v_app",
  "v_apps",
  "records",
  "status",
  "access_scope",
  "description",
  "create_time",
  "expire_time",
  "last_use_time",
].sort();
export const VAPP_FIELDS = ["app_id", "title", "description", "info", "images"].sort();
export const OUTPUT_FIELDS = ["type", "title", "value"].sort();
export const ACCESS_KEY_LIST_FIELDS = ["access_keys", "total", "page_size", "page"].sort();
export const UPLOAD_FIELDS = ["oss_path", "original_filename", "file_size", "content_type"].sort();
export const TAG_FIELDS = ["tid", "name"].sort();

export const keysOf = (value: unknown): string[] => Object.keys(value as object).sort();

/** Checks an AccessKey object exactly as 0.2.1 would build it (and its VApps). */
export function expectAccessKeyShape(key: unknown): void {
  expect(keysOf(key)).toEqual(ACCESS_KEY_FIELDS);
  const k = key as { v_app: unknown; v_apps: unknown[] };
  if (k.v_app !== null) expect(keysOf(k.v_app)).toEqual(VAPP_FIELDS);
  for (const app of k.v_apps) expect(keysOf(app)).toEqual(VAPP_FIELDS);
}

export interface Envelope<T = unknown> {
  status: number;
  msg: string;
  data: T;
  [extra: string]: unknown;
}

export interface VvCall {
  method?: "GET" | "POST";
  body?: unknown;
  params?: Record<string, string>;
  headers?: Record<string, string>;
  /** VECTORVEIN-API-KEY-TYPE: VAPP. */
  vapp?: boolean;
}

/** One SDK call: HTTP 200 and a JSON envelope are asserted, the envelope is returned. */
export async function vv<T = unknown>(server: TestServer, apiKey: string | null, endpoint: string, call: VvCall = {}) {
  const url = new URL(`${server.url}/api/v1/open-api/${endpoint}`);
  for (const [k, v] of Object.entries(call.params ?? {})) url.searchParams.set(k, v);
  const headers: Record<string, string> = { "VECTORVEIN-API-VERSION": "20240508", ...call.headers };
  if (apiKey !== null) headers["VECTORVEIN-API-KEY"] = apiKey;
  if (call.vapp) headers["VECTORVEIN-API-KEY-TYPE"] = "VAPP";
  const method = call.method ?? (call.body === undefined ? "GET" : "POST");
  if (call.body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(url, { method, headers, ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}) });
  expect(res.status).toBe(200);
  const body = await json<Envelope<T>>(res);
  expect(typeof body.status).toBe("number");
  expect(typeof body.msg).toBe("string");
  expect("data" in body).toBe(true);
  return body;
}

export async function createOpenApiKey(
  server: TestServer,
  body: { owner?: string; name?: string; rate_limit_per_minute?: number } = {},
): Promise<{ key_id: string; api_key: string }> {
  const res = await server.admin("/api/admin/open-api-keys", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(201);
  return json<{ key_id: string; api_key: string }>(res);
}

// ------------------------------------------------------------------------------------------
// generate_vapp_url, independently: each step mirrors a line of vectorvein's client.py.

/** `Crypto.Util.Padding.pad(data, 16)` (PKCS#7). */
function pkcs7Pad(data: Buffer): Buffer {
  const n = 16 - (data.length % 16);
  return Buffer.concat([data, Buffer.alloc(n, n)]);
}

/** `urllib.parse.quote(s)` with its default safe="/": unreserved ASCII and "/" stay, the rest is %XX. */
export function pythonQuote(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.\-~/]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

export interface VappTokenOptions {
  /** Default: now. */
  timestamp?: number;
  /** Default 15 * 60, as the SDK. */
  timeout?: number;
  /** Default: a random IV, as AES.new(key, AES.MODE_CBC) picks. */
  iv?: Buffer;
}

/** The token part of the URL, unquoted (base64). */
export function vappToken(apiKey: string, appId: string, accessKey: string, options: VappTokenOptions = {}): string {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000); // timestamp = int(time.time())
  const timeout = options.timeout ?? 15 * 60;
  const message = `${appId}:${accessKey}:${timestamp}:${timeout}`; // message = f"{app_id}:{access_key}:{timestamp}:{timeout}"
  const encryptionKey = Buffer.from(apiKey, "utf8"); // encryption_key = self.api_key.encode()
  const iv = options.iv ?? randomBytes(16); // cipher = AES.new(encryption_key, AES.MODE_CBC)
  const padded = pkcs7Pad(Buffer.from(message, "utf8")); // padded_data = pad(message.encode(), AES.block_size)
  const cipher = createCipheriv(`aes-${encryptionKey.length * 8}-cbc`, encryptionKey, iv);
  cipher.setAutoPadding(false); // the padding above is the only one, as in PyCryptodome
  const encrypted = Buffer.concat([cipher.update(padded), cipher.final()]); // encrypted_data = cipher.encrypt(padded_data)
  const finalData = Buffer.concat([iv, encrypted]); // final_data = bytes(cipher.iv) + encrypted_data
  return finalData.toString("base64"); // token = base64.b64encode(final_data).decode("utf-8")
}

/** `generate_vapp_url(app_id, access_key, key_id, timeout, base_url)`. */
export function generateVappUrl(
  apiKey: string,
  baseUrl: string,
  appId: string,
  accessKey: string,
  keyId: string,
  options: VappTokenOptions = {},
): string {
  const quotedToken = pythonQuote(vappToken(apiKey, appId, accessKey, options)); // quoted_token = quote(token)
  return `${baseUrl}/public/v-app/${appId}?token=${quotedToken}&key_id=${keyId}`;
}
