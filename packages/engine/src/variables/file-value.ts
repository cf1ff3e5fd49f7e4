import { z } from "zod";

/**
 * A file as it flows through the variable pool and into outputs. The shape is Dify's
 * serialised File so outputs look the same on the wire as Dify's.
 */
export const FILE_IDENTITY = "__dify__file__";

export const fileTypeSchema = z.enum(["image", "document", "audio", "video", "custom"]);
export type FileType = z.infer<typeof fileTypeSchema>;

export const transferMethodSchema = z.enum(["local_file", "remote_url", "tool_file"]);

export interface FileValue {
  dify_model_identity: typeof FILE_IDENTITY;
  id: string | null;
  type: FileType;
  transfer_method: z.infer<typeof transferMethodSchema>;
  remote_url: string | null;
  related_id: string | null;
  filename: string;
  extension: string;
  mime_type: string;
  size: number;
  url: string | null;
}

/** A file input as clients send it (Dify `files` / file-typed inputs). */
export const fileInputRefSchema = z.object({
  type: fileTypeSchema.default("custom"),
  transfer_method: transferMethodSchema,
  upload_file_id: z.string().optional(),
  url: z.string().optional(),
});
export type FileInputRef = z.infer<typeof fileInputRefSchema>;

export function isFileValue(v: unknown): v is FileValue {
  return typeof v === "object" && v !== null && (v as { dify_model_identity?: unknown }).dify_model_identity === FILE_IDENTITY;
}

const EXTENSION_TYPES: Record<FileType, readonly string[]> = {
  image: ["jpg", "jpeg", "png", "webp", "gif", "svg"],
  document: [
    "txt",
    "md",
    "markdown",
    "mdx",
    "pdf",
    "html",
    "htm",
    "xlsx",
    "xls",
    "docx",
    "csv",
    "eml",
    "msg",
    "pptx",
    "xml",
    "epub",
    "ppt",
    "json",
    "vtt",
    "properties",
  ],
  audio: ["mp3", "m4a", "wav", "amr", "mpga", "webm"],
  video: ["mp4", "mov", "mpeg"],
  custom: [],
};

/** Dify's file type for an extension (without dot); `custom` when unknown. */
export function fileTypeForExtension(extension: string): FileType {
  const ext = extension.toLowerCase().replace(/^\./, "");
  for (const t of ["image", "document", "audio", "video"] as const) {
    if (EXTENSION_TYPES[t].includes(ext)) return t;
  }
  return "custom";
}

export function extensionsOf(type: FileType): readonly string[] {
  return EXTENSION_TYPES[type];
}

/** Attribute access for selectors like `[node, file, "extension"]` and conditions on files. */
export function fileAttribute(file: FileValue, key: string): unknown {
  switch (key) {
    case "name":
      return file.filename;
    case "url":
      return file.url ?? file.remote_url;
    default:
      return (file as unknown as Record<string, unknown>)[key];
  }
}
