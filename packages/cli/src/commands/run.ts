/**
 * `tributary run APP_ID`: inputs from `--input k=v` (repeatable; `k=@path` uploads a file for
 * a file input) and `--input-file inputs.json`, run over the event stream (so the run id is
 * known at once and Ctrl-C can stop the run), optional live progress, then the outputs.
 *
 * Without `--api-key` the command makes a temporary app key with the admin token and revokes
 * it when done.
 */
import { readFile } from "node:fs/promises";
import {
  type AppParameters,
  DifyWorkflowClient,
  type FileInput,
  type InputFormField,
  type WorkflowStreamEvent,
} from "@tributary/sdk";
import { z } from "zod";
import type { CliContext, CommandResult } from "../context.js";
import { CliError, EXIT, toCliError, usageError } from "../errors.js";
import { RunProgress } from "../progress.js";

export interface RunCommandOptions {
  input: string[];
  inputFile?: string;
  stream: boolean;
  user: string;
  apiKey?: string;
  workflowId?: string;
}

const inputFileSchema = z.record(z.string(), z.unknown(), {
  error: 'the input file must hold one JSON object of inputs, e.g. {"name": "Ada", "count": 3}',
});

async function readInputFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw usageError(`Cannot read --input-file ${path}: ${(error as Error).message}.`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw usageError(`--input-file ${path} is not valid JSON: ${(error as Error).message}.`);
  }
  const parsed = inputFileSchema.safeParse(value);
  if (!parsed.success || Array.isArray(value)) {
    throw usageError(`--input-file ${path}: the file must hold one JSON object of inputs, e.g. {"name": "Ada", "count": 3}.`);
  }
  return parsed.data;
}

const pairSchema = z
  .string()
  .regex(/^[^=\s]+=/, "each --input must look like name=value (quote it in the shell if the value has spaces)");

/** `name=value` pairs in order (a file-list input may be given several times). */
function parsePairs(pairs: string[]): Array<[string, string]> {
  return pairs.map((pair) => {
    const checked = pairSchema.safeParse(pair);
    if (!checked.success) throw usageError(`--input ${JSON.stringify(pair)}: ${checked.error.issues[0]?.message}.`);
    const at = pair.indexOf("=");
    return [pair.slice(0, at), pair.slice(at + 1)];
  });
}

/** The app's form as variable → {type, field}. */
function formOf(parameters: AppParameters): Map<string, { type: string; field: InputFormField }> {
  const form = new Map<string, { type: string; field: InputFormField }>();
  for (const item of parameters.user_input_form) {
    for (const [type, field] of Object.entries(item)) form.set(field.variable, { type, field });
  }
  return form;
}

function difyFileType(mime: string, extension: string): FileInput["type"] {
  if (mime.startsWith("image/")) return "image";
  if (mime.startsWith("audio/")) return "audio";
  if (mime.startsWith("video/")) return "video";
  const documents = ["txt", "md", "markdown", "pdf", "html", "htm", "xlsx", "xls", "docx", "doc", "csv", "eml", "msg"];
  const more = ["pptx", "ppt", "xml", "epub", "json", "mdx", "vtt", "properties", "yaml", "yml"];
  return [...documents, ...more].includes(extension.toLowerCase()) ? "document" : "custom";
}

async function buildInputs(
  client: DifyWorkflowClient,
  options: RunCommandOptions,
  note: (text: string) => void,
): Promise<Record<string, unknown>> {
  const inputs: Record<string, unknown> = options.inputFile ? await readInputFile(options.inputFile) : {};
  const pairs = parsePairs(options.input);
  const form = formOf(await client.parameters());
  const names = [...form.keys()];
  const fileLists = new Set<string>();
  for (const [name, value] of pairs) {
    const entry = form.get(name);
    if (!entry) {
      throw usageError(
        `The app has no input named "${name}". Its inputs: ${names.length ? names.join(", ") : "(none)"}. ` +
          "See them with: tributary run APP_ID --help, or GET /v1/parameters.",
      );
    }
    const isFile = entry.type === "file" || entry.type === "file-list";
    if (isFile && value.startsWith("@")) {
      const path = value.slice(1);
      note(`uploading ${path} for ${name}`);
      const uploaded = await client.uploadFile(path);
      const file: FileInput = {
        type: difyFileType(uploaded.mime_type, uploaded.extension),
        transfer_method: "local_file",
        upload_file_id: uploaded.id,
      };
      if (entry.type === "file-list") {
        if (!fileLists.has(name)) inputs[name] = [];
        fileLists.add(name);
        (inputs[name] as FileInput[]).push(file);
      } else inputs[name] = file;
    } else if (isFile) {
      throw usageError(`"${name}" is a file input: give a path after @, e.g. --input ${name}=@./report.pdf.`);
    } else {
      // The server converts text to the declared type (number, checkbox, JSON object), as Dify does.
      inputs[name] = value;
    }
  }
  return inputs;
}

/** The app key to run with, and how to clean up a temporary one. */
async function appKey(
  ctx: CliContext,
  appId: string,
  explicit: string | undefined,
): Promise<{ key: string; cleanup: () => Promise<void> }> {
  const given = explicit ?? ctx.io.env["TRIBUTARY_API_KEY"];
  if (given) return { key: given, cleanup: async () => {} };
  const admin = ctx.admin();
  const created = await admin.createKey(appId, "tributary run (temporary)");
  return {
    key: created.key,
    cleanup: async () => {
      await admin.revokeKey(appId, created.id).catch(() => {
        ctx.note(`warning: could not revoke the temporary key ${created.id}; revoke it with tributary key revoke ${created.id}`);
      });
    },
  };
}

function formatValue(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

interface NodeSummary {
  node_id: string;
  title: string;
  node_type: string;
  status: string;
  elapsed_time: number;
  error: string | null;
}

export async function runApp(ctx: CliContext, appId: string, options: RunCommandOptions): Promise<CommandResult> {
  const { key, cleanup } = await appKey(ctx, appId, options.apiKey);
  const controller = new AbortController();
  let stopping: Promise<void> | undefined;
  let stopRun: (() => Promise<void>) | undefined;
  let interrupted = false;
  const onSigint = () => {
    if (stopping || !stopRun) {
      interrupted = true;
      controller.abort();
      return;
    }
    ctx.note("stopping the run… (Ctrl-C again to leave it running)");
    stopping = stopRun().catch((error: unknown) => ctx.note(`could not stop the run: ${(error as Error).message}`));
  };
  process.on("SIGINT", onSigint);
  const progress = options.stream ? new RunProgress(ctx.io.stderr) : undefined;
  try {
    const client = new DifyWorkflowClient({ apiKey: key, baseUrl: ctx.server, user: options.user });
    const inputs = await buildInputs(client, options, (t) => ctx.note(t));
    const stream = await client.stream(inputs, {
      signal: controller.signal,
      ...(options.workflowId ? { workflowId: options.workflowId } : {}),
    });
    stopRun = () => stream.stop();
    progress?.start();
    const nodes: NodeSummary[] = [];
    let last: WorkflowStreamEvent | undefined;
    for await (const event of stream) {
      last = event;
      progress?.onEvent(event);
      if (event.event === "node_finished") {
        const d = event.data;
        nodes.push({
          node_id: d.node_id,
          title: d.title,
          node_type: d.node_type,
          status: d.status,
          elapsed_time: d.elapsed_time,
          error: d.error,
        });
      }
    }
    progress?.stop();
    await stopping;
    if (last?.event === "error") {
      throw new CliError(EXIT.api, last.code, `The run's event stream failed: ${last.message}`, {
        requestId: stream.requestId,
      });
    }
    const finished = stream.finished;
    if (!finished) throw new CliError(EXIT.api, "incomplete", `Run ${stream.runId} ended without a result.`);
    const json = {
      run_id: stream.runId,
      task_id: stream.taskId ?? null,
      status: finished.status,
      outputs: finished.outputs,
      error: finished.error,
      elapsed_time: finished.elapsed_time,
      total_tokens: finished.total_tokens,
      total_steps: finished.total_steps,
      nodes,
    };
    const text = Object.entries(finished.outputs).map(([k, v]) => `${k}: ${formatValue(v)}`);
    if (finished.status === "succeeded" || finished.status === "partial-succeeded") {
      if (!progress) ctx.note(`run ${stream.runId} ${finished.status} in ${finished.elapsed_time.toFixed(2)}s`);
      return { json, text };
    }
    // The run's record is the result even when it failed: print it, then fail with exit 4.
    ctx.print({ json, text });
    throw new CliError(
      EXIT.api,
      `run_${finished.status}`,
      `Run ${stream.runId} ${finished.status}${finished.error ? `: ${finished.error}` : ""}`,
    );
  } catch (error) {
    if (interrupted) {
      throw new CliError(EXIT.interrupted, "interrupted", "Interrupted; the run goes on on the server.", { cause: error });
    }
    throw toCliError(error, ctx.server);
  } finally {
    progress?.stop();
    process.off("SIGINT", onSigint);
    await cleanup();
  }
}
