/**
 * Whether an HTTP response is a file or text, decided the way Dify's http-request node does
 * (graphon `Response.is_file`): a Content-Disposition attachment or filename means file;
 * `text/*` (except CSV) and text-like `application/*` types mean text; other `application/*`
 * types are text when the first KiB is UTF-8 containing `{`, `[`, `<`, `function`, `var `,
 * `const ` or `let `; image, audio, video and remaining application types are files.
 *
 * One deliberate difference: Dify classifies `application/*` types unknown to Python's
 * `mimetypes` as text even when the bytes are binary (they come out garbled); here they are
 * files.
 */

const TEXT_BASED_APPLICATION_TYPES = ["json", "xml", "javascript", "x-www-form-urlencoded", "yaml", "graphql"];
const TEXT_MARKERS = ["{", "[", "<", "function", "var ", "const ", "let "];

export function mediaType(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/** Parameters of a header like `attachment; filename="a b.pdf"` (lower-cased names, unquoted values). */
function headerParams(value: string): { type: string; params: Map<string, string> } {
  const parts: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (c === '"') quoted = !quoted;
    if (c === "\\" && quoted && i + 1 < value.length) {
      cur += value[++i];
      continue;
    }
    if (c === ";" && !quoted) {
      parts.push(cur);
      cur = "";
    } else cur += c;
  }
  parts.push(cur);
  const params = new Map<string, string>();
  for (const p of parts.slice(1)) {
    const eq = p.indexOf("=");
    if (eq < 0) continue;
    const v = p.slice(eq + 1).trim();
    params.set(p.slice(0, eq).trim().toLowerCase(), v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v);
  }
  return { type: (parts[0] ?? "").trim().toLowerCase(), params };
}

/** The filename a Content-Disposition header names (`filename*` per RFC 5987 first), or null. */
export function dispositionFilename(disposition: string | undefined): string | null {
  if (!disposition) return null;
  const { params } = headerParams(disposition);
  const extended = params.get("filename*");
  if (extended) {
    const m = /^([\w!#$%&+^`{}~-]*)'[^']*'(.*)$/.exec(extended);
    if (m) {
      const raw = m[2] ?? "";
      const bytes: number[] = [];
      for (let i = 0; i < raw.length; i++) {
        if (raw[i] === "%" && /^[0-9a-fA-F]{2}$/.test(raw.slice(i + 1, i + 3))) {
          bytes.push(Number.parseInt(raw.slice(i + 1, i + 3), 16));
          i += 2;
        } else bytes.push(raw.charCodeAt(i) & 0xff);
      }
      try {
        return new TextDecoder(m[1] || "utf-8").decode(Uint8Array.from(bytes));
      } catch {
        // unknown charset: fall back to the plain filename parameter
      }
    }
  }
  const plain = params.get("filename");
  return plain ? plain : null;
}

function hasFileDisposition(disposition: string | undefined): boolean {
  if (!disposition) return false;
  return headerParams(disposition).type === "attachment" || dispositionFilename(disposition) !== null;
}

function looksLikeUtf8Text(body: Uint8Array): boolean {
  const sample = body.subarray(0, 1024);
  let text: string;
  try {
    // `stream: true` tolerates a character cut by the 1 KiB boundary.
    text = new TextDecoder("utf-8", { fatal: true }).decode(sample, { stream: true });
  } catch {
    return false;
  }
  return TEXT_MARKERS.some((m) => text.includes(m));
}

/** From headers alone: "file", "text", or "sniff" when the body's first KiB decides. */
export function classifyByHeaders(headers: Record<string, string>): "file" | "text" | "sniff" {
  if (hasFileDisposition(headers["content-disposition"])) return "file";
  const type = mediaType(headers["content-type"]);
  // text/csv takes a longer path in Dify (Python's mimetypes) but also ends as text.
  if (type.startsWith("text/")) return "text";
  if (type.startsWith("application/")) {
    if (TEXT_BASED_APPLICATION_TYPES.some((t) => type.includes(t))) return "text";
    return "sniff";
  }
  if (type.startsWith("image/") || type.startsWith("audio/") || type.startsWith("video/")) return "file";
  return "text";
}

export function isFileResponse(headers: Record<string, string>, body: Uint8Array): boolean {
  const kind = classifyByHeaders(headers);
  if (kind !== "sniff") return kind === "file";
  return !looksLikeUtf8Text(body);
}

/** Decodes a text body with the charset the Content-Type names (UTF-8 otherwise or when unknown). */
export function decodeText(headers: Record<string, string>, body: Uint8Array): string {
  const charset = headerParams(headers["content-type"] ?? "").params.get("charset");
  if (charset) {
    try {
      return new TextDecoder(charset).decode(body);
    } catch {
      // unknown label: fall through to UTF-8, as httpx does
    }
  }
  return new TextDecoder("utf-8").decode(body);
}

const MIME_BY_EXTENSION: Record<string, string> = {
  pdf: "application/pdf",
  json: "application/json",
  xml: "application/xml",
  zip: "application/zip",
  gz: "application/gzip",
  tar: "application/x-tar",
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
  bmp: "image/bmp",
  ico: "image/vnd.microsoft.icon",
  mp3: "audio/mpeg",
  m4a: "audio/mp4",
  wav: "audio/x-wav",
  ogg: "audio/ogg",
  webm: "video/webm",
  mp4: "video/mp4",
  mov: "video/quicktime",
  mpeg: "video/mpeg",
  txt: "text/plain",
  md: "text/markdown",
  csv: "text/csv",
  html: "text/html",
  htm: "text/html",
};

export function extensionOf(filename: string): string {
  const base = filename.split(/[\\/]/).pop() ?? "";
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : "";
}

export function mimeFromFilename(filename: string): string | null {
  return MIME_BY_EXTENSION[extensionOf(filename)] ?? null;
}

export function extensionFromMime(mime: string): string | null {
  const type = mediaType(mime);
  if (type === "image/jpeg") return "jpg";
  for (const [ext, m] of Object.entries(MIME_BY_EXTENSION)) if (m === type) return ext;
  return null;
}
