import { randomUUID } from "node:crypto";
import { InputValidationError } from "../errors.js";
import { FILE_IDENTITY, type FileValue, fileTypeForExtension } from "../variables/file-value.js";
import type { FileCapability, HttpCapability } from "./types.js";

/**
 * Files kept in memory, for running workflows without a server (tests, scripts, the engine
 * benchmark). Remote URLs are read through the given HTTP capability, so its SSRF guard
 * applies; uploads (`local_file`) exist only once `save` or `add` created them.
 */
export function createMemoryFiles(
  http: HttpCapability,
): FileCapability & { add(bytes: Uint8Array, filename: string, mimeType: string): FileValue } {
  const blobs = new Map<string, { bytes: Uint8Array; value: FileValue }>();

  const add = (bytes: Uint8Array, filename: string, mimeType: string): FileValue => {
    const id = randomUUID();
    const extension = filename.includes(".") ? (filename.split(".").pop() ?? "").toLowerCase() : "";
    const value: FileValue = {
      dify_model_identity: FILE_IDENTITY,
      id,
      type: fileTypeForExtension(extension),
      transfer_method: "local_file",
      remote_url: null,
      related_id: id,
      filename,
      extension,
      mime_type: mimeType,
      size: bytes.byteLength,
      url: null,
    };
    blobs.set(id, { bytes, value });
    return value;
  };

  return {
    add,
    async resolve(ref) {
      if (ref.transfer_method === "remote_url" && ref.url) {
        const name = decodeURIComponent(new URL(ref.url).pathname.split("/").pop() || "file");
        const extension = name.includes(".") ? (name.split(".").pop() ?? "").toLowerCase() : "";
        return {
          dify_model_identity: FILE_IDENTITY,
          id: null,
          type: ref.type === "custom" ? fileTypeForExtension(extension) : ref.type,
          transfer_method: "remote_url",
          remote_url: ref.url,
          related_id: null,
          filename: name,
          extension,
          mime_type: "application/octet-stream",
          size: -1,
          url: ref.url,
        };
      }
      const found = ref.upload_file_id ? blobs.get(ref.upload_file_id) : undefined;
      if (!found) throw new InputValidationError(`file ${ref.upload_file_id ?? ""} was not found; upload it first`, "files");
      return found.value;
    },
    async read(file, signal) {
      const id = file.related_id ?? file.id;
      const local = id ? blobs.get(id) : undefined;
      if (local) return local.bytes;
      const url = file.remote_url ?? file.url;
      if (!url) throw new InputValidationError(`file ${file.filename} has no stored bytes and no URL`, "files");
      const res = await http.request(
        {
          method: "GET",
          url,
          headers: [],
          timeouts: { connectMs: 10_000, readMs: 60_000, writeMs: 10_000 },
          maxTextBytes: 15 * 1024 * 1024,
          maxBinaryBytes: 100 * 1024 * 1024,
          followRedirects: true,
          sslVerify: true,
        },
        signal,
      );
      if (res.status >= 400) throw new InputValidationError(`downloading ${url} failed with HTTP ${res.status}`, "files");
      return res.body;
    },
    async save(bytes, meta) {
      return add(bytes, meta.filename, meta.mimeType);
    },
  };
}
