/**
 * LLM provider credentials (admin). Stored encrypted by the store; listing shows which
 * providers are configured, never their secrets.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { errorResponses, idParam, jsonContent } from "../dify/schemas.js";
import { unixSeconds } from "../dify/wire.js";
import type { AppDeps, AppEnv } from "../http/context.js";
import { ApiError, badRequest } from "../http/errors.js";
import { parseWith, readJsonBody } from "../http/request-body.js";
import { defineRoute, pathParam } from "../http/route.js";
import { adminAuth } from "./auth.js";

const PROVIDER_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

const credentialsSchema = z
  .object({
    api_key: z
      .string()
      .trim()
      .min(1, "api_key must not be empty; omit it for providers without keys (e.g. Ollama).")
      .max(4096)
      .optional(),
    base_url: z
      .string()
      .trim()
      .url("base_url must be an absolute URL such as https://api.example.com/v1.")
      .refine((v) => /^https?:\/\//i.test(v), "base_url must start with http:// or https://.")
      .nullish(),
    pricing: z
      .record(z.string(), z.object({ input: z.number().min(0), output: z.number().min(0), currency: z.string().optional() }))
      .optional()
      .openapi({ description: "Price per 1M tokens by model, for total_price." }),
  })
  .strict()
  .openapi("ProviderCredentials");

const providerInfoSchema = z.object({ provider: z.string(), created_at: z.number().int(), updated_at: z.number().int() });

function providerParam(raw: string): string {
  const provider = raw.toLowerCase();
  if (!PROVIDER_NAME.test(provider)) {
    throw badRequest(
      `"${raw}" is not a provider name: use lower-case letters, digits, "-", "_" or "." (e.g. openai, anthropic, deepseek, ollama).`,
      "provider",
    );
  }
  return provider;
}

export function registerAdminProviderRoutes(app: OpenAPIHono<AppEnv>, deps: AppDeps): void {
  const auth = adminAuth(deps.config.adminToken);
  const common = { tags: ["Admin"], security: [{ AdminBearer: [] }] };
  const param = idParam("provider", "Provider name (openai, anthropic, google, deepseek, ollama, …).");

  defineRoute(
    app,
    {
      method: "put",
      path: "/api/admin/providers/{provider}",
      ...common,
      summary: "Set a provider's credentials",
      request: { params: param, body: { required: true, content: { "application/json": { schema: credentialsSchema } } } },
      responses: { 200: jsonContent(providerInfoSchema, "Stored (encrypted)."), ...errorResponses },
    },
    auth,
    async (c) => {
      const provider = providerParam(pathParam(c, "provider"));
      const body = parseWith(credentialsSchema, await readJsonBody(c, deps.config.maxBodyBytes));
      if (body.api_key === undefined && !body.base_url) {
        throw badRequest("Send at least one of api_key and base_url.", "api_key");
      }
      await deps.store.putCredentials(provider, {
        ...(body.api_key !== undefined ? { apiKey: body.api_key } : {}),
        ...(body.base_url ? { baseUrl: body.base_url } : {}),
        ...(body.pricing ? { pricing: body.pricing } : {}),
      });
      const info = (await deps.store.listCredentials()).find((p) => p.provider === provider);
      const now = unixSeconds(deps.now?.() ?? Date.now());
      return c.json({
        provider,
        created_at: info ? unixSeconds(info.createdAt) : now,
        updated_at: info ? unixSeconds(info.updatedAt) : now,
      });
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/admin/providers",
      ...common,
      summary: "List configured providers (no secrets)",
      responses: { 200: jsonContent(z.object({ data: z.array(providerInfoSchema) }), "Providers."), ...errorResponses },
    },
    auth,
    async (c) => {
      const list = await deps.store.listCredentials();
      return c.json({
        data: list.map((p) => ({
          provider: p.provider,
          created_at: unixSeconds(p.createdAt),
          updated_at: unixSeconds(p.updatedAt),
        })),
      });
    },
  );

  defineRoute(
    app,
    {
      method: "delete",
      path: "/api/admin/providers/{provider}",
      ...common,
      summary: "Remove a provider's credentials",
      request: { params: param },
      responses: { 204: { description: "Removed." }, ...errorResponses },
    },
    auth,
    async (c) => {
      const provider = providerParam(pathParam(c, "provider"));
      if (!(await deps.store.deleteCredentials(provider))) {
        throw new ApiError(404, "not_found", `Provider ${provider} has no credentials. List them with GET /api/admin/providers.`);
      }
      return c.body(null, 204);
    },
  );
}
