/** Runs: creation (plain and idempotent), lookups, the logs listing and orphan recovery. */
import type { ExpressionBuilder } from "kysely";
import { sql } from "kysely";
import type { Database, RunsTable } from "../db-schema.js";
import { mapEndUser, mapRun, toJson } from "../row-mappers.js";
import type { IdempotentRunResult, ListRunsQuery, NewRun, OrphanFilter, Page, RunLogEntry, RunRow } from "../types.js";
import { likePattern, pageOf, type StoreContext } from "./store-context.js";

const ORPHAN_ERROR_CODE = "orphaned";

function newRunRow(input: NewRun): RunsTable {
  return {
    id: input.id,
    task_id: input.taskId,
    app_id: input.appId,
    workflow_id: input.workflowId,
    end_user_id: input.endUserId ?? null,
    status: input.status ?? "running",
    inputs: toJson(input.inputs),
    outputs: null,
    error: null,
    error_code: null,
    response_mode: input.responseMode,
    triggered_from: input.triggeredFrom,
    owner: input.owner ?? null,
    idempotency_key: input.idempotencyKey ?? null,
    idempotency_body_hash: input.idempotencyBodyHash ?? null,
    total_tokens: 0,
    total_price: 0,
    currency: "USD",
    total_steps: 0,
    exceptions_count: 0,
    elapsed_ms: 0,
    created_at: input.createdAt,
    finished_at: null,
  };
}

export async function createRun(ctx: StoreContext, input: NewRun): Promise<RunRow> {
  const row = newRunRow(input);
  await ctx.db.insertInto("runs").values(row).execute();
  return mapRun(row);
}

export async function createRunIdempotent(
  ctx: StoreContext,
  input: NewRun & { idempotencyKey: string; idempotencyBodyHash: string },
  windowStart: number,
): Promise<IdempotentRunResult> {
  return ctx.db.transaction().execute(async (trx) => {
    await ctx.hooks.lockIdempotencyKey(trx, input.appId, input.idempotencyKey);
    const existing = await findByIdempotencyKey(trx, input.appId, input.idempotencyKey, windowStart);
    if (existing) return { run: existing, created: false };
    const row = newRunRow(input);
    await trx.insertInto("runs").values(row).execute();
    return { run: mapRun(row), created: true };
  });
}

export async function getRun(ctx: StoreContext, id: string): Promise<RunRow | undefined> {
  const row = await ctx.db.selectFrom("runs").selectAll().where("id", "=", id).executeTakeFirst();
  return row && mapRun(row);
}

export async function getRunByTaskId(ctx: StoreContext, taskId: string): Promise<RunRow | undefined> {
  const row = await ctx.db.selectFrom("runs").selectAll().where("task_id", "=", taskId).executeTakeFirst();
  return row && mapRun(row);
}

export function findRunByIdempotencyKey(
  ctx: StoreContext,
  appId: string,
  idempotencyKey: string,
  windowStart: number,
): Promise<RunRow | undefined> {
  return findByIdempotencyKey(ctx.db, appId, idempotencyKey, windowStart);
}

async function findByIdempotencyKey(
  db: StoreContext["db"],
  appId: string,
  key: string,
  windowStart: number,
): Promise<RunRow | undefined> {
  const row = await db
    .selectFrom("runs")
    .selectAll()
    .where("app_id", "=", appId)
    .where("idempotency_key", "=", key)
    .where("created_at", ">=", windowStart)
    .orderBy("created_at", "desc")
    .limit(1)
    .executeTakeFirst();
  return row && mapRun(row);
}

export async function countRunningRuns(ctx: StoreContext, appId: string): Promise<number> {
  const row = await ctx.db
    .selectFrom("runs")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("app_id", "=", appId)
    .where("status", "=", "running")
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function listRuns(ctx: StoreContext, query: ListRunsQuery = {}): Promise<Page<RunLogEntry>> {
  const { page, limit, offset } = pageOf(query);
  let base = ctx.db
    .selectFrom("runs")
    .leftJoin("end_users", "end_users.id", "runs.end_user_id")
    .leftJoin("workflow_versions", "workflow_versions.id", "runs.workflow_id");
  if (query.appId !== undefined) base = base.where("runs.app_id", "=", query.appId);
  if (query.status !== undefined) {
    const statuses = Array.isArray(query.status) ? query.status : [query.status];
    if (statuses.length > 0) base = base.where("runs.status", "in", statuses);
  }
  if (query.keyword) {
    const pattern = likePattern(query.keyword);
    const lower = ctx.hooks.lower;
    base = base.where((eb) =>
      eb.or([
        sql<boolean>`${lower(eb.ref("runs.inputs"))} like ${pattern} escape '\\'`,
        sql<boolean>`${lower(eb.ref("runs.outputs"))} like ${pattern} escape '\\'`,
        sql<boolean>`${lower(eb.ref("runs.error"))} like ${pattern} escape '\\'`,
      ]),
    );
  }
  if (query.createdBefore !== undefined) base = base.where("runs.created_at", "<=", query.createdBefore);
  if (query.createdAfter !== undefined) base = base.where("runs.created_at", ">=", query.createdAfter);
  if (query.endUserSessionId !== undefined) base = base.where("end_users.session_id", "=", query.endUserSessionId);

  const [rows, count] = await Promise.all([
    base
      .selectAll("runs")
      .select([
        "end_users.id as eu__id",
        "end_users.app_id as eu__app_id",
        "end_users.session_id as eu__session_id",
        "end_users.type as eu__type",
        "end_users.is_anonymous as eu__is_anonymous",
        "end_users.created_at as eu__created_at",
        "workflow_versions.version as workflow_version",
      ])
      .orderBy("runs.created_at", "desc")
      .orderBy("runs.id", "desc")
      .limit(limit)
      .offset(offset)
      .execute(),
    base.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
  ]);
  const total = Number(count.n);
  const items = rows.map(
    (r): RunLogEntry => ({
      run: mapRun(r),
      // Left join: all end-user columns are NOT NULL, so a null id means "no end user".
      endUser:
        r.eu__id === null
          ? null
          : mapEndUser({
              id: r.eu__id,
              app_id: r.eu__app_id ?? "",
              session_id: r.eu__session_id ?? "",
              type: r.eu__type ?? "",
              is_anonymous: r.eu__is_anonymous ?? 0,
              created_at: r.eu__created_at ?? 0,
            }),
      workflowVersion: r.workflow_version ?? null,
    }),
  );
  return { items, total, page, limit, hasMore: offset + items.length < total };
}

export async function failOrphanedRuns(ctx: StoreContext, filter: OrphanFilter, message: string): Promise<number> {
  const now = ctx.now();
  const matches = (eb: ExpressionBuilder<Database, "runs">) => {
    const conditions = [eb("runs.status", "=", "running")];
    if (filter.owners !== undefined) conditions.push(eb("runs.owner", "in", filter.owners));
    if (filter.exceptOwners !== undefined && filter.exceptOwners.length > 0) {
      conditions.push(eb.or([eb("runs.owner", "is", null), eb("runs.owner", "not in", filter.exceptOwners)]));
    }
    if (filter.createdBefore !== undefined) conditions.push(eb("runs.created_at", "<", filter.createdBefore));
    return eb.and(conditions);
  };
  // An empty owner list matches nothing (and `in ()` is not valid SQL).
  if (filter.owners !== undefined && filter.owners.length === 0) return 0;
  return ctx.db.transaction().execute(async (trx) => {
    // Node executions first: once their runs are failed the filter no longer finds them.
    await trx
      .updateTable("node_executions")
      .set({ status: "failed", error: message, error_type: ORPHAN_ERROR_CODE, finished_at: now })
      .where("status", "=", "running")
      .where("run_id", "in", (eb) => eb.selectFrom("runs").select("runs.id").where(matches))
      .execute();
    const result = await trx
      .updateTable("runs")
      .set((eb) => ({
        status: "failed",
        error: message,
        error_code: ORPHAN_ERROR_CODE,
        finished_at: now,
        elapsed_ms: eb(eb.val(now), "-", eb.ref("runs.created_at")),
      }))
      .where(matches)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  });
}
