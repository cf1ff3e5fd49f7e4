import type { FileCapability } from "../capabilities/types.js";
import { InputValidationError } from "../errors.js";
import type { StartVariable } from "../nodes/start.js";
import { type FileInputRef, type FileValue, fileInputRefSchema, isFileValue } from "../variables/file-value.js";

export interface PreparedInputs {
  /** Declared inputs only, typed and defaulted. */
  inputs: Record<string, unknown>;
  /** `sys.files`: files sent alongside the inputs. */
  files: FileValue[];
}

function labelOf(v: StartVariable): string {
  return v.variable;
}

/**
 * Checks raw inputs against the start node's declared variables, the way Dify does, with
 * one clear error for the first problem. File references are resolved through `files`.
 */
export async function prepareInputs(
  variables: readonly StartVariable[],
  raw: Record<string, unknown>,
  files: Pick<FileCapability, "resolve">,
  sysFiles: readonly unknown[] = [],
): Promise<PreparedInputs> {
  const inputs: Record<string, unknown> = {};
  for (const v of variables) {
    const name = labelOf(v);
    let value = raw[v.variable];
    const absent = value === undefined || value === null || value === "" || (Array.isArray(value) && value.length === 0);
    if (absent) {
      if (v.required && v.default === undefined) throw new InputValidationError(`${name} is required in input form`, v.variable);
      inputs[v.variable] = v.default ?? (v.type === "file-list" ? [] : null);
      continue;
    }
    switch (v.type) {
      case "text-input":
      case "paragraph":
        if (typeof value === "number" || typeof value === "boolean") value = String(value);
        if (typeof value !== "string") throw new InputValidationError(`${name} in input form must be a string`, v.variable);
        if (v.max_length && value.length > v.max_length) {
          throw new InputValidationError(`${name} in input form must be less than ${v.max_length} characters`, v.variable);
        }
        break;
      case "select":
        if (typeof value !== "string" || !(v.options ?? []).includes(value)) {
          throw new InputValidationError(
            `${name} in input form must be one of the following: ${JSON.stringify(v.options ?? [])}`,
            v.variable,
          );
        }
        break;
      case "number": {
        const n =
          typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : Number.NaN;
        if (!Number.isFinite(n)) throw new InputValidationError(`${name} in input form must be a valid number`, v.variable);
        value = n;
        break;
      }
      case "checkbox":
        if (value === "true" || value === "false") value = value === "true";
        if (typeof value !== "boolean") throw new InputValidationError(`${name} in input form must be a boolean`, v.variable);
        break;
      case "json_object":
        if (typeof value === "string") {
          try {
            value = JSON.parse(value);
          } catch {
            throw new InputValidationError(`${name} in input form must be a JSON object`, v.variable);
          }
        }
        if (typeof value !== "object" || value === null || Array.isArray(value)) {
          throw new InputValidationError(`${name} in input form must be a JSON object`, v.variable);
        }
        break;
      case "file":
        if (Array.isArray(value)) {
          if (value.length !== 1) throw new InputValidationError(`${name} in input form must be a single file`, v.variable);
          value = value[0];
        }
        value = await resolveFile(v, value, files);
        break;
      case "file-list":
        if (!Array.isArray(value)) throw new InputValidationError(`${name} in input form must be a list of files`, v.variable);
        value = await Promise.all(value.map((item) => resolveFile(v, item, files)));
        break;
    }
    inputs[v.variable] = value;
  }
  const resolvedFiles: FileValue[] = [];
  for (const f of sysFiles) resolvedFiles.push(await resolveFile(null, f, files));
  return { inputs, files: resolvedFiles };
}

async function resolveFile(v: StartVariable | null, value: unknown, files: Pick<FileCapability, "resolve">): Promise<FileValue> {
  const name = v ? labelOf(v) : "files";
  if (isFileValue(value)) return value;
  const parsed = fileInputRefSchema.safeParse(value);
  if (!parsed.success) {
    throw new InputValidationError(
      `${name} must be a file object like {"type": "document", "transfer_method": "local_file", "upload_file_id": "…"}`,
      v?.variable ?? "files",
    );
  }
  const ref: FileInputRef = parsed.data;
  if (ref.transfer_method === "local_file" && !ref.upload_file_id) {
    throw new InputValidationError(`${name}: upload_file_id is required for transfer_method local_file`, v?.variable ?? "files");
  }
  if (ref.transfer_method === "remote_url" && !ref.url) {
    throw new InputValidationError(`${name}: url is required for transfer_method remote_url`, v?.variable ?? "files");
  }
  if (v?.allowed_file_upload_methods?.length && !v.allowed_file_upload_methods.includes(ref.transfer_method)) {
    throw new InputValidationError(
      `${name} does not accept transfer_method ${ref.transfer_method}; allowed: ${v.allowed_file_upload_methods.join(", ")}`,
      v.variable,
    );
  }
  const file = await files.resolve(ref);
  if (v?.allowed_file_types?.length && !v.allowed_file_types.includes(file.type) && !v.allowed_file_types.includes("custom")) {
    throw new InputValidationError(
      `${name} accepts ${v.allowed_file_types.join(", ")} files, got a ${file.type} file`,
      v.variable,
    );
  }
  if (v?.allowed_file_types?.includes("custom") && v.allowed_file_extensions?.length) {
    const ext = `.${file.extension.replace(/^\./, "")}`.toLowerCase();
    const allowed = v.allowed_file_extensions.map((e) => (e.startsWith(".") ? e : `.${e}`).toLowerCase());
    if (!allowed.includes(ext) && !v.allowed_file_types.includes(file.type)) {
      throw new InputValidationError(`${name} accepts files ending in ${allowed.join(", ")}, got ${file.filename}`, v.variable);
    }
  }
  return file;
}
