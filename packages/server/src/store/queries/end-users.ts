/** End users: Dify's `user` string, one row per (app, session id). */
import { randomUUID } from "node:crypto";
import { mapEndUser } from "../row-mappers.js";
import type { EndUserKey, EndUserRow } from "../types.js";
import type { StoreContext } from "./store-context.js";

export async function getOrCreateEndUser(ctx: StoreContext, key: EndUserKey): Promise<EndUserRow> {
  const find = () =>
    ctx.db
      .selectFrom("end_users")
      .selectAll()
      .where("app_id", "=", key.appId)
      .where("session_id", "=", key.sessionId)
      .executeTakeFirst();
  const existing = await find();
  if (existing) return mapEndUser(existing);
  await ctx.db
    .insertInto("end_users")
    .values({
      id: randomUUID(),
      app_id: key.appId,
      session_id: key.sessionId,
      type: key.type ?? "service_api",
      is_anonymous: key.isAnonymous ? 1 : 0,
      created_at: ctx.now(),
    })
    // A concurrent caller may have inserted the same user since `find`; theirs wins.
    .onConflict((oc) => oc.columns(["app_id", "session_id"]).doNothing())
    .execute();
  const row = await find();
  if (!row) throw new Error(`End user "${key.sessionId}" of app ${key.appId} vanished right after creation.`);
  return mapEndUser(row);
}

export async function getEndUser(ctx: StoreContext, id: string): Promise<EndUserRow | undefined> {
  const row = await ctx.db.selectFrom("end_users").selectAll().where("id", "=", id).executeTakeFirst();
  return row && mapEndUser(row);
}
