/**
 * VApp access keys: their apps, their use records, and the one operation that must be atomic,
 * taking a use. The stored status is only AC or IN; EX (expired) and US (used up) follow from
 * the expiry and the counters, so they are computed here, in SQL for filters and in code for rows.
 */
import { randomUUID } from "node:crypto";
import type { ExpressionBuilder, Kysely } from "kysely";
import type { Database, VappAccessKeysTable } from "../db-schema.js";
import type {
  AccessKeyPatch,
  AccessKeyRecordRow,
  AccessKeyRefusal,
  AccessKeyRow,
  AccessKeyScope,
  AccessKeyStatus,
  AccessKeyType,
  ConsumeAccessKeyResult,
  ConsumeAccessKeyUse,
  ListAccessKeysQuery,
  NewAccessKey,
  Page,
  StoredAccessKeyStatus,
} from "../types.js";
import { pageOf, type StoreContext } from "./store-context.js";

type Db = Kysely<Database>;
type KeyEb = ExpressionBuilder<Database, "vapp_access_keys">;

function mapAccessKey(r: VappAccessKeysTable, appIds: string[]): AccessKeyRow {
  return {
    id: r.id,
    accessKey: r.access_key,
    owner: r.owner,
    type: r.access_key_type as AccessKeyType,
    scope: r.access_scope as AccessKeyScope,
    storedStatus: r.status as StoredAccessKeyStatus,
    useCount: r.use_count,
    maxUseCount: r.max_use_count,
    maxCredits: r.max_credits,
    usedCredits: r.used_credits,
    description: r.description,
    expireAt: r.expire_at,
    expireTimeText: r.expire_time_text,
    createdAt: r.created_at,
    lastUseAt: r.last_use_at,
    appIds,
  };
}

/** The effective status of a key at `now` (IN, then EX, then US, else AC). */
export function accessKeyStatus(key: AccessKeyRow, now: number): AccessKeyStatus {
  if (key.storedStatus === "IN") return "IN";
  if (key.expireAt !== null && key.expireAt <= now) return "EX";
  if (
    (key.maxUseCount !== null && key.useCount >= key.maxUseCount) ||
    (key.maxCredits !== null && key.usedCredits >= key.maxCredits)
  ) {
    return "US";
  }
  return "AC";
}

/** Live apps of each key, in the order they were added. */
async function appIdsOf(db: Db, keyIds: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>(keyIds.map((id) => [id, []]));
  if (keyIds.length === 0) return out;
  const rows = await db
    .selectFrom("vapp_access_key_apps")
    .innerJoin("apps", "apps.id", "vapp_access_key_apps.app_id")
    .select(["vapp_access_key_apps.access_key_id", "vapp_access_key_apps.app_id"])
    .where("vapp_access_key_apps.access_key_id", "in", keyIds)
    .where("apps.deleted_at", "is", null)
    .orderBy("vapp_access_key_apps.position", "asc")
    .execute();
  for (const r of rows) out.get(r.access_key_id)?.push(r.app_id);
  return out;
}

async function withApps(db: Db, rows: VappAccessKeysTable[]): Promise<AccessKeyRow[]> {
  const apps = await appIdsOf(
    db,
    rows.map((r) => r.id),
  );
  return rows.map((r) => mapAccessKey(r, apps.get(r.id) ?? []));
}

export async function createAccessKeys(ctx: StoreContext, inputs: NewAccessKey[]): Promise<AccessKeyRow[]> {
  if (inputs.length === 0) return [];
  const now = ctx.now();
  const rows: VappAccessKeysTable[] = inputs.map((input) => ({
    id: input.id ?? randomUUID(),
    access_key: input.accessKey,
    owner: input.owner,
    access_key_type: input.type,
    access_scope: input.scope,
    status: "AC",
    use_count: 0,
    max_use_count: input.maxUseCount,
    max_credits: input.maxCredits,
    used_credits: 0,
    description: input.description,
    expire_at: input.expireAt,
    expire_time_text: input.expireTimeText,
    created_at: now,
    last_use_at: null,
  }));
  await ctx.db.transaction().execute(async (trx) => {
    await trx.insertInto("vapp_access_keys").values(rows).execute();
    const links = rows.flatMap((r, i) =>
      (inputs[i]?.appIds ?? []).map((appId, position) => ({ access_key_id: r.id, app_id: appId, position })),
    );
    if (links.length > 0) await trx.insertInto("vapp_access_key_apps").values(links).execute();
  });
  return withApps(ctx.db, rows);
}

export async function getAccessKeys(ctx: StoreContext, owner: string, accessKeys: string[]): Promise<AccessKeyRow[]> {
  if (accessKeys.length === 0) return [];
  const rows = await ctx.db
    .selectFrom("vapp_access_keys")
    .selectAll()
    .where("owner", "=", owner)
    .where("access_key", "in", accessKeys)
    .orderBy("created_at", "asc")
    .orderBy("id", "asc")
    .execute();
  return withApps(ctx.db, rows);
}

export async function findAccessKey(ctx: StoreContext, accessKey: string): Promise<AccessKeyRow | undefined> {
  const row = await ctx.db.selectFrom("vapp_access_keys").selectAll().where("access_key", "=", accessKey).executeTakeFirst();
  return row ? (await withApps(ctx.db, [row]))[0] : undefined;
}

export async function getAccessKeyById(ctx: StoreContext, id: string): Promise<AccessKeyRow | undefined> {
  const row = await ctx.db.selectFrom("vapp_access_keys").selectAll().where("id", "=", id).executeTakeFirst();
  return row ? (await withApps(ctx.db, [row]))[0] : undefined;
}

/** SQL for "the key is used up" (its use or credit budget is spent). */
const usedUp = (eb: KeyEb) =>
  eb.or([
    eb.and([eb("max_use_count", "is not", null), eb("use_count", ">=", eb.ref("max_use_count"))]),
    eb.and([eb("max_credits", "is not", null), eb("used_credits", ">=", eb.ref("max_credits"))]),
  ]);

const notExpired = (eb: KeyEb, now: number) => eb.or([eb("expire_at", "is", null), eb("expire_at", ">", now)]);

/** SQL matching keys whose effective status is `status` at `now` (mirrors `accessKeyStatus`). */
function statusIs(eb: KeyEb, status: AccessKeyStatus, now: number) {
  switch (status) {
    case "IN":
      return eb("status", "=", "IN");
    case "EX":
      return eb.and([eb("status", "<>", "IN"), eb("expire_at", "is not", null), eb("expire_at", "<=", now)]);
    case "US":
      return eb.and([eb("status", "<>", "IN"), notExpired(eb, now), usedUp(eb)]);
    case "AC":
      return eb.and([eb("status", "<>", "IN"), notExpired(eb, now), eb.not(usedUp(eb))]);
  }
}

const SORT_COLUMNS = {
  create_time: "created_at",
  expire_time: "expire_at",
  last_use_time: "last_use_at",
  use_count: "use_count",
  used_credits: "used_credits",
} as const;

export async function listAccessKeys(ctx: StoreContext, query: ListAccessKeysQuery): Promise<Page<AccessKeyRow>> {
  const { page, limit, offset } = pageOf(query);
  let base = ctx.db.selectFrom("vapp_access_keys").where("owner", "=", query.owner);
  if (query.type !== undefined) base = base.where("access_key_type", "=", query.type);
  if (query.appId !== undefined) {
    const appId = query.appId;
    base = base.where((eb) =>
      eb.exists(
        eb
          .selectFrom("vapp_access_key_apps")
          .select("vapp_access_key_apps.app_id")
          .whereRef("vapp_access_key_apps.access_key_id", "=", "vapp_access_keys.id")
          .where("vapp_access_key_apps.app_id", "=", appId),
      ),
    );
  }
  const statuses = query.statuses ?? [];
  if (statuses.length > 0) base = base.where((eb) => eb.or(statuses.map((s) => statusIs(eb, s, query.now))));
  const column = SORT_COLUMNS[query.sortField ?? "create_time"];
  const direction = query.sortOrder ?? "desc";
  const [rows, count] = await Promise.all([
    base.selectAll().orderBy(column, direction).orderBy("id", direction).limit(limit).offset(offset).execute(),
    base.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
  ]);
  const total = Number(count.n);
  const items = await withApps(ctx.db, rows);
  return { items, total, page, limit, hasMore: offset + items.length < total };
}

async function replaceApps(trx: Db, ids: string[], appIds: string[]): Promise<void> {
  await trx.deleteFrom("vapp_access_key_apps").where("access_key_id", "in", ids).execute();
  const links = ids.flatMap((id) => appIds.map((appId, position) => ({ access_key_id: id, app_id: appId, position })));
  if (links.length > 0) await trx.insertInto("vapp_access_key_apps").values(links).execute();
}

export async function updateAccessKeys(ctx: StoreContext, ids: string[], patch: AccessKeyPatch): Promise<void> {
  if (ids.length === 0) return;
  const set: Partial<VappAccessKeysTable> = {};
  if (patch.maxUseCount !== undefined) set.max_use_count = patch.maxUseCount;
  if (patch.maxCredits !== undefined) set.max_credits = patch.maxCredits;
  if (patch.description !== undefined) set.description = patch.description;
  if (patch.expireAt !== undefined) set.expire_at = patch.expireAt;
  if (patch.expireTimeText !== undefined) set.expire_time_text = patch.expireTimeText;
  if (patch.apps) set.access_scope = patch.apps.scope;
  await ctx.db.transaction().execute(async (trx) => {
    if (Object.keys(set).length > 0) await trx.updateTable("vapp_access_keys").set(set).where("id", "in", ids).execute();
    if (patch.apps) await replaceApps(trx, ids, patch.apps.appIds);
  });
}

export async function deleteAccessKeys(ctx: StoreContext, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await ctx.db.deleteFrom("vapp_access_keys").where("id", "in", ids).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function addAccessKeyApps(ctx: StoreContext, ids: string[], appIds: string[]): Promise<void> {
  if (ids.length === 0 || appIds.length === 0) return;
  await ctx.db.transaction().execute(async (trx) => {
    for (const id of ids) {
      const current = await trx
        .selectFrom("vapp_access_key_apps")
        .select(["app_id", "position"])
        .where("access_key_id", "=", id)
        .execute();
      const have = new Set(current.map((r) => r.app_id));
      let next = current.reduce((max, r) => Math.max(max, r.position + 1), 0);
      const added = [...new Set(appIds)].filter((a) => !have.has(a));
      if (added.length > 0) {
        await trx
          .insertInto("vapp_access_key_apps")
          .values(added.map((appId) => ({ access_key_id: id, app_id: appId, position: next++ })))
          .execute();
      }
      // A single-app key that now opens several apps has become a multi-app key.
      if (have.size + added.length > 1) {
        await trx.updateTable("vapp_access_keys").set({ access_scope: "M" }).where("id", "=", id).execute();
      }
    }
  });
}

export async function removeAccessKeyApps(ctx: StoreContext, ids: string[], appIds: string[]): Promise<void> {
  if (ids.length === 0 || appIds.length === 0) return;
  await ctx.db.deleteFrom("vapp_access_key_apps").where("access_key_id", "in", ids).where("app_id", "in", appIds).execute();
}

export async function consumeAccessKeyUse(ctx: StoreContext, input: ConsumeAccessKeyUse): Promise<ConsumeAccessKeyResult> {
  const { accessKeyId, appId, credits, now } = input;
  return ctx.db.transaction().execute(async (trx) => {
    // One conditional UPDATE is the whole check: SQLite runs it under its write lock, and
    // PostgreSQL re-evaluates the WHERE on the row a concurrent taker just updated, so the
    // counters never pass their limits however many callers race.
    const taken = await trx
      .updateTable("vapp_access_keys")
      .set((eb) => ({
        use_count: eb("use_count", "+", 1),
        used_credits: eb("used_credits", "+", credits),
        last_use_at: now,
      }))
      .where("id", "=", accessKeyId)
      .where("status", "<>", "IN")
      .where((eb) => notExpired(eb, now))
      .where((eb) => eb.or([eb("max_use_count", "is", null), eb("use_count", "<", eb.ref("max_use_count"))]))
      .where((eb) =>
        eb.or([
          eb("max_credits", "is", null),
          eb.and([
            eb("used_credits", "<", eb.ref("max_credits")),
            eb(eb("used_credits", "+", credits), "<=", eb.ref("max_credits")),
          ]),
        ]),
      )
      .where((eb) =>
        eb.exists(
          eb
            .selectFrom("vapp_access_key_apps")
            .innerJoin("apps", "apps.id", "vapp_access_key_apps.app_id")
            .select("vapp_access_key_apps.app_id")
            .whereRef("vapp_access_key_apps.access_key_id", "=", "vapp_access_keys.id")
            .where("vapp_access_key_apps.app_id", "=", appId)
            .where("apps.deleted_at", "is", null),
        ),
      )
      .executeTakeFirst();
    const row = await trx.selectFrom("vapp_access_keys").selectAll().where("id", "=", accessKeyId).executeTakeFirst();
    const key = row ? (await withApps(trx, [row]))[0] : undefined;
    if (Number(taken.numUpdatedRows) === 1 && key) {
      const recordId = randomUUID();
      await trx
        .insertInto("vapp_access_key_records")
        .values({ id: recordId, access_key_id: accessKeyId, run_id: "", app_id: appId, credits, created_at: now })
        .execute();
      return { ok: true as const, key, recordId };
    }
    return { ok: false as const, reason: refusalOf(key, appId, credits, now), key };
  });
}

function refusalOf(key: AccessKeyRow | undefined, appId: string, credits: number, now: number): AccessKeyRefusal {
  if (!key) return "not_found";
  if (key.storedStatus === "IN") return "invalid";
  if (key.expireAt !== null && key.expireAt <= now) return "expired";
  if (!key.appIds.includes(appId)) return "not_for_app";
  if (key.maxUseCount !== null && key.useCount >= key.maxUseCount) return "used_up";
  if (key.maxCredits !== null && key.usedCredits + credits > key.maxCredits) return "credits_exhausted";
  // Nothing explains the refusal now: a concurrent change (e.g. a refund) happened in between.
  return "used_up";
}

export async function refundAccessKeyUse(ctx: StoreContext, accessKeyId: string, recordId: string): Promise<void> {
  await ctx.db.transaction().execute(async (trx) => {
    const record = await trx
      .selectFrom("vapp_access_key_records")
      .select(["credits"])
      .where("id", "=", recordId)
      .where("access_key_id", "=", accessKeyId)
      .executeTakeFirst();
    if (!record) return;
    await trx.deleteFrom("vapp_access_key_records").where("id", "=", recordId).execute();
    await trx
      .updateTable("vapp_access_keys")
      .set((eb) => ({ use_count: eb("use_count", "-", 1), used_credits: eb("used_credits", "-", record.credits) }))
      .where("id", "=", accessKeyId)
      .execute();
  });
}

export async function setAccessKeyRecordRun(ctx: StoreContext, recordId: string, runId: string): Promise<void> {
  await ctx.db.updateTable("vapp_access_key_records").set({ run_id: runId }).where("id", "=", recordId).execute();
}

export async function chargeAccessKeyRecord(ctx: StoreContext, recordId: string, credits: number): Promise<void> {
  if (credits === 0) return;
  await ctx.db.transaction().execute(async (trx) => {
    const record = await trx
      .selectFrom("vapp_access_key_records")
      .select(["access_key_id"])
      .where("id", "=", recordId)
      .executeTakeFirst();
    if (!record) return;
    await trx
      .updateTable("vapp_access_key_records")
      .set((eb) => ({ credits: eb("credits", "+", credits) }))
      .where("id", "=", recordId)
      .execute();
    await trx
      .updateTable("vapp_access_keys")
      .set((eb) => ({ used_credits: eb("used_credits", "+", credits) }))
      .where("id", "=", record.access_key_id)
      .execute();
  });
}

export async function listAccessKeyRecords(
  ctx: StoreContext,
  accessKeyIds: string[],
): Promise<Map<string, AccessKeyRecordRow[]>> {
  const out = new Map<string, AccessKeyRecordRow[]>(accessKeyIds.map((id) => [id, []]));
  if (accessKeyIds.length === 0) return out;
  const rows = await ctx.db
    .selectFrom("vapp_access_key_records")
    .selectAll()
    .where("access_key_id", "in", accessKeyIds)
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .execute();
  for (const r of rows) {
    out.get(r.access_key_id)?.push({
      id: r.id,
      accessKeyId: r.access_key_id,
      runId: r.run_id,
      appId: r.app_id,
      credits: r.credits,
      createdAt: r.created_at,
    });
  }
  return out;
}
