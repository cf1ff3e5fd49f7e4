/**
 * VectorVein Open API shapes, named and fielded like the Python SDK's dataclasses (0.2.1 and
 * the newer workflow, upload and user models). Field names are the wire's snake_case.
 */

export type JsonObject = Record<string, unknown>;

/** `WORKFLOW`: an Open API key naming workflows by `wid`; `VAPP`: a VApp key (`wid` names a VApp). */
export type ApiKeyType = "WORKFLOW" | "VAPP";

/** O: one use, M: up to `max_use_count` uses, L: until `expire_time`. */
export type AccessKeyType = "O" | "M" | "L";

/** AC valid, IN invalid, EX expired, US used up. */
export type AccessKeyStatus = "AC" | "IN" | "EX" | "US";

export type OutputScope = "all" | "output_fields_only";

/** One input: a node's field (a start variable, or any node's static field to override). */
export interface WorkflowInputField {
  node_id: string;
  field_name: string;
  value: unknown;
}

export interface WorkflowOutput {
  /** The output's kind: text, number, json, file, … */
  type: string;
  title: string;
  value: unknown;
}

export interface WorkflowRunResult {
  rid: string;
  /** 200 finished, 202 still running. */
  status: number;
  msg: string;
  /** Empty while the run is still going. */
  data: WorkflowOutput[];
}

export interface VApp {
  app_id: string;
  title: string;
  description: string;
  info: JsonObject;
  images: string[];
}

export interface AccessKey {
  access_key: string;
  access_key_type: AccessKeyType | string;
  use_count: number;
  max_use_count: number | null;
  max_credits: number | null;
  used_credits: number;
  v_app: VApp | null;
  v_apps: VApp[];
  records: unknown[];
  status: AccessKeyStatus | string;
  /** S: one app (`v_app`), M: several (`v_apps`). */
  access_scope: "S" | "M" | string;
  description: string;
  create_time: string;
  expire_time: string;
  last_use_time: string | null;
}

export interface AccessKeyListResponse {
  access_keys: AccessKey[];
  total: number;
  page_size: number;
  page: number;
}

export interface WorkflowTag {
  tid: string;
  name: string;
}

export interface Workflow {
  wid: string;
  title: string;
  brief: string;
  /** The graph: `{nodes, edges}` (a Dify DSL graph or a VectorVein workflow). */
  data: JsonObject;
  language: string;
  images: string[];
  tags: WorkflowTag[];
  source_workflow?: string | null;
  tool_call_data?: JsonObject | null;
  create_time?: string | null;
  update_time?: string | null;
  [field: string]: unknown;
}

/** A workflow in a list: everything but its `data` (get that with `getWorkflow`). */
export type WorkflowSummary = Omit<Workflow, "data"> & { data?: JsonObject };

export interface WorkflowListResponse {
  workflows: WorkflowSummary[];
  total: number;
  page: number;
  page_size: number;
}

/** A run record (status RUNNING, FINISHED, FAILED, STOPPED, …); `get` adds inputs, outputs and nodes. */
export interface WorkflowRunRecord {
  rid: string;
  wid?: string;
  workflow_title?: string;
  status: string;
  run_from?: string;
  start_time?: string;
  end_time?: string | null;
  used_credits?: number;
  total_tokens?: number;
  error?: string | null;
  input_fields?: WorkflowInputField[];
  output_scope?: OutputScope;
  /** The outputs, once finished. */
  data?: WorkflowOutput[];
  nodes?: JsonObject[];
  [field: string]: unknown;
}

export interface WorkflowRunRecordList {
  records: WorkflowRunRecord[];
  total: number;
  page: number;
  page_size: number;
}

export interface FileUploadResult {
  /** Pass this as the value of a file input. */
  oss_path: string;
  original_filename: string;
  file_size: number;
  content_type: string;
}

export interface UserInfo {
  uid: string;
  username: string;
  email: string;
  credits: number;
  date_joined: string;
  [field: string]: unknown;
}

export interface APIUserIdentity {
  user_id: string;
  username: string;
}

/** The reply envelope of every endpoint (HTTP is always 200; `status` carries the meaning). */
export interface Envelope<T = unknown> {
  status: number;
  msg: string;
  data: T;
  [field: string]: unknown;
}
