/**
 * Running workflows and reading their records: `workflow/run`, `workflow/check-status`,
 * `workflow/stop-run` and `workflow/run-record/{list,get,stop,delete}`. The run service does
 * the work; these routes translate VectorVein's addressing (`wid`, `rid`, `input_fields`) and
 * its reply shapes.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps, AppEnv } from "../http/context.js";
import type { AppRow, OpenApiRunEntry, OpenApiWorkflowRow, RunRow, WorkflowVersionRow } from "../store/types.js";
import type { Principal } from "./auth.js";
import { VvError } from "./envelope.js";
import { applyOverrides, canonicalJson, resolveInputFields } from "./input-fields.js";
import { type VvContext, type VvReply, vvRoute } from "./route.js";
import { AccessKeyRefusedError, startOpenApiRun, workflowSettings } from "./start-run.js";
import {
  nodeRecordJson,
  outputsJson,
  type RecordStatus,
  recordStatus,
  runRecordJson,
  runStatusesOf,
  type WorkflowOutputJson,
} from "./wire.js";

/**
 * How long `wait_for_completion` waits before answering 202 (the SDK then polls). The 0.2.1
 * SDK's HTTP client gives up after httpx's default 5 s, so the answer must come sooner.
 */
export const RUN_WAIT_MS = 4_000;

const OVERRIDE_SOURCE_FORMAT = "open-api-override";

export const sortOrderSchema = z
  .enum(["ascend", "descend", "asc", "desc"], { error: 'sort_order must be "ascend" or "descend".' })
  .default("descend")
  .transform((v) => (v.startsWith("asc") ? ("asc" as const) : ("desc" as const)));

export const pageSchema = z.coerce
  .number({ error: "page must be a whole number, 1 or more." })
  .int("page must be a whole number, 1 or more.")
  .min(1, "page must be a whole number, 1 or more.")
  .default(1);
export const pageSizeSchema = z.coerce
  .number({ error: "page_size must be a whole number from 1 to 100." })
  .int("page_size must be a whole number from 1 to 100.")
  .min(1, "page_size must be a whole number from 1 to 100.")
  .max(100, "page_size must be a whole number from 1 to 100.")
  .default(10);

const runBody = z
  .looseObject({
    wid: z.string({ error: "wid is required: the id of the workflow (app) to run." }).min(1, "wid must not be empty."),
    output_scope: z
      .enum(["all", "output_fields_only"], { error: 'output_scope must be "all" or "output_fields_only".' })
      .default("output_fields_only"),
    wait_for_completion: z.boolean({ error: "wait_for_completion must be true or false." }).default(false),
    input_fields: z
      .array(
        z.looseObject({
          node_id: z.string({ error: "each input field needs a node_id (string)." }),
          field_name: z.string({ error: "each input field needs a field_name (string)." }),
          value: z.unknown(),
        }),
        { error: "input_fields must be a list of {node_id, field_name, value}." },
      )
      .default([]),
  })
  .openapi("VectorVeinRunRequest");

const ridBody = z.looseObject({
  rid: z.string({ error: "rid is required: the run id workflow/run returned." }).min(1, "rid must not be empty."),
  wid: z.string().optional(),
});

const recordListBody = z.looseObject({
  page: pageSchema,
  page_size: pageSizeSchema,
  wid: z.string().nullish(),
  status: z
    .array(z.string(), { error: 'status must be a list such as ["FINISHED", "FAILED"].' })
    .nullish()
    .transform((list, ctx) => {
      const out: RecordStatus[] = [];
      for (const s of list ?? []) {
        const upper = s.toUpperCase();
        if (upper === "RUNNING" || upper === "FINISHED" || upper === "FAILED" || upper === "STOPPED") out.push(upper);
        else if (upper !== "QUEUED") {
          ctx.addIssue({ code: "custom", message: `status "${s}" is not one of RUNNING, FINISHED, FAILED, STOPPED.` });
        }
      }
      return out;
    }),
  sort_field: z
    .enum(["start_time", "end_time"], { error: 'sort_field must be "start_time" or "end_time".' })
    .default("start_time"),
  sort_order: sortOrderSchema,
});

export async function appOf(deps: AppDeps, wid: string): Promise<AppRow> {
  const app = await deps.store.getApp(wid);
  if (!app) {
    throw new VvError(404, `Workflow ${wid} not found (or deleted). Use the wid returned by workflow/create or workflow/list.`);
  }
  return app;
}

async function runnableVersion(deps: AppDeps, app: AppRow): Promise<WorkflowVersionRow> {
  if (!app.enabled) throw new VvError(403, `Workflow ${app.id} is disabled. An administrator can enable the app again.`);
  const version = app.currentVersionId ? await deps.store.getWorkflowVersion(app.currentVersionId) : undefined;
  if (!version) {
    throw new VvError(
      400,
      `Workflow ${app.id} has no nodes yet: give it a workflow with workflow/update (data) before running it.`,
    );
  }
  return version;
}

/** The run entry if `who` may see it; otherwise "not found" (never "forbidden", so ids cannot be probed). */
export async function ownedRun(deps: AppDeps, who: Principal, rid: string, wid?: string): Promise<OpenApiRunEntry> {
  const entry = await deps.store.getOpenApiRun(rid);
  const mine =
    entry !== undefined &&
    (who.kind === "key" ? entry.meta.owner === who.owner : entry.meta.accessKeyId === who.accessKey.id) &&
    (wid === undefined || wid === "" || entry.meta.appId === wid);
  if (!entry || !mine) {
    throw new VvError(404, `Run record ${rid} not found. Use the rid workflow/run returned, with the key that started it.`);
  }
  return entry;
}

async function outputsOf(deps: AppDeps, entry: OpenApiRunEntry, run: RunRow = entry.run): Promise<WorkflowOutputJson[]> {
  const version = await deps.store.getWorkflowVersion(run.workflowId);
  const nodes = entry.meta.outputScope === "all" ? await deps.store.listNodeExecutions(run.id) : [];
  return outputsJson(run, version?.dsl, entry.meta.outputScope, nodes);
}

/** check-status: 200 with the outputs, 202 while running, 500 with the error once failed or stopped. */
async function statusReply(deps: AppDeps, entry: OpenApiRunEntry): Promise<VvReply> {
  const run = entry.run;
  switch (run.status) {
    case "running":
      return { status: 202, msg: "The workflow is still running; check again in a few seconds.", data: [] };
    case "succeeded":
    case "partial-succeeded":
      return { status: 200, msg: "success", data: await outputsOf(deps, entry) };
    case "failed":
      return { status: 500, msg: `Workflow run failed: ${run.error ?? "no error message was recorded"}`, data: [] };
    case "stopped":
      return { status: 500, msg: `Workflow run was stopped: ${run.error ?? "a stop was requested"}`, data: [] };
  }
}

async function stopRun(deps: AppDeps, entry: OpenApiRunEntry): Promise<VvReply> {
  if (entry.run.status === "running") await deps.runs.stop(entry.run.taskId);
  const run = (await deps.store.getRun(entry.run.id)) ?? entry.run;
  return { data: { rid: run.id, status: recordStatus(run.status) } };
}

export function registerRunRoutes(app: OpenAPIHono<AppEnv>, ctx: VvContext): void {
  const { deps } = ctx;

  vvRoute(
    app,
    ctx,
    {
      method: "post",
      endpoint: "workflow/run",
      summary: "Run a workflow",
      description:
        "`input_fields` address a start input by node_id + field_name (VectorVein ports of imported workflows, or the start node's id and a variable), " +
        `or override any node's own field for this run. With wait_for_completion the reply waits up to ${RUN_WAIT_MS / 1000} s: ` +
        "200 with the outputs and `rid`, else 202 with `data.rid` (poll workflow/check-status).",
      body: runBody,
      allowAccessKey: true,
    },
    async ({ c, who, body }) => {
      const appRow = await appOf(deps, body.wid);
      if (who.kind === "access-key" && !who.accessKey.appIds.includes(appRow.id)) {
        throw new VvError(403, `This access key does not open workflow ${appRow.id}. Use a key made for it.`);
      }
      let version = await runnableVersion(deps, appRow);
      const { inputs, overrides } = resolveInputFields(version.dsl, body.input_fields);
      if (overrides.length > 0) {
        const dsl = applyOverrides(version.dsl, overrides, deps.registry);
        version = await deps.store.findOrCreateDetachedVersion({
          appId: appRow.id,
          dsl: dsl as unknown as Record<string, unknown>,
          sourceText: canonicalJson({ base_version_id: version.id, overrides }),
          sourceFormat: OVERRIDE_SOURCE_FORMAT,
        });
      }
      let run: RunRow;
      try {
        run = await startOpenApiRun(deps, {
          app: appRow,
          version,
          inputs,
          owner: who.owner,
          source: who.kind === "access-key" || who.vapp ? "vapp" : "api",
          apiKeyId: who.kind === "key" ? who.key.id : null,
          accessKey: who.kind === "access-key" ? who.accessKey : null,
          outputScope: body.output_scope,
          inputFields: body.input_fields,
          responseMode: body.wait_for_completion ? "blocking" : "async",
        });
      } catch (error) {
        if (error instanceof AccessKeyRefusedError) throw new VvError(403, error.message);
        throw error;
      }
      if (!body.wait_for_completion) return { data: { rid: run.id } };

      const waited = new AbortController();
      const timer = setTimeout(() => waited.abort(), RUN_WAIT_MS);
      const onClientGone = () => waited.abort();
      c.req.raw.signal.addEventListener("abort", onClientGone, { once: true });
      let finished: RunRow | undefined;
      try {
        finished = await deps.runs.waitForFinish(run.id, waited.signal);
      } catch (error) {
        if (!waited.signal.aborted) throw error;
      } finally {
        clearTimeout(timer);
        c.req.raw.signal.removeEventListener("abort", onClientGone);
      }
      const entry = await ownedRun(deps, who, run.id);
      if (!finished) {
        return {
          status: 202,
          msg: "The workflow is still running; poll workflow/check-status with the rid.",
          data: { rid: run.id },
          extra: { rid: run.id },
        };
      }
      const reply = await statusReply(deps, { ...entry, run: finished });
      return { ...reply, data: reply.status === 200 ? reply.data : { rid: run.id }, extra: { rid: run.id } };
    },
  );

  vvRoute(
    app,
    ctx,
    {
      method: "post",
      endpoint: "workflow/check-status",
      summary: "Status and outputs of a run",
      description:
        "status 200 with `data: [{type, title, value}]` once finished, 202 while running, 500 with the error in `msg` once failed or stopped.",
      body: ridBody,
      allowAccessKey: true,
    },
    async ({ who, body }) => statusReply(deps, await ownedRun(deps, who, body.rid, body.wid)),
  );

  for (const endpoint of ["workflow/stop-run", "workflow/run-record/stop"]) {
    vvRoute(
      app,
      ctx,
      { method: "post", endpoint, summary: "Stop a running run (answers once it has stopped)", body: ridBody },
      async ({ who, body }) => stopRun(deps, await ownedRun(deps, who, body.rid)),
    );
  }

  vvRoute(
    app,
    ctx,
    { method: "post", endpoint: "workflow/run-record/list", summary: "The owner's run records", body: recordListBody },
    async ({ who, body }) => {
      const page = await deps.store.listOpenApiRuns({
        owner: who.owner,
        page: body.page,
        limit: body.page_size,
        ...(body.wid ? { appId: body.wid } : {}),
        ...(body.status.length > 0 ? { statuses: runStatusesOf(body.status) } : {}),
        sortField: body.sort_field,
        sortOrder: body.sort_order,
      });
      const settings = new Map<string, OpenApiWorkflowRow>();
      const records = [];
      for (const entry of page.items) {
        let s = settings.get(entry.meta.appId);
        if (!s) {
          s = await workflowSettings(deps, entry.meta.appId);
          settings.set(entry.meta.appId, s);
        }
        records.push(runRecordJson(entry, s));
      }
      return { data: { records, total: page.total, page: body.page, page_size: body.page_size } };
    },
  );

  vvRoute(
    app,
    ctx,
    {
      method: "post",
      endpoint: "workflow/run-record/get",
      summary: "One run record with its inputs, outputs and nodes",
      body: ridBody,
    },
    async ({ who, body }) => {
      const entry = await ownedRun(deps, who, body.rid);
      const nodes = await deps.store.listNodeExecutions(entry.run.id);
      const finished = entry.run.status === "succeeded" || entry.run.status === "partial-succeeded";
      return {
        data: {
          ...runRecordJson(entry, await workflowSettings(deps, entry.meta.appId)),
          input_fields: entry.meta.inputFields,
          output_scope: entry.meta.outputScope,
          data: finished ? await outputsOf(deps, entry) : [],
          nodes: nodes.map(nodeRecordJson),
        },
      };
    },
  );

  vvRoute(
    app,
    ctx,
    { method: "post", endpoint: "workflow/run-record/delete", summary: "Delete a finished run record", body: ridBody },
    async ({ who, body }) => {
      const entry = await ownedRun(deps, who, body.rid);
      if (entry.run.status === "running") {
        throw new VvError(
          400,
          `Run ${entry.run.id} is still running: stop it first with workflow/run-record/stop, then delete it.`,
        );
      }
      await deps.store.deleteRun(entry.run.id);
      return { data: { rid: entry.run.id } };
    },
  );
}
