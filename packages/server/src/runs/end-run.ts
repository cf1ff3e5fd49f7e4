import type { NodeExecutionRef, NodeFinishedEvent, WorkflowFinishedEvent } from "@tributary/engine";
import type { NodeExecutionRow, NodeExecutionUpsert, RunBatch, RunRow, Store } from "../store/types.js";
import { patchOf, type RunTotals, syntheticFinished, syntheticNodeFinished } from "./synthetic-events.js";
import type { SequencedEvent } from "./types.js";

/** The highest event seq stored for a run (0 when none). Pages through: only used on rare recovery paths. */
export async function lastStoredSeq(store: Store, runId: string, pageSize = 1000): Promise<number> {
  let last = 0;
  for (;;) {
    const page = await store.listRunEvents(runId, { afterSeq: last, limit: pageSize });
    const tail = page[page.length - 1];
    if (!tail) return last;
    last = tail.seq;
    if (page.length < pageSize) return last;
  }
}

export interface EndRunOptions {
  status: "stopped" | "failed";
  error: string;
  errorCode: string;
  /** The events get seq `afterSeq + 1` onwards (the run's last seq anywhere: store or live stream). */
  afterSeq: number;
  now: number;
  /**
   * true: also write `workflow_finished` and the terminal run columns. false: only close the
   * node executions left running (a run about to be retried from the start).
   */
  final: boolean;
}

export interface EndedRun {
  /** What was written, in seq order (node_finished for each node left running, then workflow_finished if `final`). */
  events: SequencedEvent[];
  final: WorkflowFinishedEvent | undefined;
}

/**
 * Ends a run that no engine is executing any more — its worker died, or it was stopped before
 * a worker took it — from what the store holds: every node execution still `running` gets a
 * `node_finished` with the reason, then (if `final`) the run gets its `workflow_finished`, all in
 * one transaction. Throws when the store refuses (e.g. another process ended the run with the
 * same seq first: unique per run, so the run is ended once).
 */
export async function endRunOutsideEngine(store: Store, run: RunRow, options: EndRunOptions): Promise<EndedRun> {
  const rows = await store.listNodeExecutions(run.id);
  let seq = options.afterSeq;
  const events: SequencedEvent[] = [];
  const nodes: NodeExecutionUpsert[] = [];
  const totals: RunTotals = { totalTokens: 0, totalPrice: 0, currency: "USD", totalSteps: rows.length, exceptionsCount: 0 };
  for (const row of rows) {
    const container = row.nodeType === "iteration" || row.nodeType === "loop";
    // A container's metadata sums its children's usage, which is already counted.
    if (!container && row.metadata) {
      totals.totalTokens += row.metadata.totalTokens;
      totals.totalPrice += row.metadata.totalPrice;
      if (row.metadata.totalTokens > 0) totals.currency = row.metadata.currency;
    }
    if (row.status === "exception") totals.exceptionsCount++;
    if (row.status !== "running") continue;
    const finished: NodeFinishedEvent = syntheticNodeFinished(
      run.id,
      refOf(row),
      row.inputs,
      options.status,
      options.error,
      options.now,
    );
    events.push({ seq: ++seq, event: finished });
    nodes.push(upsertOf(row, finished));
  }
  const final = options.final
    ? syntheticFinished(run, totals, options.status, options.error, options.errorCode, options.now)
    : undefined;
  if (final) events.push({ seq: ++seq, event: final });
  const batch: RunBatch = {
    runId: run.id,
    events: events.map((e) => ({ seq: e.seq, type: e.event.type, payload: e.event, createdAt: options.now })),
    nodeExecutions: nodes,
  };
  if (final) batch.runPatch = patchOf(final);
  if (batch.events.length > 0 || batch.runPatch) await store.writeRunBatch(batch);
  return { events, final };
}

function refOf(row: NodeExecutionRow): NodeExecutionRef {
  return {
    id: row.id,
    nodeId: row.nodeId,
    nodeType: row.nodeType,
    title: row.title,
    index: row.index,
    predecessorNodeId: row.predecessorNodeId,
    iterationId: row.iterationId,
    iterationIndex: row.iterationIndex,
    loopId: row.loopId,
    loopIndex: row.loopIndex,
    createdAt: row.createdAt,
  };
}

function upsertOf(row: NodeExecutionRow, finished: NodeFinishedEvent): NodeExecutionUpsert {
  const { runId: _runId, ...columns } = row;
  return {
    ...columns,
    status: finished.status,
    error: finished.error,
    elapsedMs: finished.elapsedMs,
    finishedAt: finished.finishedAt,
  };
}
