/**
 * The engine's FileCapability on top of the store (file rows) and disk storage (bytes).
 * Remote URLs are not fetched when a run starts: they are read on demand through the HTTP
 * capability, whose SSRF guard decides which hosts are reachable.
 */
import { randomUUID } from "node:crypto";
import {
  FILE_IDENTITY,
  type FileCapability,
  type FileInputRef,
  type FileType,
  type FileValue,
  fileTypeForExtension,
  type HttpCapability,
  HttpRequestError,
  InputValidationError,
  TributaryError,
} from "@tributary/engine";
import type { UploadLimits } from "../config.js";
import type { Store, UploadedFileRow } from "../store/types.js";
import { extensionOf, mimeForExtension, sanitizeFileName } from "./file-names.js";
import type { DiskFileStorage } from "./file-storage.js";
import type { FileUrlSigner } from "./signed-url.js";

export interface ServerFileCapabilityOptions {
  store: Store;
  storage: DiskFileStorage;
  signer: FileUrlSigner;
  /** Remote reads go through it (and its SSRF guard). */
  http: HttpCapability;
  limits: Pick<UploadLimits, "imageBytes" | "audioBytes" | "videoBytes" | "fileBytes">;
  /** When set, only uploads of this app (or of no app) resolve; others read as unknown. */
  appId?: string | null;
}

export function uploadLimitFor(type: FileType, limits: ServerFileCapabilityOptions["limits"]): number {
  switch (type) {
    case "image":
      return limits.imageBytes;
    case "audio":
      return limits.audioBytes;
    case "video":
      return limits.videoBytes;
    default:
      return limits.fileBytes;
  }
}

export class ServerFileCapability implements FileCapability {
  readonly #o: ServerFileCapabilityOptions;

  constructor(options: ServerFileCapabilityOptions) {
    this.#o = options;
  }

  /** The same capability restricted to one app's uploads (what a run of that app should get). */
  forApp(appId: string): ServerFileCapability {
    return new ServerFileCapability({ ...this.#o, appId });
  }

  async resolve(ref: FileInputRef): Promise<FileValue> {
    if (ref.transfer_method === "remote_url") return this.#resolveRemote(ref);
    const id = ref.upload_file_id;
    if (!id) {
      throw new InputValidationError(
        `upload_file_id is required for transfer_method ${ref.transfer_method}: upload the file with POST /v1/files/upload and pass the returned id.`,
      );
    }
    const row = await this.#o.store.getFile(id);
    if (!row || (this.#o.appId && row.appId !== null && row.appId !== this.#o.appId)) {
      throw new InputValidationError(
        `Uploaded file ${id} was not found. Upload it with POST /v1/files/upload using this app's API key and pass the returned id as upload_file_id.`,
      );
    }
    const value = this.valueOf(row, ref.transfer_method === "tool_file" ? "tool_file" : "local_file");
    return { ...value, type: checkedType(ref.type, value.type, row.name) };
  }

  async read(file: FileValue, signal: AbortSignal): Promise<Uint8Array> {
    if (file.transfer_method === "remote_url") {
      const url = file.remote_url ?? file.url;
      if (!url) throw new HttpRequestError(`File "${file.filename}" has no URL to read it from.`);
      const limit = uploadLimitFor(file.type, this.#o.limits);
      const response = await this.#o.http.request(
        {
          method: "GET",
          url,
          headers: [],
          timeouts: { connectMs: 10_000, readMs: 60_000, writeMs: 10_000 },
          maxTextBytes: limit,
          maxBinaryBytes: limit,
          followRedirects: true,
          sslVerify: true,
        },
        signal,
      );
      if (response.status >= 400) {
        throw new HttpRequestError(
          `Downloading file "${file.filename}" from ${url} failed with HTTP ${response.status}. Check that the URL is reachable without authentication.`,
        );
      }
      return response.body;
    }
    const id = file.related_id ?? file.id;
    const row = id ? await this.#o.store.getFile(id) : undefined;
    if (!row) {
      throw new InputValidationError(`File "${file.filename}" (${id ?? "no id"}) is not stored on this server; upload it again.`);
    }
    try {
      return await this.#o.storage.read(row.storageKey);
    } catch (error) {
      throw new TributaryError(
        "internal_error",
        `The bytes of file ${row.id} ("${row.name}") are missing from the files directory ${this.#o.storage.root}. Restore the directory from backup or upload the file again.`,
        { cause: error },
      );
    }
  }

  async save(bytes: Uint8Array, meta: { filename: string; mimeType: string }): Promise<FileValue> {
    const name = sanitizeFileName(meta.filename);
    const extension = extensionOf(name);
    const stored = await this.#o.storage.writeBytes(bytes);
    try {
      const row = await this.#o.store.createFile({
        id: randomUUID(),
        appId: this.#o.appId ?? null,
        name,
        size: stored.size,
        extension,
        mimeType: meta.mimeType || mimeForExtension(extension) || "application/octet-stream",
        storageKey: stored.storageKey,
      });
      return this.valueOf(row, "tool_file");
    } catch (error) {
      await this.#o.storage.delete(stored.storageKey);
      throw error;
    }
  }

  /** Dify's serialised File for a stored file, with a fresh signed URL. */
  valueOf(row: UploadedFileRow, transferMethod: "local_file" | "tool_file"): FileValue {
    return {
      dify_model_identity: FILE_IDENTITY,
      id: row.id,
      type: fileTypeForExtension(row.extension),
      transfer_method: transferMethod,
      remote_url: null,
      related_id: row.id,
      filename: row.name,
      extension: row.extension ? `.${row.extension}` : "",
      mime_type: row.mimeType,
      size: row.size,
      url: this.#o.signer.sign(row.id),
    };
  }

  #resolveRemote(ref: FileInputRef): FileValue {
    const raw = ref.url ?? "";
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new InputValidationError(`url "${raw}" is not a valid URL; remote files need an absolute http(s) URL.`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new InputValidationError(`url "${raw}" must use http or https, not ${url.protocol.replace(":", "")}.`);
    }
    let last = url.pathname.split("/").pop() ?? "";
    try {
      last = decodeURIComponent(last);
    } catch {
      // A malformed escape is still a usable display name.
    }
    const filename = sanitizeFileName(last, url.hostname);
    const extension = extensionOf(filename);
    const detected = fileTypeForExtension(extension);
    return {
      dify_model_identity: FILE_IDENTITY,
      id: null,
      type: checkedType(ref.type, detected, filename),
      transfer_method: "remote_url",
      remote_url: url.toString(),
      related_id: null,
      filename,
      extension: extension ? `.${extension}` : "",
      mime_type: mimeForExtension(extension) ?? "application/octet-stream",
      // Unknown until the file is fetched, as in Dify.
      size: -1,
      url: url.toString(),
    };
  }
}

/**
 * The type a file input ends up with. `custom` (or an omitted type) takes the type detected
 * from the extension; a specific type that contradicts the extension is refused, as Dify does.
 */
function checkedType(specified: FileType, detected: FileType, filename: string): FileType {
  if (specified === "custom") return detected;
  if (detected !== "custom" && detected !== specified) {
    throw new InputValidationError(
      `File "${filename}" is a ${detected} file but the input says type "${specified}". Send "type": "${detected}" (or "custom").`,
    );
  }
  return specified;
}
