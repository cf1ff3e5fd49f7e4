/**
 * `file-upload/upload` (multipart field `file`; the reply's `oss_path` is then a file input
 * value), `user-info/get` and `user/validate-api-key`. Tributary has no user accounts: the
 * "user" is the owner an Open API key was created for, and credits are not metered for owners.
 */
import { randomUUID } from "node:crypto";
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { receiveUpload, UploadError } from "../files/multipart-upload.js";
import type { AppEnv } from "../http/context.js";
import { VvError } from "./envelope.js";
import { type VvContext, vvRoute } from "./route.js";
import { fileUploadJson, isoTime } from "./wire.js";

export function registerFileAndUserRoutes(app: OpenAPIHono<AppEnv>, ctx: VvContext): void {
  const { deps } = ctx;

  vvRoute(
    app,
    ctx,
    {
      method: "post",
      endpoint: "file-upload/upload",
      summary: "Upload a file; pass the returned oss_path as the value of a file input",
      multipart: z.object({ file: z.string().openapi({ type: "string", format: "binary" }) }),
    },
    async ({ c }) => {
      let received: Awaited<ReturnType<typeof receiveUpload>>;
      try {
        received = await receiveUpload(c.req.raw, deps.files.storage, deps.files.uploadPolicy);
      } catch (error) {
        if (error instanceof UploadError)
          throw new VvError(error.status === 413 || error.status === 415 ? error.status : 400, error.message);
        throw error;
      }
      try {
        // Not tied to an app: an Open API upload may feed any of the owner's workflows.
        const row = await deps.store.createFile({
          id: randomUUID(),
          name: received.name,
          size: received.stored.size,
          extension: received.extension,
          mimeType: received.mimeType,
          storageKey: received.stored.storageKey,
        });
        return { data: fileUploadJson(row) };
      } catch (error) {
        await deps.files.storage.delete(received.stored.storageKey).catch(() => {});
        throw error;
      }
    },
  );

  vvRoute(app, ctx, { method: "get", endpoint: "user-info/get", summary: "The key's owner" }, async ({ who }) => {
    const keys = await deps.store.listOpenApiKeys(who.owner);
    const joined = keys[0]?.createdAt ?? (who.kind === "key" ? who.key.createdAt : (deps.now ?? Date.now)());
    return { data: { uid: who.owner, username: who.owner, email: "", credits: null, date_joined: isoTime(joined) } };
  });

  vvRoute(
    app,
    ctx,
    { method: "get", endpoint: "user/validate-api-key", summary: "Check the key; answers its owner" },
    async ({ who }) => ({
      data: { user_id: who.owner, username: who.owner },
    }),
  );
}
