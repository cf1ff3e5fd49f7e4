/** `GET /v1/workflows/logs`: the app's runs, newest first, with Dify's filters and paging. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppDeps, AppEnv } from "../http/context.js";
import { badRequest } from "../http/errors.js";
import { parseWith } from "../http/request-body.js";
import { defineRoute } from "../http/route.js";
import type { RunStatus } from "../store/types.js";
import { appKeyAuth } from "./auth.js";
import { errorResponses, jsonContent, logsQuerySchema, logsResponseSchema } from "./schemas.js";
import { logEntry } from "./wire.js";

/**
 * An ISO 8601 time as epoch ms. Like Dify (naive datetimes are UTC there), a time without a
 * zone is read as UTC, not as the server's local time.
 */
export function parseIsoTime(text: string, field: string): number {
  const trimmed = text.trim();
  const hasTime = /T|\s\d{1,2}:/.test(trimmed);
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(trimmed);
  const normalised = hasTime && !hasZone ? `${trimmed.replace(" ", "T")}Z` : trimmed;
  const ms = /^\d{4}-\d{2}-\d{2}/.test(trimmed) ? Date.parse(normalised) : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw badRequest(`${field} must be an ISO 8601 time such as 2024-08-01T12:00:00Z (got "${text}").`, field);
  }
  return ms;
}

export function registerLogRoutes(app: OpenAPIHono<AppEnv>, deps: AppDeps): void {
  const auth = appKeyAuth(deps.store, deps.now);
  defineRoute(
    app,
    {
      method: "get",
      path: "/v1/workflows/logs",
      tags: ["Workflow runs"],
      summary: "List the app's runs (newest first)",
      security: [{ Bearer: [] }],
      request: { query: logsQuerySchema },
      responses: { 200: jsonContent(logsResponseSchema, "A page of runs."), ...errorResponses },
    },
    auth,
    async (c) => {
      const q = parseWith(logsQuerySchema, c.req.query(), "query");
      const before = q.created_at__before ? parseIsoTime(q.created_at__before, "created_at__before") : undefined;
      // Dify compares with second precision; the end of the named second is still "before" it.
      const beforeMs = before === undefined ? undefined : before + (before % 1000 === 0 ? 999 : 0);
      const after = q.created_at__after ? parseIsoTime(q.created_at__after, "created_at__after") : undefined;
      if (q.created_by_account) {
        // Runs here are always started through the service API by end users, never by an account.
        return c.json({ page: q.page, limit: q.limit, total: 0, has_more: false, data: [] });
      }
      const page = await deps.store.listRuns({
        appId: c.get("app").id,
        page: q.page,
        limit: q.limit,
        ...(q.status ? { status: q.status as RunStatus } : {}),
        ...(q.keyword ? { keyword: q.keyword } : {}),
        ...(beforeMs !== undefined ? { createdBefore: beforeMs } : {}),
        ...(after !== undefined ? { createdAfter: after } : {}),
        ...(q.created_by_end_user_session_id ? { endUserSessionId: q.created_by_end_user_session_id } : {}),
      });
      return c.json({
        page: page.page,
        limit: page.limit,
        total: page.total,
        has_more: page.hasMore,
        data: page.items.map(logEntry),
      });
    },
  );
}
