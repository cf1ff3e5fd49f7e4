/** A run's step bursts: events appended and node executions upserted in one transaction. */
import type { Transaction } from "kysely";
import type { Database, RunsTable } from "../db-schema.js";
import { mapNodeExecution, mapRunEvent, nodeExecutionToDb, toJson, toJsonOrNull } from "../row-mappers.js";
import type { ListRunEventsOptions, NodeExecutionRow, NodeExecutionUpsert, RunBatch, RunEventRow, RunPatch } from "../types.js";
import type { StoreContext } from "./store-context.js";

// Keeps every multi-row statement far below SQLite's 32766 and PostgreSQL's 65535 bound
// parameters (5 columns per event, 22 per node execution).
const EVENT_CHUNK = 500;
const NODE_CHUNK = 200;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Later upserts of the same execution win; PostgreSQL refuses one statement touching a row twice. */
function lastPerExecution(upserts: readonly NodeExecutionUpsert[]): NodeExecutionUpsert[] {
  const byId = new Map<string, NodeExecutionUpsert>();
  for (const u of upserts) {
    byId.delete(u.id);
    byId.set(u.id, u);
  }
  return [...byId.values()];
}

function runPatchToDb(patch: RunPatch): Partial<RunsTable> {
  const set: Partial<RunsTable> = {};
  if (patch.status !== undefined) set.status = patch.status;
  if (patch.outputs !== undefined) set.outputs = toJsonOrNull(patch.outputs);
  if (patch.error !== undefined) set.error = patch.error;
  if (patch.errorCode !== undefined) set.error_code = patch.errorCode;
  if (patch.totalTokens !== undefined) set.total_tokens = patch.totalTokens;
  if (patch.totalPrice !== undefined) set.total_price = patch.totalPrice;
  if (patch.currency !== undefined) set.currency = patch.currency;
  if (patch.totalSteps !== undefined) set.total_steps = patch.totalSteps;
  if (patch.exceptionsCount !== undefined) set.exceptions_count = patch.exceptionsCount;
  if (patch.elapsedMs !== undefined) set.elapsed_ms = patch.elapsedMs;
  if (patch.finishedAt !== undefined) set.finished_at = patch.finishedAt;
  if (patch.owner !== undefined) set.owner = patch.owner;
  return set;
}

/** The batch's statements, with the run patch already mapped (callers skip empty batches). */
async function writeBatchIn(trx: Transaction<Database>, batch: RunBatch, patch: Partial<RunsTable>): Promise<void> {
  for (const part of chunks(batch.events, EVENT_CHUNK)) {
    await trx
      .insertInto("run_events")
      .values(
        part.map((e) => ({
          run_id: batch.runId,
          seq: e.seq,
          type: e.type,
          payload: toJson(e.payload),
          created_at: e.createdAt,
        })),
      )
      .execute();
  }
  for (const part of chunks(lastPerExecution(batch.nodeExecutions), NODE_CHUNK)) {
    await trx
      .insertInto("node_executions")
      .values(part.map((n) => nodeExecutionToDb(batch.runId, n)))
      .onConflict((oc) =>
        oc.columns(["run_id", "id"]).doUpdateSet((eb) => ({
          node_id: eb.ref("excluded.node_id"),
          node_type: eb.ref("excluded.node_type"),
          title: eb.ref("excluded.title"),
          execution_index: eb.ref("excluded.execution_index"),
          predecessor_node_id: eb.ref("excluded.predecessor_node_id"),
          iteration_id: eb.ref("excluded.iteration_id"),
          iteration_index: eb.ref("excluded.iteration_index"),
          loop_id: eb.ref("excluded.loop_id"),
          loop_index: eb.ref("excluded.loop_index"),
          status: eb.ref("excluded.status"),
          inputs: eb.ref("excluded.inputs"),
          process_data: eb.ref("excluded.process_data"),
          outputs: eb.ref("excluded.outputs"),
          error: eb.ref("excluded.error"),
          error_type: eb.ref("excluded.error_type"),
          retry_count: eb.ref("excluded.retry_count"),
          elapsed_ms: eb.ref("excluded.elapsed_ms"),
          metadata: eb.ref("excluded.metadata"),
          finished_at: eb.ref("excluded.finished_at"),
        })),
      )
      .execute();
  }
  if (Object.keys(patch).length > 0) {
    const result = await trx.updateTable("runs").set(patch).where("id", "=", batch.runId).executeTakeFirst();
    if (result.numUpdatedRows === 0n) throw new Error("the run does not exist; create it with createRun first");
  }
}

/** A batch with nothing to write is skipped, not sent: it must not fail (even for an unknown run). */
function nonEmpty(batch: RunBatch): { batch: RunBatch; patch: Partial<RunsTable> } | undefined {
  const patch = batch.runPatch ? runPatchToDb(batch.runPatch) : {};
  if (batch.events.length === 0 && batch.nodeExecutions.length === 0 && Object.keys(patch).length === 0) return undefined;
  return { batch, patch };
}

export async function writeRunBatch(ctx: StoreContext, batch: RunBatch): Promise<void> {
  const work = nonEmpty(batch);
  if (!work) return;
  try {
    await ctx.db.transaction().execute((trx) => writeBatchIn(trx, work.batch, work.patch));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `Writing ${batch.events.length} event(s) and ${batch.nodeExecutions.length} node execution(s) for run ` +
        `${batch.runId} failed, nothing was written: ${reason}`,
      { cause: error },
    );
  }
}

export async function writeRunBatches(ctx: StoreContext, batches: readonly RunBatch[]): Promise<void> {
  const work = batches.map(nonEmpty).filter((w) => w !== undefined);
  if (work.length === 0) return;
  let current: RunBatch | undefined;
  try {
    // One transaction, hence one commit (one fsync on SQLite) for all of them; in the given
    // order, so two batches of one run land as they would one after the other.
    await ctx.db.transaction().execute(async (trx) => {
      for (const w of work) {
        current = w.batch;
        await writeBatchIn(trx, w.batch, w.patch);
      }
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `Writing ${work.length} run batch(es) together failed at run ${current?.runId ?? "(before the first)"}, ` +
        `nothing was written: ${reason}`,
      { cause: error },
    );
  }
}

export async function listRunEvents(
  ctx: StoreContext,
  runId: string,
  options: ListRunEventsOptions = {},
): Promise<RunEventRow[]> {
  let q = ctx.db.selectFrom("run_events").selectAll().where("run_id", "=", runId);
  if (options.afterSeq !== undefined) q = q.where("seq", ">", options.afterSeq);
  q = q.orderBy("seq", "asc");
  if (options.limit !== undefined) q = q.limit(Math.max(1, Math.floor(options.limit)));
  const rows = await q.execute();
  return rows.map(mapRunEvent);
}

export async function listNodeExecutions(ctx: StoreContext, runId: string): Promise<NodeExecutionRow[]> {
  const rows = await ctx.db
    .selectFrom("node_executions")
    .selectAll()
    .where("run_id", "=", runId)
    .orderBy("execution_index", "asc")
    .orderBy("created_at", "asc")
    .execute();
  return rows.map(mapNodeExecution);
}
