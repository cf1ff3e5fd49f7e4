/**
 * The HTTP application: Dify's Workflow App API under /v1, the native admin API under
 * /api/admin, signed file downloads, /openapi.json and /healthz. Every error, including
 * unknown routes and crashes, is answered in Dify's `{code, message, status}` shape.
 */
import { randomUUID } from "node:crypto";
import { OpenAPIHono } from "@hono/zod-openapi";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { registerAdminAppRoutes } from "../admin/app-routes.js";
import { registerAdminOpenApiKeyRoutes } from "../admin/open-api-key-routes.js";
import { registerAdminProviderRoutes } from "../admin/provider-routes.js";
import { registerAppRoutes, SERVER_VERSION } from "../dify/app-routes.js";
import { registerFileRoutes } from "../dify/file-routes.js";
import { registerLogRoutes } from "../dify/log-routes.js";
import { registerRunReadRoutes } from "../dify/run-read-routes.js";
import { registerRunRoutes } from "../dify/run-routes.js";
import { registerVappRoutes } from "../vapp/routes.js";
import { registerVectorVeinRoutes } from "../vectorvein/index.js";
import type { AppDeps, AppEnv } from "./context.js";
import { ApiError, respondError, translateError } from "./errors.js";
import { allowedMethods } from "./route.js";

export type { AppDeps, AppEnv };

const NOT_FOUND_MESSAGE =
  "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.";

export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ strict: false });

  app.openAPIRegistry.registerComponent("securitySchemes", "Bearer", {
    type: "http",
    scheme: "bearer",
    description: "App API key (`app-…`), created with the admin API.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "AdminBearer", {
    type: "http",
    scheme: "bearer",
    description: "The server's admin token (TRIBUTARY_ADMIN_TOKEN or <data dir>/admin-token).",
  });

  app.use("*", async (c, next) => {
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && /^[\w.-]{1,128}$/.test(incoming) ? incoming : randomUUID();
    c.set("requestId", requestId);
    c.header("X-Request-ID", requestId);
    const started = performance.now();
    await next();
    deps.logger.info(
      {
        requestId,
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round((performance.now() - started) * 10) / 10,
      },
      "request",
    );
  });

  // Dify serves its API to browsers too (embedded web apps); so do we.
  app.use(
    "/v1/*",
    cors({
      origin: "*",
      allowHeaders: ["Content-Type", "Authorization", "Idempotency-Key", "Last-Event-ID", "X-Request-ID"],
      allowMethods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
      exposeHeaders: ["X-Workflow-Run-ID", "X-Request-ID", "Idempotent-Replayed"],
      maxAge: 600,
    }),
  );

  app.get("/healthz", (c) => c.json({ status: "ok", version: SERVER_VERSION }));
  const metrics = deps.metrics;
  if (metrics) {
    // Prometheus text; unauthenticated like /healthz, so keep the port on the internal network.
    app.get("/metrics", async (c) => {
      const { contentType, body } = await metrics.render();
      return c.body(body, 200, { "Content-Type": contentType });
    });
  }

  registerRunRoutes(app, deps);
  registerRunReadRoutes(app, deps);
  registerFileRoutes(app, deps);
  registerLogRoutes(app, deps);
  registerAppRoutes(app, deps);
  registerAdminAppRoutes(app, deps);
  registerAdminProviderRoutes(app, deps);
  registerAdminOpenApiKeyRoutes(app, deps);
  registerVectorVeinRoutes(app, deps);
  registerVappRoutes(app, deps);

  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Tributary",
      version: SERVER_VERSION,
      description:
        "Dify-compatible Workflow App API (/v1) and Tributary's admin API (/api/admin). Errors are always {code, message, status}.",
    },
  });

  app.notFound((c) => {
    const allowed = allowedMethods(app, c.req.path);
    if (allowed.length > 0 && c.req.method !== "OPTIONS") {
      c.header("Allow", allowed.join(", "));
      return c.json(
        {
          code: "method_not_allowed",
          message: `The method is not allowed for the requested URL. Use ${allowed.join(" or ")}.`,
          status: 405,
        },
        405,
      );
    }
    return c.json({ code: "not_found", message: NOT_FOUND_MESSAGE, status: 404 }, 404);
  });

  app.onError((error, c) => {
    const translated = translateError(error);
    if (translated) return respondError(c, translated);
    if (error instanceof HTTPException) {
      return respondError(c, new ApiError(error.status as 400, "bad_request", error.message || "Bad request."));
    }
    const requestId = c.get("requestId") ?? "unknown";
    const status = statusOf(error);
    if (status !== null) {
      return respondError(c, new ApiError(status as 503, (error as unknown as { code: string }).code, error.message));
    }
    deps.logger.error({ err: error, requestId, method: c.req.method, path: c.req.path }, "unhandled error");
    return respondError(
      c,
      new ApiError(
        500,
        "internal_server_error",
        `The server hit an unexpected error (request ${requestId}). Try again; if it keeps failing, report the request id to the operator, who can find it in the server log.`,
      ),
    );
  });

  return app;
}

/** Errors from our own services that carry an HTTP status with their code (e.g. 503 while shutting down). */
function statusOf(error: unknown): number | null {
  const e = error as { status?: unknown; code?: unknown };
  return typeof e.status === "number" && e.status >= 400 && e.status < 600 && typeof e.code === "string" ? e.status : null;
}
