/**
 * `GET /api/admin/apps/{app_id}/export`: an app's workflow as a file, for backups and moving
 * apps between servers (`tributary app export`). By default the text exactly as it was
 * uploaded (the store keeps it byte for byte); `format=json` gives the normalised DSL as JSON,
 * which `POST /api/admin/apps` accepts whatever the original format was.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { errorResponses, idParam } from "../dify/schemas.js";
import type { AppDeps, AppEnv } from "../http/context.js";
import { ApiError } from "../http/errors.js";
import { parseWith } from "../http/request-body.js";
import { defineRoute, pathParam } from "../http/route.js";
import type { WorkflowVersionRow } from "../store/types.js";
import { adminAuth } from "./auth.js";

const querySchema = z.object({
  version: z.coerce
    .number({ error: "version must be a version number (1, 2, …) of this app." })
    .int("version must be a version number (1, 2, …) of this app.")
    .positive("version must be a version number (1, 2, …) of this app.")
    .optional()
    .openapi({ description: "Export this version instead of the current one." }),
  format: z
    .enum(["source", "json"], { error: 'format must be "source" (the uploaded text) or "json" (the normalised DSL).' })
    .default("source"),
});

const CONTENT_TYPES: Record<string, string> = {
  "dify-yaml": "application/yaml; charset=utf-8",
  "dify-json": "application/json; charset=utf-8",
  "vectorvein-json": "application/json; charset=utf-8",
};

function fileName(appName: string, version: WorkflowVersionRow, json: boolean): string {
  const base = appName.replace(/[^\w.-]+/g, "-").replace(/^-+|-+$/g, "") || "workflow";
  const extension = json || version.sourceFormat.endsWith("json") ? "json" : "yml";
  return `${base}.v${version.version}.${extension}`;
}

export function registerAdminExportRoute(app: OpenAPIHono<AppEnv>, deps: AppDeps): void {
  defineRoute(
    app,
    {
      method: "get",
      path: "/api/admin/apps/{app_id}/export",
      tags: ["Admin"],
      security: [{ AdminBearer: [] }],
      summary: "Export an app's workflow (the uploaded file, or the normalised DSL as JSON)",
      request: { params: idParam("app_id", "The app's id."), query: querySchema },
      responses: {
        200: {
          description:
            "The workflow file. Headers: X-Workflow-Id, X-Workflow-Version, X-Source-Format (dify-yaml, dify-json, vectorvein-json).",
          content: {
            "application/yaml": { schema: z.string() },
            "application/json": { schema: z.record(z.string(), z.unknown()) },
          },
        },
        ...errorResponses,
      },
    },
    adminAuth(deps.config.adminToken),
    async (c) => {
      const appId = pathParam(c, "app_id");
      const query = parseWith(querySchema, c.req.query(), "query");
      const row = await deps.store.getApp(appId);
      if (!row) throw new ApiError(404, "not_found", `App ${appId} not found (or deleted). List apps with GET /api/admin/apps.`);
      let version: WorkflowVersionRow | undefined;
      if (query.version !== undefined) {
        version = (await deps.store.listWorkflowVersions(row.id)).find((v) => v.version === query.version);
        if (!version) {
          throw new ApiError(
            404,
            "not_found",
            `App ${appId} has no version ${query.version}. GET /api/admin/apps/${appId} lists its versions.`,
          );
        }
      } else if (row.currentVersionId) {
        version = await deps.store.getWorkflowVersion(row.currentVersionId);
      }
      if (!version) {
        throw new ApiError(404, "not_found", `App ${appId} has no published workflow to export.`);
      }
      const json = query.format === "json";
      const body = json ? `${JSON.stringify(version.dsl, null, 2)}\n` : version.sourceText;
      return c.body(body, 200, {
        "Content-Type": json ? CONTENT_TYPES["dify-json"]! : (CONTENT_TYPES[version.sourceFormat] ?? "text/plain; charset=utf-8"),
        "Content-Disposition": `attachment; filename="${fileName(row.name, version, json)}"`,
        "X-Workflow-Id": version.id,
        "X-Workflow-Version": String(version.version),
        "X-Source-Format": json ? "dify-json" : version.sourceFormat,
      });
    },
  );
}
