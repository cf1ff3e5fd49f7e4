/**
 * VectorVein wire shapes built from Tributary's rows. The 0.2.1 SDK builds `AccessKey`,
 * `VApp`, `WorkflowOutput`, `AccessKeyListResponse` and `FileUploadResult` with
 * `Dataclass(**dict)`: those objects carry exactly the SDK's fields, no more, no fewer
 * (nullable ones present as null). Times are ISO 8601 in UTC; `expire_time` is echoed as sent.
 */
import { isFileValue } from "@tributary/engine";
import { accessKeyStatus } from "../store/queries/access-keys.js";
import type {
  AccessKeyRecordRow,
  AccessKeyRow,
  AppRow,
  JsonObject,
  NodeExecutionRow,
  OpenApiRunEntry,
  OpenApiWorkflowRow,
  RunRow,
  RunStatus,
  UploadedFileRow,
  WorkflowVersionRow,
} from "../store/types.js";

/** Epoch ms → `2025-01-31T12:00:00Z`. */
export const isoTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
export const isoTimeOrNull = (ms: number | null): string | null => (ms === null ? null : isoTime(ms));

// ---------------------------------------------------------------------------------------------
// VApps and access keys

export interface VAppJson {
  app_id: string;
  title: string;
  description: string;
  info: Record<string, unknown>;
  images: string[];
}

export function vappJson(app: AppRow): VAppJson {
  return { app_id: app.id, title: app.name, description: app.description, info: {}, images: app.images };
}

export interface AccessKeyJson {
  access_key: string;
  access_key_type: string;
  use_count: number;
  max_use_count: number | null;
  max_credits: number | null;
  used_credits: number;
  v_app: VAppJson | null;
  v_apps: VAppJson[];
  records: Array<{ rid: string | null; app_id: string; credits: number; time: string }>;
  status: string;
  access_scope: string;
  description: string;
  create_time: string;
  expire_time: string | null;
  last_use_time: string | null;
}

export function accessKeyJson(
  key: AccessKeyRow,
  apps: ReadonlyMap<string, AppRow>,
  records: readonly AccessKeyRecordRow[],
  now: number,
): AccessKeyJson {
  const vapps = key.appIds.map((id) => apps.get(id)).filter((a): a is AppRow => a !== undefined);
  const first = vapps[0];
  return {
    access_key: key.accessKey,
    access_key_type: key.type,
    use_count: key.useCount,
    max_use_count: key.maxUseCount,
    max_credits: key.maxCredits,
    used_credits: key.usedCredits,
    // Scope S names its one app in v_app; scope M lists its apps in v_apps.
    v_app: key.scope === "S" && first ? vappJson(first) : null,
    v_apps: key.scope === "M" ? vapps.map(vappJson) : [],
    records: records.map((r) => ({
      rid: r.runId === "" ? null : r.runId,
      app_id: r.appId,
      credits: r.credits,
      time: isoTime(r.createdAt),
    })),
    status: accessKeyStatus(key, now),
    access_scope: key.scope,
    description: key.description,
    create_time: isoTime(key.createdAt),
    expire_time: key.expireTimeText ?? isoTimeOrNull(key.expireAt),
    last_use_time: isoTimeOrNull(key.lastUseAt),
  };
}

// ---------------------------------------------------------------------------------------------
// Workflows

/** `tags: [{tid, name}]`: Tributary's tags are plain names, so the tag id is the name. */
export const tagsJson = (tags: readonly string[]) => tags.map((t) => ({ tid: t, name: t }));

/** The workflow `data` a VectorVein client sees: its own JSON back, or the native graph. */
export function workflowData(version: WorkflowVersionRow | undefined): JsonObject {
  if (!version) return { nodes: [], edges: [] };
  if (version.sourceFormat === "vectorvein-json") {
    try {
      return JSON.parse(version.sourceText) as JsonObject;
    } catch {
      // Stored by us from a parsed object; fall through to the graph if it was ever altered.
    }
  }
  const graph = (version.dsl["workflow"] as { graph?: JsonObject } | undefined)?.graph;
  return graph ?? { nodes: [], edges: [] };
}

export function workflowJson(
  app: AppRow,
  version: WorkflowVersionRow | undefined,
  settings: OpenApiWorkflowRow,
  options: { withData?: boolean } = {},
): Record<string, unknown> {
  return {
    wid: app.id,
    title: app.name,
    brief: app.description,
    ...(options.withData === false ? {} : { data: workflowData(version) }),
    language: settings.language,
    images: app.images,
    tags: tagsJson(app.tags),
    source_workflow: settings.sourceWorkflow,
    tool_call_data: settings.toolCallData,
    create_time: isoTime(app.createdAt),
    update_time: isoTime(app.updatedAt),
  };
}

// ---------------------------------------------------------------------------------------------
// Outputs and run records

export interface WorkflowOutputJson {
  type: string;
  title: string;
  value: unknown;
}

/** text, number, boolean, json or file, from the value itself. */
export function outputKind(value: unknown): string {
  if (isFileValue(value)) return "file";
  if (Array.isArray(value) && value.length > 0 && value.every((v) => isFileValue(v))) return "file";
  if (typeof value === "string") return "text";
  if (typeof value === "number") return "number";
  if (typeof value === "boolean") return "boolean";
  return "json";
}

/**
 * A file output's value is its download URL (a list of URLs for a file list); the VApp page
 * asks for `{url, filename}` objects instead, to name its download links.
 */
function outputValue(value: unknown, files: "url" | "object"): unknown {
  const one = (v: unknown) => {
    if (!isFileValue(v)) return null;
    const url = v.url ?? v.remote_url ?? null;
    return files === "url" ? url : { url, filename: v.filename };
  };
  if (isFileValue(value)) return one(value);
  if (Array.isArray(value) && value.length > 0 && value.every((v) => isFileValue(v))) return value.map(one);
  return value;
}

type EndOutputMeta = { variable: string; vectorvein?: { type?: string; title?: string } };

/** The end node's declared outputs, with VectorVein's type and title for imported workflows. */
function endOutputs(dsl: JsonObject): EndOutputMeta[] {
  const nodes = (dsl["workflow"] as { graph?: { nodes?: Array<{ parentId?: unknown; data?: Record<string, unknown> }> } })?.graph
    ?.nodes;
  const out: EndOutputMeta[] = [];
  for (const n of nodes ?? []) {
    if (n.data?.["type"] !== "end" || n.parentId) continue;
    for (const o of (n.data["outputs"] as EndOutputMeta[] | undefined) ?? []) if (typeof o?.variable === "string") out.push(o);
  }
  return out;
}

/**
 * `[{type, title, value}]` of a finished run: the end outputs (in their declared order), and
 * with scope `all` every top-level node's outputs after them, titled "node title: output".
 */
export function outputsJson(
  run: RunRow,
  dsl: JsonObject | undefined,
  scope: "all" | "output_fields_only",
  nodes: readonly NodeExecutionRow[] = [],
  files: "url" | "object" = "url",
): WorkflowOutputJson[] {
  const outputs = run.outputs ?? {};
  const declared = dsl ? endOutputs(dsl) : [];
  const list: WorkflowOutputJson[] = [];
  const seen = new Set<string>();
  for (const o of declared) {
    if (!(o.variable in outputs) || seen.has(o.variable)) continue;
    seen.add(o.variable);
    const value = outputs[o.variable];
    const vv = o.vectorvein;
    list.push({
      type: vv?.type ? vv.type.toLowerCase() : outputKind(value),
      title: vv?.title || o.variable,
      value: outputValue(value, files),
    });
  }
  for (const [variable, value] of Object.entries(outputs)) {
    if (seen.has(variable)) continue;
    list.push({ type: outputKind(value), title: variable, value: outputValue(value, files) });
  }
  if (scope === "all") {
    for (const x of nodes) {
      if (x.iterationId || x.loopId || x.nodeType === "start" || x.nodeType === "end" || !x.outputs) continue;
      for (const [key, value] of Object.entries(x.outputs)) {
        list.push({ type: outputKind(value), title: `${x.title}: ${key}`, value: outputValue(value, files) });
      }
    }
  }
  return list;
}

export type RecordStatus = "RUNNING" | "FINISHED" | "FAILED" | "STOPPED";

export function recordStatus(status: RunStatus): RecordStatus {
  switch (status) {
    case "running":
      return "RUNNING";
    case "succeeded":
    case "partial-succeeded":
      return "FINISHED";
    case "failed":
      return "FAILED";
    case "stopped":
      return "STOPPED";
  }
}

export function runStatusesOf(statuses: readonly RecordStatus[]): RunStatus[] {
  const map: Record<RecordStatus, RunStatus[]> = {
    RUNNING: ["running"],
    FINISHED: ["succeeded", "partial-succeeded"],
    FAILED: ["failed"],
    STOPPED: ["stopped"],
  };
  return statuses.flatMap((s) => map[s]);
}

/** What a run costs in credits: per run, plus per 1,000 tokens (rounded up). */
export function runCredits(
  run: Pick<RunRow, "totalTokens">,
  settings: Pick<OpenApiWorkflowRow, "creditsPerRun" | "creditsPer1kTokens">,
) {
  return settings.creditsPerRun + tokenCredits(run.totalTokens, settings);
}

export function tokenCredits(tokens: number, settings: Pick<OpenApiWorkflowRow, "creditsPer1kTokens">): number {
  return Math.ceil((tokens * settings.creditsPer1kTokens) / 1000);
}

export function runRecordJson(entry: OpenApiRunEntry, settings: OpenApiWorkflowRow): Record<string, unknown> {
  const { run, meta } = entry;
  return {
    rid: run.id,
    wid: meta.appId,
    workflow_title: entry.appName,
    status: recordStatus(run.status),
    run_from: meta.source === "vapp" ? "VAPP" : "API",
    start_time: isoTime(run.createdAt),
    end_time: isoTimeOrNull(run.finishedAt),
    used_credits: run.status === "running" ? settings.creditsPerRun : runCredits(run, settings),
    total_tokens: run.totalTokens,
    error: run.error,
  };
}

export function nodeRecordJson(x: NodeExecutionRow): Record<string, unknown> {
  return {
    node_id: x.nodeId,
    node_type: x.nodeType,
    title: x.title,
    status: x.status,
    error: x.error,
    start_time: isoTime(x.createdAt),
    end_time: isoTimeOrNull(x.finishedAt),
  };
}

// ---------------------------------------------------------------------------------------------
// Files

/** What `file-upload/upload` returns: `oss_path` names the upload as a file input value. */
export function fileUploadJson(row: UploadedFileRow): {
  oss_path: string;
  original_filename: string;
  file_size: number;
  content_type: string;
} {
  return { oss_path: ossPathOf(row), original_filename: row.name, file_size: row.size, content_type: row.mimeType };
}

export const ossPathOf = (row: Pick<UploadedFileRow, "id" | "name">) => `uploads/${row.id}/${encodeURIComponent(row.name)}`;

const OSS_PATH = /^uploads\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:\/|$)/i;

/** The upload id an `oss_path` names, or undefined. */
export function uploadIdOf(ossPath: string): string | undefined {
  return OSS_PATH.exec(ossPath.trim())?.[1];
}
