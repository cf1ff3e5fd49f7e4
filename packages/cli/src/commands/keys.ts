/**
 * Keys: app API keys (`tributary key`, Dify protocol), Open API keys (`tributary
 * openapi-key`, VectorVein protocol; both through the admin API), VApp access keys
 * (`tributary access-key`, through the Open API with an Open API key) and signed VApp links
 * (`tributary vapp-url`, computed locally exactly as the Python SDK does).
 */
import { type AccessKey, VectorVeinClient } from "@tributary/sdk";
import type { CliContext, CommandResult } from "../context.js";
import { isoTime, table } from "../context.js";
import { CliError, EXIT, usageError } from "../errors.js";

export async function createKey(ctx: CliContext, appId: string, options: { name?: string }): Promise<CommandResult> {
  const key = await ctx.admin().createKey(appId, options.name);
  return {
    json: { ...key, app_id: appId },
    text: [`app API key for ${appId} (shown once, store it now):`, key.key, `key id: ${key.id}`],
  };
}

export async function listKeys(ctx: CliContext, appId: string): Promise<CommandResult> {
  const keys = await ctx.admin().listKeys(appId);
  if (keys.length === 0)
    return { json: { app_id: appId, data: [] }, text: `app ${appId} has no API keys: tributary key create ${appId}` };
  return {
    json: { app_id: appId, data: keys },
    text: table(
      ["KEY ID", "PREFIX", "CREATED", "LAST USED", "NAME"],
      keys.map((k) => [k.id, `${k.prefix}…`, isoTime(k.created_at), isoTime(k.last_used_at), k.name ?? ""]),
    ),
  };
}

export async function revokeKey(ctx: CliContext, keyId: string, options: { app?: string }): Promise<CommandResult> {
  const admin = ctx.admin();
  const appId = options.app ?? (await admin.findKeyApp(keyId));
  if (!appId) {
    throw new CliError(
      EXIT.api,
      "not_found",
      `No app has an API key with id ${keyId}. List an app's keys with \`tributary key list APP_ID\`.`,
    );
  }
  await admin.revokeKey(appId, keyId);
  return { json: { key_id: keyId, app_id: appId, revoked: true }, text: `revoked key ${keyId} of app ${appId}` };
}

export async function createOpenApiKey(
  ctx: CliContext,
  options: { name?: string; owner?: string; rateLimit?: number },
): Promise<CommandResult> {
  const key = await ctx.admin().createOpenApiKey(options);
  return {
    json: key,
    text: [
      "Open API key (shown once, store it now):",
      key.api_key,
      `key id: ${key.key_id}`,
      "",
      "Use it with the VectorVein commands and SDKs, e.g.:",
      `  export TRIBUTARY_OPENAPI_KEY=${key.api_key} TRIBUTARY_OPENAPI_KEY_ID=${key.key_id}`,
    ],
  };
}

export async function listOpenApiKeys(ctx: CliContext): Promise<CommandResult> {
  const keys = await ctx.admin().listOpenApiKeys();
  if (keys.length === 0) return { json: { data: [] }, text: "no Open API keys: tributary openapi-key create" };
  return {
    json: { data: keys },
    text: table(
      ["KEY ID", "PREFIX", "OWNER", "CREATED", "LAST USED", "NAME"],
      keys.map((k) => [
        k.key_id,
        k.prefix ? `${k.prefix}…` : "",
        String(k.owner ?? ""),
        isoTime(k.created_at),
        isoTime(k.last_used_at ?? null),
        k.name ?? "",
      ]),
    ),
  };
}

export async function revokeOpenApiKey(ctx: CliContext, keyId: string): Promise<CommandResult> {
  await ctx.admin().revokeOpenApiKey(keyId);
  return { json: { key_id: keyId, revoked: true }, text: `revoked Open API key ${keyId}` };
}

export interface OpenApiKeyOptions {
  openapiKey?: string;
  keyId?: string;
}

function openApiKey(ctx: CliContext, options: OpenApiKeyOptions): string {
  const key = options.openapiKey ?? ctx.io.env["TRIBUTARY_OPENAPI_KEY"];
  if (!key) {
    throw new CliError(
      EXIT.auth,
      "no_openapi_key",
      "No Open API key: pass --openapi-key or set TRIBUTARY_OPENAPI_KEY (create one with `tributary openapi-key create`).",
    );
  }
  return key;
}

function vectorVein(ctx: CliContext, options: OpenApiKeyOptions): VectorVeinClient {
  return new VectorVeinClient({ apiKey: openApiKey(ctx, options), baseUrl: ctx.server });
}

function accessKeyRows(keys: AccessKey[]): string[] {
  return table(
    ["ACCESS KEY", "TYPE", "STATUS", "USES", "CREDITS", "EXPIRES", "APPS"],
    keys.map((k) => [
      k.access_key,
      k.access_key_type,
      k.status,
      `${k.use_count}${k.max_use_count !== null ? `/${k.max_use_count}` : ""}`,
      `${k.used_credits}${k.max_credits !== null ? `/${k.max_credits}` : ""}`,
      k.expire_time || "-",
      (k.v_app ? [k.v_app] : k.v_apps).map((a) => a.app_id).join(","),
    ]),
  );
}

export async function createAccessKeys(
  ctx: CliContext,
  appIds: string[],
  options: OpenApiKeyOptions & {
    type: "O" | "M" | "L";
    count?: number;
    maxUses?: number;
    maxCredits?: number;
    expires?: string;
    description?: string;
  },
): Promise<CommandResult> {
  if (options.type === "M" && options.maxUses === undefined) {
    throw usageError("A multi-use key (--type M) needs --max-uses N.");
  }
  const keys = await vectorVein(ctx, options).createAccessKeys({
    accessKeyType: options.type,
    ...(appIds.length === 1 ? { appId: appIds[0] as string } : { appIds }),
    ...(options.count !== undefined ? { count: options.count } : {}),
    ...(options.maxUses !== undefined ? { maxUseCount: options.maxUses } : {}),
    ...(options.maxCredits !== undefined ? { maxCredits: options.maxCredits } : {}),
    ...(options.expires !== undefined ? { expireTime: options.expires } : {}),
    ...(options.description !== undefined ? { description: options.description } : {}),
  });
  const first = keys[0];
  return {
    json: { access_keys: keys },
    text: [
      ...accessKeyRows(keys),
      ...(first && appIds[0]
        ? [
            "",
            `signed link: tributary vapp-url ${appIds[0]} --access-key ${first.access_key}` +
              ((options.keyId ?? ctx.io.env["TRIBUTARY_OPENAPI_KEY_ID"]) ? "" : " --key-id <Open API key id>"),
          ]
        : []),
    ],
  };
}

export async function listAccessKeys(
  ctx: CliContext,
  options: OpenApiKeyOptions & { app?: string; status?: string[]; type?: "O" | "M" | "L"; page?: number; limit?: number },
): Promise<CommandResult> {
  const page = await vectorVein(ctx, options).listAccessKeys({
    ...(options.app ? { appId: options.app } : {}),
    ...(options.status?.length ? { status: options.status } : {}),
    ...(options.type ? { accessKeyType: options.type } : {}),
    ...(options.page !== undefined ? { page: options.page } : {}),
    ...(options.limit !== undefined ? { pageSize: options.limit } : {}),
  });
  if (page.access_keys.length === 0) return { json: page, text: "no access keys: tributary access-key create APP_ID" };
  const text = accessKeyRows(page.access_keys);
  if (page.page * page.page_size < page.total)
    text.push(`(page ${page.page} of ${page.total} keys; more with --page ${page.page + 1})`);
  return { json: page, text };
}

export async function vappUrl(
  ctx: CliContext,
  appId: string,
  options: OpenApiKeyOptions & { accessKey: string; timeout?: number; baseUrl?: string },
): Promise<CommandResult> {
  const keyId = options.keyId ?? ctx.io.env["TRIBUTARY_OPENAPI_KEY_ID"];
  if (!keyId) {
    throw usageError(
      "vapp-url needs the key id of the Open API key: pass --key-id or set TRIBUTARY_OPENAPI_KEY_ID (`tributary openapi-key list` shows it).",
    );
  }
  const url = await vectorVein(ctx, options).generateVappUrl(appId, options.accessKey, keyId, {
    ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
    baseUrl: options.baseUrl ?? ctx.server,
  });
  const timeout = options.timeout ?? 900;
  return {
    json: { url, app_id: appId, key_id: keyId, expires_in: timeout },
    text: [url, `(valid for ${timeout} s)`].slice(0, ctx.io.stdout.isTTY ? 2 : 1),
  };
}
