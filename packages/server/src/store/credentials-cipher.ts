/**
 * AES-256-GCM for provider credentials at rest. The provider name is bound as additional
 * authenticated data, so a ciphertext copied onto another provider's row fails to decrypt
 * instead of silently handing one provider's key to another.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { chmodSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const ENVELOPE_VERSION = "v1";
export const SECRET_KEY_ENV = "TRIBUTARY_SECRET_KEY";
export const SECRET_KEY_FILE = "secret.key";

export class CredentialDecryptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CredentialDecryptError";
  }
}

/** Short public fingerprint of a key: safe to store next to ciphertexts and show in errors. */
export function secretKeyId(key: Uint8Array): string {
  return createHash("sha256").update("tributary-credentials-key-id\0").update(key).digest("hex").slice(0, 16);
}

export class CredentialsCipher {
  readonly keyId: string;
  readonly #key: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== KEY_BYTES) {
      throw new Error(
        `The secret key must be ${KEY_BYTES} bytes, got ${key.length}. Generate one with ` +
          "`openssl rand -hex 32` and pass it as TRIBUTARY_SECRET_KEY.",
      );
    }
    this.#key = Buffer.from(key);
    this.keyId = secretKeyId(key);
  }

  /** Returns `v1.<base64 iv>.<base64 tag>.<base64 ciphertext>`. */
  encrypt(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(Buffer.from(context, "utf8"));
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [ENVELOPE_VERSION, iv.toString("base64"), tag.toString("base64"), body.toString("base64")].join(".");
  }

  /**
   * @param storedKeyId fingerprint saved with the ciphertext, to explain a failure.
   * @throws CredentialDecryptError with what went wrong and how to recover.
   */
  decrypt(envelope: string, context: string, storedKeyId?: string): string {
    const parts = envelope.split(".");
    const [version, ivText, tagText, bodyText] = parts;
    if (parts.length !== 4 || version !== ENVELOPE_VERSION || !ivText || !tagText || bodyText === undefined) {
      throw new CredentialDecryptError(
        `Stored credentials for "${context}" are not in a format this version understands. Delete and re-enter them.`,
      );
    }
    if (storedKeyId !== undefined && storedKeyId !== this.keyId) {
      throw new CredentialDecryptError(
        `Credentials for "${context}" were encrypted with a different secret key (key id ${storedKeyId}; ` +
          `the current key is ${this.keyId}). Restore the original ${SECRET_KEY_ENV} or data-dir ${SECRET_KEY_FILE}, ` +
          "or delete and re-enter these credentials.",
      );
    }
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, Buffer.from(ivText, "base64"), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(Buffer.from(context, "utf8"));
      decipher.setAuthTag(Buffer.from(tagText, "base64"));
      return Buffer.concat([decipher.update(Buffer.from(bodyText, "base64")), decipher.final()]).toString("utf8");
    } catch {
      throw new CredentialDecryptError(
        `Credentials for "${context}" could not be decrypted: the secret key is wrong or the stored value was altered. ` +
          `Restore the original ${SECRET_KEY_ENV} or data-dir ${SECRET_KEY_FILE}, or delete and re-enter these credentials.`,
      );
    }
  }
}

/** Accepts 64 hex characters or base64/base64url of 32 bytes. */
export function parseSecretKey(text: string, origin: string): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, "hex");
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    const bytes = Buffer.from(trimmed, "base64");
    if (bytes.length === KEY_BYTES) return bytes;
  }
  throw new Error(
    `${origin} must hold a 32-byte key as 64 hex characters or base64 (for example the output of ` + "`openssl rand -hex 32`).",
  );
}

/**
 * The key for credentials: `TRIBUTARY_SECRET_KEY` if set, else `<dataDir>/secret.key`, created
 * (mode 0600) on first use. Several server instances sharing one PostgreSQL must share the key,
 * so set the variable there rather than relying on per-machine files.
 */
export function loadOrCreateSecretKey(dataDir: string, env: Record<string, string | undefined> = process.env): Buffer {
  const fromEnv = env[SECRET_KEY_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== "") return parseSecretKey(fromEnv, SECRET_KEY_ENV);

  const file = join(dataDir, SECRET_KEY_FILE);
  let existing: string | undefined;
  try {
    existing = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  if (existing !== undefined) return parseSecretKey(existing, file);

  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(KEY_BYTES);
  // Write a private temp file, then link it into place: link fails if another process won the
  // race, and nobody ever reads a half-written key file.
  const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(temp, key.toString("hex") + "\n", { mode: 0o600, flag: "wx" });
  try {
    // The mode passed to open is filtered by the umask; make sure it really is owner-only.
    chmodSync(temp, 0o600);
    linkSync(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return parseSecretKey(readFileSync(file, "utf8"), file);
    throw error;
  } finally {
    rmSync(temp, { force: true });
  }
  return key;
}
