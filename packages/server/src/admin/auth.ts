/** The admin API's bearer: one server-wide admin token, compared in constant time. */
import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { bearerToken } from "../http/bearer.js";
import type { AppEnv } from "../http/context.js";
import { unauthorized } from "../http/errors.js";

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();

export function adminAuth(adminToken: string): MiddlewareHandler<AppEnv> {
  const expected = digest(adminToken);
  return async (c, next) => {
    const token = bearerToken(c.req.header("authorization"), "the admin token");
    // Hashing first gives equal-length buffers, so the comparison leaks nothing about length.
    if (!timingSafeEqual(digest(token), expected)) {
      throw unauthorized(
        "Admin token is invalid. Use TRIBUTARY_ADMIN_TOKEN, or the token in <data dir>/admin-token when that variable is unset.",
      );
    }
    await next();
  };
}
