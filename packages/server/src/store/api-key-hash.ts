/**
 * App API keys are bearer secrets: the store keeps only their SHA-256 (a fast hash is enough
 * because the tokens are 24 random characters, not user-chosen passwords) and a display prefix.
 */
import { createHash, randomBytes } from "node:crypto";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const PREFIX_LENGTH = 8;

export function hashApiKey(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** What a listing shows instead of the key (`app-AbCd`). */
export function apiKeyDisplayPrefix(token: string): string {
  return token.slice(0, PREFIX_LENGTH);
}

/** A new Dify-style key (`app-` + 24 base62 characters) with its hash and prefix. */
export function generateAppApiKey(): { token: string; keyHash: string; prefix: string } {
  let body = "";
  // Rejection sampling keeps every character uniformly likely (256 is not a multiple of 62).
  while (body.length < 24) {
    for (const byte of randomBytes(32)) {
      if (byte < 248 && body.length < 24) body += ALPHABET[byte % 62];
    }
  }
  const token = `app-${body}`;
  return { token, keyHash: hashApiKey(token), prefix: apiKeyDisplayPrefix(token) };
}
