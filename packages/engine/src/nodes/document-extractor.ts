/**
 * Dify's `document-extractor`: reads a file (or a list of files) through the files
 * capability and outputs its text — a string for one file, a list of strings for a list
 * (`is_array_file` is only a UI hint; the value decides, as in Dify). Formats and their
 * rendering live in `documents/extract-text.ts`.
 *
 * All extracted text together must fit the run's variable size limit; the node fails with a
 * message naming the file as soon as it does not, instead of reading on.
 */
import { z } from "zod";
import { extractDocumentText } from "../documents/extract-text.js";
import { NodeExecutionError } from "../errors.js";
import { type FileValue, isFileValue } from "../variables/file-value.js";
import { selectorKey } from "../variables/selector.js";
import { defineNode, type NodeRunContext } from "./node-definition.js";

const documentExtractorDataSchema = z.looseObject({
  type: z.literal("document-extractor"),
  variable_selector: z.array(z.string()),
  is_array_file: z.boolean().nullish(),
});
export type DocumentExtractorData = z.infer<typeof documentExtractorDataSchema>;

/** Serialisation overhead per list item (quotes, comma), as the output size check counts it. */
const ITEM_OVERHEAD = 3;

export const documentExtractorNode = defineNode({
  type: "document-extractor",
  schema: documentExtractorDataSchema,
  usesIo: true,
  references: (data) => (data.variable_selector.length >= 2 ? [data.variable_selector] : []),
  validate(data, ctx) {
    if (data.variable_selector.length < 2) ctx.report("no input file is selected; select a file or file-list variable");
  },
  run: runDocumentExtractor,
});

async function runDocumentExtractor(ctx: NodeRunContext<DocumentExtractorData>) {
  const selector = ctx.data.variable_selector;
  const value = ctx.pool.get(selector);
  if (value === undefined) {
    throw new NodeExecutionError(
      `File variable not found for selector ${selectorKey(selector)}; check that the node or input providing it ran.`,
      { errorType: "VariableNotFoundError" },
    );
  }
  const inputs = { variable_selector: selector };
  const many = Array.isArray(value);
  const files: FileValue[] = [];
  for (const item of many ? value : [value]) {
    // Dify skips empty entries of a file list.
    if (item === null || item === undefined) continue;
    if (!isFileValue(item)) {
      throw new NodeExecutionError(
        `Variable ${selectorKey(selector)} is not a file or a list of files; the document extractor reads uploaded or remote files.`,
        { errorType: "InvalidVariableTypeError" },
      );
    }
    files.push(item);
  }
  const processData = { documents: files };
  if (files.length === 0) return { inputs, processData, outputs: { text: many ? [] : "" } };

  let budget = ctx.limits.maxVariableBytes - ITEM_OVERHEAD;
  const texts: string[] = [];
  for (const file of files) {
    ctx.signal.throwIfAborted();
    const bytes = await ctx.caps.files.read(file, ctx.signal);
    const text = await extractDocumentText(
      bytes,
      { filename: file.filename, extension: file.extension, mimeType: file.mime_type },
      {
        maxChars: Math.max(0, budget),
        signal: ctx.signal,
        ...(texts.length > 0
          ? { limitNote: ` (what the ${texts.length} file(s) before it left of the variable size limit)` }
          : {}),
      },
    );
    budget -= text.length + ITEM_OVERHEAD;
    texts.push(text);
  }
  return { inputs, processData, outputs: { text: many ? texts : (texts[0] ?? "") } };
}
