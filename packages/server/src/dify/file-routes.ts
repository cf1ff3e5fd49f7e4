/**
 * File upload (`POST /v1/files/upload`, Dify's limits and error codes), the API-key download
 * (`GET /v1/files/{id}/preview`) and the signed-URL download behind file values' `url`
 * (`GET /files/{id}/file-preview`, no key: the signature is the credential).
 */
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { receiveUpload, UploadError } from "../files/multipart-upload.js";
import type { AppDeps, AppEnv } from "../http/context.js";
import { ApiError } from "../http/errors.js";
import { defineRoute, pathParam } from "../http/route.js";
import type { UploadedFileRow } from "../store/types.js";
import { appKeyAuth } from "./auth.js";
import { errorResponses, errorSchema, fileResponseSchema, idParam, jsonContent } from "./schemas.js";
import { fileResponse } from "./wire.js";

/** Dify's end user for requests without `user`. */
const DEFAULT_USER = "DEFAULT-USER";

/** Types a browser would render as active content from our origin: always downloaded instead. */
const ACTIVE_CONTENT =
  /^(text\/html|application\/xhtml\+xml|image\/svg\+xml|text\/xml|application\/xml|application\/javascript|text\/javascript)/i;

function downloadResponse(deps: AppDeps, row: UploadedFileRow, asAttachment: boolean): Response {
  const stream = deps.files.storage.createReadStream(row.storageKey);
  const disposition = asAttachment || ACTIVE_CONTENT.test(row.mimeType) ? "attachment" : "inline";
  const asciiName = row.name.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return new Response(Readable.toWeb(stream) as unknown as ReadableStream<Uint8Array>, {
    status: 200,
    headers: {
      "Content-Type": row.mimeType || "application/octet-stream",
      "Content-Length": String(row.size),
      "Content-Disposition": `${disposition}; filename="${asciiName}"; filename*=UTF-8''${encodeURIComponent(row.name)}`,
      "X-Content-Type-Options": "nosniff",
      "Content-Security-Policy": "sandbox",
      "Cache-Control": "private, max-age=300",
    },
  });
}

async function storedFileOrNotFound(deps: AppDeps, fileId: string): Promise<UploadedFileRow> {
  const row = await deps.store.getFile(fileId);
  if (!row || (await deps.files.storage.size(row.storageKey)) === undefined) {
    throw new ApiError(404, "not_found", "File not found. Upload it again with POST /v1/files/upload.");
  }
  return row;
}

export function registerFileRoutes(app: OpenAPIHono<AppEnv>, deps: AppDeps): void {
  const auth = appKeyAuth(deps.store, deps.now);

  defineRoute(
    app,
    {
      method: "post",
      path: "/v1/files/upload",
      tags: ["Files"],
      summary: "Upload a file to use as a file input",
      security: [{ Bearer: [] }],
      request: {
        body: {
          required: true,
          content: {
            "multipart/form-data": {
              schema: z.object({
                file: z.string().openapi({ type: "string", format: "binary" }),
                user: z.string().optional(),
              }),
            },
          },
        },
      },
      responses: {
        201: jsonContent(fileResponseSchema, "The stored file; pass its id as upload_file_id."),
        ...errorResponses,
        413: jsonContent(
          errorSchema,
          "`file_too_large`: over the limit for its type (image 10 MB, audio 50 MB, video 100 MB, other 15 MB by default).",
        ),
        415: jsonContent(errorSchema, "`unsupported_file_type`."),
      },
    },
    auth,
    async (c: Context<AppEnv>) => {
      const appRow = c.get("app");
      let received: Awaited<ReturnType<typeof receiveUpload>>;
      try {
        received = await receiveUpload(c.req.raw, deps.files.storage, deps.files.uploadPolicy);
      } catch (error) {
        if (error instanceof UploadError) throw new ApiError(error.status as 400, error.code, error.message);
        throw error;
      }
      try {
        const rawUser = (received.fields["user"] ?? "").trim();
        if (rawUser.length > 255)
          throw new ApiError(400, "invalid_param", "user must be at most 255 characters.", { params: "user" });
        const endUser = await deps.store.getOrCreateEndUser({
          appId: appRow.id,
          sessionId: rawUser || DEFAULT_USER,
          type: "service_api",
          isAnonymous: rawUser === "",
        });
        const row = await deps.store.createFile({
          id: randomUUID(),
          appId: appRow.id,
          endUserId: endUser.id,
          name: received.name,
          size: received.stored.size,
          extension: received.extension,
          mimeType: received.mimeType,
          storageKey: received.stored.storageKey,
        });
        return c.json(fileResponse(row, deps.files.signer.sign(row.id)), 201);
      } catch (error) {
        // No row, no bytes: the upload either fully exists or not at all.
        await deps.files.storage.delete(received.stored.storageKey).catch(() => {});
        throw error;
      }
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/v1/files/{file_id}/preview",
      tags: ["Files"],
      summary: "Download a file uploaded to this app",
      security: [{ Bearer: [] }],
      request: {
        params: idParam("file_id", "The uploaded file's id."),
        query: z.object({ as_attachment: z.enum(["true", "false"]).optional(), user: z.string().optional() }),
      },
      responses: { 200: { description: "The file's bytes." }, ...errorResponses },
    },
    auth,
    async (c) => {
      const row = await storedFileOrNotFound(deps, pathParam(c, "file_id"));
      if (row.appId !== null && row.appId !== c.get("app").id) {
        throw new ApiError(404, "not_found", "File not found. Upload it again with POST /v1/files/upload.");
      }
      return downloadResponse(deps, row, c.req.query("as_attachment") === "true");
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/files/{file_id}/file-preview",
      tags: ["Files"],
      summary: "Download a file through a signed URL (the `url` of a file value)",
      request: {
        params: idParam("file_id", "The file's id."),
        query: z.object({ timestamp: z.string(), nonce: z.string(), sign: z.string(), as_attachment: z.string().optional() }),
      },
      responses: {
        200: { description: "The file's bytes." },
        403: jsonContent(errorSchema, "Bad or expired signature."),
        404: errorResponses[404],
      },
    },
    async (c) => {
      const fileId = pathParam(c, "file_id");
      const verdict = deps.files.signer.verify(fileId, {
        ...(c.req.query("timestamp") !== undefined ? { timestamp: c.req.query("timestamp") } : {}),
        ...(c.req.query("nonce") !== undefined ? { nonce: c.req.query("nonce") } : {}),
        ...(c.req.query("sign") !== undefined ? { sign: c.req.query("sign") } : {}),
      });
      if (verdict === "invalid")
        throw new ApiError(
          403,
          "forbidden",
          "Invalid request: the file URL signature is wrong. Use the url exactly as the API returned it.",
        );
      if (verdict === "expired")
        throw new ApiError(
          403,
          "forbidden",
          "Expired request: the file URL has expired. Fetch the run or file again for a fresh url.",
        );
      const row = await storedFileOrNotFound(deps, fileId);
      return downloadResponse(deps, row, c.req.query("as_attachment") === "true");
    },
  );
}
