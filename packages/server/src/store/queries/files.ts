/** Metadata of uploaded files; the bytes live elsewhere (see `storageKey`). */
import { mapFile } from "../row-mappers.js";
import type { NewUploadedFile, UploadedFileRow } from "../types.js";
import type { StoreContext } from "./store-context.js";

export async function createFile(ctx: StoreContext, input: NewUploadedFile): Promise<UploadedFileRow> {
  const row = {
    id: input.id,
    app_id: input.appId ?? null,
    end_user_id: input.endUserId ?? null,
    name: input.name,
    size: input.size,
    extension: input.extension,
    mime_type: input.mimeType,
    storage_key: input.storageKey,
    created_at: input.createdAt ?? ctx.now(),
  };
  await ctx.db.insertInto("uploaded_files").values(row).execute();
  return mapFile(row);
}

export async function getFile(ctx: StoreContext, id: string): Promise<UploadedFileRow | undefined> {
  const row = await ctx.db.selectFrom("uploaded_files").selectAll().where("id", "=", id).executeTakeFirst();
  return row && mapFile(row);
}
