/**
 * `vapp/access-key/get | create | list | update | delete | add-apps | remove-apps`: the
 * owner's VApp access keys. Types O (one use), M (`max_use_count` uses), L (until
 * `expire_time`, if any); the type is fixed at creation. Replies carry exactly the SDK's
 * `AccessKey` fields; errors follow the SDK's mapping (404 no such key or app, 403 expired or
 * invalid key, 400 a bad request).
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../http/context.js";
import { accessKeyStatus } from "../store/queries/access-keys.js";
import type { AccessKeyPatch, AccessKeyRow, AccessKeyType, AppRow, NewAccessKey } from "../store/types.js";
import { VvError } from "./envelope.js";
import { generateAccessKey } from "./keys.js";
import { type VvContext, vvRoute } from "./route.js";
import { pageSchema, pageSizeSchema, sortOrderSchema } from "./run-routes.js";
import { type AccessKeyJson, accessKeyJson } from "./wire.js";

const MAX_KEYS_PER_CALL = 100;

const typeSchema = z.enum(["O", "M", "L"], {
  error: 'access_key_type must be "O" (one-time), "M" (multiple uses) or "L" (long-term).',
});
const keyListSchema = z
  .array(z.string().min(1), { error: "access_keys must be a list of access keys." })
  .min(1, "access_keys must name at least one access key.")
  .max(MAX_KEYS_PER_CALL, `access_keys may name at most ${MAX_KEYS_PER_CALL} keys per call.`);
const appIdsSchema = z
  .array(z.string().min(1), { error: "app_ids must be a list of app ids." })
  .min(1, "app_ids must name at least one app.")
  .max(MAX_KEYS_PER_CALL);
const countSchema = (name: string) =>
  z
    .number({ error: `${name} must be a whole number, 1 or more.` })
    .int(`${name} must be a whole number, 1 or more.`)
    .min(1, `${name} must be a whole number, 1 or more.`);
const creditsSchema = z
  .number({ error: "max_credits must be a whole number, 0 or more." })
  .int("max_credits must be a whole number, 0 or more.")
  .min(0, "max_credits must be a whole number, 0 or more.");

const createBody = z
  .looseObject({
    access_key_type: typeSchema,
    count: z
      .number({ error: `count must be a whole number from 1 to ${MAX_KEYS_PER_CALL}.` })
      .int()
      .min(1, `count must be a whole number from 1 to ${MAX_KEYS_PER_CALL}.`)
      .max(MAX_KEYS_PER_CALL, `count must be a whole number from 1 to ${MAX_KEYS_PER_CALL}.`)
      .default(1),
    app_id: z.string().min(1).nullish(),
    app_ids: appIdsSchema.nullish(),
    expire_time: z.string().nullish(),
    max_credits: creditsSchema.nullish(),
    max_use_count: countSchema("max_use_count").nullish(),
    description: z.string().max(1000, "description must be at most 1000 characters.").nullish(),
  })
  .openapi("VectorVeinAccessKeyCreate");

const listBody = z.looseObject({
  page: pageSchema,
  page_size: pageSizeSchema,
  sort_field: z
    .enum(["create_time", "expire_time", "last_use_time", "use_count", "used_credits"], {
      error: 'sort_field must be one of "create_time", "expire_time", "last_use_time", "use_count", "used_credits".',
    })
    .default("create_time"),
  sort_order: sortOrderSchema,
  app_id: z.string().nullish(),
  status: z
    .array(z.enum(["AC", "IN", "EX", "US"], { error: "status entries must be AC, IN, EX or US." }), {
      error: 'status must be a list such as ["AC", "US"].',
    })
    .nullish(),
  access_key_type: typeSchema.nullish(),
});

const updateBody = z
  .looseObject({
    access_key: z.string().min(1).nullish(),
    access_keys: keyListSchema.nullish(),
    app_id: z.string().min(1).nullish(),
    app_ids: appIdsSchema.nullish(),
    expire_time: z.string().nullish(),
    max_use_count: countSchema("max_use_count").nullish(),
    max_credits: creditsSchema.nullish(),
    description: z.string().max(1000).nullish(),
    access_key_type: typeSchema.nullish(),
  })
  .openapi("VectorVeinAccessKeyUpdate");

const deleteBody = z.looseObject({
  app_id: z.string({ error: "app_id is required: the app whose keys to delete." }).min(1),
  access_keys: keyListSchema,
});

const appsBody = z.looseObject({ access_keys: keyListSchema, app_ids: appIdsSchema });

const getQuery = z.object({
  get_type: z.enum(["selected", "all"], { error: 'get_type must be "selected" or "all".' }).default("selected"),
  access_keys: z.string().optional(),
});

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?$/;

/**
 * `expire_time` as epoch ms. ISO 8601 with a zone is taken as it is; `YYYY-MM-DD HH:MM:SS` and
 * `YYYY-MM-DD` (no zone) are read as UTC, the server's only timezone.
 */
export function parseExpireTime(text: string): number {
  const trimmed = text.trim();
  const local = DATE_TIME.exec(trimmed);
  let ms: number;
  if (local) {
    const [, y, mo, d, h = "0", mi = "0", s = "0"] = local;
    ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
    const check = new Date(ms);
    if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d)) ms = Number.NaN;
  } else if (/^\d{4}-\d{2}-\d{2}T.+(Z|[+-]\d{2}:?\d{2})$/i.test(trimmed)) {
    ms = Date.parse(trimmed);
  } else {
    ms = Number.NaN;
  }
  if (!Number.isFinite(ms)) {
    throw new VvError(
      400,
      `expire_time "${text}" is not a date: use ISO 8601 (2030-01-31T12:00:00Z) or "YYYY-MM-DD HH:MM:SS" (read as UTC).`,
    );
  }
  return ms;
}

export function registerAccessKeyRoutes(app: OpenAPIHono<AppEnv>, ctx: VvContext): void {
  const { deps } = ctx;
  const now = () => (deps.now ?? Date.now)();

  /** Apps by id, live ones only; a missing one is a 404 naming it. */
  async function appsOf(appIds: readonly string[]): Promise<Map<string, AppRow>> {
    const out = new Map<string, AppRow>();
    const missing: string[] = [];
    for (const id of new Set(appIds)) {
      const row = await deps.store.getApp(id);
      if (row) out.set(id, row);
      else missing.push(id);
    }
    if (missing.length > 0) {
      throw new VvError(
        404,
        `App${missing.length === 1 ? "" : "s"} not found: ${missing.join(", ")}. Use the ids of existing apps (workflow/list).`,
      );
    }
    return out;
  }

  /** The SDK's AccessKey objects for `keys`, with their apps and records. */
  async function render(keys: AccessKeyRow[]): Promise<AccessKeyJson[]> {
    const apps = new Map<string, AppRow>();
    for (const id of new Set(keys.flatMap((k) => k.appIds))) {
      const row = await deps.store.getApp(id);
      if (row) apps.set(id, row);
    }
    const records = await deps.store.listAccessKeyRecords(keys.map((k) => k.id));
    const at = now();
    return keys.map((k) => accessKeyJson(k, apps, records.get(k.id) ?? [], at));
  }

  /** The owner's keys named in `names`, in that order; any unknown one is a 404 naming it. */
  async function ownKeys(owner: string, names: readonly string[]): Promise<AccessKeyRow[]> {
    const unique = [...new Set(names.map((n) => n.trim()).filter((n) => n !== ""))];
    const found = await deps.store.getAccessKeys(owner, unique);
    const byKey = new Map(found.map((k) => [k.accessKey, k]));
    const missing = unique.filter((n) => !byKey.has(n));
    if (missing.length > 0) {
      throw new VvError(
        404,
        `Access key${missing.length === 1 ? "" : "s"} not found: ${missing.join(", ")}. List your keys with vapp/access-key/list.`,
      );
    }
    return unique.map((n) => byKey.get(n) as AccessKeyRow);
  }

  vvRoute(
    app,
    ctx,
    {
      method: "get",
      endpoint: "vapp/access-key/get",
      summary: "Access keys by key (get_type=selected&access_keys=k1,k2) or all of them",
      query: getQuery,
    },
    async ({ who, query }) => {
      if (query.get_type === "all") {
        const all = await deps.store.listAccessKeys({ owner: who.owner, now: now(), page: 1, limit: 1000, sortOrder: "desc" });
        return { data: await render(all.items) };
      }
      const names = (query.access_keys ?? "").split(",").filter((k) => k.trim() !== "");
      if (names.length === 0) {
        throw new VvError(400, "access_keys is required with get_type=selected: send access_keys=key1,key2 (or get_type=all).");
      }
      const keys = await ownKeys(who.owner, names);
      const at = now();
      const unusable = keys.filter((k) => {
        const s = accessKeyStatus(k, at);
        return s === "EX" || s === "IN";
      });
      if (unusable.length > 0) {
        throw new VvError(
          403,
          `Access key${unusable.length === 1 ? " has" : "s have"} expired or been invalidated: ${unusable.map((k) => k.accessKey).join(", ")}. See them with get_type=all or vapp/access-key/list.`,
        );
      }
      return { data: await render(keys) };
    },
  );

  vvRoute(
    app,
    ctx,
    {
      method: "post",
      endpoint: "vapp/access-key/create",
      summary: "Create access keys for one app (app_id) or several (app_ids)",
      body: createBody,
    },
    async ({ who, body }) => {
      if (body.app_id && body.app_ids) throw new VvError(400, "Send app_id (one app) or app_ids (several apps), not both.");
      const appIds = body.app_id ? [body.app_id] : (body.app_ids ?? []);
      if (appIds.length === 0) throw new VvError(400, "Name the app the keys open: app_id (one app) or app_ids (several apps).");
      await appsOf(appIds);
      const type: AccessKeyType = body.access_key_type;
      let maxUseCount = body.max_use_count ?? null;
      if (type === "O") {
        if (maxUseCount !== null && maxUseCount !== 1) {
          throw new VvError(
            400,
            'A one-time key (type "O") is used once: leave max_use_count out, or use type "M" for several uses.',
          );
        }
        maxUseCount = 1;
      }
      if (type === "M" && maxUseCount === null) {
        throw new VvError(400, 'A multiple-use key (type "M") needs max_use_count: how many runs it allows.');
      }
      const expireAt = body.expire_time ? parseExpireTime(body.expire_time) : null;
      if (expireAt !== null && expireAt <= now()) {
        throw new VvError(400, `expire_time "${body.expire_time}" is in the past: give a future time.`);
      }
      const inputs: NewAccessKey[] = Array.from({ length: body.count }, () => ({
        accessKey: generateAccessKey(),
        owner: who.owner,
        type,
        scope: body.app_ids ? "M" : "S",
        maxUseCount,
        maxCredits: body.max_credits ?? null,
        description: body.description ?? "",
        expireAt,
        expireTimeText: body.expire_time?.trim() ?? null,
        appIds,
      }));
      return { data: await render(await deps.store.createAccessKeys(inputs)) };
    },
  );

  vvRoute(
    app,
    ctx,
    {
      method: "post",
      endpoint: "vapp/access-key/list",
      summary: "A page of access keys; filter by app_id, status and access_key_type",
      body: listBody,
    },
    async ({ who, body }) => {
      const page = await deps.store.listAccessKeys({
        owner: who.owner,
        now: now(),
        page: body.page,
        limit: body.page_size,
        ...(body.app_id ? { appId: body.app_id } : {}),
        ...(body.status && body.status.length > 0 ? { statuses: body.status } : {}),
        ...(body.access_key_type ? { type: body.access_key_type } : {}),
        sortField: body.sort_field,
        sortOrder: body.sort_order,
      });
      // Exactly the four fields of the SDK's AccessKeyListResponse; page and page_size echo the request.
      return { data: { access_keys: await render(page.items), total: page.total, page_size: body.page_size, page: body.page } };
    },
  );

  vvRoute(
    app,
    ctx,
    {
      method: "post",
      endpoint: "vapp/access-key/update",
      summary: "Change keys' apps, expiry, limits or description (never their type)",
      body: updateBody,
    },
    async ({ who, body }) => {
      const names = [...(body.access_key ? [body.access_key] : []), ...(body.access_keys ?? [])];
      if (names.length === 0) throw new VvError(400, "Name the keys to update: access_key (one) or access_keys (several).");
      if (body.app_id && body.app_ids) throw new VvError(400, "Send app_id (one app) or app_ids (several apps), not both.");
      const keys = await ownKeys(who.owner, names);
      if (body.access_key_type) {
        const changed = keys.filter((k) => k.type !== body.access_key_type);
        if (changed.length > 0) {
          throw new VvError(
            400,
            `The type of an access key cannot change after creation: ${changed.map((k) => `${k.accessKey} is type ${k.type}`).join(", ")}. Create a new key of type ${body.access_key_type} instead.`,
          );
        }
      }
      const patch: AccessKeyPatch = {};
      if (body.description !== undefined && body.description !== null) patch.description = body.description;
      if (body.max_credits !== undefined && body.max_credits !== null) patch.maxCredits = body.max_credits;
      if (body.max_use_count !== undefined && body.max_use_count !== null) {
        if (keys.some((k) => k.type === "O") && body.max_use_count !== 1) {
          throw new VvError(
            400,
            'A one-time key (type "O") is used once; its max_use_count cannot change. Create a type "M" key instead.',
          );
        }
        patch.maxUseCount = body.max_use_count;
      }
      if (body.expire_time) {
        patch.expireAt = parseExpireTime(body.expire_time);
        patch.expireTimeText = body.expire_time.trim();
      }
      if (body.app_id || body.app_ids) {
        const appIds = body.app_id ? [body.app_id] : (body.app_ids ?? []);
        await appsOf(appIds);
        patch.apps = { appIds, scope: body.app_ids ? "M" : "S" };
      }
      await deps.store.updateAccessKeys(
        keys.map((k) => k.id),
        patch,
      );
      return { data: await render(await ownKeys(who.owner, names)) };
    },
  );

  vvRoute(
    app,
    ctx,
    { method: "post", endpoint: "vapp/access-key/delete", summary: "Delete keys of an app", body: deleteBody },
    async ({ who, body }) => {
      const keys = await ownKeys(who.owner, body.access_keys);
      const elsewhere = keys.filter((k) => !k.appIds.includes(body.app_id));
      if (elsewhere.length > 0) {
        throw new VvError(
          404,
          `Access key${elsewhere.length === 1 ? "" : "s"} ${elsewhere.map((k) => k.accessKey).join(", ")} ${elsewhere.length === 1 ? "does" : "do"} not open app ${body.app_id}. Send the app_id the keys belong to.`,
        );
      }
      const deleted = await deps.store.deleteAccessKeys(keys.map((k) => k.id));
      return { data: { deleted } };
    },
  );

  vvRoute(
    app,
    ctx,
    { method: "post", endpoint: "vapp/access-key/add-apps", summary: "Let keys open more apps", body: appsBody },
    async ({ who, body }) => {
      const keys = await ownKeys(who.owner, body.access_keys);
      await appsOf(body.app_ids);
      await deps.store.addAccessKeyApps(
        keys.map((k) => k.id),
        body.app_ids,
      );
      return { data: await render(await ownKeys(who.owner, body.access_keys)) };
    },
  );

  vvRoute(
    app,
    ctx,
    { method: "post", endpoint: "vapp/access-key/remove-apps", summary: "Stop keys opening some apps", body: appsBody },
    async ({ who, body }) => {
      const keys = await ownKeys(who.owner, body.access_keys);
      await deps.store.removeAccessKeyApps(
        keys.map((k) => k.id),
        body.app_ids,
      );
      return { data: await render(await ownKeys(who.owner, body.access_keys)) };
    },
  );
}
