/**
 * Runs started through VectorVein's protocol (the Open API or a VApp page): who started them
 * and how their outputs are reported. VectorVein's run records are the owner's, across apps.
 */
import type { OpenApiRunsTable, RunsTable } from "../db-schema.js";
import { mapRun, toJson } from "../row-mappers.js";
import type { ListOpenApiRunsQuery, OpenApiRunEntry, OpenApiRunRow, OpenApiRunSource, Page } from "../types.js";
import { pageOf, type StoreContext } from "./store-context.js";

const META_COLUMNS = [
  "open_api_runs.run_id as m__run_id",
  "open_api_runs.owner as m__owner",
  "open_api_runs.app_id as m__app_id",
  "open_api_runs.source as m__source",
  "open_api_runs.api_key_id as m__api_key_id",
  "open_api_runs.access_key_id as m__access_key_id",
  "open_api_runs.output_scope as m__output_scope",
  "open_api_runs.input_fields as m__input_fields",
  "open_api_runs.created_at as m__created_at",
  "apps.name as app_name",
] as const;

type JoinedRow = RunsTable & {
  m__run_id: string;
  m__owner: string;
  m__app_id: string;
  m__source: string;
  m__api_key_id: string | null;
  m__access_key_id: string | null;
  m__output_scope: string;
  m__input_fields: string;
  m__created_at: number;
  app_name: string | null;
};

function mapEntry(r: JoinedRow): OpenApiRunEntry {
  return {
    meta: {
      runId: r.m__run_id,
      owner: r.m__owner,
      appId: r.m__app_id,
      source: r.m__source as OpenApiRunSource,
      apiKeyId: r.m__api_key_id,
      accessKeyId: r.m__access_key_id,
      outputScope: r.m__output_scope === "all" ? "all" : "output_fields_only",
      // Written by `createOpenApiRun` with toJson.
      inputFields: JSON.parse(r.m__input_fields) as unknown[],
      createdAt: r.m__created_at,
    },
    run: mapRun(r),
    appName: r.app_name,
  };
}

function joined(ctx: StoreContext) {
  return (
    ctx.db
      .selectFrom("open_api_runs")
      .innerJoin("runs", "runs.id", "open_api_runs.run_id")
      // A deleted app keeps its runs; its name is still shown.
      .leftJoin("apps", "apps.id", "open_api_runs.app_id")
  );
}

export async function createOpenApiRun(ctx: StoreContext, input: OpenApiRunRow): Promise<void> {
  const row: OpenApiRunsTable = {
    run_id: input.runId,
    owner: input.owner,
    app_id: input.appId,
    source: input.source,
    api_key_id: input.apiKeyId,
    access_key_id: input.accessKeyId,
    output_scope: input.outputScope,
    input_fields: toJson(input.inputFields),
    created_at: input.createdAt,
  };
  await ctx.db.insertInto("open_api_runs").values(row).execute();
}

export async function getOpenApiRun(ctx: StoreContext, runId: string): Promise<OpenApiRunEntry | undefined> {
  const row = await joined(ctx)
    .selectAll("runs")
    .select(META_COLUMNS)
    .where("open_api_runs.run_id", "=", runId)
    .executeTakeFirst();
  return row && mapEntry(row as JoinedRow);
}

export async function listOpenApiRuns(ctx: StoreContext, query: ListOpenApiRunsQuery): Promise<Page<OpenApiRunEntry>> {
  const { page, limit, offset } = pageOf(query);
  let base = joined(ctx).where("open_api_runs.owner", "=", query.owner);
  if (query.appId !== undefined) base = base.where("open_api_runs.app_id", "=", query.appId);
  if (query.statuses !== undefined && query.statuses.length > 0) base = base.where("runs.status", "in", query.statuses);
  const column = query.sortField === "end_time" ? "runs.finished_at" : "runs.created_at";
  const direction = query.sortOrder ?? "desc";
  const [rows, count] = await Promise.all([
    base
      .selectAll("runs")
      .select(META_COLUMNS)
      .orderBy(column, direction)
      .orderBy("runs.created_at", direction)
      .orderBy("runs.id", direction)
      .limit(limit)
      .offset(offset)
      .execute(),
    base.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
  ]);
  const total = Number(count.n);
  const items = rows.map((r) => mapEntry(r as JoinedRow));
  return { items, total, page, limit, hasMore: offset + items.length < total };
}

export async function deleteRun(ctx: StoreContext, runId: string): Promise<boolean> {
  // Events, node executions and the open_api_runs row go with it (ON DELETE CASCADE).
  const result = await ctx.db.deleteFrom("runs").where("id", "=", runId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
