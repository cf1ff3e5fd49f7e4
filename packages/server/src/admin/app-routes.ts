/**
 * Native admin API for apps, versions and app API keys (Bearer admin token). Workflows are
 * posted as the raw DSL text (YAML or JSON); an invalid one is refused with every problem
 * listed, each with the node it concerns.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { WorkflowValidationError } from "@tributary/engine";
import type { Context } from "hono";
import { errorResponses, errorSchema, idParam, jsonContent } from "../dify/schemas.js";
import { unixSeconds, unixSecondsOrNull } from "../dify/wire.js";
import type { AppDeps, AppEnv } from "../http/context.js";
import { ApiError } from "../http/errors.js";
import { parseWith, readBodyText, readJsonBody } from "../http/request-body.js";
import { defineRoute, pathParam } from "../http/route.js";
import { generateAppApiKey } from "../store/api-key-hash.js";
import type { AppApiKeyRow, AppRow, WorkflowVersionRow } from "../store/types.js";
import { adminAuth } from "./auth.js";
import { registerAdminExportRoute } from "./export-route.js";
import { addVersion, createAppFromWorkflow, type ParsedWorkflow, parseWorkflowSource } from "./import-workflow.js";

const appSchema = z
  .object({
    app_id: z.string(),
    name: z.string(),
    description: z.string(),
    tags: z.array(z.string()),
    enabled: z.boolean(),
    max_concurrency: z.number().int().nullable(),
    workflow_id: z.string().nullable(),
    created_at: z.number().int(),
    updated_at: z.number().int(),
  })
  .openapi("AdminApp");

const problemSchema = z.object({ node_id: z.string().nullable(), message: z.string() });
const invalidWorkflowSchema = errorSchema.extend({ problems: z.array(problemSchema) }).openapi("InvalidWorkflow");

const patchSchema = z
  .object({
    name: z.string().trim().min(1, "name must not be empty.").max(255).optional(),
    description: z.string().max(10_000).optional(),
    tags: z.array(z.string().max(64)).max(50).optional(),
    enabled: z.boolean({ error: "enabled must be true or false." }).optional(),
    max_concurrency: z
      .number()
      .int()
      .positive("max_concurrency must be a positive whole number, or null for no limit.")
      .nullable()
      .optional(),
  })
  .strict()
  .openapi("AdminAppPatch");

const keyRequestSchema = z.object({ name: z.string().trim().max(255).nullish() }).openapi("ApiKeyRequest");

const appNotFound = (appId: string) =>
  new ApiError(404, "not_found", `App ${appId} not found (or deleted). List apps with GET /api/admin/apps.`);

export function adminApp(app: AppRow): z.infer<typeof appSchema> {
  return {
    app_id: app.id,
    name: app.name,
    description: app.description,
    tags: app.tags,
    enabled: app.enabled,
    max_concurrency: app.maxConcurrency,
    workflow_id: app.currentVersionId,
    created_at: unixSeconds(app.createdAt),
    updated_at: unixSeconds(app.updatedAt),
  };
}

function versionJson(v: WorkflowVersionRow) {
  return { workflow_id: v.id, version: v.version, source_format: v.sourceFormat, created_at: unixSeconds(v.createdAt) };
}

function keyJson(k: AppApiKeyRow) {
  return {
    id: k.id,
    prefix: k.prefix,
    name: k.name,
    created_at: unixSeconds(k.createdAt),
    last_used_at: unixSecondsOrNull(k.lastUsedAt),
  };
}

/** The DSL from the request body, validated; invalid DSL becomes 400 with all problems. */
async function workflowFromBody(c: Context<AppEnv>, deps: AppDeps): Promise<ParsedWorkflow> {
  const text = await readBodyText(c, deps.config.maxBodyBytes);
  try {
    return parseWorkflowSource(text, deps.registry);
  } catch (error) {
    if (error instanceof WorkflowValidationError) {
      throw new ApiError(400, "invalid_workflow", error.message, {
        extra: { problems: error.problems.map((p) => ({ node_id: p.nodeId, message: p.message })) },
      });
    }
    throw error;
  }
}

const dslBody = {
  required: true,
  description: "The workflow: a Dify DSL export (YAML) or the same as JSON.",
  content: {
    "application/yaml": { schema: z.string() },
    "application/json": { schema: z.record(z.string(), z.unknown()) },
  },
};

export function registerAdminAppRoutes(app: OpenAPIHono<AppEnv>, deps: AppDeps): void {
  const auth = adminAuth(deps.config.adminToken);
  const common = { tags: ["Admin"], security: [{ AdminBearer: [] }] };
  const appIdParam = idParam("app_id", "The app's id.");

  const existingApp = async (appId: string): Promise<AppRow> => {
    const row = await deps.store.getApp(appId);
    if (!row) throw appNotFound(appId);
    return row;
  };

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/admin/apps",
      ...common,
      summary: "Create an app from a workflow DSL",
      request: { body: dslBody, query: z.object({ name: z.string().optional() }) },
      responses: {
        201: jsonContent(z.object({ app_id: z.string(), workflow_id: z.string(), name: z.string() }), "Created."),
        400: jsonContent(invalidWorkflowSchema, "The workflow is invalid; `problems` lists each with its node."),
        401: errorResponses[401],
      },
    },
    auth,
    async (c) => {
      const parsed = await workflowFromBody(c, deps);
      const name = c.req.query("name");
      const { app: created, version } = await createAppFromWorkflow(deps.store, parsed, name ? { name } : {});
      return c.json({ app_id: created.id, workflow_id: version.id, name: created.name }, 201);
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/admin/apps/{app_id}/versions",
      ...common,
      summary: "Publish a new version of an app's workflow",
      request: { params: appIdParam, body: dslBody },
      responses: {
        201: jsonContent(z.object({ workflow_id: z.string(), version: z.number().int() }), "Published; new runs use it."),
        400: jsonContent(invalidWorkflowSchema, "The workflow is invalid."),
        401: errorResponses[401],
        404: errorResponses[404],
      },
    },
    auth,
    async (c) => {
      const row = await existingApp(pathParam(c, "app_id"));
      const parsed = await workflowFromBody(c, deps);
      const version = await addVersion(deps.store, row.id, parsed);
      return c.json({ workflow_id: version.id, version: version.version }, 201);
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/admin/apps",
      ...common,
      summary: "List apps",
      request: {
        query: z.object({
          page: z.coerce.number().int().min(1).default(1),
          limit: z.coerce.number().int().min(1).max(100).default(20),
          search: z.string().optional(),
        }),
      },
      responses: {
        200: jsonContent(
          z.object({ page: z.number(), limit: z.number(), total: z.number(), has_more: z.boolean(), data: z.array(appSchema) }),
          "Apps, newest first.",
        ),
        ...errorResponses,
      },
    },
    auth,
    async (c) => {
      const q = parseWith(
        z.object({
          page: z.coerce
            .number()
            .int("page must be a whole number, 1 or more.")
            .min(1, "page must be a whole number, 1 or more.")
            .default(1),
          limit: z.coerce
            .number()
            .int("limit must be a whole number from 1 to 100.")
            .min(1)
            .max(100, "limit must be a whole number from 1 to 100.")
            .default(20),
          search: z.string().optional(),
        }),
        c.req.query(),
        "query",
      );
      const page = await deps.store.listApps({ page: q.page, limit: q.limit, ...(q.search ? { search: q.search } : {}) });
      return c.json({
        page: page.page,
        limit: page.limit,
        total: page.total,
        has_more: page.hasMore,
        data: page.items.map(adminApp),
      });
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/admin/apps/{app_id}",
      ...common,
      summary: "Get an app with its versions",
      request: { params: appIdParam },
      responses: { 200: jsonContent(appSchema.passthrough(), "The app."), ...errorResponses },
    },
    auth,
    async (c) => {
      const row = await existingApp(pathParam(c, "app_id"));
      const versions = await deps.store.listWorkflowVersions(row.id);
      return c.json({ ...adminApp(row), versions: versions.map(versionJson) });
    },
  );

  defineRoute(
    app,
    {
      method: "patch",
      path: "/api/admin/apps/{app_id}",
      ...common,
      summary: "Change an app's name, description, tags, enabled flag or concurrency limit",
      request: { params: appIdParam, body: { required: true, content: { "application/json": { schema: patchSchema } } } },
      responses: { 200: jsonContent(appSchema, "The updated app."), ...errorResponses },
    },
    auth,
    async (c) => {
      const appId = pathParam(c, "app_id");
      await existingApp(appId);
      const patch = parseWith(patchSchema, await readJsonBody(c, deps.config.maxBodyBytes));
      const updated = await deps.store.updateApp(appId, {
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.description !== undefined ? { description: patch.description } : {}),
        ...(patch.tags !== undefined ? { tags: patch.tags } : {}),
        ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
        ...(patch.max_concurrency !== undefined ? { maxConcurrency: patch.max_concurrency } : {}),
      });
      if (!updated) throw appNotFound(appId);
      return c.json(adminApp(updated));
    },
  );

  defineRoute(
    app,
    {
      method: "delete",
      path: "/api/admin/apps/{app_id}",
      ...common,
      summary: "Delete an app (its keys stop working; runs in progress finish)",
      request: { params: appIdParam },
      responses: { 204: { description: "Deleted." }, ...errorResponses },
    },
    auth,
    async (c) => {
      const appId = pathParam(c, "app_id");
      if (!(await deps.store.deleteApp(appId))) throw appNotFound(appId);
      return c.body(null, 204);
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/admin/apps/{app_id}/api-keys",
      ...common,
      summary: "Create an app API key (shown once)",
      request: { params: appIdParam, body: { required: false, content: { "application/json": { schema: keyRequestSchema } } } },
      responses: {
        201: jsonContent(
          z.object({ id: z.string(), key: z.string(), prefix: z.string(), name: z.string().nullable(), created_at: z.number() }),
          "The key; store it now, it is not shown again.",
        ),
        ...errorResponses,
      },
    },
    auth,
    async (c) => {
      const row = await existingApp(pathParam(c, "app_id"));
      const hasBody = (c.req.header("content-length") ?? "0") !== "0" || c.req.header("transfer-encoding") !== undefined;
      const request = hasBody ? parseWith(keyRequestSchema, await readJsonBody(c, deps.config.maxBodyBytes)) : {};
      const generated = generateAppApiKey();
      const key = await deps.store.createApiKey({
        appId: row.id,
        keyHash: generated.keyHash,
        prefix: generated.prefix,
        name: request.name ?? null,
      });
      return c.json({ ...keyJson(key), key: generated.token }, 201);
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/admin/apps/{app_id}/api-keys",
      ...common,
      summary: "List an app's API keys (prefixes only)",
      request: { params: appIdParam },
      responses: {
        200: jsonContent(
          z.object({
            data: z.array(
              z.object({
                id: z.string(),
                prefix: z.string(),
                name: z.string().nullable(),
                created_at: z.number(),
                last_used_at: z.number().nullable(),
              }),
            ),
          }),
          "Keys, oldest first.",
        ),
        ...errorResponses,
      },
    },
    auth,
    async (c) => {
      const row = await existingApp(pathParam(c, "app_id"));
      return c.json({ data: (await deps.store.listApiKeys(row.id)).map(keyJson) });
    },
  );

  defineRoute(
    app,
    {
      method: "delete",
      path: "/api/admin/apps/{app_id}/api-keys/{key_id}",
      ...common,
      summary: "Revoke an app API key",
      request: { params: appIdParam.extend(idParam("key_id", "The key's id.").shape) },
      responses: { 204: { description: "Revoked." }, ...errorResponses },
    },
    auth,
    async (c) => {
      const row = await existingApp(pathParam(c, "app_id"));
      const keyId = pathParam(c, "key_id");
      if (!(await deps.store.deleteApiKey(row.id, keyId))) {
        throw new ApiError(
          404,
          "not_found",
          `API key ${keyId} not found on app ${row.id}. List keys with GET /api/admin/apps/${row.id}/api-keys.`,
        );
      }
      return c.body(null, 204);
    },
  );

  registerAdminExportRoute(app, deps);
}
