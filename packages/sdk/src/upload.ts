/**
 * Turning what a caller has (a Blob or File, a byte stream, or in Node a file path) into a
 * `multipart/form-data` body. Blobs and paths are replayable (a retry sends them again); a
 * stream is sent as it is read (in Node, without buffering) and so only once. Node-only code
 * is reached through a runtime check and a dynamic import, so the SDK still loads in browsers.
 */

/** What `uploadFile` accepts: a Blob/File, a byte stream, or (in Node) a file path. */
export type UploadSource = Blob | ReadableStream<Uint8Array> | string;

export interface UploadFileOptions {
  /** The file name the server sees (its extension decides the file type). Default: the File's or path's name. */
  filename?: string;
  /** Default: from the Blob, else guessed from the extension, else application/octet-stream. */
  contentType?: string;
}

export interface MultipartBody {
  body: () => FormData | ReadableStream<Uint8Array>;
  headers: Record<string, string>;
  replayable: boolean;
  streaming: boolean;
  filename: string;
}

const MIME_BY_EXTENSION: Record<string, string> = {
  txt: "text/plain",
  md: "text/markdown",
  markdown: "text/markdown",
  csv: "text/csv",
  html: "text/html",
  htm: "text/html",
  xml: "application/xml",
  json: "application/json",
  pdf: "application/pdf",
  doc: "application/msword",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xls: "application/vnd.ms-excel",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  ppt: "application/vnd.ms-powerpoint",
  pptx: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  epub: "application/epub+zip",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  svg: "image/svg+xml",
  mp3: "audio/mpeg",
  m4a: "audio/mp4",
  wav: "audio/wav",
  mp4: "video/mp4",
  mov: "video/quicktime",
  webm: "video/webm",
};

export function guessContentType(filename: string): string {
  const dot = filename.lastIndexOf(".");
  const extension = dot >= 0 ? filename.slice(dot + 1).toLowerCase() : "";
  return MIME_BY_EXTENSION[extension] ?? "application/octet-stream";
}

interface NodeProcessLike {
  versions?: { node?: string };
}

export function isNode(): boolean {
  const proc = (globalThis as { process?: NodeProcessLike }).process;
  return typeof proc?.versions?.node === "string";
}

/** The part of `node:fs` the path upload needs (typed here so the SDK compiles without Node's types). */
interface NodeFs {
  openAsBlob?: (path: string, options?: { type?: string }) => Promise<Blob>;
  statSync: (path: string) => { isFile(): boolean };
}

function baseName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || "file";
}

async function blobFromPath(path: string, type: string): Promise<Blob> {
  if (!isNode()) {
    throw new TypeError(
      `uploadFile("${path}"): a file path can only be uploaded in Node.js. In a browser, pass a File (e.g. from an <input type="file">) or a Blob.`,
    );
  }
  // A computed specifier keeps bundlers from trying to bundle node:fs for browsers.
  const specifier = "node:fs";
  const fs = (await import(/* @vite-ignore */ specifier)) as NodeFs;
  if (typeof fs.openAsBlob !== "function") {
    throw new TypeError("uploadFile(path) needs Node.js 20 or newer (fs.openAsBlob). Pass a Blob or a stream instead.");
  }
  try {
    // openAsBlob's own error for a missing file does not say why; stat does (ENOENT, EACCES, …).
    if (!fs.statSync(path).isFile()) throw Object.assign(new Error("not a regular file"), { code: "EISDIR" });
    // A file-backed Blob: the bytes are read from disk while sending, not loaded into memory.
    return await fs.openAsBlob(path, { type });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new TypeError(
      `uploadFile: cannot read "${path}"${typeof code === "string" ? ` (${code})` : ""}: ${(error as Error).message}. Check the path and its permissions.`,
      { cause: error },
    );
  }
}

/** Header parameter quoting as browsers do it for FormData file names. */
function quoteParam(value: string): string {
  return value.replace(/"/g, "%22").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

function randomBoundary(): string {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  return `----TributarySdk${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** A multipart body that streams `source` between its part headers and the closing boundary. */
function streamingMultipart(
  source: ReadableStream<Uint8Array>,
  fields: Record<string, string>,
  filename: string,
  contentType: string,
): { stream: ReadableStream<Uint8Array>; boundary: string } {
  const boundary = randomBoundary();
  const encoder = new TextEncoder();
  let head = "";
  for (const [name, value] of Object.entries(fields)) {
    head += `--${boundary}\r\nContent-Disposition: form-data; name="${quoteParam(name)}"\r\n\r\n${value}\r\n`;
  }
  head += `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${quoteParam(filename)}"\r\nContent-Type: ${contentType}\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  const reader = source.getReader();
  let stage: "head" | "body" | "done" = "head";
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (stage === "head") {
        stage = "body";
        controller.enqueue(encoder.encode(head));
        return;
      }
      if (stage === "done") return;
      const { done, value } = await reader.read();
      if (done) {
        stage = "done";
        controller.enqueue(encoder.encode(tail));
        controller.close();
        return;
      }
      controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return { stream, boundary };
}

export async function multipartBody(
  source: UploadSource,
  fields: Record<string, string>,
  options: UploadFileOptions = {},
): Promise<MultipartBody> {
  let blob: Blob;
  let filename: string;
  if (typeof source === "string") {
    filename = options.filename ?? baseName(source);
    blob = await blobFromPath(source, options.contentType ?? guessContentType(filename));
  } else if (source instanceof Blob) {
    const ownName = (source as { name?: unknown }).name;
    filename = options.filename ?? (typeof ownName === "string" && ownName !== "" ? ownName : "file");
    const type = options.contentType ?? (source.type || guessContentType(filename));
    // slice() with a type relabels without copying the bytes.
    blob = source.type === type ? source : source.slice(0, source.size, type);
  } else if (source instanceof ReadableStream) {
    filename = options.filename ?? "file";
    const type = options.contentType ?? guessContentType(filename);
    if (isNode()) {
      const { stream, boundary } = streamingMultipart(source, fields, filename, type);
      let used = false;
      return {
        body: () => {
          if (used) throw new TypeError("A stream upload can be sent only once.");
          used = true;
          return stream;
        },
        headers: { "Content-Type": `multipart/form-data; boundary=${boundary}` },
        replayable: false,
        streaming: true,
        filename,
      };
    }
    // Browsers stream request bodies only over HTTP/2 and not everywhere: collect it first.
    blob = new Blob([await new Response(source).arrayBuffer()], { type });
  } else {
    throw new TypeError("uploadFile: pass a Blob or File, a ReadableStream of bytes, or (in Node.js) a file path.");
  }
  return {
    body: () => {
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) form.append(name, value);
      form.append("file", blob, filename);
      return form;
    },
    // fetch sets the multipart Content-Type with its boundary itself.
    headers: {},
    replayable: true,
    streaming: false,
    filename,
  };
}
