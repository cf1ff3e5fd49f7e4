/**
 * Publishing a workflow: the DSL text (YAML or JSON) is validated completely before anything
 * is written, then stored as a new app or a new version of one. Shared by the admin API and
 * the example import at first start.
 */
import {
  type DslDocument,
  type NodeRegistry,
  parseDsl,
  type ValidationProblem,
  validateWorkflow,
  WorkflowValidationError,
} from "@tributary/engine";
import type { AppRow, JsonObject, Store, WorkflowVersionRow } from "../store/types.js";

export interface ParsedWorkflow {
  dsl: DslDocument;
  sourceText: string;
  sourceFormat: "dify-json" | "dify-yaml";
}

/**
 * Parses and validates against `registry` (the node types runs will have); throws
 * WorkflowValidationError listing every problem (with node ids).
 */
export function parseWorkflowSource(sourceText: string, registry?: NodeRegistry): ParsedWorkflow {
  if (sourceText.trim() === "") {
    throw new WorkflowValidationError([
      { nodeId: null, message: "The body is empty: send the workflow DSL (Dify YAML export or JSON) as the request body." },
    ]);
  }
  let sourceFormat: ParsedWorkflow["sourceFormat"] = "dify-yaml";
  let source: unknown = sourceText;
  const trimmed = sourceText.trimStart();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    try {
      source = JSON.parse(sourceText);
      sourceFormat = "dify-json";
    } catch {
      // Not strict JSON: YAML (a superset) gets it and reports the position of the problem.
    }
  }
  const problems: ValidationProblem[] = validateWorkflow(source, registry ? { registry } : {});
  if (problems.length > 0) throw new WorkflowValidationError(problems);
  return { dsl: parseDsl(source), sourceText, sourceFormat };
}

function iconOf(dsl: DslDocument): AppRow["icon"] {
  const icon = dsl.app.icon;
  if (!icon) return null;
  const type = (dsl.app as Record<string, unknown>)["icon_type"];
  if (type === "image" || type === "link") return { type, value: icon, background: dsl.app.icon_background ?? null };
  return { type: "emoji", value: icon, background: dsl.app.icon_background ?? null };
}

export interface CreateAppOptions {
  name?: string;
  maxConcurrency?: number | null;
}

/**
 * New app with its first version. The store has no cross-table transaction for this, so a
 * failed version write removes the app again: nobody sees an app without a workflow.
 */
export async function createAppFromWorkflow(
  store: Store,
  parsed: ParsedWorkflow,
  options: CreateAppOptions = {},
): Promise<{ app: AppRow; version: WorkflowVersionRow }> {
  const app = await store.createApp({
    name: options.name?.trim() || parsed.dsl.app.name,
    description: parsed.dsl.app.description,
    icon: iconOf(parsed.dsl),
    ...(options.maxConcurrency !== undefined ? { maxConcurrency: options.maxConcurrency } : {}),
  });
  try {
    const version = await store.createWorkflowVersion({
      appId: app.id,
      dsl: parsed.dsl as unknown as JsonObject,
      sourceText: parsed.sourceText,
      sourceFormat: parsed.sourceFormat,
    });
    return { app: (await store.getApp(app.id)) ?? app, version };
  } catch (error) {
    await store.deleteApp(app.id).catch(() => {});
    throw error;
  }
}

export function addVersion(store: Store, appId: string, parsed: ParsedWorkflow): Promise<WorkflowVersionRow> {
  return store.createWorkflowVersion({
    appId,
    dsl: parsed.dsl as unknown as JsonObject,
    sourceText: parsed.sourceText,
    sourceFormat: parsed.sourceFormat,
  });
}
