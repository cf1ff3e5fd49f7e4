/**
 * `tributary app import|export|list|delete` and `tributary workflow validate`: publishing
 * workflows through the admin API, and checking one offline with the engine's validator.
 */
import { readFile, writeFile } from "node:fs/promises";
import type { CliContext, CommandResult } from "../context.js";
import { isoTime, table } from "../context.js";
import { CliError, EXIT, usageError } from "../errors.js";

async function readSource(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw usageError(
      code === "ENOENT"
        ? `File not found: ${file}. Give the path of a Dify DSL export (.yml) or its JSON form.`
        : `Cannot read ${file}: ${(error as Error).message}.`,
    );
  }
}

/** JSON when the text parses as JSON (the admin API takes both), YAML otherwise. */
function contentTypeOf(text: string): string {
  const trimmed = text.trimStart();
  if (trimmed.startsWith("{")) {
    try {
      JSON.parse(text);
      return "application/json";
    } catch {
      // Flow-style YAML also starts with "{": let the server's YAML parser report problems.
    }
  }
  return "application/yaml";
}

interface Problem {
  node_id: string | null;
  message: string;
}

function problemLines(file: string, problems: Problem[]): string[] {
  return [
    `${file}: ${problems.length} problem${problems.length === 1 ? "" : "s"}`,
    ...problems.map((p) => `  ${p.node_id ? `node ${p.node_id}` : "workflow"}: ${p.message}`),
  ];
}

/** The invalid-workflow error with every problem in the message (text) and in `problems` (JSON). */
function invalidWorkflow(file: string, problems: Problem[], requestId: string | null = null): CliError {
  return new CliError(EXIT.usage, "invalid_workflow", problemLines(file, problems).join("\n"), {
    details: { file, problems },
    requestId,
  });
}

export async function importApp(
  ctx: CliContext,
  file: string,
  options: { name?: string; app?: string; key?: boolean },
): Promise<CommandResult> {
  const source = await readSource(file);
  const admin = ctx.admin();
  const contentType = contentTypeOf(source);
  try {
    if (options.app) {
      const version = await admin.addVersion(options.app, source, contentType);
      return {
        json: { app_id: options.app, workflow_id: version.workflow_id, version: version.version },
        text: `published version ${version.version} of app ${options.app} (workflow_id ${version.workflow_id})`,
      };
    }
    const created = await admin.createApp(source, contentType, options.name);
    const key = options.key ? await admin.createKey(created.app_id, "tributary app import") : undefined;
    const text = [`imported "${created.name}" as app ${created.app_id} (workflow_id ${created.workflow_id})`];
    if (key) text.push(`app API key (shown once): ${key.key}`);
    else text.push(`next: tributary key create ${created.app_id}   or   tributary run ${created.app_id} --input k=v`);
    return { json: { ...created, ...(key ? { api_key: key.key, api_key_id: key.id } : {}) }, text };
  } catch (error) {
    if (error instanceof CliError && error.code === "invalid_workflow") {
      throw invalidWorkflow(file, (error.details["problems"] as Problem[] | undefined) ?? [], error.requestId);
    }
    throw error;
  }
}

export async function exportApp(
  ctx: CliContext,
  appId: string,
  options: { output?: string; version?: number; as?: "source" | "json" },
): Promise<CommandResult> {
  const exported = await ctx.admin().exportApp(appId, {
    ...(options.version !== undefined ? { version: options.version } : {}),
    ...(options.as ? { format: options.as } : {}),
  });
  const meta = {
    app_id: appId,
    workflow_id: exported.workflowId,
    version: exported.version,
    source_format: exported.sourceFormat,
  };
  if (options.output) {
    await writeFile(options.output, exported.text);
    return {
      json: { ...meta, file: options.output, bytes: Buffer.byteLength(exported.text) },
      text: `wrote version ${exported.version} of app ${appId} to ${options.output}`,
    };
  }
  // Text mode: the file itself on stdout, so `tributary app export ID > app.yml` works.
  return { json: { ...meta, source: exported.text }, text: exported.text.replace(/\n$/, "") };
}

export async function listApps(
  ctx: CliContext,
  options: { search?: string; page?: number; limit?: number },
): Promise<CommandResult> {
  const page = await ctx.admin().listApps({
    ...(options.page !== undefined ? { page: options.page } : {}),
    ...(options.limit !== undefined ? { limit: options.limit } : {}),
    ...(options.search ? { search: options.search } : {}),
  });
  if (page.data.length === 0) {
    return {
      json: page,
      text: options.search ? `no app matches "${options.search}"` : "no apps yet: tributary app import workflow.yml",
    };
  }
  const rows = page.data.map((a) => [a.app_id, a.enabled ? "yes" : "no", isoTime(a.created_at), a.name]);
  const text = table(["APP ID", "ENABLED", "CREATED", "NAME"], rows);
  if (page.has_more) text.push(`(page ${page.page}; more with --page ${page.page + 1})`);
  return { json: page, text };
}

export async function deleteApp(ctx: CliContext, appId: string): Promise<CommandResult> {
  await ctx.admin().deleteApp(appId);
  return { json: { app_id: appId, deleted: true }, text: `deleted app ${appId}` };
}

/** Offline validation with the engine: every problem, each with its node id. */
export async function validateWorkflowFile(file: string): Promise<CommandResult> {
  const source = await readSource(file);
  // Loaded here only: the engine is large and the other commands do not need it.
  const { validateWorkflow } = await import("@tributary/engine");
  let input: unknown = source;
  if (contentTypeOf(source) === "application/json") input = JSON.parse(source);
  if (source.trim() === "") {
    throw invalidWorkflow(file, [{ node_id: null, message: "The file is empty: it should hold a Dify DSL workflow." }]);
  }
  const problems = validateWorkflow(input).map((p) => ({ node_id: p.nodeId, message: p.message }));
  if (problems.length > 0) throw invalidWorkflow(file, problems);
  return { json: { file, valid: true, problems: [] }, text: `${file}: valid` };
}
