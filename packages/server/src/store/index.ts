export * from "./api-key-hash.js";
export { CredentialDecryptError, CredentialsCipher, loadOrCreateSecretKey, parseSecretKey } from "./credentials-cipher.js";
export * from "./open-store.js";
export * from "./postgres-store.js";
export * from "./sqlite-store.js";
export type * from "./types.js";
