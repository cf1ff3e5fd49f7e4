/** App API keys: looked up by the SHA-256 of the bearer token on every request. */
import { randomUUID } from "node:crypto";
import type { AppsTable } from "../db-schema.js";
import { mapApiKey, mapApp } from "../row-mappers.js";
import type { AppApiKeyRow, AppRow, NewAppApiKey } from "../types.js";
import type { StoreContext } from "./store-context.js";

// Aliased columns let one round trip return the key joined with its app.
const APP_COLUMNS = [
  "apps.id as app__id",
  "apps.name as app__name",
  "apps.description as app__description",
  "apps.tags as app__tags",
  "apps.icon as app__icon",
  "apps.images as app__images",
  "apps.enabled as app__enabled",
  "apps.max_concurrency as app__max_concurrency",
  "apps.current_version_id as app__current_version_id",
  "apps.created_at as app__created_at",
  "apps.updated_at as app__updated_at",
  "apps.deleted_at as app__deleted_at",
] as const;

function unprefix<T>(row: Record<string, unknown>, prefix: string): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out as T;
}

export async function createApiKey(ctx: StoreContext, input: NewAppApiKey): Promise<AppApiKeyRow> {
  const row = {
    id: input.id ?? randomUUID(),
    app_id: input.appId,
    key_hash: input.keyHash,
    prefix: input.prefix,
    name: input.name ?? null,
    created_at: ctx.now(),
    last_used_at: null,
  };
  await ctx.db.insertInto("app_api_keys").values(row).execute();
  return mapApiKey(row);
}

export async function findApiKeyByHash(
  ctx: StoreContext,
  keyHash: string,
): Promise<{ key: AppApiKeyRow; app: AppRow } | undefined> {
  const row = await ctx.db
    .selectFrom("app_api_keys")
    .innerJoin("apps", "apps.id", "app_api_keys.app_id")
    .selectAll("app_api_keys")
    .select(APP_COLUMNS)
    .where("app_api_keys.key_hash", "=", keyHash)
    .where("apps.deleted_at", "is", null)
    .executeTakeFirst();
  if (!row) return undefined;
  const app = unprefix<AppsTable>(row, "app__");
  return {
    key: mapApiKey({
      id: row.id,
      app_id: row.app_id,
      key_hash: row.key_hash,
      prefix: row.prefix,
      name: row.name,
      created_at: row.created_at,
      last_used_at: row.last_used_at,
    }),
    app: mapApp(app),
  };
}

export async function listApiKeys(ctx: StoreContext, appId: string): Promise<AppApiKeyRow[]> {
  const rows = await ctx.db
    .selectFrom("app_api_keys")
    .selectAll()
    .where("app_id", "=", appId)
    .orderBy("created_at", "asc")
    .orderBy("id", "asc")
    .execute();
  return rows.map(mapApiKey);
}

export async function deleteApiKey(ctx: StoreContext, appId: string, keyId: string): Promise<boolean> {
  const result = await ctx.db.deleteFrom("app_api_keys").where("app_id", "=", appId).where("id", "=", keyId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function touchApiKey(ctx: StoreContext, keyId: string, at: number): Promise<void> {
  await ctx.db
    .updateTable("app_api_keys")
    .set({ last_used_at: at })
    .where("id", "=", keyId)
    // Concurrent requests may finish out of order; never move the timestamp backwards.
    .where((eb) => eb.or([eb("last_used_at", "is", null), eb("last_used_at", "<", at)]))
    .execute();
}
