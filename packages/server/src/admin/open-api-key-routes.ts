/**
 * VectorVein Open API keys (admin): created for an owner, shown once, listed by prefix,
 * revoked. A key is exactly 32 ASCII characters (the AES-256 key of the VApp links made with
 * it); `key_id` is public and goes into those links.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { errorResponses, idParam, jsonContent } from "../dify/schemas.js";
import { unixSeconds, unixSecondsOrNull } from "../dify/wire.js";
import type { AppDeps, AppEnv } from "../http/context.js";
import { ApiError } from "../http/errors.js";
import { parseWith, readJsonBody } from "../http/request-body.js";
import { defineRoute, pathParam } from "../http/route.js";
import type { OpenApiKeyRow } from "../store/types.js";
import { generateOpenApiKey } from "../vectorvein/keys.js";
import { adminAuth } from "./auth.js";

/** VectorVein's documented limit. */
export const DEFAULT_OPEN_API_RATE_LIMIT = 60;

const createSchema = z
  .object({
    name: z.string().trim().max(255, "name must be at most 255 characters.").nullish(),
    owner: z
      .string()
      .trim()
      .regex(/^[\w.@-]{1,64}$/, "owner must be 1 to 64 letters, digits, '_', '-', '.' or '@'.")
      .optional()
      .openapi({ description: "Whose key it is (access keys, run records and uploads are per owner). Default `admin`." }),
    rate_limit_per_minute: z
      .number({ error: "rate_limit_per_minute must be a whole number (0 = unlimited)." })
      .int("rate_limit_per_minute must be a whole number (0 = unlimited).")
      .min(0, "rate_limit_per_minute must be a whole number (0 = unlimited).")
      .max(100_000)
      .optional()
      .openapi({ description: `Calls per minute; default ${DEFAULT_OPEN_API_RATE_LIMIT}, 0 = unlimited.` }),
  })
  .strict()
  .openapi("OpenApiKeyRequest");

const keyInfoSchema = z
  .object({
    key_id: z.string(),
    prefix: z.string(),
    name: z.string().nullable(),
    owner: z.string(),
    rate_limit_per_minute: z.number().int().nullable(),
    created_at: z.number().int(),
    last_used_at: z.number().int().nullable(),
  })
  .openapi("OpenApiKey");

function keyJson(k: OpenApiKeyRow): z.infer<typeof keyInfoSchema> {
  return {
    key_id: k.id,
    prefix: k.prefix,
    name: k.name,
    owner: k.owner,
    rate_limit_per_minute: k.rateLimitPerMinute,
    created_at: unixSeconds(k.createdAt),
    last_used_at: unixSecondsOrNull(k.lastUsedAt),
  };
}

export function registerAdminOpenApiKeyRoutes(app: OpenAPIHono<AppEnv>, deps: AppDeps): void {
  const auth = adminAuth(deps.config.adminToken);
  const common = { tags: ["Admin"], security: [{ AdminBearer: [] }] };

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/admin/open-api-keys",
      ...common,
      summary: "Create a VectorVein Open API key (shown once)",
      request: { body: { required: false, content: { "application/json": { schema: createSchema } } } },
      responses: {
        201: jsonContent(
          keyInfoSchema.extend({ api_key: z.string() }),
          "The key; store `api_key` now, it is not shown again. Send it as VECTORVEIN-API-KEY.",
        ),
        ...errorResponses,
      },
    },
    auth,
    async (c) => {
      const hasBody = (c.req.header("content-length") ?? "0") !== "0" || c.req.header("transfer-encoding") !== undefined;
      const body = hasBody ? parseWith(createSchema, await readJsonBody(c, deps.config.maxBodyBytes)) : {};
      const generated = generateOpenApiKey();
      const limit = body.rate_limit_per_minute ?? DEFAULT_OPEN_API_RATE_LIMIT;
      const key = await deps.store.createOpenApiKey({
        id: generated.keyId,
        owner: body.owner ?? "admin",
        name: body.name ?? null,
        secret: generated.secret,
        keyHash: generated.keyHash,
        prefix: generated.prefix,
        rateLimitPerMinute: limit === 0 ? null : limit,
      });
      return c.json({ ...keyJson(key), api_key: generated.secret }, 201);
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/admin/open-api-keys",
      ...common,
      summary: "List Open API keys (prefixes only)",
      responses: { 200: jsonContent(z.object({ data: z.array(keyInfoSchema) }), "Keys, oldest first."), ...errorResponses },
    },
    auth,
    async (c) => c.json({ data: (await deps.store.listOpenApiKeys()).map(keyJson) }),
  );

  defineRoute(
    app,
    {
      method: "delete",
      path: "/api/admin/open-api-keys/{key_id}",
      ...common,
      summary: "Revoke an Open API key (its calls and the VApp links made with it stop working)",
      request: { params: idParam("key_id", "The key's key_id.") },
      responses: { 204: { description: "Revoked." }, ...errorResponses },
    },
    auth,
    async (c) => {
      const keyId = pathParam(c, "key_id");
      if (!(await deps.store.deleteOpenApiKey(keyId))) {
        throw new ApiError(404, "not_found", `Open API key ${keyId} not found. List keys with GET /api/admin/open-api-keys.`);
      }
      return c.body(null, 204);
    },
  );
}
