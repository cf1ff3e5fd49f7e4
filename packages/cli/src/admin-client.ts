/**
 * The admin API (`/api/admin/*`, Bearer admin token) as the CLI uses it. Answers are checked
 * with zod at this boundary, so a server of another version fails with a clear message
 * instead of printing undefined fields.
 */
import { z } from "zod";
import { CliError, EXIT } from "./errors.js";

const appSchema = z.looseObject({
  app_id: z.string(),
  name: z.string(),
  description: z.string(),
  tags: z.array(z.string()),
  enabled: z.boolean(),
  max_concurrency: z.number().nullable(),
  workflow_id: z.string().nullable(),
  created_at: z.number(),
  updated_at: z.number(),
});
export type AdminApp = z.infer<typeof appSchema>;

const appPageSchema = z.object({
  page: z.number(),
  limit: z.number(),
  total: z.number(),
  has_more: z.boolean(),
  data: z.array(appSchema),
});
export type AppPage = z.infer<typeof appPageSchema>;

const versionSchema = z.looseObject({
  workflow_id: z.string(),
  version: z.number(),
  source_format: z.string(),
  created_at: z.number(),
});
const appDetailSchema = appSchema.extend({ versions: z.array(versionSchema) });
export type AppDetail = z.infer<typeof appDetailSchema>;

const createdAppSchema = z.looseObject({ app_id: z.string(), workflow_id: z.string(), name: z.string() });
const createdVersionSchema = z.looseObject({ workflow_id: z.string(), version: z.number() });

const apiKeySchema = z.looseObject({
  id: z.string(),
  prefix: z.string(),
  name: z.string().nullable(),
  created_at: z.number(),
  last_used_at: z.number().nullable().optional(),
});
export type ApiKeyInfo = z.infer<typeof apiKeySchema>;
const createdKeySchema = apiKeySchema.extend({ key: z.string() });
const keyListSchema = z.object({ data: z.array(apiKeySchema) });

const openApiKeySchema = z.looseObject({
  key_id: z.string(),
  owner: z.string().optional(),
  name: z.string().nullable().optional(),
  prefix: z.string().optional(),
  created_at: z.number().optional(),
  last_used_at: z.number().nullable().optional(),
});
export type OpenApiKeyInfo = z.infer<typeof openApiKeySchema>;
const createdOpenApiKeySchema = openApiKeySchema.extend({ api_key: z.string() });
const openApiKeyListSchema = z.object({ data: z.array(openApiKeySchema) });

const errorBodySchema = z.looseObject({
  code: z.string(),
  message: z.string(),
  status: z.number().optional(),
  problems: z.array(z.object({ node_id: z.string().nullable(), message: z.string() })).optional(),
});

export interface ExportedWorkflow {
  text: string;
  workflowId: string | null;
  version: number | null;
  sourceFormat: string | null;
  fileName: string | null;
}

interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  text?: { body: string; contentType: string };
  /** The response is not JSON (export) or empty (204). */
  expect?: "json" | "text" | "empty";
}

export class AdminClient {
  readonly server: string;
  readonly #token: string;
  readonly #timeoutMs: number;

  constructor(server: string, token: string, timeoutMs = 60_000) {
    this.server = server.replace(/\/+$/, "");
    this.#token = token;
    this.#timeoutMs = timeoutMs;
  }

  async #request(method: string, path: string, options: RequestOptions = {}): Promise<{ body: unknown; response: Response }> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { Authorization: `Bearer ${this.#token}` };
    let body: string | undefined;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    } else if (options.text) {
      headers["Content-Type"] = options.text.contentType;
      body = options.text.body;
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason = cause?.code ?? cause?.message ?? (error as Error).message;
      throw new CliError(
        EXIT.network,
        "network_error",
        `Cannot reach the server at ${this.server} (${reason}). Start it with \`tributary serve\`, or point --server / TRIBUTARY_SERVER at it.`,
        { cause: error },
      );
    }
    const requestId = response.headers.get("x-request-id");
    const text = await response.text();
    if (!response.ok) throw this.#error(response, text, requestId, `${method} ${path}`);
    if (options.expect === "empty") return { body: undefined, response };
    if (options.expect === "text") return { body: text, response };
    try {
      return { body: JSON.parse(text) as unknown, response };
    } catch {
      throw new CliError(EXIT.api, "invalid_response", `${method} ${path} answered with something that is not JSON.`, {
        requestId,
      });
    }
  }

  #error(response: Response, text: string, requestId: string | null, what: string): CliError {
    let parsed: z.infer<typeof errorBodySchema> | undefined;
    try {
      const result = errorBodySchema.safeParse(JSON.parse(text));
      parsed = result.success ? result.data : undefined;
    } catch {
      parsed = undefined;
    }
    const message = parsed?.message ?? `${what} failed with HTTP ${response.status}: ${text.slice(0, 200)}`;
    if (response.status === 401 || response.status === 403) {
      return new CliError(
        EXIT.auth,
        parsed?.code ?? "unauthorized",
        /TRIBUTARY_ADMIN_TOKEN/.test(message)
          ? message
          : `${message} (Pass the admin token with --admin-token or TRIBUTARY_ADMIN_TOKEN; \`tributary serve\` prints it and keeps it in <data dir>/admin-token.)`,
        { requestId },
      );
    }
    if (parsed?.code === "invalid_workflow") {
      return new CliError(EXIT.usage, "invalid_workflow", message, { requestId, details: { problems: parsed.problems ?? [] } });
    }
    return new CliError(EXIT.api, parsed?.code ?? `http_${response.status}`, message, {
      requestId,
      details: { status: response.status },
    });
  }

  #parse<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
    const result = schema.safeParse(value);
    if (!result.success) {
      throw new CliError(
        EXIT.api,
        "invalid_response",
        `The server's answer to ${what} is not what this CLI expects (${result.error.issues[0]?.message ?? "unknown shape"}). Are the CLI and server the same version?`,
      );
    }
    return result.data;
  }

  async listApps(query: { page?: number; limit?: number; search?: string } = {}): Promise<AppPage> {
    const { body } = await this.#request("GET", "/api/admin/apps", { query });
    return this.#parse(appPageSchema, body, "GET /api/admin/apps");
  }

  async getApp(appId: string): Promise<AppDetail> {
    const { body } = await this.#request("GET", `/api/admin/apps/${encodeURIComponent(appId)}`);
    return this.#parse(appDetailSchema, body, "GET /api/admin/apps/{id}");
  }

  async createApp(source: string, contentType: string, name?: string): Promise<z.infer<typeof createdAppSchema>> {
    const { body } = await this.#request("POST", "/api/admin/apps", {
      text: { body: source, contentType },
      query: { name },
    });
    return this.#parse(createdAppSchema, body, "POST /api/admin/apps");
  }

  async addVersion(appId: string, source: string, contentType: string): Promise<z.infer<typeof createdVersionSchema>> {
    const { body } = await this.#request("POST", `/api/admin/apps/${encodeURIComponent(appId)}/versions`, {
      text: { body: source, contentType },
    });
    return this.#parse(createdVersionSchema, body, "POST /api/admin/apps/{id}/versions");
  }

  async deleteApp(appId: string): Promise<void> {
    await this.#request("DELETE", `/api/admin/apps/${encodeURIComponent(appId)}`, { expect: "empty" });
  }

  async exportApp(appId: string, options: { version?: number; format?: "source" | "json" } = {}): Promise<ExportedWorkflow> {
    const { body, response } = await this.#request("GET", `/api/admin/apps/${encodeURIComponent(appId)}/export`, {
      query: { version: options.version, format: options.format },
      expect: "text",
    });
    const version = response.headers.get("x-workflow-version");
    const disposition = response.headers.get("content-disposition") ?? "";
    return {
      text: body as string,
      workflowId: response.headers.get("x-workflow-id"),
      version: version === null ? null : Number(version),
      sourceFormat: response.headers.get("x-source-format"),
      fileName: /filename="([^"]+)"/.exec(disposition)?.[1] ?? null,
    };
  }

  async createKey(appId: string, name?: string): Promise<z.infer<typeof createdKeySchema>> {
    const { body } = await this.#request("POST", `/api/admin/apps/${encodeURIComponent(appId)}/api-keys`, {
      json: name === undefined ? {} : { name },
    });
    return this.#parse(createdKeySchema, body, "POST /api/admin/apps/{id}/api-keys");
  }

  async listKeys(appId: string): Promise<ApiKeyInfo[]> {
    const { body } = await this.#request("GET", `/api/admin/apps/${encodeURIComponent(appId)}/api-keys`);
    return this.#parse(keyListSchema, body, "GET /api/admin/apps/{id}/api-keys").data;
  }

  async revokeKey(appId: string, keyId: string): Promise<void> {
    await this.#request("DELETE", `/api/admin/apps/${encodeURIComponent(appId)}/api-keys/${encodeURIComponent(keyId)}`, {
      expect: "empty",
    });
  }

  /** The app a key belongs to, found by walking every app's keys (the admin API has no reverse lookup). */
  async findKeyApp(keyId: string): Promise<string | undefined> {
    for (let page = 1; ; page++) {
      const apps = await this.listApps({ page, limit: 100 });
      for (const app of apps.data) {
        const keys = await this.listKeys(app.app_id);
        if (keys.some((k) => k.id === keyId)) return app.app_id;
      }
      if (!apps.has_more) return undefined;
    }
  }

  /** Open API key routes came with VectorVein support: say so when the server lacks them. */
  async #openApi<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof CliError && error.code === "not_found" && /requested URL was not found/.test(error.message)) {
        throw new CliError(
          EXIT.api,
          "not_supported",
          `The server at ${this.server} has no /api/admin/open-api-keys endpoint: it predates VectorVein support. Upgrade the server.`,
          { requestId: error.requestId },
        );
      }
      throw error;
    }
  }

  async createOpenApiKey(options: {
    name?: string;
    owner?: string;
    rateLimit?: number;
  }): Promise<z.infer<typeof createdOpenApiKeySchema>> {
    const { body } = await this.#openApi(() =>
      this.#request("POST", "/api/admin/open-api-keys", {
        json: {
          ...(options.name !== undefined ? { name: options.name } : {}),
          ...(options.owner !== undefined ? { owner: options.owner } : {}),
          ...(options.rateLimit !== undefined ? { rate_limit_per_minute: options.rateLimit } : {}),
        },
      }),
    );
    return this.#parse(createdOpenApiKeySchema, body, "POST /api/admin/open-api-keys");
  }

  async listOpenApiKeys(): Promise<OpenApiKeyInfo[]> {
    const { body } = await this.#openApi(() => this.#request("GET", "/api/admin/open-api-keys"));
    return this.#parse(openApiKeyListSchema, body, "GET /api/admin/open-api-keys").data;
  }

  async revokeOpenApiKey(keyId: string): Promise<void> {
    await this.#openApi(() =>
      this.#request("DELETE", `/api/admin/open-api-keys/${encodeURIComponent(keyId)}`, { expect: "empty" }),
    );
  }
}
