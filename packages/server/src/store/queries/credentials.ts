/** Provider credentials, encrypted with the store's key before they reach the database. */
import type { ProviderCredentialInfo, ProviderCredentials } from "../types.js";
import type { StoreContext } from "./store-context.js";

export async function putCredentials(ctx: StoreContext, provider: string, values: ProviderCredentials): Promise<void> {
  const now = ctx.now();
  const ciphertext = ctx.cipher.encrypt(JSON.stringify(values), provider);
  await ctx.db
    .insertInto("provider_credentials")
    .values({ provider, ciphertext, key_id: ctx.cipher.keyId, created_at: now, updated_at: now })
    .onConflict((oc) => oc.column("provider").doUpdateSet({ ciphertext, key_id: ctx.cipher.keyId, updated_at: now }))
    .execute();
}

export async function getCredentials(ctx: StoreContext, provider: string): Promise<ProviderCredentials | undefined> {
  const row = await ctx.db
    .selectFrom("provider_credentials")
    .select(["ciphertext", "key_id"])
    .where("provider", "=", provider)
    .executeTakeFirst();
  if (!row) return undefined;
  return JSON.parse(ctx.cipher.decrypt(row.ciphertext, provider, row.key_id)) as ProviderCredentials;
}

export async function listCredentials(ctx: StoreContext): Promise<ProviderCredentialInfo[]> {
  const rows = await ctx.db
    .selectFrom("provider_credentials")
    .select(["provider", "created_at", "updated_at"])
    .orderBy("provider", "asc")
    .execute();
  return rows.map((r) => ({ provider: r.provider, createdAt: r.created_at, updatedAt: r.updated_at }));
}

export async function deleteCredentials(ctx: StoreContext, provider: string): Promise<boolean> {
  const result = await ctx.db.deleteFrom("provider_credentials").where("provider", "=", provider).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
