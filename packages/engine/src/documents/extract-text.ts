/**
 * Text out of document bytes, for the document-extractor node. One function per format,
 * each with a well-kept library: html-to-text, csv-parse, yaml, mammoth (docx), pdfjs-dist
 * (pdf, legacy build, in-process "fake worker": nothing is downloaded) and read-excel-file
 * (xlsx). The heavy ones are imported on first use so loading the engine stays cheap.
 *
 * Output follows Dify's document extractor: tables (csv, xlsx) become Markdown tables, json
 * is pretty-printed, yaml re-serialised, xml and plain text are returned as they are.
 *
 * Untrusted input: extraction stops as soon as the text passes `maxChars`, zip containers
 * (docx, xlsx) whose declared unpacked size is absurd are refused before they are inflated,
 * and pdf.js runs with `isEvalSupported: false`.
 */
import { NodeExecutionError } from "../errors.js";

export interface DocumentInfo {
  filename: string;
  /** With or without the leading dot; empty when unknown. */
  extension: string;
  mimeType: string;
}

export interface ExtractOptions {
  /** Longest text accepted; longer text fails with a message naming the file. */
  maxChars: number;
  signal?: AbortSignal;
  /** Said after the limit in the too-long message (e.g. that earlier files used part of it). */
  limitNote?: string;
}

type Extractor = (bytes: Uint8Array, doc: DocumentInfo, options: ExtractOptions) => Promise<string> | string;

/** Source code and other plain-text formats Dify reads as text. */
const PLAIN_TEXT_EXTENSIONS = [
  "txt",
  "md",
  "markdown",
  "mdx",
  "xml",
  "vtt",
  "log",
  "ini",
  "cfg",
  "conf",
  "toml",
  "env",
  "sql",
  "sh",
  "bash",
  "bat",
  "ps1",
  "py",
  "js",
  "ts",
  "jsx",
  "tsx",
  "java",
  "c",
  "h",
  "cpp",
  "hpp",
  "cc",
  "cxx",
  "cs",
  "go",
  "rs",
  "rb",
  "php",
  "swift",
  "kt",
  "scala",
  "r",
  "m",
  "pl",
  "lua",
  "css",
  "scss",
  "less",
  "sass",
] as const;

const EXTRACTORS: Record<string, Extractor> = {
  html: extractHtml,
  htm: extractHtml,
  csv: extractCsv,
  json: extractJson,
  yaml: extractYaml,
  yml: extractYaml,
  properties: extractProperties,
  docx: extractDocx,
  pdf: extractPdf,
  xlsx: extractXlsx,
};
for (const ext of PLAIN_TEXT_EXTENSIONS) EXTRACTORS[ext] = (bytes) => decodeText(bytes);

/** For files without a usable extension. */
const MIME_EXTENSIONS: Record<string, string> = {
  "text/plain": "txt",
  "text/markdown": "md",
  "text/x-markdown": "md",
  "text/html": "html",
  "text/htm": "html",
  "text/xml": "xml",
  "application/xml": "xml",
  "text/csv": "csv",
  "application/json": "json",
  "application/x-yaml": "yaml",
  "application/yaml": "yaml",
  "text/yaml": "yaml",
  "text/vtt": "vtt",
  "text/properties": "properties",
  "application/pdf": "pdf",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
};

/** Formats Dify reads (some only through its Unstructured service) that Tributary does not. */
const UNSUPPORTED_HINTS: Record<string, string> = {
  doc: "save it as .docx",
  xls: "save it as .xlsx",
  ppt: "export it as PDF",
  pptx: "export it as PDF",
  odt: "save it as .docx",
  epub: "convert it to PDF or HTML",
  eml: "save the message as text or PDF",
  msg: "save the message as text or PDF",
};

/** Extensions this module reads, for messages and docs. */
export const SUPPORTED_EXTENSIONS: readonly string[] = Object.keys(EXTRACTORS);

const SUMMARY =
  "txt, md, markdown, mdx, html, htm, xml, csv, json, yaml, yml, properties, vtt, docx, pdf, xlsx and source-code text files";

function normExt(ext: string): string {
  return ext.trim().toLowerCase().replace(/^\./, "");
}

/** The format to read a file as: its extension, else its name's extension, else its MIME type. */
export function documentFormat(doc: DocumentInfo): string | null {
  const candidates = [normExt(doc.extension), normExt(/\.([^./\\]+)$/.exec(doc.filename)?.[1] ?? "")];
  for (const c of candidates) if (c && EXTRACTORS[c]) return c;
  const fromMime = MIME_EXTENSIONS[doc.mimeType.split(";")[0]?.trim().toLowerCase() ?? ""];
  return fromMime ?? null;
}

export async function extractDocumentText(bytes: Uint8Array, doc: DocumentInfo, options: ExtractOptions): Promise<string> {
  const format = documentFormat(doc);
  if (!format) {
    const ext = normExt(doc.extension) || normExt(/\.([^./\\]+)$/.exec(doc.filename)?.[1] ?? "");
    const hint = UNSUPPORTED_HINTS[ext];
    const what = ext ? `".${ext}" files` : `files of type ${doc.mimeType || "unknown"} without an extension`;
    throw new NodeExecutionError(
      `Unsupported file type for "${doc.filename}": the document extractor cannot read ${what}${hint ? ` (${hint} first)` : ""}. Supported: ${SUMMARY}.`,
      { errorType: "UnsupportedFileTypeError" },
    );
  }
  const extractor = EXTRACTORS[format] as Extractor;
  let text: string;
  try {
    text = await extractor(bytes, doc, options);
  } catch (e) {
    if (e instanceof NodeExecutionError || options.signal?.aborted) throw e;
    throw new NodeExecutionError(
      `Failed to extract text from ${format.toUpperCase()} file "${doc.filename}": ${e instanceof Error ? e.message : String(e)}. Check that the file is a valid, unencrypted ${format} file.`,
      { errorType: "TextExtractionError", cause: e },
    );
  }
  checkLength(text.length, doc, options);
  return text;
}

function checkLength(length: number, doc: DocumentInfo, options: ExtractOptions, where = ""): void {
  if (length <= options.maxChars) return;
  throw new NodeExecutionError(
    `The text extracted from "${doc.filename}" is longer than the limit of ${options.maxChars.toLocaleString("en-US")} characters${options.limitNote ?? ""}${where}. Split the document into smaller files, or ask the administrator to raise the variable size limit.`,
    { errorType: "DocumentTooLargeError" },
  );
}

// ---- plain text --------------------------------------------------------------------------

/** UTF-8 (with or without BOM) or UTF-16 by BOM; anything that is not valid UTF-8 is read as Windows-1252. */
export function decodeText(bytes: Uint8Array): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder("utf-16le").decode(bytes.subarray(2));
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder("utf-16be").decode(bytes.subarray(2));
  try {
    // `ignoreBOM: false` (the default) drops a UTF-8 BOM.
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return decodeWindows1252(bytes);
  }
}

/** Windows-1252 where it differs from Latin-1 (0x80–0x9f); unassigned bytes stay as their Latin-1 code point. */
const CP1252_HIGH = "€\x81‚ƒ„…†‡ˆ‰Š‹Œ\x8dŽ\x8f\x90‘’“”•–—˜™š›œ\x9džŸ";

/** Node's TextDecoder("windows-1252") decodes as Latin-1, so the table is applied here. */
function decodeWindows1252(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    const chunk = bytes.subarray(i, i + 8192);
    out += String.fromCharCode(...chunk);
  }
  return out.replace(/[\x80-\x9f]/g, (c) => CP1252_HIGH[c.charCodeAt(0) - 0x80] ?? c);
}

async function extractHtml(bytes: Uint8Array): Promise<string> {
  const { convert } = await import("html-to-text");
  return convert(decodeText(bytes), {
    wordwrap: false,
    selectors: [
      { selector: "img", format: "skip" },
      { selector: "a", options: { hideLinkHrefIfSameAsText: true } },
    ],
  });
}

function extractJson(bytes: Uint8Array): string {
  return JSON.stringify(JSON.parse(decodeText(bytes)), null, 2);
}

async function extractYaml(bytes: Uint8Array): Promise<string> {
  const { parseAllDocuments } = await import("yaml");
  const docs = parseAllDocuments(decodeText(bytes));
  const list = Array.isArray(docs) ? docs : [docs];
  for (const d of list) {
    const first = d.errors[0];
    if (first) throw new Error(first.message);
  }
  return list.map((d) => d.toString({ lineWidth: 0 })).join("");
}

/** `key=value` / `key: value` lines become `key: value`; comments and blank lines stay. */
function extractProperties(bytes: Uint8Array): string {
  return decodeText(bytes)
    .split(/\r?\n/)
    .map((line) => {
      const t = line.trim();
      if (!t || t.startsWith("#") || t.startsWith("!")) return t;
      const at = [t.indexOf("="), t.indexOf(":")].filter((i) => i >= 0).sort((a, b) => a - b)[0];
      return at === undefined ? `${t}: ` : `${t.slice(0, at).trim()}: ${t.slice(at + 1).trim()}`;
    })
    .join("\n");
}

// ---- tables --------------------------------------------------------------------------------

function cellText(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (v instanceof Date) return formatDate(v);
  // Line breaks would end the table row; pipes would split the cell.
  return String(v)
    .replace(/\r?\n|\r/g, " ")
    .replaceAll("|", "\\|");
}

function formatDate(d: Date): string {
  if (Number.isNaN(d.getTime())) return "";
  const iso = d.toISOString();
  return iso.endsWith("T00:00:00.000Z") ? iso.slice(0, 10) : iso.slice(0, 19).replace("T", " ");
}

/** A Markdown table whose first row is the header, one line per row (Dify's layout). */
export function rowsToMarkdown(rows: readonly (readonly unknown[])[]): string {
  const header = rows[0];
  if (!header) return "";
  const width = Math.max(...rows.map((r) => r.length));
  const line = (r: readonly unknown[]) => `| ${Array.from({ length: width }, (_, i) => cellText(r[i])).join(" | ")} |\n`;
  const separator = `| ${Array.from({ length: width }, (_, i) => "-".repeat(Math.max(3, cellText(header[i]).length))).join(" | ")} |\n`;
  return line(header) + separator + rows.slice(1).map(line).join("");
}

async function extractCsv(bytes: Uint8Array): Promise<string> {
  const { parse } = await import("csv-parse/sync");
  const rows = parse(decodeText(bytes), { relax_column_count: true, relax_quotes: true, skip_empty_lines: true, bom: true });
  return rowsToMarkdown(rows);
}

async function extractXlsx(bytes: Uint8Array, doc: DocumentInfo, options: ExtractOptions): Promise<string> {
  checkZip(bytes, doc);
  const { default: readXlsxFile } = await import("read-excel-file/node");
  const sheets = await readXlsxFile(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  let out = "";
  for (const sheet of sheets) {
    // Dify drops rows that are entirely empty.
    const rows = sheet.data.filter((row) => row.some((cell) => cell !== null && cell !== undefined && cell !== ""));
    if (rows.length === 0) continue;
    out += `${rowsToMarkdown(rows)}\n`;
    checkLength(out.length, doc, options, ` (reached in sheet "${sheet.sheet}")`);
  }
  return out;
}

// ---- docx ----------------------------------------------------------------------------------

async function extractDocx(bytes: Uint8Array, doc: DocumentInfo): Promise<string> {
  checkZip(bytes, doc);
  const { default: mammoth } = await import("mammoth");
  const result = await mammoth.extractRawText({ buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) });
  return result.value.replace(/\n{3,}/g, "\n\n").trimEnd();
}

/** Declared unpacked size above which a docx/xlsx is refused (a zip bomb, not a document). */
const MAX_UNPACKED_BYTES = 512 * 1024 * 1024;

/**
 * Reads the zip central directory and refuses archives whose entries declare more than
 * MAX_UNPACKED_BYTES, before any library inflates them. Not a zip at all: left to the library,
 * whose error names the real problem.
 */
function checkZip(bytes: Uint8Array, doc: DocumentInfo): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // End of central directory: signature 0x06054b50, at most 64 KiB of comment after it.
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return;
  const entries = view.getUint16(eocd + 10, true);
  let offset = view.getUint32(eocd + 16, true);
  let total = 0;
  for (let n = 0; n < entries && offset + 46 <= bytes.length; n++) {
    if (view.getUint32(offset, true) !== 0x02014b50) break;
    const size = view.getUint32(offset + 24, true);
    // 0xffffffff means the real size is in a zip64 field: treat it as too large, no document needs it.
    total += size === 0xffffffff ? Number.POSITIVE_INFINITY : size;
    offset += 46 + view.getUint16(offset + 28, true) + view.getUint16(offset + 30, true) + view.getUint16(offset + 32, true);
  }
  if (total > MAX_UNPACKED_BYTES) {
    throw new NodeExecutionError(
      `"${doc.filename}" unpacks to more than ${MAX_UNPACKED_BYTES / 1024 / 1024} MB, which is not a plausible document; the file was not read.`,
      { errorType: "TextExtractionError" },
    );
  }
}

// ---- pdf -----------------------------------------------------------------------------------

interface PdfTextItem {
  str: string;
  hasEOL?: boolean;
  transform?: number[];
}

/** Text of every page, pages separated by a blank line; line breaks where pdf.js reports them or the baseline moves. */
async function extractPdf(bytes: Uint8Array, doc: DocumentInfo, options: ExtractOptions): Promise<string> {
  const pdfjs = await import("pdfjs-dist/legacy/build/pdf.mjs");
  const task = pdfjs.getDocument({
    // pdf.js may transfer (detach) the buffer it is given; the caller's bytes stay intact.
    data: new Uint8Array(bytes),
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    useWorkerFetch: false,
    stopAtErrors: false,
    verbosity: pdfjs.VerbosityLevel.ERRORS,
  });
  try {
    let pdf: Awaited<typeof task.promise>;
    try {
      pdf = await task.promise;
    } catch (e) {
      if (e instanceof Error && e.name === "PasswordException") {
        throw new NodeExecutionError(`"${doc.filename}" is a password-protected PDF; remove the password and upload it again.`, {
          errorType: "TextExtractionError",
        });
      }
      throw e;
    }
    const pages: string[] = [];
    let length = 0;
    for (let i = 1; i <= pdf.numPages; i++) {
      options.signal?.throwIfAborted();
      const page = await pdf.getPage(i);
      const content = await page.getTextContent();
      let text = "";
      let lastY: number | undefined;
      for (const raw of content.items) {
        if (!("str" in raw)) continue;
        const item = raw as PdfTextItem;
        const y = item.transform?.[5];
        if (lastY !== undefined && y !== undefined && Math.abs(y - lastY) > 1 && !text.endsWith("\n")) text += "\n";
        text += item.str;
        if (item.hasEOL) text += "\n";
        if (y !== undefined) lastY = y;
      }
      page.cleanup();
      pages.push(text.trim());
      length += text.length + 2;
      checkLength(length, doc, options, ` (reached on page ${i} of ${pdf.numPages})`);
    }
    return pages.join("\n\n");
  } finally {
    await task.destroy();
  }
}
