/** Apps and their immutable workflow versions. */
import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import type { AppsTable } from "../db-schema.js";
import { mapApp, mapWorkflowVersion, toJson, toJsonOrNull } from "../row-mappers.js";
import type {
  AppPatch,
  AppRow,
  GetOptions,
  ListAppsQuery,
  NewApp,
  NewWorkflowVersion,
  Page,
  WorkflowVersionRow,
} from "../types.js";
import { likePattern, pageOf, type StoreContext } from "./store-context.js";

export async function createApp(ctx: StoreContext, input: NewApp): Promise<AppRow> {
  const now = ctx.now();
  const row: AppsTable = {
    id: input.id ?? randomUUID(),
    name: input.name,
    description: input.description ?? "",
    tags: toJson(input.tags ?? []),
    icon: toJsonOrNull(input.icon),
    images: toJson(input.images ?? []),
    enabled: input.enabled === false ? 0 : 1,
    max_concurrency: input.maxConcurrency ?? null,
    current_version_id: null,
    created_at: now,
    updated_at: now,
    deleted_at: null,
  };
  await ctx.db.insertInto("apps").values(row).execute();
  return mapApp(row);
}

export async function getApp(ctx: StoreContext, id: string, options: GetOptions = {}): Promise<AppRow | undefined> {
  let q = ctx.db.selectFrom("apps").selectAll().where("id", "=", id);
  if (!options.includeDeleted) q = q.where("deleted_at", "is", null);
  const row = await q.executeTakeFirst();
  return row && mapApp(row);
}

export async function listApps(ctx: StoreContext, query: ListAppsQuery = {}): Promise<Page<AppRow>> {
  const { page, limit, offset } = pageOf(query);
  let base = ctx.db.selectFrom("apps");
  if (!query.includeDeleted) base = base.where("deleted_at", "is", null);
  if (query.search) {
    const pattern = likePattern(query.search);
    base = base.where((eb) => sql<boolean>`${ctx.hooks.lower(eb.ref("name"))} like ${pattern} escape '\\'`);
  }
  const [rows, count] = await Promise.all([
    base.selectAll().orderBy("created_at", "desc").orderBy("id", "desc").limit(limit).offset(offset).execute(),
    base.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
  ]);
  const total = Number(count.n);
  return { items: rows.map(mapApp), total, page, limit, hasMore: offset + rows.length < total };
}

export async function updateApp(ctx: StoreContext, id: string, patch: AppPatch): Promise<AppRow | undefined> {
  const set: Partial<AppsTable> = { updated_at: ctx.now() };
  if (patch.name !== undefined) set.name = patch.name;
  if (patch.description !== undefined) set.description = patch.description;
  if (patch.tags !== undefined) set.tags = toJson(patch.tags);
  if (patch.icon !== undefined) set.icon = toJsonOrNull(patch.icon);
  if (patch.images !== undefined) set.images = toJson(patch.images);
  if (patch.enabled !== undefined) set.enabled = patch.enabled ? 1 : 0;
  if (patch.maxConcurrency !== undefined) set.max_concurrency = patch.maxConcurrency;
  const row = await ctx.db
    .updateTable("apps")
    .set(set)
    .where("id", "=", id)
    .where("deleted_at", "is", null)
    .returningAll()
    .executeTakeFirst();
  return row && mapApp(row);
}

export async function deleteApp(ctx: StoreContext, id: string): Promise<boolean> {
  const now = ctx.now();
  const result = await ctx.db
    .updateTable("apps")
    .set({ deleted_at: now, updated_at: now })
    .where("id", "=", id)
    .where("deleted_at", "is", null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function createWorkflowVersion(ctx: StoreContext, input: NewWorkflowVersion): Promise<WorkflowVersionRow> {
  const now = ctx.now();
  return ctx.db.transaction().execute(async (trx) => {
    // Touching the app first takes its row lock (PostgreSQL), so concurrent publishes of one
    // app queue up here instead of racing for the same version number.
    const touched = await trx
      .updateTable("apps")
      .set({ updated_at: now })
      .where("id", "=", input.appId)
      .where("deleted_at", "is", null)
      .executeTakeFirst();
    if (touched.numUpdatedRows === 0n) {
      throw new Error(`Cannot publish a version of app ${input.appId}: no such app (or it was deleted). Create the app first.`);
    }
    const last = await trx
      .selectFrom("workflow_versions")
      .select((eb) => eb.fn.max("version").as("v"))
      .where("app_id", "=", input.appId)
      .executeTakeFirst();
    const row = {
      id: input.id ?? randomUUID(),
      app_id: input.appId,
      version: Number(last?.v ?? 0) + 1,
      dsl: toJson(input.dsl),
      source_text: input.sourceText,
      source_format: input.sourceFormat,
      created_at: now,
    };
    await trx.insertInto("workflow_versions").values(row).execute();
    await trx.updateTable("apps").set({ current_version_id: row.id }).where("id", "=", input.appId).execute();
    return mapWorkflowVersion(row);
  });
}

export async function getWorkflowVersion(ctx: StoreContext, id: string): Promise<WorkflowVersionRow | undefined> {
  const row = await ctx.db.selectFrom("workflow_versions").selectAll().where("id", "=", id).executeTakeFirst();
  return row && mapWorkflowVersion(row);
}

export async function listWorkflowVersions(ctx: StoreContext, appId: string): Promise<WorkflowVersionRow[]> {
  const rows = await ctx.db
    .selectFrom("workflow_versions")
    .selectAll()
    .where("app_id", "=", appId)
    .orderBy("version", "desc")
    .execute();
  return rows.map(mapWorkflowVersion);
}
