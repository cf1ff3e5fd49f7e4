/**
 * Who is calling, from the headers the SDK sends: `VECTORVEIN-API-KEY: <key>` (and
 * `VECTORVEIN-API-VERSION`, accepted whatever its value). The key is an Open API key (the
 * owner's; every endpoint), or, with `VECTORVEIN-API-KEY-TYPE: VAPP`, either an Open API key
 * (then `wid` names a VApp, which in Tributary is the same app id) or a VApp access key, which
 * may only run and poll the apps it opens, each run taking one of its uses.
 */
import type { Context } from "hono";
import type { AppEnv } from "../http/context.js";
import type { AccessKeyRow, OpenApiKeyRow, Store } from "../store/types.js";
import { VvError } from "./envelope.js";
import { hashApiKey } from "./keys.js";
import { RateLimiter } from "./rate-limiter.js";

export type Principal =
  | { kind: "key"; owner: string; key: OpenApiKeyRow; vapp: boolean }
  | { kind: "access-key"; owner: string; accessKey: AccessKeyRow };

/** Default calls per minute of a VApp access key used as an API key (VectorVein's documented limit). */
export const ACCESS_KEY_RATE_LIMIT = 60;

/** last_used_at is refreshed at most once a minute per key. */
const TOUCH_INTERVAL_MS = 60_000;

export interface OpenApiAuth {
  /** The caller, or a 401/403 VvError. Counts the call against the key's rate limit (429). */
  authenticate(c: Context<AppEnv>, options: { allowAccessKey: boolean }): Promise<Principal>;
}

export function openApiAuth(store: Store, now: () => number = Date.now): OpenApiAuth {
  const limiter = new RateLimiter(now);
  return {
    async authenticate(c, options) {
      const presented = (c.req.header("vectorvein-api-key") ?? "").trim();
      if (presented === "") {
        throw new VvError(
          401,
          "API key missing: send your Open API key in the VECTORVEIN-API-KEY header (an administrator creates one with POST /api/admin/open-api-keys).",
        );
      }
      const vapp = (c.req.header("vectorvein-api-key-type") ?? "").trim().toUpperCase() === "VAPP";
      const key = await store.findOpenApiKeyByHash(hashApiKey(presented));
      let principal: Principal | undefined;
      if (key) {
        principal = { kind: "key", owner: key.owner, key, vapp };
        const at = now();
        if (key.lastUsedAt === null || at - key.lastUsedAt > TOUCH_INTERVAL_MS) {
          // Bookkeeping only: a failed touch must not fail the request.
          store.touchOpenApiKey(key.id, at).catch(() => {});
        }
      } else if (vapp && /^[0-9a-f]{32}$/.test(presented)) {
        const accessKey = await store.findAccessKey(presented);
        if (accessKey) principal = { kind: "access-key", owner: accessKey.owner, accessKey };
      }
      if (!principal) {
        throw new VvError(
          401,
          "API key is invalid or expired: no Open API key (or, with VECTORVEIN-API-KEY-TYPE: VAPP, no access key) matches the VECTORVEIN-API-KEY header. Check the key, or ask an administrator for a new one.",
        );
      }
      if (principal.kind === "access-key" && !options.allowAccessKey) {
        throw new VvError(
          403,
          "An access key used as API key can only run the VApps it opens and check their runs (workflow/run, workflow/check-status). Use an Open API key for this endpoint.",
        );
      }
      const [bucket, limit] =
        principal.kind === "key"
          ? [`key:${principal.key.id}`, principal.key.rateLimitPerMinute]
          : [`access-key:${principal.accessKey.id}`, ACCESS_KEY_RATE_LIMIT];
      const decision = limiter.take(bucket, limit);
      if (!decision.allowed) {
        throw new VvError(
          429,
          `Rate limit exceeded: this key may make ${limit} calls per minute. Retry in ${decision.retryAfterSec} s (an administrator can give the key a higher limit).`,
          { headers: { "Retry-After": String(decision.retryAfterSec) } },
        );
      }
      return principal;
    },
  };
}
