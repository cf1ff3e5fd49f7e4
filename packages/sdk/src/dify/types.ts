/**
 * Wire shapes of Dify's Workflow App API as Tributary sends them: snake_case fields, times in
 * Unix seconds, durations in seconds. The SDK hands them over unchanged, so Dify's docs apply.
 */

export type JsonObject = Record<string, unknown>;

/** A run's status. */
export type RunStatus = "running" | "succeeded" | "failed" | "stopped" | "partial-succeeded";

/** A node execution's status (`exception`: failed, but handled by an error strategy). */
export type NodeStatus = "running" | "succeeded" | "failed" | "exception" | "stopped" | "retry";

export type FileType = "image" | "document" | "audio" | "video" | "custom";

/** A file passed as an input value or in `files` (`sys.files`). */
export type FileInput =
  | { type: FileType; transfer_method: "local_file"; upload_file_id: string }
  | { type: FileType; transfer_method: "remote_url"; url: string };

/** A file among a node's or run's outputs. */
export interface FileValue {
  dify_model_identity?: string;
  id?: string | null;
  type: FileType;
  transfer_method: string;
  filename?: string | null;
  extension?: string | null;
  mime_type?: string | null;
  size?: number;
  /** A signed download URL, valid for a few minutes. */
  url?: string | null;
  [field: string]: unknown;
}

export interface ExecutionMetadata {
  total_tokens: number;
  total_price: number;
  currency: string;
  prompt_tokens?: number;
  completion_tokens?: number;
  iteration_id?: string;
  iteration_index?: number;
  loop_id?: string;
  loop_index?: number;
  [field: string]: unknown;
}

/** `data` of a blocking run's answer (and the core of `workflow_finished`). */
export interface RunResultData {
  id: string;
  workflow_id: string;
  status: RunStatus;
  outputs: JsonObject;
  error: string | null;
  /** Seconds. */
  elapsed_time: number;
  total_tokens: number;
  total_steps: number;
  created_at: number;
  finished_at: number | null;
}

/** The answer of a blocking run. */
export interface BlockingRunResponse {
  task_id: string;
  workflow_run_id: string;
  data: RunResultData;
}

/** The answer of an async run (HTTP 202): poll with `getRun` or `waitForRun`. */
export interface AsyncRunResponse {
  task_id: string;
  workflow_run_id: string;
}

/** `GET /workflows/run/{id}`. */
export interface RunDetail {
  id: string;
  workflow_id: string;
  status: RunStatus;
  /** The run's inputs as JSON text (with the `sys.*` values), as Dify returns them. */
  inputs: string;
  /** `{}` until the run has finished. */
  outputs: JsonObject;
  error: string | null;
  total_steps: number;
  total_tokens: number;
  created_at: number;
  finished_at: number | null;
  elapsed_time: number;
}

/** One stored node execution (Tributary extension: `GET /workflows/run/{id}/node-executions`). */
export interface NodeExecution {
  id: string;
  node_id: string;
  node_type: string;
  title: string;
  index: number;
  predecessor_node_id: string | null;
  inputs: JsonObject | null;
  process_data: JsonObject | null;
  outputs: JsonObject | null;
  status: NodeStatus;
  error: string | null;
  error_type?: string | null;
  retry_count?: number;
  elapsed_time: number | null;
  execution_metadata: ExecutionMetadata;
  iteration_id?: string | null;
  iteration_index?: number | null;
  loop_id?: string | null;
  loop_index?: number | null;
  created_at: number;
  finished_at: number | null;
  files?: FileValue[];
}

/** `POST /files/upload` (201). Pass `id` as `upload_file_id`. */
export interface UploadedFile {
  id: string;
  name: string;
  size: number;
  extension: string;
  mime_type: string;
  created_by: string | null;
  created_at: number;
  preview_url: string | null;
  source_url: string;
  [field: string]: unknown;
}

export interface LogEntry {
  id: string;
  workflow_run: {
    id: string;
    version: string | null;
    status: RunStatus;
    error: string | null;
    elapsed_time: number;
    total_tokens: number;
    total_steps: number;
    created_at: number;
    finished_at: number | null;
    exceptions_count: number;
    triggered_from: string;
  };
  created_from: string;
  created_by_role: string;
  created_by_account: null;
  created_by_end_user: { id: string; type: string; is_anonymous: boolean; session_id: string } | null;
  created_at: number;
}

/** `GET /workflows/logs`. */
export interface LogsPage {
  page: number;
  limit: number;
  total: number;
  has_more: boolean;
  data: LogEntry[];
}

export interface LogsQuery {
  keyword?: string;
  status?: RunStatus;
  /** From 1. */
  page?: number;
  /** 1 to 100, default 20. */
  limit?: number;
  /** ISO 8601 time, or a Date. */
  createdAtBefore?: string | Date;
  createdAtAfter?: string | Date;
  /** Only runs of this end user (the `user` string). */
  endUserSessionId?: string;
}

/** `GET /info`. */
export interface AppInfo {
  name: string;
  description: string;
  tags: string[];
  mode: "workflow";
  author_name: string;
}

/** One input of the app's form, e.g. `{"text-input": {variable, label, required, ...}}`. */
export type UserInputFormItem = Record<string, InputFormField>;

export interface InputFormField {
  variable: string;
  label: string;
  required: boolean;
  default: unknown;
  type?: string;
  options?: string[];
  max_length?: number;
  [field: string]: unknown;
}

/** `GET /parameters`. */
export interface AppParameters {
  user_input_form: UserInputFormItem[];
  file_upload: JsonObject;
  system_parameters: {
    file_size_limit: number;
    image_file_size_limit: number;
    audio_file_size_limit: number;
    video_file_size_limit: number;
    workflow_file_upload_limit: number;
  };
  [field: string]: unknown;
}

/** `GET /site`. */
export interface AppSite {
  title: string;
  description: string;
  icon_type: string | null;
  icon: string | null;
  icon_background: string | null;
  icon_url: string | null;
  default_language: string;
  [field: string]: unknown;
}

// ---------------------------------------------------------------------------------------------
// Stream events: one discriminated union on `event`, exactly the server's frames (pings are
// filtered out by the SDK).

interface EventHead {
  task_id: string;
  workflow_run_id: string;
}

interface NodeIdentity {
  /** The node execution's id. */
  id: string;
  node_id: string;
  node_type: string;
  title: string;
  index: number;
  predecessor_node_id: string | null;
}

export interface WorkflowStartedEvent extends EventHead {
  event: "workflow_started";
  data: { id: string; workflow_id: string; inputs: JsonObject; created_at: number };
}

export interface NodeStartedEvent extends EventHead {
  event: "node_started";
  data: NodeIdentity & {
    inputs: JsonObject | null;
    created_at: number;
    extras: JsonObject;
    iteration_id: string | null;
    loop_id: string | null;
  };
}

export interface TextChunkEvent extends EventHead {
  event: "text_chunk";
  data: { text: string; from_variable_selector: string[] };
}

export interface NodeFinishedData extends NodeIdentity {
  inputs: JsonObject | null;
  process_data: JsonObject | null;
  outputs: JsonObject | null;
  status: NodeStatus;
  error: string | null;
  /** Seconds. */
  elapsed_time: number;
  execution_metadata: ExecutionMetadata;
  created_at: number;
  finished_at: number;
  files: FileValue[];
  iteration_id: string | null;
  loop_id: string | null;
}

export interface NodeRetryEvent extends EventHead {
  event: "node_retry";
  data: NodeFinishedData & { status: "retry"; retry_index: number };
}

export interface NodeFinishedEvent extends EventHead {
  event: "node_finished";
  data: NodeFinishedData;
}

interface ContainerIdentity {
  id: string;
  node_id: string;
  node_type: string;
  title: string;
  created_at: number;
  extras: JsonObject;
}

interface ContainerStartedData extends ContainerIdentity {
  metadata: JsonObject;
  inputs: JsonObject;
}

interface ContainerCompletedData extends ContainerIdentity {
  outputs: JsonObject | null;
  inputs: JsonObject;
  status: NodeStatus;
  error: string | null;
  elapsed_time: number;
  total_tokens: number;
  execution_metadata: ExecutionMetadata;
  finished_at: number;
  steps: number;
}

export interface IterationStartedEvent extends EventHead {
  event: "iteration_started";
  data: ContainerStartedData;
}
export interface IterationNextEvent extends EventHead {
  event: "iteration_next";
  data: ContainerIdentity & { index: number; pre_iteration_output: unknown };
}
export interface IterationCompletedEvent extends EventHead {
  event: "iteration_completed";
  data: ContainerCompletedData;
}
export interface LoopStartedEvent extends EventHead {
  event: "loop_started";
  data: ContainerStartedData;
}
export interface LoopNextEvent extends EventHead {
  event: "loop_next";
  data: ContainerIdentity & { index: number; pre_loop_output: unknown };
}
export interface LoopCompletedEvent extends EventHead {
  event: "loop_completed";
  data: ContainerCompletedData;
}

export interface WorkflowFinishedData extends RunResultData {
  /** `{id, user}` of the end user who started the run. */
  created_by: JsonObject;
  exceptions_count: number;
  files: FileValue[];
}

export interface WorkflowFinishedEvent extends EventHead {
  event: "workflow_finished";
  data: WorkflowFinishedData;
}

/** A failure of the stream itself (not of a node); the stream ends after it. */
export interface StreamErrorEvent {
  event: "error";
  workflow_run_id: string;
  status: number;
  code: string;
  message: string;
}

export type WorkflowStreamEvent =
  | WorkflowStartedEvent
  | NodeStartedEvent
  | TextChunkEvent
  | NodeRetryEvent
  | NodeFinishedEvent
  | IterationStartedEvent
  | IterationNextEvent
  | IterationCompletedEvent
  | LoopStartedEvent
  | LoopNextEvent
  | LoopCompletedEvent
  | WorkflowFinishedEvent
  | StreamErrorEvent;

export type WorkflowStreamEventName = WorkflowStreamEvent["event"];

export const WORKFLOW_STREAM_EVENTS: readonly WorkflowStreamEventName[] = [
  "workflow_started",
  "node_started",
  "text_chunk",
  "node_retry",
  "node_finished",
  "iteration_started",
  "iteration_next",
  "iteration_completed",
  "loop_started",
  "loop_next",
  "loop_completed",
  "workflow_finished",
  "error",
];
