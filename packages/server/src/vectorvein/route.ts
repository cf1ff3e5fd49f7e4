/**
 * How a VectorVein endpoint is declared: once, with its zod schemas (for the OpenAPI document
 * and for validation), behind the key check and rate limit, with every outcome — including
 * a failed authentication, a malformed body or a crash — answered in the envelope.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppDeps, AppEnv } from "../http/context.js";
import { parseWith, readJsonBody } from "../http/request-body.js";
import { defineRoute } from "../http/route.js";
import type { OpenApiAuth, Principal } from "./auth.js";
import { type Envelope, errorEnvelope, sendEnvelope } from "./envelope.js";

export const OPEN_API_PREFIX = "/api/v1/open-api";

export interface VvReply {
  data: unknown;
  /** Default "success". */
  msg?: string;
  /** Default 200; 202 = still running. */
  status?: number;
  /** Extra top-level fields (e.g. `rid` of a waited-for run). */
  extra?: Record<string, unknown>;
}

export interface VvContext {
  deps: AppDeps;
  auth: OpenApiAuth;
}

export interface VvRouteConfig<B extends z.ZodType, Q extends z.ZodType> {
  method: "get" | "post";
  /** Relative to /api/v1/open-api/, e.g. `workflow/run`. */
  endpoint: string;
  summary: string;
  description?: string;
  body?: B;
  query?: Q;
  /** Whether a VApp access key (VECTORVEIN-API-KEY-TYPE: VAPP) may call it. Default false. */
  allowAccessKey?: boolean;
  /** Multipart uploads read the body themselves. */
  multipart?: z.ZodType;
}

export interface VvRequest<B, Q> {
  c: Context<AppEnv>;
  who: Principal;
  body: B;
  query: Q;
}

export const envelopeSchema = z
  .object({
    status: z
      .number()
      .int()
      .openapi({ description: "200 success, 202 still running, 4xx/5xx errors (HTTP status is always 200)." }),
    msg: z.string(),
    data: z.unknown(),
  })
  .openapi("VectorVeinEnvelope");

export function vvRoute<B extends z.ZodType = z.ZodUndefined, Q extends z.ZodType = z.ZodUndefined>(
  app: OpenAPIHono<AppEnv>,
  ctx: VvContext,
  config: VvRouteConfig<B, Q>,
  handler: (request: VvRequest<z.infer<B>, z.infer<Q>>) => Promise<VvReply>,
): void {
  const path = `${OPEN_API_PREFIX}/${config.endpoint}`;
  const request: Record<string, unknown> = {};
  if (config.body) request["body"] = { required: true, content: { "application/json": { schema: config.body } } };
  if (config.multipart) request["body"] = { required: true, content: { "multipart/form-data": { schema: config.multipart } } };
  if (config.query && config.query instanceof z.ZodObject) request["query"] = config.query;
  defineRoute(
    app,
    {
      method: config.method,
      path,
      tags: ["VectorVein Open API"],
      summary: config.summary,
      ...(config.description ? { description: config.description } : {}),
      security: [{ VectorVeinApiKey: [] }],
      request,
      responses: {
        200: {
          description: "Always HTTP 200; the outcome is the envelope's `status`.",
          content: { "application/json": { schema: envelopeSchema } },
        },
      },
    },
    async (c) => {
      try {
        const who = await ctx.auth.authenticate(c, { allowAccessKey: config.allowAccessKey === true });
        const body = config.body ? parseWith(config.body, await readJsonBody(c, ctx.deps.config.maxBodyBytes)) : undefined;
        const query = config.query ? parseWith(config.query, c.req.query(), "query") : undefined;
        const reply = await handler({ c, who, body: body as z.infer<B>, query: query as z.infer<Q> });
        const envelope: Envelope = { status: reply.status ?? 200, msg: reply.msg ?? "success", data: reply.data, ...reply.extra };
        return sendEnvelope(c, envelope);
      } catch (error) {
        const { body, headers } = errorEnvelope(error, ctx.deps.logger, c.get("requestId") ?? "unknown", c.req.path);
        return sendEnvelope(c, body, headers);
      }
    },
  );
}
