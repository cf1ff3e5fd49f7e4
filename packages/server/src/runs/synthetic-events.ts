import {
  emptyMetadata,
  type NodeExecutionRef,
  type NodeFinishedEvent,
  type RunStatus,
  type WorkflowFinishedEvent,
} from "@tributary/engine";
import type { RunPatch, RunRow } from "../store/types.js";

/** What a run has consumed so far, for a `workflow_finished` written without the engine. */
export interface RunTotals {
  totalTokens: number;
  totalPrice: number;
  currency: string;
  totalSteps: number;
  exceptionsCount: number;
}

/** A node still running when its run is ended without the engine (forced stop, lost worker, store failure). */
export function syntheticNodeFinished(
  runId: string,
  ref: NodeExecutionRef,
  inputs: Record<string, unknown> | null,
  status: "stopped" | "failed",
  error: string,
  now: number,
): NodeFinishedEvent {
  return {
    type: "node_finished",
    runId,
    execution: ref,
    status,
    inputs,
    processData: null,
    outputs: null,
    error: status === "stopped" ? "The run was stopped." : error,
    errorType: null,
    elapsedMs: Math.max(0, now - ref.createdAt),
    metadata: emptyMetadata(),
    finishedAt: now,
  };
}

/** The `workflow_finished` of a run ended without the engine's own. */
export function syntheticFinished(
  run: Pick<RunRow, "id" | "workflowId" | "createdAt">,
  totals: RunTotals,
  status: Exclude<RunStatus, "running">,
  error: string,
  errorCode: string,
  now: number,
): WorkflowFinishedEvent {
  return {
    type: "workflow_finished",
    runId: run.id,
    workflowId: run.workflowId,
    status,
    outputs: {},
    error,
    errorCode,
    elapsedMs: Math.max(0, now - run.createdAt),
    totalTokens: totals.totalTokens,
    totalPrice: totals.totalPrice,
    currency: totals.currency,
    totalSteps: totals.totalSteps,
    exceptionsCount: totals.exceptionsCount,
    createdAt: run.createdAt,
    finishedAt: now,
  };
}

/** The run row's terminal columns, from its `workflow_finished`. */
export function patchOf(event: WorkflowFinishedEvent): RunPatch {
  return {
    status: event.status,
    outputs: event.outputs,
    error: event.error,
    errorCode: event.errorCode,
    totalTokens: event.totalTokens,
    totalPrice: event.totalPrice,
    currency: event.currency,
    totalSteps: event.totalSteps,
    exceptionsCount: event.exceptionsCount,
    elapsedMs: event.elapsedMs,
    finishedAt: event.finishedAt,
  };
}
