/**
 * Key material of VectorVein's protocol. An Open API key is exactly 32 ASCII characters because
 * its UTF-8 bytes are the AES-256 key of the VApp links made with it (`generate_vapp_url`); its
 * `key_id` is public. Access keys are what end users hold; they appear inside link tokens, split
 * on ":", so they never contain one.
 */
import { randomBytes } from "node:crypto";
import { hashApiKey } from "../store/api-key-hash.js";

const BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX = "0123456789abcdef";

/** `length` characters of `alphabet`, each equally likely (rejection sampling). */
function randomString(length: number, alphabet: string): string {
  const limit = 256 - (256 % alphabet.length);
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < limit && out.length < length) out += alphabet[byte % alphabet.length];
    }
  }
  return out;
}

export const OPEN_API_KEY_LENGTH = 32;
const PREFIX_LENGTH = 6;

export interface GeneratedOpenApiKey {
  keyId: string;
  secret: string;
  keyHash: string;
  prefix: string;
}

export function generateOpenApiKey(): GeneratedOpenApiKey {
  const secret = randomString(OPEN_API_KEY_LENGTH, BASE62);
  return {
    keyId: `kid-${randomString(20, BASE62)}`,
    secret,
    keyHash: hashApiKey(secret),
    prefix: secret.slice(0, PREFIX_LENGTH),
  };
}

/** A new access key: 32 lower-case hex characters. */
export function generateAccessKey(): string {
  return randomString(32, HEX);
}

export { hashApiKey };
