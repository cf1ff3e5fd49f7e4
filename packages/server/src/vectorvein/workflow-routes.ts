/**
 * `workflow/create | get | list | update | delete`. A VectorVein workflow is a Tributary app:
 * `wid` is the app id, `title`/`brief`/`tags`/`images` are the app's, `data` is published as a
 * new version (imported first when it is VectorVein JSON). Beyond VectorVein,
 * `vapp_credits_per_run` and `vapp_credits_per_1k_tokens` set what a VApp run of it costs.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps, AppEnv } from "../http/context.js";
import type { AppRow, JsonObject, OpenApiWorkflowPatch, WorkflowVersionRow } from "../store/types.js";
import { VvError } from "./envelope.js";
import { canonicalJson } from "./input-fields.js";
import { type VvContext, vvRoute } from "./route.js";
import { appOf, pageSchema, pageSizeSchema, sortOrderSchema } from "./run-routes.js";
import { workflowSettings } from "./start-run.js";
import { workflowJson } from "./wire.js";
import { type WorkflowSource, workflowFromData } from "./workflow-source.js";

const tagSchema = z.union([z.string(), z.looseObject({ tid: z.string().optional(), name: z.string().optional() })]);
const tagsSchema = z.array(tagSchema, { error: 'tags must be a list of tag names or {"tid": …} objects.' });
const creditSchema = (name: string) =>
  z
    .number({ error: `${name} must be a whole number, 0 or more.` })
    .int(`${name} must be a whole number, 0 or more.`)
    .min(0, `${name} must be a whole number, 0 or more.`)
    .max(1_000_000_000);
const dataSchema = z.record(z.string(), z.unknown(), {
  error: "data must be a JSON object: a VectorVein workflow {nodes, edges} or a Dify DSL graph.",
});

const extensions = {
  vapp_credits_per_run: creditSchema("vapp_credits_per_run").optional(),
  vapp_credits_per_1k_tokens: creditSchema("vapp_credits_per_1k_tokens").optional(),
};

const createBody = z
  .looseObject({
    title: z.string().trim().max(255, "title must be at most 255 characters.").default("New workflow"),
    brief: z.string().max(10_000).default(""),
    images: z.array(z.string(), { error: "images must be a list of image URLs." }).default([]),
    tags: tagsSchema.default([]),
    data: dataSchema.default({ nodes: [], edges: [] }),
    language: z.string().max(32).default("zh-CN"),
    tool_call_data: z.record(z.string(), z.unknown()).nullish(),
    source_workflow_wid: z.string().nullish(),
    ...extensions,
  })
  .openapi("VectorVeinWorkflowCreate");

const widBody = z.looseObject({
  wid: z.string({ error: "wid is required: the workflow's id." }).min(1, "wid must not be empty."),
});

const updateBody = z
  .looseObject({
    wid: z.string({ error: "wid is required: the workflow's id." }).min(1),
    data: dataSchema.nullish(),
    title: z.string().trim().min(1, "title must not be empty.").max(255).nullish(),
    brief: z.string().max(10_000).nullish(),
    images: z.array(z.string()).nullish(),
    tags: tagsSchema.nullish(),
    language: z.string().max(32).nullish(),
    ...extensions,
  })
  .openapi("VectorVeinWorkflowUpdate");

const listBody = z.looseObject({
  page: pageSchema,
  page_size: pageSizeSchema,
  tags: z.array(z.string(), { error: "tags must be a list of tag ids." }).nullish(),
  sort_field: z
    .enum(["update_time", "create_time", "title"], { error: 'sort_field must be "update_time", "create_time" or "title".' })
    .default("update_time"),
  sort_order: sortOrderSchema,
  search_text: z.string().nullish(),
});

function tagNames(tags: z.infer<typeof tagsSchema>): string[] {
  const names = tags.map((t) => (typeof t === "string" ? t : (t.name ?? t.tid ?? "")).trim()).filter((t) => t !== "");
  return [...new Set(names)];
}

function settingsPatch(body: { vapp_credits_per_run?: number | undefined; vapp_credits_per_1k_tokens?: number | undefined }) {
  const patch: OpenApiWorkflowPatch = {};
  if (body.vapp_credits_per_run !== undefined) patch.creditsPerRun = body.vapp_credits_per_run;
  if (body.vapp_credits_per_1k_tokens !== undefined) patch.creditsPer1kTokens = body.vapp_credits_per_1k_tokens;
  return patch;
}

async function currentVersion(deps: AppDeps, app: AppRow): Promise<WorkflowVersionRow | undefined> {
  return app.currentVersionId ? deps.store.getWorkflowVersion(app.currentVersionId) : undefined;
}

async function reply(deps: AppDeps, appId: string, source?: WorkflowSource) {
  const app = await appOf(deps, appId);
  const data = workflowJson(app, await currentVersion(deps, app), await workflowSettings(deps, app.id));
  // Beyond VectorVein: what the import changed, so nothing is altered silently.
  return { data: source?.kind === "vectorvein" ? { ...data, import_notes: source.notes } : data };
}

export function registerWorkflowRoutes(app: OpenAPIHono<AppEnv>, ctx: VvContext): void {
  const { deps } = ctx;

  vvRoute(
    app,
    ctx,
    {
      method: "post",
      endpoint: "workflow/create",
      summary: "Create a workflow (a Tributary app) from VectorVein JSON or a Dify DSL graph",
      body: createBody,
    },
    async ({ body }) => {
      let source: WorkflowSource;
      const copyFrom = body.source_workflow_wid ? await appOf(deps, body.source_workflow_wid) : undefined;
      const emptyData = !Array.isArray(body.data["nodes"]) || (body.data["nodes"] as unknown[]).length === 0;
      if (copyFrom && emptyData) {
        // A copy of another workflow: its current version, under the new title.
        const version = await currentVersion(deps, copyFrom);
        const data = version?.sourceFormat === "vectorvein-json" ? (JSON.parse(version.sourceText) as JsonObject) : version?.dsl;
        source = data ? workflowFromData(data, { title: body.title, brief: body.brief }, deps.registry) : { kind: "empty" };
      } else {
        source = workflowFromData(body.data, { title: body.title, brief: body.brief }, deps.registry);
      }
      const created = await deps.store.createApp({
        name: body.title,
        description: body.brief,
        tags: tagNames(body.tags),
        images: body.images,
      });
      try {
        if (source.kind !== "empty") {
          await deps.store.createWorkflowVersion({
            appId: created.id,
            dsl: source.dsl as unknown as JsonObject,
            sourceText: source.sourceText,
            sourceFormat: source.sourceFormat,
          });
        }
        await deps.store.putOpenApiWorkflow(created.id, {
          language: body.language,
          toolCallData: body.tool_call_data ?? {},
          sourceWorkflow: copyFrom?.id ?? null,
          ...settingsPatch(body),
        });
      } catch (error) {
        // Nobody should see a half-created workflow.
        await deps.store.deleteApp(created.id).catch(() => {});
        throw error;
      }
      return reply(deps, created.id, source);
    },
  );

  vvRoute(
    app,
    ctx,
    { method: "post", endpoint: "workflow/get", summary: "One workflow with its data", body: widBody },
    async ({ body }) => reply(deps, body.wid),
  );

  vvRoute(
    app,
    ctx,
    {
      method: "post",
      endpoint: "workflow/list",
      summary: "List workflows (search_text, tags, paging, sorting); `data` is left out, get it with workflow/get",
      body: listBody,
    },
    async ({ body }) => {
      const page = await deps.store.listOpenApiApps({
        page: body.page,
        limit: body.page_size,
        ...(body.search_text ? { search: body.search_text } : {}),
        ...(body.tags && body.tags.length > 0 ? { tags: body.tags } : {}),
        sortField: body.sort_field,
        sortOrder: body.sort_order,
      });
      const workflows = [];
      for (const a of page.items) {
        workflows.push(workflowJson(a, undefined, await workflowSettings(deps, a.id), { withData: false }));
      }
      return { data: { workflows, total: page.total, page: body.page, page_size: body.page_size } };
    },
  );

  vvRoute(
    app,
    ctx,
    {
      method: "post",
      endpoint: "workflow/update",
      summary:
        "Update a workflow: new data is published as a new version; title, brief, images, tags and language change in place",
      body: updateBody,
    },
    async ({ body }) => {
      const existing = await appOf(deps, body.wid);
      const title = body.title ?? existing.name;
      const brief = body.brief ?? existing.description;
      let source: WorkflowSource | undefined;
      if (body.data) {
        const version = await currentVersion(deps, existing);
        const candidate = workflowFromData(body.data, { title, brief }, deps.registry);
        if (candidate.kind === "empty") {
          if (version) {
            throw new VvError(
              400,
              "data has no nodes: a published workflow cannot be emptied. Send the workflow's nodes and edges, or delete the workflow with workflow/delete.",
            );
          }
        } else {
          const unchanged =
            version !== undefined &&
            version.sourceFormat === candidate.sourceFormat &&
            canonicalJson(JSON.parse(version.sourceText)) === canonicalJson(JSON.parse(candidate.sourceText));
          if (!unchanged) {
            await deps.store.createWorkflowVersion({
              appId: existing.id,
              dsl: candidate.dsl as unknown as JsonObject,
              sourceText: candidate.sourceText,
              sourceFormat: candidate.sourceFormat,
            });
          }
          source = candidate;
        }
      }
      await deps.store.updateApp(existing.id, {
        name: title,
        description: brief,
        ...(body.images ? { images: body.images } : {}),
        ...(body.tags ? { tags: tagNames(body.tags) } : {}),
      });
      await deps.store.putOpenApiWorkflow(existing.id, {
        ...(body.language ? { language: body.language } : {}),
        ...settingsPatch(body),
      });
      return reply(deps, existing.id, source);
    },
  );

  vvRoute(
    app,
    ctx,
    { method: "post", endpoint: "workflow/delete", summary: "Delete a workflow", body: widBody },
    async ({ body }) => {
      const existing = await appOf(deps, body.wid);
      await deps.store.deleteApp(existing.id);
      return { data: { wid: existing.id } };
    },
  );
}
