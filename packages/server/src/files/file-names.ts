/**
 * File names, extensions and MIME types. Client file names are untrusted text: they are kept
 * for display only (never used as a path) after removing what would confuse a terminal, a
 * header or a file system.
 */
import { type FileType, fileTypeForExtension } from "@tributary/engine";

const MAX_NAME_LENGTH = 200;

/** Display-safe version of a client file name; falls back to `fallback` when nothing is left. */
export function sanitizeFileName(name: string, fallback = "file"): string {
  // Keep only the last path segment: browsers and some clients send full paths.
  let base = name.split(/[\\/]/).pop() ?? "";
  base = base
    .normalize("NFC")
    // Control characters (incl. newlines that could forge headers or log lines) and bidi overrides.
    .replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, "")
    .replace(/["<>|*?:]/g, "_")
    .trim();
  base = base.replace(/^\.+/, "");
  if (base.length > MAX_NAME_LENGTH) {
    // Dify keeps the extension when it truncates long names; so do we.
    const dot = base.lastIndexOf(".");
    const ext = dot > 0 && base.length - dot <= 16 ? base.slice(dot) : "";
    base = base.slice(0, MAX_NAME_LENGTH - ext.length) + ext;
  }
  return base === "" ? fallback : base;
}

/** Lower-case extension without the dot; "" when the name has none. */
export function extensionOf(name: string): string {
  const dot = name.lastIndexOf(".");
  if (dot <= 0 || dot === name.length - 1) return "";
  const ext = name.slice(dot + 1).toLowerCase();
  return /^[a-z0-9]{1,16}$/.test(ext) ? ext : "";
}

const MIME_BY_EXTENSION: Record<string, string> = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  gif: "image/gif",
  webp: "image/webp",
  svg: "image/svg+xml",
  bmp: "image/bmp",
  ico: "image/x-icon",
  txt: "text/plain",
  md: "text/markdown",
  markdown: "text/markdown",
  mdx: "text/markdown",
  csv: "text/csv",
  html: "text/html",
  htm: "text/html",
  xml: "application/xml",
  json: "application/json",
  vtt: "text/vtt",
  properties: "text/plain",
  pdf: "application/pdf",
  doc: "application/msword",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xls: "application/vnd.ms-excel",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  ppt: "application/vnd.ms-powerpoint",
  pptx: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  eml: "message/rfc822",
  msg: "application/vnd.ms-outlook",
  epub: "application/epub+zip",
  zip: "application/zip",
  mp3: "audio/mpeg",
  mpga: "audio/mpeg",
  m4a: "audio/mp4",
  wav: "audio/wav",
  webm: "audio/webm",
  amr: "audio/amr",
  ogg: "audio/ogg",
  mp4: "video/mp4",
  mov: "video/quicktime",
  mpeg: "video/mpeg",
};

export function mimeForExtension(extension: string): string | undefined {
  return MIME_BY_EXTENSION[extension.toLowerCase()];
}

/** Dify file type of a file, from its extension (`custom` when the extension is not one Dify knows). */
export function fileTypeOf(extension: string): FileType {
  return fileTypeForExtension(extension);
}

/** The media family of a MIME type that must agree with the extension's family. */
function mediaFamily(mime: string): "image" | "audio" | "video" | null {
  const top = mime.split("/")[0]?.toLowerCase();
  return top === "image" || top === "audio" || top === "video" ? top : null;
}

/**
 * Whether a declared MIME type contradicts the extension (e.g. `photo.png` sent as
 * `video/mp4`). Generic types (`application/octet-stream`, `text/plain`) never contradict.
 */
export function mimeContradictsExtension(mime: string, extension: string): boolean {
  const declared = mediaFamily(mime);
  if (declared === null) return false;
  const type = fileTypeForExtension(extension);
  if (type === "image" || type === "audio" || type === "video") {
    // webm is both audio and video in practice.
    if (extension === "webm" && (declared === "audio" || declared === "video")) return false;
    return declared !== type;
  }
  // A document extension declared as image/audio/video is suspicious; unknown extensions are not.
  return type === "document";
}
