/**
 * Receives one `multipart/form-data` upload (Dify's `POST /files/upload`): the `file` part is
 * streamed straight to disk with busboy (never buffered whole), text fields are collected.
 * Every refusal carries Dify's error code; on any refusal nothing stays on disk.
 */
import { PassThrough, Readable } from "node:stream";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import busboy from "busboy";
import { extensionOf, mimeContradictsExtension, sanitizeFileName } from "./file-names.js";
import { type DiskFileStorage, FileTooLargeError, type StoredFile } from "./file-storage.js";

export class UploadError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "UploadError";
    this.status = status;
    this.code = code;
  }
}

export interface UploadPolicy {
  /** Byte limit for a file with this (lower-case, dot-less) extension. */
  limitFor(extension: string): number;
  blockedExtensions: readonly string[];
  /** Above this many request bytes the connection is cut instead of drained. */
  hardCapBytes: number;
}

export interface ReceivedUpload {
  stored: StoredFile;
  /** Sanitised display name. */
  name: string;
  extension: string;
  mimeType: string;
  fields: Record<string, string>;
}

const MAX_FIELD_BYTES = 64 * 1024;

export async function receiveUpload(request: Request, storage: DiskFileStorage, policy: UploadPolicy): Promise<ReceivedUpload> {
  const contentType = request.headers.get("content-type") ?? "";
  if (!/^multipart\/form-data\s*;/i.test(contentType) || !request.body) {
    throw new UploadError(
      400,
      "no_file_uploaded",
      'Please upload your file: send multipart/form-data with the file in a part named "file" (and your user id in a field named "user").',
    );
  }

  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: { "content-type": contentType },
      defParamCharset: "utf8",
      limits: { fieldSize: MAX_FIELD_BYTES, fields: 50, files: 20, parts: 100 },
    });
  } catch (error) {
    throw new UploadError(400, "invalid_param", `The multipart body cannot be read: ${(error as Error).message}.`);
  }

  // Cast: the DOM and node:stream/web ReadableStream types describe the same runtime object.
  const source = Readable.fromWeb(request.body as unknown as NodeReadableStream<Uint8Array>);
  const fields: Record<string, string> = {};
  let failure: UploadError | Error | undefined;
  let fileParts = 0;
  let sawFileField = false;
  let meta: { name: string; extension: string; mimeType: string } | undefined;
  let writing: Promise<StoredFile> | undefined;
  let received = 0;

  const fail = (error: UploadError | Error) => {
    failure ??= error;
  };

  return new Promise<ReceivedUpload>((resolvePromise, rejectPromise) => {
    let settled = false;
    const finish = async () => {
      if (settled) return;
      settled = true;
      let stored: StoredFile | undefined;
      if (writing) {
        try {
          stored = await writing;
        } catch (error) {
          fail(
            error instanceof FileTooLargeError
              ? new UploadError(
                  413,
                  "file_too_large",
                  `File size exceeded. The limit for this file type is ${formatBytes(error.limit)}.`,
                )
              : (error as Error),
          );
        }
      }
      if (!failure && !sawFileField) {
        fail(new UploadError(400, "no_file_uploaded", 'Please upload your file in a multipart part named "file".'));
      }
      if (failure || !stored || !meta) {
        if (stored) await storage.delete(stored.storageKey);
        rejectPromise(
          failure ?? new UploadError(400, "no_file_uploaded", 'Please upload your file in a multipart part named "file".'),
        );
        return;
      }
      resolvePromise({ stored, ...meta, fields });
    };

    parser.on("file", (fieldName, stream, info) => {
      fileParts += 1;
      if (failure) {
        stream.resume();
        return;
      }
      if (fileParts > 1) {
        fail(new UploadError(400, "too_many_files", "Only one file is allowed per upload; send each file in its own request."));
        stream.resume();
        return;
      }
      if (fieldName !== "file") {
        // Dify only looks at the part named "file"; another single file part means none was sent.
        stream.resume();
        return;
      }
      sawFileField = true;
      const rawName = info.filename ?? "";
      if (rawName.trim() === "") {
        fail(
          new UploadError(
            400,
            "filename_not_exists_error",
            "The specified filename does not exist: give the file part a filename.",
          ),
        );
        stream.resume();
        return;
      }
      const name = sanitizeFileName(rawName);
      const extension = extensionOf(name);
      const mimeType = (info.mimeType || "").toLowerCase();
      if (!mimeType) {
        fail(new UploadError(415, "unsupported_file_type", "File type not allowed: the file part has no Content-Type."));
        stream.resume();
        return;
      }
      if (extension === "" || policy.blockedExtensions.includes(extension)) {
        fail(
          new UploadError(
            415,
            "unsupported_file_type",
            extension === ""
              ? `File type not allowed: "${name}" has no extension. Rename it with an extension such as .txt, .pdf or .png.`
              : `File type not allowed: .${extension} files are blocked on this server.`,
          ),
        );
        stream.resume();
        return;
      }
      if (mimeContradictsExtension(mimeType, extension)) {
        fail(
          new UploadError(
            415,
            "unsupported_file_type",
            `File type not allowed: "${name}" is sent as ${mimeType}, which does not match its .${extension} extension.`,
          ),
        );
        stream.resume();
        return;
      }
      meta = { name, extension, mimeType };
      // The storage pipeline destroys its source on failure; busboy's own part stream must stay
      // alive (a destroyed part stalls the parser), so the pipeline reads a pass-through instead.
      const pass = new PassThrough();
      stream.on("error", (error) => pass.destroy(error));
      stream.pipe(pass);
      writing = storage.write(pass, policy.limitFor(extension));
      writing.catch(() => {
        stream.unpipe(pass);
        stream.resume();
      });
    });

    parser.on("field", (name, value, info) => {
      if (name === "file") {
        // busboy reads a part with an empty filename as a plain field.
        fail(
          new UploadError(
            400,
            "filename_not_exists_error",
            'The specified filename does not exist: send the "file" part as a file with a filename.',
          ),
        );
        return;
      }
      if (info.valueTruncated) {
        fail(new UploadError(400, "invalid_param", `Form field "${name}" is longer than ${MAX_FIELD_BYTES} bytes.`));
        return;
      }
      fields[name] = value;
    });
    parser.on("filesLimit", () => fail(new UploadError(400, "too_many_files", "Only one file is allowed per upload.")));
    parser.on("partsLimit", () => fail(new UploadError(400, "invalid_param", "The multipart body has too many parts.")));
    parser.on("fieldsLimit", () => fail(new UploadError(400, "invalid_param", "The multipart body has too many fields.")));
    parser.on("error", (error: Error) => {
      fail(
        new UploadError(
          400,
          "invalid_param",
          `The multipart body is malformed: ${error.message}. Send a well-formed multipart/form-data request.`,
        ),
      );
      source.unpipe(parser);
      source.resume();
      void finish();
    });
    parser.on("close", () => void finish());

    source.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received > policy.hardCapBytes && !settled) {
        fail(
          new UploadError(
            413,
            "file_too_large",
            `File size exceeded. The request is larger than ${formatBytes(policy.hardCapBytes)}.`,
          ),
        );
        source.unpipe(parser);
        source.destroy();
        parser.destroy();
        void finish();
      }
    });
    source.on("error", (error) => {
      fail(error);
      // Ends the part stream being written, so the pending write settles (and cleans up).
      parser.destroy(error);
      void finish();
    });
    source.pipe(parser);
  });
}

function formatBytes(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  if (mb >= 1 && Number.isInteger(mb)) return `${mb} MB`;
  return `${bytes} bytes`;
}
