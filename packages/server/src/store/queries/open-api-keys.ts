/**
 * VectorVein Open API keys. The secret is needed in the clear later (it is the AES key of the
 * VApp links made with it), so it is stored encrypted with the store's key, bound to the key id,
 * and found on each request by its SHA-256.
 */
import type { OpenApiKeysTable } from "../db-schema.js";
import type { NewOpenApiKey, OpenApiKeyRow } from "../types.js";
import type { StoreContext } from "./store-context.js";

/** Encryption context: a ciphertext copied onto another key's row does not decrypt. */
const cipherContext = (keyId: string) => `open-api-key:${keyId}`;

function mapOpenApiKey(r: OpenApiKeysTable): OpenApiKeyRow {
  return {
    id: r.id,
    owner: r.owner,
    name: r.name,
    prefix: r.prefix,
    rateLimitPerMinute: r.rate_limit_per_minute,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
  };
}

export async function createOpenApiKey(ctx: StoreContext, input: NewOpenApiKey): Promise<OpenApiKeyRow> {
  const row: OpenApiKeysTable = {
    id: input.id,
    owner: input.owner,
    name: input.name ?? null,
    prefix: input.prefix,
    key_hash: input.keyHash,
    ciphertext: ctx.cipher.encrypt(input.secret, cipherContext(input.id)),
    cipher_key_id: ctx.cipher.keyId,
    rate_limit_per_minute: input.rateLimitPerMinute,
    created_at: ctx.now(),
    last_used_at: null,
  };
  await ctx.db.insertInto("open_api_keys").values(row).execute();
  return mapOpenApiKey(row);
}

export async function findOpenApiKeyByHash(ctx: StoreContext, keyHash: string): Promise<OpenApiKeyRow | undefined> {
  const row = await ctx.db.selectFrom("open_api_keys").selectAll().where("key_hash", "=", keyHash).executeTakeFirst();
  return row && mapOpenApiKey(row);
}

export async function getOpenApiKeySecret(
  ctx: StoreContext,
  keyId: string,
): Promise<{ key: OpenApiKeyRow; secret: string } | undefined> {
  const row = await ctx.db.selectFrom("open_api_keys").selectAll().where("id", "=", keyId).executeTakeFirst();
  if (!row) return undefined;
  return { key: mapOpenApiKey(row), secret: ctx.cipher.decrypt(row.ciphertext, cipherContext(row.id), row.cipher_key_id) };
}

export async function listOpenApiKeys(ctx: StoreContext, owner?: string): Promise<OpenApiKeyRow[]> {
  let q = ctx.db.selectFrom("open_api_keys").selectAll();
  if (owner !== undefined) q = q.where("owner", "=", owner);
  const rows = await q.orderBy("created_at", "asc").orderBy("id", "asc").execute();
  return rows.map(mapOpenApiKey);
}

export async function deleteOpenApiKey(ctx: StoreContext, keyId: string): Promise<boolean> {
  const result = await ctx.db.deleteFrom("open_api_keys").where("id", "=", keyId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function touchOpenApiKey(ctx: StoreContext, keyId: string, at: number): Promise<void> {
  await ctx.db
    .updateTable("open_api_keys")
    .set({ last_used_at: at })
    .where("id", "=", keyId)
    // Concurrent requests may finish out of order; never move the timestamp backwards.
    .where((eb) => eb.or([eb("last_used_at", "is", null), eb("last_used_at", "<", at)]))
    .execute();
}
