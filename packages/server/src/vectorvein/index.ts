/**
 * VectorVein's Open API under /api/v1/open-api/, for the `vectorvein` SDK unchanged (only its
 * base_url pointed here). Every answer — unknown endpoints and wrong methods included — is HTTP
 * 200 with `{status, msg, data}`.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppDeps, AppEnv } from "../http/context.js";
import { allowedMethods } from "../http/route.js";
import { registerAccessKeyRoutes } from "./access-key-routes.js";
import { openApiAuth } from "./auth.js";
import { sendEnvelope } from "./envelope.js";
import { registerFileAndUserRoutes } from "./file-user-routes.js";
import { OPEN_API_PREFIX, type VvContext } from "./route.js";
import { registerRunRoutes } from "./run-routes.js";
import { registerWorkflowRoutes } from "./workflow-routes.js";

export function registerVectorVeinRoutes(app: OpenAPIHono<AppEnv>, deps: AppDeps): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "VectorVeinApiKey", {
    type: "apiKey",
    in: "header",
    name: "VECTORVEIN-API-KEY",
    description:
      "An Open API key (created with POST /api/admin/open-api-keys). With `VECTORVEIN-API-KEY-TYPE: VAPP`, a VApp access key may run the apps it opens.",
  });
  const ctx: VvContext = { deps, auth: openApiAuth(deps.store, deps.now) };
  registerRunRoutes(app, ctx);
  registerWorkflowRoutes(app, ctx);
  registerAccessKeyRoutes(app, ctx);
  registerFileAndUserRoutes(app, ctx);

  // Registered last: only requests no endpoint above answered reach it.
  app.all(`${OPEN_API_PREFIX}/*`, (c) => {
    const allowed = allowedMethods(app, c.req.path).filter((m) => m !== "HEAD");
    if (allowed.length > 0) {
      return sendEnvelope(c, {
        status: 405,
        msg: `${c.req.method} is not allowed for ${c.req.path}: use ${allowed.join(" or ")}.`,
        data: null,
      });
    }
    return sendEnvelope(c, {
      status: 404,
      msg: `No such endpoint: ${c.req.path}. The Open API lives under ${OPEN_API_PREFIX}/ (e.g. workflow/run, vapp/access-key/list).`,
      data: null,
    });
  });
}
