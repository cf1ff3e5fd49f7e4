/**
 * Dify app-key authentication: `Authorization: Bearer app-…` names the app. The store holds
 * only key hashes, so the presented key is hashed and looked up; the messages and codes are
 * Dify's (401 for a missing/unknown key, 403 for a disabled app).
 */
import type { MiddlewareHandler } from "hono";
import { bearerToken } from "../http/bearer.js";
import type { AppEnv } from "../http/context.js";
import { ApiError, unauthorized } from "../http/errors.js";
import { hashApiKey } from "../store/api-key-hash.js";
import type { Store } from "../store/types.js";

/** Dify updates `last_used_at` at most once a minute per key; so do we. */
const TOUCH_INTERVAL_MS = 60_000;

export function appKeyAuth(store: Store, now: () => number = Date.now): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearerToken(c.req.header("authorization"), "your app API key");
    const found = await store.findApiKeyByHash(hashApiKey(token));
    if (!found) {
      throw unauthorized("Access token is invalid. Check the app API key (it starts with app-) or create a new one.");
    }
    if (!found.app.enabled) {
      throw new ApiError(403, "forbidden", "The app's API service has been disabled. An administrator can enable the app again.");
    }
    const at = now();
    if (found.key.lastUsedAt === null || at - found.key.lastUsedAt > TOUCH_INTERVAL_MS) {
      // Bookkeeping only: a failed touch must not fail the request.
      store.touchApiKey(found.key.id, at).catch(() => {});
    }
    c.set("app", found.app);
    c.set("apiKey", found.key);
    await next();
  };
}
