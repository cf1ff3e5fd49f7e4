/**
 * Dify wire shapes built from Tributary's rows and engine events: snake_case fields, times in
 * Unix seconds, durations in seconds. Pure functions; the routes decide what to send when.
 */
import {
  type EngineEvent,
  type ExecutionMetadata,
  isFileValue,
  type NodeExecutionRef,
  type WorkflowFinishedEvent,
} from "@tributary/engine";
import type { EndUserRow, NodeExecutionRow, RunLogEntry, RunRow, UploadedFileRow } from "../store/types.js";

/** Epoch ms → Unix seconds (Dify truncates, like `int(datetime.timestamp())`). */
export const unixSeconds = (ms: number): number => Math.floor(ms / 1000);
export const unixSecondsOrNull = (ms: number | null): number | null => (ms === null ? null : unixSeconds(ms));
export const seconds = (ms: number): number => ms / 1000;

export interface FrameContext {
  taskId: string;
  runId: string;
  /** `created_by` of `workflow_finished` (Dify: `{id, user}` of the end user). */
  createdBy: Record<string, unknown>;
}

export type DifyFrame = Record<string, unknown> & { event: string };

/** File values among a node's or run's outputs (Dify lists them as `files`). */
export function filesIn(outputs: Record<string, unknown> | null | undefined): Record<string, unknown>[] {
  const files: Record<string, unknown>[] = [];
  for (const value of Object.values(outputs ?? {})) {
    if (isFileValue(value)) files.push(value as unknown as Record<string, unknown>);
    else if (Array.isArray(value))
      for (const item of value) if (isFileValue(item)) files.push(item as unknown as Record<string, unknown>);
  }
  return files;
}

export function executionMetadata(
  metadata: ExecutionMetadata | null | undefined,
  ref?: Pick<NodeExecutionRef, "iterationId" | "iterationIndex" | "loopId" | "loopIndex">,
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    total_tokens: metadata?.totalTokens ?? 0,
    total_price: metadata?.totalPrice ?? 0,
    currency: metadata?.currency ?? "USD",
  };
  if (metadata && (metadata.promptTokens || metadata.completionTokens)) {
    out["prompt_tokens"] = metadata.promptTokens;
    out["completion_tokens"] = metadata.completionTokens;
  }
  if (ref?.iterationId) {
    out["iteration_id"] = ref.iterationId;
    out["iteration_index"] = ref.iterationIndex;
  }
  if (ref?.loopId) {
    out["loop_id"] = ref.loopId;
    out["loop_index"] = ref.loopIndex;
  }
  for (const [k, v] of Object.entries(metadata?.extra ?? {})) if (!(k in out)) out[k] = v;
  return out;
}

function nodeIdentity(x: NodeExecutionRef): Record<string, unknown> {
  return {
    id: x.id,
    node_id: x.nodeId,
    node_type: x.nodeType,
    title: x.title,
    index: x.index,
    predecessor_node_id: x.predecessorNodeId,
  };
}

/** `data` of `workflow_finished`, the blocking response and a resumed finished run. */
export function finishedData(
  run: Pick<
    RunRow,
    | "id"
    | "workflowId"
    | "status"
    | "outputs"
    | "error"
    | "elapsedMs"
    | "totalTokens"
    | "totalSteps"
    | "exceptionsCount"
    | "createdAt"
    | "finishedAt"
  >,
): Record<string, unknown> {
  return {
    id: run.id,
    workflow_id: run.workflowId,
    status: run.status,
    outputs: run.outputs ?? {},
    error: run.error,
    elapsed_time: seconds(run.elapsedMs),
    total_tokens: run.totalTokens,
    total_steps: run.totalSteps,
    created_at: unixSeconds(run.createdAt),
    finished_at: unixSecondsOrNull(run.finishedAt),
  };
}

export function workflowFinishedFrame(event: Omit<WorkflowFinishedEvent, "type"> | RunRow, ctx: FrameContext): DifyFrame {
  const run: RunRow | null = "taskId" in event ? event : null;
  const e = event as Omit<WorkflowFinishedEvent, "type">;
  const base = run
    ? finishedData(run)
    : finishedData({
        id: e.runId,
        workflowId: e.workflowId,
        status: e.status,
        outputs: e.outputs,
        error: e.error,
        elapsedMs: e.elapsedMs,
        totalTokens: e.totalTokens,
        totalSteps: e.totalSteps,
        exceptionsCount: e.exceptionsCount,
        createdAt: e.createdAt,
        finishedAt: e.finishedAt,
      });
  return {
    event: "workflow_finished",
    task_id: ctx.taskId,
    workflow_run_id: ctx.runId,
    data: {
      ...base,
      created_by: ctx.createdBy,
      exceptions_count: run ? run.exceptionsCount : e.exceptionsCount,
      files: filesIn((run ? run.outputs : e.outputs) ?? {}),
    },
  };
}

/** The Dify stream frame for an engine event. */
export function eventToFrame(event: EngineEvent, ctx: FrameContext): DifyFrame {
  const head = { task_id: ctx.taskId, workflow_run_id: ctx.runId };
  switch (event.type) {
    case "workflow_started":
      return {
        event: "workflow_started",
        ...head,
        data: {
          id: event.runId,
          workflow_id: event.workflowId,
          inputs: event.inputs,
          created_at: unixSeconds(event.createdAt),
        },
      };
    case "node_started": {
      const x = event.execution;
      return {
        event: "node_started",
        ...head,
        data: {
          ...nodeIdentity(x),
          inputs: null,
          inputs_truncated: false,
          created_at: unixSeconds(x.createdAt),
          extras: {},
          iteration_id: x.iterationId,
          loop_id: x.loopId,
        },
      };
    }
    case "text_chunk":
      return {
        event: "text_chunk",
        ...head,
        data: { text: event.text, from_variable_selector: [...event.fromVariableSelector] },
      };
    case "node_retry": {
      const x = event.execution;
      return {
        event: "node_retry",
        ...head,
        data: {
          ...nodeIdentity(x),
          inputs: event.inputs,
          inputs_truncated: false,
          process_data: null,
          process_data_truncated: false,
          outputs: null,
          outputs_truncated: false,
          status: "retry",
          error: event.error,
          elapsed_time: seconds(event.elapsedMs),
          execution_metadata: executionMetadata(null, x),
          created_at: unixSeconds(x.createdAt),
          finished_at: unixSeconds(event.createdAt),
          files: [],
          iteration_id: x.iterationId,
          loop_id: x.loopId,
          retry_index: event.retryIndex,
        },
      };
    }
    case "node_finished": {
      const x = event.execution;
      return {
        event: "node_finished",
        ...head,
        data: {
          ...nodeIdentity(x),
          inputs: event.inputs,
          inputs_truncated: false,
          process_data: event.processData,
          process_data_truncated: false,
          outputs: event.outputs,
          outputs_truncated: false,
          status: event.status,
          error: event.error,
          elapsed_time: seconds(event.elapsedMs),
          execution_metadata: executionMetadata(event.metadata, x),
          created_at: unixSeconds(x.createdAt),
          finished_at: unixSeconds(event.finishedAt),
          files: filesIn(event.outputs),
          iteration_id: x.iterationId,
          loop_id: x.loopId,
        },
      };
    }
    case "iteration_started":
    case "loop_started": {
      const x = event.execution;
      return {
        event: event.type,
        ...head,
        data: {
          id: x.id,
          node_id: x.nodeId,
          node_type: x.nodeType,
          title: x.title,
          created_at: unixSeconds(event.createdAt),
          extras: {},
          metadata: event.metadata,
          inputs: event.inputs,
          inputs_truncated: false,
        },
      };
    }
    case "iteration_next":
    case "loop_next": {
      const x = event.execution;
      return {
        event: event.type,
        ...head,
        data: {
          id: x.id,
          node_id: x.nodeId,
          node_type: x.nodeType,
          title: x.title,
          index: event.index,
          created_at: unixSeconds(event.createdAt),
          [event.type === "iteration_next" ? "pre_iteration_output" : "pre_loop_output"]: event.preOutput,
          extras: {},
        },
      };
    }
    case "iteration_completed":
    case "loop_completed": {
      const x = event.execution;
      return {
        event: event.type,
        ...head,
        data: {
          id: x.id,
          node_id: x.nodeId,
          node_type: x.nodeType,
          title: x.title,
          outputs: event.outputs,
          outputs_truncated: false,
          created_at: unixSeconds(event.createdAt),
          extras: {},
          inputs: event.inputs,
          inputs_truncated: false,
          status: event.status,
          error: event.error,
          elapsed_time: seconds(event.elapsedMs),
          total_tokens: event.metadata.totalTokens,
          execution_metadata: executionMetadata(event.metadata),
          finished_at: unixSeconds(event.finishedAt),
          steps: event.steps,
        },
      };
    }
    case "workflow_finished":
      return workflowFinishedFrame(event, ctx);
  }
}

/** Stream-level failure (not a node failure): Dify's `error` frame, after which the stream ends. */
export function errorFrame(runId: string, status: number, code: string, message: string): DifyFrame {
  return { event: "error", workflow_run_id: runId, status, code, message };
}

export function createdByOf(endUser: EndUserRow | undefined | null): Record<string, unknown> {
  return endUser ? { id: endUser.id, user: endUser.sessionId } : {};
}

/** `GET /workflows/run/{id}`. */
export function runDetail(run: RunRow): Record<string, unknown> {
  return {
    id: run.id,
    workflow_id: run.workflowId,
    status: run.status,
    // Dify stores run inputs as a JSON text column and returns it as such.
    inputs: JSON.stringify(run.inputs),
    outputs: run.status === "running" ? {} : (run.outputs ?? {}),
    error: run.error,
    total_steps: run.totalSteps,
    total_tokens: run.totalTokens,
    created_at: unixSeconds(run.createdAt),
    finished_at: unixSecondsOrNull(run.finishedAt),
    elapsed_time: seconds(run.elapsedMs),
  };
}

/** One row of `GET /workflows/logs`. */
export function logEntry(entry: RunLogEntry): Record<string, unknown> {
  const { run, endUser } = entry;
  return {
    id: run.id,
    workflow_run: {
      id: run.id,
      version: entry.workflowVersion === null ? null : String(entry.workflowVersion),
      status: run.status,
      error: run.error,
      elapsed_time: seconds(run.elapsedMs),
      total_tokens: run.totalTokens,
      total_steps: run.totalSteps,
      created_at: unixSeconds(run.createdAt),
      finished_at: unixSecondsOrNull(run.finishedAt),
      exceptions_count: run.exceptionsCount,
      triggered_from: run.triggeredFrom,
    },
    details: null,
    created_from: "service-api",
    created_by_role: "end_user",
    created_by_account: null,
    created_by_end_user: endUser
      ? { id: endUser.id, type: endUser.type, is_anonymous: endUser.isAnonymous, session_id: endUser.sessionId }
      : null,
    created_at: unixSeconds(run.createdAt),
  };
}

/** Beyond Dify: one stored node execution, in the `node_finished` data shape. */
export function nodeExecution(x: NodeExecutionRow): Record<string, unknown> {
  return {
    id: x.id,
    node_id: x.nodeId,
    node_type: x.nodeType,
    title: x.title,
    index: x.index,
    predecessor_node_id: x.predecessorNodeId,
    inputs: x.inputs,
    process_data: x.processData,
    outputs: x.outputs,
    status: x.status,
    error: x.error,
    error_type: x.errorType,
    retry_count: x.retryCount,
    elapsed_time: x.elapsedMs === null ? null : seconds(x.elapsedMs),
    execution_metadata: executionMetadata(x.metadata, x),
    iteration_id: x.iterationId,
    iteration_index: x.iterationIndex,
    loop_id: x.loopId,
    loop_index: x.loopIndex,
    created_at: unixSeconds(x.createdAt),
    finished_at: unixSecondsOrNull(x.finishedAt),
    files: filesIn(x.outputs),
  };
}

/** `POST /files/upload` response (Dify FileResponse). */
export function fileResponse(row: UploadedFileRow, sourceUrl: string): Record<string, unknown> {
  return {
    id: row.id,
    name: row.name,
    size: row.size,
    extension: row.extension,
    mime_type: row.mimeType,
    created_by: row.endUserId,
    created_at: unixSeconds(row.createdAt),
    preview_url: null,
    source_url: sourceUrl,
    original_url: null,
    user_id: null,
    tenant_id: null,
    conversation_id: null,
    file_key: null,
  };
}

export function endUserDetail(user: EndUserRow): Record<string, unknown> {
  const created = new Date(user.createdAt).toISOString();
  return {
    id: user.id,
    tenant_id: null,
    app_id: user.appId,
    type: user.type,
    external_user_id: user.sessionId,
    name: null,
    is_anonymous: user.isAnonymous,
    session_id: user.sessionId,
    created_at: created,
    updated_at: created,
  };
}
