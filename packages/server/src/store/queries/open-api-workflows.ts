/**
 * What VectorVein's workflow endpoints need beyond the app row: per-app settings (language,
 * tool-call data, VApp cost), listing with its sorts and tag filter, and versions that are not
 * made current (a run with node fields overridden runs exactly what it was given).
 */
import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import type { OpenApiWorkflowsTable } from "../db-schema.js";
import { mapApp, mapWorkflowVersion, toJson } from "../row-mappers.js";
import type {
  AppRow,
  JsonObject,
  ListOpenApiAppsQuery,
  NewWorkflowVersion,
  OpenApiWorkflowPatch,
  OpenApiWorkflowRow,
  Page,
  WorkflowVersionRow,
} from "../types.js";
import { likePattern, pageOf, type StoreContext } from "./store-context.js";

export const DEFAULT_OPEN_API_WORKFLOW = {
  language: "zh-CN",
  toolCallData: {},
  sourceWorkflow: null,
  creditsPerRun: 1,
  creditsPer1kTokens: 1,
} as const;

function mapWorkflow(r: OpenApiWorkflowsTable): OpenApiWorkflowRow {
  return {
    appId: r.app_id,
    language: r.language,
    toolCallData: JSON.parse(r.tool_call_data) as JsonObject,
    sourceWorkflow: r.source_workflow,
    creditsPerRun: r.credits_per_run,
    creditsPer1kTokens: r.credits_per_1k_tokens,
    updatedAt: r.updated_at,
  };
}

export async function getOpenApiWorkflow(ctx: StoreContext, appId: string): Promise<OpenApiWorkflowRow | undefined> {
  const row = await ctx.db.selectFrom("open_api_workflows").selectAll().where("app_id", "=", appId).executeTakeFirst();
  return row && mapWorkflow(row);
}

export async function putOpenApiWorkflow(
  ctx: StoreContext,
  appId: string,
  patch: OpenApiWorkflowPatch,
): Promise<OpenApiWorkflowRow> {
  const now = ctx.now();
  return ctx.db.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom("open_api_workflows").selectAll().where("app_id", "=", appId).executeTakeFirst();
    const base = existing ? mapWorkflow(existing) : { appId, ...DEFAULT_OPEN_API_WORKFLOW, updatedAt: now };
    const row: OpenApiWorkflowsTable = {
      app_id: appId,
      language: patch.language ?? base.language,
      tool_call_data: toJson(patch.toolCallData ?? base.toolCallData),
      source_workflow: patch.sourceWorkflow !== undefined ? patch.sourceWorkflow : base.sourceWorkflow,
      credits_per_run: patch.creditsPerRun ?? base.creditsPerRun,
      credits_per_1k_tokens: patch.creditsPer1kTokens ?? base.creditsPer1kTokens,
      updated_at: now,
    };
    const { app_id: _, ...update } = row;
    await trx
      .insertInto("open_api_workflows")
      .values(row)
      .onConflict((oc) => oc.column("app_id").doUpdateSet(update))
      .execute();
    return mapWorkflow(row);
  });
}

const APP_SORT_COLUMNS = { create_time: "created_at", update_time: "updated_at", title: "name" } as const;

export async function listOpenApiApps(ctx: StoreContext, query: ListOpenApiAppsQuery): Promise<Page<AppRow>> {
  const { page, limit, offset } = pageOf(query);
  let base = ctx.db.selectFrom("apps").where("deleted_at", "is", null);
  const lower = ctx.hooks.lower;
  if (query.search) {
    const pattern = likePattern(query.search);
    base = base.where((eb) =>
      eb.or([
        sql<boolean>`${lower(eb.ref("name"))} like ${pattern} escape '\\'`,
        sql<boolean>`${lower(eb.ref("description"))} like ${pattern} escape '\\'`,
      ]),
    );
  }
  for (const tag of query.tags ?? []) {
    // Tags are a JSON array of strings; the quoted tag matches one whole element.
    const pattern = likePattern(JSON.stringify(tag));
    base = base.where((eb) => sql<boolean>`${lower(eb.ref("tags"))} like ${pattern} escape '\\'`);
  }
  const column = APP_SORT_COLUMNS[query.sortField ?? "update_time"];
  const direction = query.sortOrder ?? "desc";
  const [rows, count] = await Promise.all([
    base.selectAll().orderBy(column, direction).orderBy("id", direction).limit(limit).offset(offset).execute(),
    base.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
  ]);
  const total = Number(count.n);
  return { items: rows.map(mapApp), total, page, limit, hasMore: offset + rows.length < total };
}

/** Unique (app, version) violations: two detached versions raced for the same number. */
function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown };
  return e.code === "23505" || e.code === "SQLITE_CONSTRAINT_UNIQUE" || /unique/i.test(String(e.message ?? ""));
}

export async function findOrCreateDetachedVersion(ctx: StoreContext, input: NewWorkflowVersion): Promise<WorkflowVersionRow> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await ctx.db.transaction().execute(async (trx) => {
        const existing = await trx
          .selectFrom("workflow_versions")
          .selectAll()
          .where("app_id", "=", input.appId)
          .where("source_format", "=", input.sourceFormat)
          .where("source_text", "=", input.sourceText)
          .executeTakeFirst();
        if (existing) return mapWorkflowVersion(existing);
        const low = await trx
          .selectFrom("workflow_versions")
          .select((eb) => eb.fn.min("version").as("v"))
          .where("app_id", "=", input.appId)
          .executeTakeFirst();
        const row = {
          id: input.id ?? randomUUID(),
          app_id: input.appId,
          version: Math.min(Number(low?.v ?? 0), 0) - 1,
          dsl: toJson(input.dsl),
          source_text: input.sourceText,
          source_format: input.sourceFormat,
          created_at: ctx.now(),
        };
        await trx.insertInto("workflow_versions").values(row).execute();
        return mapWorkflowVersion(row);
      });
    } catch (error) {
      if (attempt < 3 && isUniqueViolation(error)) continue;
      throw error;
    }
  }
}
