import type { EngineEvent, NodeExecutionRef } from "@tributary/engine";
import type { NodeExecutionUpsert } from "../store/types.js";

export interface RunningExecution {
  ref: NodeExecutionRef;
  row: NodeExecutionUpsert;
}

/**
 * Folds engine events into node execution rows (the store upserts full rows, so every update
 * carries the execution's whole state) and keeps the run's running totals, which a run ended
 * without the engine's own `workflow_finished` (forced stop, store failure) reports.
 */
export class NodeExecutionTracker {
  readonly #running = new Map<string, RunningExecution>();
  steps = 0;
  totalTokens = 0;
  totalPrice = 0;
  currency = "USD";
  exceptionsCount = 0;

  /** The execution's new full state when `event` changes one, else undefined. */
  apply(event: EngineEvent): NodeExecutionUpsert | undefined {
    switch (event.type) {
      case "node_started": {
        this.steps++;
        const row: NodeExecutionUpsert = { ...refColumns(event.execution), status: "running", retryCount: 0 };
        this.#running.set(event.execution.id, { ref: event.execution, row });
        return { ...row };
      }
      case "node_retry": {
        const current = this.#running.get(event.execution.id);
        const row: NodeExecutionUpsert = {
          ...(current?.row ?? { ...refColumns(event.execution), status: "running" }),
          retryCount: event.retryIndex,
          // Shows why the node is being retried while it still runs; node_finished replaces it.
          error: event.error,
          ...(event.inputs ? { inputs: event.inputs } : {}),
        };
        this.#running.set(event.execution.id, { ref: event.execution, row });
        return { ...row };
      }
      case "node_finished": {
        const current = this.#running.get(event.execution.id);
        this.#running.delete(event.execution.id);
        const container = event.execution.nodeType === "iteration" || event.execution.nodeType === "loop";
        // A container's metadata sums its children's usage, which is already counted.
        if (!container) {
          this.totalTokens += event.metadata.totalTokens;
          this.totalPrice += event.metadata.totalPrice;
          if (event.metadata.totalTokens > 0) this.currency = event.metadata.currency;
        }
        if (event.status === "exception") this.exceptionsCount++;
        return {
          ...refColumns(event.execution),
          status: event.status,
          inputs: event.inputs,
          processData: event.processData,
          outputs: event.outputs,
          error: event.error,
          errorType: event.errorType,
          retryCount: current?.row.retryCount ?? 0,
          elapsedMs: event.elapsedMs,
          metadata: event.metadata,
          finishedAt: event.finishedAt,
        };
      }
      default:
        return undefined;
    }
  }

  /** Executions started and not finished, oldest first. */
  running(): RunningExecution[] {
    return [...this.#running.values()];
  }
}

function refColumns(ref: NodeExecutionRef): Omit<NodeExecutionUpsert, "status"> {
  return {
    id: ref.id,
    nodeId: ref.nodeId,
    nodeType: ref.nodeType,
    title: ref.title,
    index: ref.index,
    predecessorNodeId: ref.predecessorNodeId,
    iterationId: ref.iterationId,
    iterationIndex: ref.iterationIndex,
    loopId: ref.loopId,
    loopIndex: ref.loopIndex,
    createdAt: ref.createdAt,
  };
}
