/**
 * Routes are declared once with zod schemas (`createRoute`): the declaration feeds the
 * OpenAPI 3.1 document, and the same schemas validate requests in the handlers through
 * `parseWith`. Validation is done by us rather than by the generic validator so that errors,
 * their order (auth before body) and streaming bodies follow Dify exactly.
 */
import type { OpenAPIHono, RouteConfig } from "@hono/zod-openapi";
import type { Env, Handler, MiddlewareHandler } from "hono";

export type Method = "get" | "post" | "put" | "patch" | "delete";

/** `/v1/workflows/run/{id}` → `/v1/workflows/run/:id`. */
export function honoPath(openApiPath: string): string {
  return openApiPath.replace(/\{([^}]+)\}/g, ":$1");
}

const declared = new WeakMap<object, Array<{ method: string; pattern: RegExp }>>();

export function defineRoute<E extends Env>(
  app: OpenAPIHono<E>,
  route: RouteConfig & { method: Method },
  ...handlers: [...MiddlewareHandler<E>[], Handler<E>]
): void {
  app.openAPIRegistry.registerPath(route);
  app.on(route.method.toUpperCase(), honoPath(route.path), ...(handlers as [Handler<E>]));
  const list = declared.get(app) ?? [];
  const escaped = route.path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+");
  list.push({ method: route.method.toUpperCase(), pattern: new RegExp(`^${escaped}/?$`) });
  declared.set(app, list);
}

/** Methods declared for `path` (for 405 answers when the path exists but not with the method used). */
export function allowedMethods(app: object, path: string): string[] {
  const methods = new Set<string>();
  for (const r of declared.get(app) ?? []) if (r.pattern.test(path)) methods.add(r.method);
  if (methods.has("GET")) methods.add("HEAD");
  return [...methods].sort();
}

/** A path parameter of the matched route (always present when the route matched). */
export function pathParam(c: { req: { param(name: string): string | undefined } }, name: string): string {
  const value = c.req.param(name);
  if (value === undefined) throw new Error(`Route has no path parameter "${name}".`);
  return value;
}
