/** Database rows (snake_case, JSON text, 0/1) to the rows of `types.ts`, and back. */
import type {
  AppApiKeysTable,
  AppsTable,
  EndUsersTable,
  NodeExecutionsTable,
  RunEventsTable,
  RunsTable,
  UploadedFilesTable,
  WorkflowVersionsTable,
} from "./db-schema.js";
import type {
  AppApiKeyRow,
  AppIcon,
  AppRow,
  EndUserRow,
  ExecutionMetadata,
  JsonObject,
  NodeExecutionRow,
  NodeExecutionUpsert,
  NodeStatus,
  ResponseMode,
  RunEventRow,
  RunRow,
  RunStatus,
  UploadedFileRow,
  WorkflowVersionRow,
} from "./types.js";

export function toJson(value: unknown): string {
  const text = JSON.stringify(value);
  // JSON.stringify(undefined) is undefined, which would become SQL NULL in a NOT NULL column.
  return text === undefined ? "null" : text;
}

export function toJsonOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : toJson(value);
}

// Values were written by `toJson`, so the shape is ours; parsing trusts it like any column type.
function parseJson<T>(text: string): T {
  return JSON.parse(text) as T;
}

function parseJsonOrNull<T>(text: string | null): T | null {
  return text === null ? null : parseJson<T>(text);
}

export function mapApp(r: AppsTable): AppRow {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    tags: parseJson<string[]>(r.tags),
    icon: parseJsonOrNull<AppIcon>(r.icon),
    images: parseJson<string[]>(r.images),
    enabled: r.enabled !== 0,
    maxConcurrency: r.max_concurrency,
    currentVersionId: r.current_version_id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    deletedAt: r.deleted_at,
  };
}

export function mapWorkflowVersion(r: WorkflowVersionsTable): WorkflowVersionRow {
  return {
    id: r.id,
    appId: r.app_id,
    version: r.version,
    dsl: parseJson<JsonObject>(r.dsl),
    sourceText: r.source_text,
    sourceFormat: r.source_format,
    createdAt: r.created_at,
  };
}

export function mapApiKey(r: AppApiKeysTable): AppApiKeyRow {
  return {
    id: r.id,
    appId: r.app_id,
    keyHash: r.key_hash,
    prefix: r.prefix,
    name: r.name,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
  };
}

export function mapEndUser(r: EndUsersTable): EndUserRow {
  return {
    id: r.id,
    appId: r.app_id,
    sessionId: r.session_id,
    type: r.type,
    isAnonymous: r.is_anonymous !== 0,
    createdAt: r.created_at,
  };
}

export function mapRun(r: RunsTable): RunRow {
  return {
    id: r.id,
    taskId: r.task_id,
    appId: r.app_id,
    workflowId: r.workflow_id,
    endUserId: r.end_user_id,
    status: r.status as RunStatus,
    inputs: parseJson<JsonObject>(r.inputs),
    outputs: parseJsonOrNull<JsonObject>(r.outputs),
    error: r.error,
    errorCode: r.error_code,
    responseMode: r.response_mode as ResponseMode,
    triggeredFrom: r.triggered_from,
    owner: r.owner,
    idempotencyKey: r.idempotency_key,
    idempotencyBodyHash: r.idempotency_body_hash,
    totalTokens: r.total_tokens,
    totalPrice: r.total_price,
    currency: r.currency,
    totalSteps: r.total_steps,
    exceptionsCount: r.exceptions_count,
    elapsedMs: r.elapsed_ms,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
  };
}

export function mapRunEvent(r: RunEventsTable): RunEventRow {
  return { runId: r.run_id, seq: r.seq, type: r.type, payload: parseJson<unknown>(r.payload), createdAt: r.created_at };
}

export function mapNodeExecution(r: NodeExecutionsTable): NodeExecutionRow {
  return {
    id: r.id,
    runId: r.run_id,
    nodeId: r.node_id,
    nodeType: r.node_type,
    title: r.title,
    index: r.execution_index,
    predecessorNodeId: r.predecessor_node_id,
    iterationId: r.iteration_id,
    iterationIndex: r.iteration_index,
    loopId: r.loop_id,
    loopIndex: r.loop_index,
    status: r.status as NodeStatus,
    inputs: parseJsonOrNull<JsonObject>(r.inputs),
    processData: parseJsonOrNull<JsonObject>(r.process_data),
    outputs: parseJsonOrNull<JsonObject>(r.outputs),
    error: r.error,
    errorType: r.error_type,
    retryCount: r.retry_count,
    elapsedMs: r.elapsed_ms,
    metadata: parseJsonOrNull<ExecutionMetadata>(r.metadata),
    createdAt: r.created_at,
    finishedAt: r.finished_at,
  };
}

export function nodeExecutionToDb(runId: string, n: NodeExecutionUpsert): NodeExecutionsTable {
  return {
    run_id: runId,
    id: n.id,
    node_id: n.nodeId,
    node_type: n.nodeType,
    title: n.title,
    execution_index: n.index,
    predecessor_node_id: n.predecessorNodeId ?? null,
    iteration_id: n.iterationId ?? null,
    iteration_index: n.iterationIndex ?? null,
    loop_id: n.loopId ?? null,
    loop_index: n.loopIndex ?? null,
    status: n.status,
    inputs: toJsonOrNull(n.inputs),
    process_data: toJsonOrNull(n.processData),
    outputs: toJsonOrNull(n.outputs),
    error: n.error ?? null,
    error_type: n.errorType ?? null,
    retry_count: n.retryCount ?? 0,
    elapsed_ms: n.elapsedMs ?? null,
    metadata: toJsonOrNull(n.metadata),
    created_at: n.createdAt,
    finished_at: n.finishedAt ?? null,
  };
}

export function mapFile(r: UploadedFilesTable): UploadedFileRow {
  return {
    id: r.id,
    appId: r.app_id,
    endUserId: r.end_user_id,
    name: r.name,
    size: r.size,
    extension: r.extension,
    mimeType: r.mime_type,
    storageKey: r.storage_key,
    createdAt: r.created_at,
  };
}
