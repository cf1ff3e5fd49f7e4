/** VApp page sessions: a cookie's SHA-256, bound to one app and one access key, until it expires. */
import type { VappSessionRow } from "../types.js";
import type { StoreContext } from "./store-context.js";

export async function createVappSession(ctx: StoreContext, input: VappSessionRow): Promise<void> {
  await ctx.db
    .insertInto("vapp_sessions")
    .values({
      id_hash: input.idHash,
      app_id: input.appId,
      access_key_id: input.accessKeyId,
      expires_at: input.expiresAt,
      created_at: input.createdAt,
    })
    .execute();
}

export async function getVappSession(ctx: StoreContext, idHash: string, now: number): Promise<VappSessionRow | undefined> {
  const row = await ctx.db
    .selectFrom("vapp_sessions")
    .selectAll()
    .where("id_hash", "=", idHash)
    .where("expires_at", ">", now)
    .executeTakeFirst();
  return (
    row && {
      idHash: row.id_hash,
      appId: row.app_id,
      accessKeyId: row.access_key_id,
      expiresAt: row.expires_at,
      createdAt: row.created_at,
    }
  );
}

export async function deleteExpiredVappSessions(ctx: StoreContext, now: number): Promise<number> {
  const result = await ctx.db.deleteFrom("vapp_sessions").where("expires_at", "<=", now).executeTakeFirst();
  return Number(result.numDeletedRows);
}
