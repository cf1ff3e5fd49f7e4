import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CredentialDecryptError, CredentialsCipher, loadOrCreateSecretKey, parseSecretKey } from "./credentials-cipher.js";

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tributary-key-test-"));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("CredentialsCipher", () => {
  it("round-trips and never emits the plaintext or the same ciphertext twice", () => {
    const cipher = new CredentialsCipher(randomBytes(32));
    const a = cipher.encrypt("sk-secret", "openai");
    const b = cipher.encrypt("sk-secret", "openai");
    expect(a).not.toBe(b);
    expect(a).not.toContain("sk-secret");
    expect(cipher.decrypt(a, "openai", cipher.keyId)).toBe("sk-secret");
  });

  it("explains a wrong key, a wrong context, a tampered or foreign value", () => {
    const cipher = new CredentialsCipher(randomBytes(32));
    const other = new CredentialsCipher(randomBytes(32));
    const sealed = cipher.encrypt("sk-secret", "openai");
    expect(() => other.decrypt(sealed, "openai", cipher.keyId)).toThrow(/different secret key/);
    // Without the stored key id, GCM authentication still catches it.
    expect(() => other.decrypt(sealed, "openai")).toThrow(CredentialDecryptError);
    expect(() => cipher.decrypt(sealed, "anthropic")).toThrow(/could not be decrypted/);
    const tampered = sealed.slice(0, -2) + (sealed.endsWith("AA") ? "BB" : "AA");
    expect(() => cipher.decrypt(tampered, "openai")).toThrow(/could not be decrypted/);
    expect(() => cipher.decrypt("plain text", "openai")).toThrow(/not in a format/);
  });

  it("rejects keys that are not 32 bytes", () => {
    expect(() => new CredentialsCipher(randomBytes(16))).toThrow(/32 bytes/);
  });
});

describe("secret key loading", () => {
  it("parses hex and base64 and rejects anything else", () => {
    const key = randomBytes(32);
    expect(parseSecretKey(key.toString("hex"), "x").equals(key)).toBe(true);
    expect(parseSecretKey(` ${key.toString("base64")}\n`, "x").equals(key)).toBe(true);
    expect(parseSecretKey(key.toString("base64url"), "x").equals(key)).toBe(true);
    expect(() => parseSecretKey("too-short", "TRIBUTARY_SECRET_KEY")).toThrow(/TRIBUTARY_SECRET_KEY must hold a 32-byte key/);
    expect(() => parseSecretKey(randomBytes(16).toString("hex"), "x")).toThrow(/32-byte/);
  });

  it("prefers TRIBUTARY_SECRET_KEY and then writes nothing", () => {
    const dir = tempDir();
    const key = randomBytes(32);
    expect(loadOrCreateSecretKey(dir, { TRIBUTARY_SECRET_KEY: key.toString("hex") }).equals(key)).toBe(true);
    expect(() => statSync(join(dir, "secret.key"))).toThrow();
    expect(() => loadOrCreateSecretKey(dir, { TRIBUTARY_SECRET_KEY: "nope" })).toThrow(/TRIBUTARY_SECRET_KEY/);
  });

  it("creates secret.key once with mode 0600 and reads it back afterwards", () => {
    const dir = join(tempDir(), "nested", "data");
    const first = loadOrCreateSecretKey(dir, {});
    const file = join(dir, "secret.key");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8").trim()).toBe(first.toString("hex"));
    expect(loadOrCreateSecretKey(dir, {}).equals(first)).toBe(true);
    expect(loadOrCreateSecretKey(dir, { TRIBUTARY_SECRET_KEY: "" }).equals(first)).toBe(true);
  });
});
