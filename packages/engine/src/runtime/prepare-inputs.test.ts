import { describe, expect, it } from "vitest";
import type { FileCapability } from "../capabilities/types.js";
import { InputValidationError } from "../errors.js";
import type { StartVariable } from "../nodes/start.js";
import { FILE_IDENTITY, type FileValue } from "../variables/file-value.js";
import { prepareInputs } from "./prepare-inputs.js";

const v = (variable: string, type: StartVariable["type"], extra: Partial<StartVariable> = {}): StartVariable => ({
  variable,
  label: variable,
  type,
  required: true,
  ...extra,
});

const files: Pick<FileCapability, "resolve"> = {
  async resolve(ref) {
    if (ref.upload_file_id !== "known") throw new InputValidationError(`file ${ref.upload_file_id} was not found`);
    const f: FileValue = {
      dify_model_identity: FILE_IDENTITY,
      id: "known",
      type: "document",
      transfer_method: "local_file",
      remote_url: null,
      related_id: "known",
      filename: "a.pdf",
      extension: "pdf",
      mime_type: "application/pdf",
      size: 3,
      url: null,
    };
    return f;
  },
};

describe("prepareInputs", () => {
  it("checks each declared type with Dify's messages", async () => {
    const vars = [
      v("t", "text-input", { max_length: 5 }),
      v("s", "select", { options: ["a", "b"] }),
      v("n", "number"),
      v("p", "paragraph", { required: false }),
    ];
    await expect(prepareInputs(vars, { s: "a", n: 1 }, files)).rejects.toThrow("t is required in input form");
    await expect(prepareInputs(vars, { t: "toolong", s: "a", n: 1 }, files)).rejects.toThrow(
      "t in input form must be less than 5 characters",
    );
    await expect(prepareInputs(vars, { t: "ok", s: "c", n: 1 }, files)).rejects.toThrow(
      's in input form must be one of the following: ["a","b"]',
    );
    await expect(prepareInputs(vars, { t: "ok", s: "a", n: "x" }, files)).rejects.toThrow(
      "n in input form must be a valid number",
    );
    await expect(prepareInputs(vars, { t: { no: 1 }, s: "a", n: 1 }, files)).rejects.toThrow("t in input form must be a string");
    const ok = await prepareInputs(vars, { t: "ok", s: "b", n: "2.5", extra: "dropped" }, files);
    expect(ok.inputs).toEqual({ t: "ok", s: "b", n: 2.5, p: null });
  });

  it("resolves file and file-list inputs and checks allowed types", async () => {
    const vars = [v("doc", "file", { allowed_file_types: ["document"] }), v("docs", "file-list", { required: false })];
    const ref = { type: "document", transfer_method: "local_file", upload_file_id: "known" };
    const ok = await prepareInputs(vars, { doc: ref, docs: [ref, ref] }, files);
    expect((ok.inputs.doc as FileValue).filename).toBe("a.pdf");
    expect(ok.inputs.docs).toHaveLength(2);
    await expect(prepareInputs(vars, { doc: { transfer_method: "local_file" } }, files)).rejects.toThrow(
      "upload_file_id is required",
    );
    await expect(prepareInputs(vars, { doc: "nope" }, files)).rejects.toThrow("must be a file object");
    const imageOnly = [v("img", "file", { allowed_file_types: ["image"] })];
    await expect(prepareInputs(imageOnly, { img: ref }, files)).rejects.toThrow("accepts image files, got a document file");
  });
});
