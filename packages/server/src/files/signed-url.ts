/**
 * Signed, expiring file URLs in Dify's format (`/files/<id>/file-preview?timestamp&nonce&sign`),
 * so a file value's `url` can be handed to a browser or an LLM provider without an API key.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export interface FileUrlSignerOptions {
  /** HMAC key; keep it stable across restarts so issued URLs stay valid until they expire. */
  key: Uint8Array;
  /** Base URL of the server, resolved lazily (the port is known only after listening). */
  baseUrl: () => string;
  /** Validity in seconds. */
  ttlSec: number;
  now?: () => number;
}

export class FileUrlSigner {
  readonly #key: Buffer;
  readonly #baseUrl: () => string;
  readonly #ttlSec: number;
  readonly #now: () => number;

  constructor(options: FileUrlSignerOptions) {
    this.#key = Buffer.from(options.key);
    this.#baseUrl = options.baseUrl;
    this.#ttlSec = options.ttlSec;
    this.#now = options.now ?? Date.now;
  }

  sign(fileId: string): string {
    const timestamp = String(Math.floor(this.#now() / 1000));
    const nonce = randomBytes(16).toString("hex");
    const sign = this.#signature(fileId, timestamp, nonce);
    const query = new URLSearchParams({ timestamp, nonce, sign });
    return `${this.#baseUrl()}/files/${encodeURIComponent(fileId)}/file-preview?${query.toString()}`;
  }

  /** "ok", or why the signature is refused. */
  verify(fileId: string, query: { timestamp?: string; nonce?: string; sign?: string }): "ok" | "invalid" | "expired" {
    const { timestamp, nonce, sign } = query;
    if (!timestamp || !nonce || !sign || !/^\d{1,12}$/.test(timestamp)) return "invalid";
    const expected = Buffer.from(this.#signature(fileId, timestamp, nonce));
    const given = Buffer.from(sign);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return "invalid";
    if (Math.floor(this.#now() / 1000) - Number(timestamp) > this.#ttlSec) return "expired";
    return "ok";
  }

  #signature(fileId: string, timestamp: string, nonce: string): string {
    return createHmac("sha256", this.#key).update(`file-preview|${fileId}|${timestamp}|${nonce}`).digest("base64url");
  }
}
