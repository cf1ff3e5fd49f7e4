/**
 * VApp links exactly as the Python SDK's `generate_vapp_url` makes them, so the server (and
 * anything written against VectorVein) accepts them:
 *
 *   token = base64(iv ‖ AES-CBC(key = UTF-8 bytes of the Open API key, PKCS#7(
 *             "{app_id}:{access_key}:{unix_seconds}:{timeout}")))
 *   url   = {base_url}/public/v-app/{app_id}?token={quote(token)}&key_id={key_id}
 *
 * with Python's `urllib.parse.quote` (safe "/"): `+` → `%2B`, `=` → `%3D`, `/` kept. Web
 * Crypto's AES-CBC pads with PKCS#7 itself, as `Crypto.Util.Padding.pad` does.
 */
import { APIKeyError } from "../errors.js";

export interface VappUrlOptions {
  /** How long the link stays valid, in seconds (Python's `timeout`). Default 900. */
  timeout?: number;
  /** Where the VApp page is served. Default: the server of the client. */
  baseUrl?: string;
  /** Unix seconds to put in the token (for reproducible links in tests). Default: now. */
  timestamp?: number;
  /** The 16-byte IV (for reproducible links in tests). Default: random, as in Python. */
  iv?: Uint8Array;
}

/** Python's `urllib.parse.quote(text, safe="/")`: percent-encodes UTF-8 bytes except `A-Za-z0-9_.-~/`. */
export function pythonQuote(text: string, safe = "/"): string {
  let out = "";
  for (const byte of new TextEncoder().encode(text)) {
    const ch = String.fromCharCode(byte);
    if (/[A-Za-z0-9_.\-~]/.test(ch) || (byte < 128 && safe.includes(ch))) out += ch;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export async function generateVappUrl(
  apiKey: string,
  appId: string,
  accessKey: string,
  keyId: string,
  options: VappUrlOptions = {},
): Promise<string> {
  const encoder = new TextEncoder();
  const keyBytes = encoder.encode(apiKey);
  if (keyBytes.length !== 16 && keyBytes.length !== 24 && keyBytes.length !== 32) {
    throw new APIKeyError(
      `The Open API key is ${keyBytes.length} bytes long, but VApp links are encrypted with it as an AES key, which must be 16, 24 or 32 bytes. ` +
        "Use a Tributary Open API key (32 characters; `tributary openapi-key create`).",
    );
  }
  const timeout = options.timeout ?? 15 * 60;
  if (!Number.isInteger(timeout) || timeout <= 0) {
    throw new TypeError(`timeout must be a whole number of seconds above 0 (got ${timeout}).`);
  }
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const iv = options.iv ?? globalThis.crypto.getRandomValues(new Uint8Array(16));
  if (iv.length !== 16) throw new TypeError(`iv must be 16 bytes (got ${iv.length}).`);

  const subtle = globalThis.crypto?.subtle;
  if (!subtle) {
    throw new TypeError("generateVappUrl needs Web Crypto (crypto.subtle): Node.js 20+, or a browser page served over HTTPS.");
  }
  const key = await subtle.importKey("raw", keyBytes, { name: "AES-CBC" }, false, ["encrypt"]);
  const plaintext = encoder.encode(`${appId}:${accessKey}:${timestamp}:${timeout}`);
  const ivCopy = new Uint8Array(iv);
  const encrypted = new Uint8Array(await subtle.encrypt({ name: "AES-CBC", iv: ivCopy }, key, plaintext));
  const token = new Uint8Array(16 + encrypted.length);
  token.set(ivCopy, 0);
  token.set(encrypted, 16);
  const base = (options.baseUrl ?? "https://vectorvein.com").replace(/\/+$/, "");
  return `${base}/public/v-app/${appId}?token=${pythonQuote(base64(token))}&key_id=${keyId}`;
}
