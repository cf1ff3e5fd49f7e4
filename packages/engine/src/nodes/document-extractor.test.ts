import { strToU8, zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import type { FileCapability } from "../capabilities/types.js";
import { NodeExecutionError } from "../errors.js";
import { compileWorkflow } from "../graph/compile-workflow.js";
import { runWorkflow } from "../runtime/run-workflow.js";
import { dsl, e, end, n } from "../test-support/graph-builder.js";
import { makeNodeContext, testCapabilities } from "../test-support/node-context.js";
import { FILE_IDENTITY, type FileValue, fileTypeForExtension } from "../variables/file-value.js";
import { VariablePool } from "../variables/variable-pool.js";
import { type DocumentExtractorData, documentExtractorNode } from "./document-extractor.js";
import { coreNodes, createNodeRegistry } from "./registry.js";

// ---- fixtures, built here so the tests need no binary files ----------------------------------

/** A valid PDF with one line of Helvetica text per page; xref offsets computed, as readers check them. */
function makePdf(pages: string[]): Uint8Array {
  const objects: string[] = ["<< /Type /Catalog /Pages 2 0 R >>"];
  const kids = pages.map((_, i) => `${3 + i * 2} 0 R`).join(" ");
  objects.push(`<< /Type /Pages /Kids [${kids}] /Count ${pages.length} >>`);
  const fontId = 3 + pages.length * 2;
  pages.forEach((text, i) => {
    objects.push(
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents ${4 + i * 2} 0 R /Resources << /Font << /F1 ${fontId} 0 R >> >> >>`,
    );
    const lines = text.split("\n").map((line, j) => `${j === 0 ? "72 700 Td" : "0 -30 Td"} (${line}) Tj`);
    const stream = `BT /F1 24 Tf ${lines.join(" ")} ET`;
    objects.push(`<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`);
  });
  objects.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
  let out = "%PDF-1.4\n";
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  out += offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`).join("");
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return strToU8(out);
}

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>';
const RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships";
const OFFICE_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument";

function contentTypes(overrides: Record<string, string>): string {
  const parts = Object.entries(overrides)
    .map(([name, type]) => `<Override PartName="${name}" ContentType="${type}"/>`)
    .join("");
  return `${XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>${parts}</Types>`;
}

/** A minimal Word document: one paragraph per string. */
function makeDocx(paragraphs: string[]): Uint8Array {
  const body = paragraphs.map((p) => `<w:p><w:r><w:t xml:space="preserve">${p}</w:t></w:r></w:p>`).join("");
  return zipSync({
    "[Content_Types].xml": strToU8(
      contentTypes({ "/word/document.xml": "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml" }),
    ),
    "_rels/.rels": strToU8(
      `${XML_HEAD}<Relationships xmlns="${RELS_NS}"><Relationship Id="rId1" Type="${OFFICE_DOC}" Target="word/document.xml"/></Relationships>`,
    ),
    "word/document.xml": strToU8(
      `${XML_HEAD}<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>${body}</w:body></w:document>`,
    ),
  });
}

type Cell = string | number | boolean | null;

/** A minimal workbook: inline strings, numbers and booleans; `null` leaves a cell out. */
function makeXlsx(sheets: Record<string, Cell[][]>): Uint8Array {
  const names = Object.keys(sheets);
  const col = (i: number) => String.fromCharCode(65 + i);
  const cell = (v: Cell, ref: string) => {
    if (v === null) return "";
    if (typeof v === "number") return `<c r="${ref}"><v>${v}</v></c>`;
    if (typeof v === "boolean") return `<c r="${ref}" t="b"><v>${v ? 1 : 0}</v></c>`;
    return `<c r="${ref}" t="inlineStr"><is><t>${v}</t></is></c>`;
  };
  const files: Record<string, Uint8Array> = {
    "[Content_Types].xml": strToU8(
      contentTypes({
        "/xl/workbook.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        ...Object.fromEntries(
          names.map((_, i) => [
            `/xl/worksheets/sheet${i + 1}.xml`,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml",
          ]),
        ),
      }),
    ),
    "_rels/.rels": strToU8(
      `${XML_HEAD}<Relationships xmlns="${RELS_NS}"><Relationship Id="rId1" Type="${OFFICE_DOC}" Target="xl/workbook.xml"/></Relationships>`,
    ),
    "xl/workbook.xml": strToU8(
      `${XML_HEAD}<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>${names
        .map((name, i) => `<sheet name="${name}" sheetId="${i + 1}" r:id="rId${i + 1}"/>`)
        .join("")}</sheets></workbook>`,
    ),
    "xl/_rels/workbook.xml.rels": strToU8(
      `${XML_HEAD}<Relationships xmlns="${RELS_NS}">${names
        .map(
          (_, i) =>
            `<Relationship Id="rId${i + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet${i + 1}.xml"/>`,
        )
        .join("")}</Relationships>`,
    ),
  };
  names.forEach((name, i) => {
    const rows = (sheets[name] ?? [])
      .map((row, r) => `<row r="${r + 1}">${row.map((v, c) => cell(v, `${col(c)}${r + 1}`)).join("")}</row>`)
      .join("");
    files[`xl/worksheets/sheet${i + 1}.xml`] = strToU8(
      `${XML_HEAD}<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>${rows}</sheetData></worksheet>`,
    );
  });
  return zipSync(files);
}

/** An in-memory store behind the files capability: upload id → bytes. */
class MemoryFiles implements FileCapability {
  private readonly stored = new Map<string, { file: FileValue; bytes: Uint8Array }>();
  readonly reads: string[] = [];

  add(filename: string, bytes: Uint8Array | string, mimeType = "application/octet-stream", extension?: string): FileValue {
    const id = `upload-${this.stored.size + 1}`;
    const ext = extension ?? (filename.includes(".") ? `.${filename.split(".").pop()}` : "");
    const data = typeof bytes === "string" ? strToU8(bytes) : bytes;
    const file: FileValue = {
      dify_model_identity: FILE_IDENTITY,
      id,
      type: fileTypeForExtension(ext),
      transfer_method: "local_file",
      remote_url: null,
      related_id: id,
      filename,
      extension: ext,
      mime_type: mimeType,
      size: data.byteLength,
      url: null,
    };
    this.stored.set(id, { file, bytes: data });
    return file;
  }

  async resolve(ref: { upload_file_id?: string }): Promise<FileValue> {
    const entry = this.stored.get(ref.upload_file_id ?? "");
    if (!entry) throw new Error(`unknown upload ${ref.upload_file_id}`);
    return entry.file;
  }

  async read(file: FileValue): Promise<Uint8Array> {
    this.reads.push(file.filename);
    const entry = this.stored.get(file.related_id ?? "");
    if (!entry) throw new Error(`unknown file ${file.filename}`);
    return entry.bytes;
  }

  async save(): Promise<FileValue> {
    throw new Error("not used");
  }
}

function data(overrides: Record<string, unknown> = {}): DocumentExtractorData {
  return documentExtractorNode.schema.parse({
    type: "document-extractor",
    variable_selector: ["start", "doc"],
    is_array_file: false,
    ...overrides,
  });
}

async function extract(value: unknown, files: MemoryFiles, limits: { maxVariableBytes?: number } = {}) {
  const pool = new VariablePool();
  pool.set("start", "doc", value);
  const ctx = makeNodeContext(data({ is_array_file: Array.isArray(value) }), { pool, caps: { files }, limits });
  return await documentExtractorNode.run(ctx);
}

async function textOf(filename: string, bytes: Uint8Array | string, mimeType?: string): Promise<unknown> {
  const files = new MemoryFiles();
  const result = await extract(files.add(filename, bytes, mimeType), files);
  return result.outputs.text;
}

describe("document-extractor node", () => {
  it("reads plain text: UTF-8 with BOM, UTF-16, and Windows-1252 when not UTF-8", async () => {
    expect(await textOf("a.txt", "héllo\nworld")).toBe("héllo\nworld");
    expect(await textOf("a.md", new Uint8Array([0xef, 0xbb, 0xbf, ...strToU8("# Title")]))).toBe("# Title");
    expect(await textOf("a.txt", new Uint8Array([0xff, 0xfe, 0x68, 0x00, 0x69, 0x00]))).toBe("hi");
    expect(await textOf("a.txt", new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x20, 0x80]))).toBe("café €");
    expect(await textOf("notes.mdx", "<Hello />")).toBe("<Hello />");
    expect(await textOf("main.py", "print('x')")).toBe("print('x')");
  });

  it("turns HTML into text and keeps XML as it is", async () => {
    const html =
      "<html><head><style>p{}</style></head><body><h1>Report</h1><p>First &amp; <b>bold</b>.</p><ul><li>one</li><li>two</li></ul><img src='x.png'></body></html>";
    const text = String(await textOf("page.html", html));
    expect(text).toContain("REPORT");
    expect(text).toContain("First & bold.");
    expect(text).toMatch(/\* one\n \* two/);
    expect(text).not.toContain("x.png");
    expect(text).not.toContain("p{}");
    expect(await textOf("data.xml", "<a><b>1</b></a>")).toBe("<a><b>1</b></a>");
  });

  it("renders CSV as a Markdown table", async () => {
    const csv = 'name,notes,age\nAda,"likes | pipes",36\n\nBob,"two\nlines",7\n';
    expect(await textOf("people.csv", csv)).toBe(
      "| name | notes | age |\n| ---- | ----- | --- |\n| Ada | likes \\| pipes | 36 |\n| Bob | two lines | 7 |\n",
    );
  });

  it("pretty-prints JSON and re-serialises YAML", async () => {
    expect(await textOf("d.json", '{"a":[1,{"b":"é"}]}')).toBe('{\n  "a": [\n    1,\n    {\n      "b": "é"\n    }\n  ]\n}');
    expect(await textOf("d.yaml", "a:   1\nlist: [x, y]\n---\nb: true\n")).toBe("a: 1\nlist: [ x, y ]\n---\nb: true\n");
    await expect(textOf("bad.json", "{nope")).rejects.toThrow(/Failed to extract text from JSON file "bad\.json"/);
  });

  it("reads DOCX paragraphs", async () => {
    expect(await textOf("letter.docx", makeDocx(["Dear Ada,", "Thanks for the engine."]))).toBe(
      "Dear Ada,\n\nThanks for the engine.",
    );
  });

  it("reads PDF text page by page, offline", async () => {
    const text = await textOf("report.pdf", makePdf(["Page one title\nsecond line", "Page two"]));
    expect(text).toBe("Page one title\nsecond line\n\nPage two");
  });

  it("renders every XLSX sheet as a Markdown table, skipping empty rows and sheets", async () => {
    const xlsx = makeXlsx({
      People: [
        ["Name", "Age", "VIP"],
        ["Ada", 36, true],
        [null, null, null],
        ["Bob", 7.5, false],
      ],
      Empty: [],
      Notes: [["Note"], ["hello"]],
    });
    expect(await textOf("book.xlsx", xlsx)).toBe(
      "| Name | Age | VIP |\n| ---- | --- | --- |\n| Ada | 36 | true |\n| Bob | 7.5 | false |\n\n| Note |\n| ---- |\n| hello |\n\n",
    );
  });

  it("falls back to the MIME type when the extension is missing", async () => {
    const files = new MemoryFiles();
    const file = files.add("download", '{"x":1}', "application/json", "");
    expect((await extract(file, files)).outputs.text).toBe('{\n  "x": 1\n}');
  });

  it("names unsupported types and what to do", async () => {
    await expect(textOf("old.doc", "x")).rejects.toThrow(
      /Unsupported file type for "old\.doc": the document extractor cannot read "\.doc" files \(save it as \.docx first\)\. Supported: txt, md/,
    );
    await expect(textOf("photo.heic", "x")).rejects.toThrow(/cannot read "\.heic" files\. Supported:/);
    try {
      await textOf("blob", "x", "application/x-thing");
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(NodeExecutionError);
      expect((err as NodeExecutionError).errorType).toBe("UnsupportedFileTypeError");
      expect((err as Error).message).toMatch(/files of type application\/x-thing without an extension/);
    }
  });

  it("a broken document fails with the format and file name", async () => {
    await expect(textOf("broken.pdf", "%PDF-1.4 garbage")).rejects.toThrow(/Failed to extract text from PDF file "broken\.pdf"/);
    await expect(textOf("broken.docx", "not a zip")).rejects.toThrow(/Failed to extract text from DOCX file "broken\.docx"/);
  });

  it("refuses zip containers that declare an absurd unpacked size", async () => {
    const docx = makeDocx(["tiny"]);
    const view = new DataView(docx.buffer, docx.byteOffset, docx.byteLength);
    // Patch the uncompressed size of every central-directory entry to 1 GB.
    for (let i = 0; i + 4 <= docx.length; i++) if (view.getUint32(i, true) === 0x02014b50) view.setUint32(i + 24, 1 << 30, true);
    await expect(textOf("bomb.docx", docx)).rejects.toThrow(/unpacks to more than 512 MB/);
  });

  it("file lists give a list of texts; empty entries are skipped", async () => {
    const files = new MemoryFiles();
    const list = [files.add("a.txt", "alpha"), null, files.add("b.csv", "k,v\n1,2")];
    const result = await extract(list, files);
    expect(result.outputs.text).toEqual(["alpha", "| k | v |\n| --- | --- |\n| 1 | 2 |\n"]);
    expect(files.reads).toEqual(["a.txt", "b.csv"]);
    expect((await extract([], files)).outputs.text).toEqual([]);
  });

  it("stops at the variable size limit, naming the file", async () => {
    const files = new MemoryFiles();
    const big = files.add("big.txt", "x".repeat(2000));
    await expect(extract(big, files, { maxVariableBytes: 1000 })).rejects.toThrow(
      /The text extracted from "big\.txt" is longer than the limit of 997 characters/,
    );
    const pdf = files.add("long.pdf", makePdf(["a".repeat(40), "b".repeat(40), "c".repeat(40)]));
    await expect(extract(pdf, files, { maxVariableBytes: 80 })).rejects.toThrow(/\(reached on page 2 of 3\)/);
    const two = [files.add("one.txt", "y".repeat(600)), files.add("two.txt", "z".repeat(600))];
    await expect(extract(two, files, { maxVariableBytes: 1000 })).rejects.toThrow(
      /"two\.txt" is longer than the limit of 394 characters \(what the 1 file\(s\) before it left/,
    );
  });

  it("fails clearly when the variable is missing or not a file", async () => {
    const files = new MemoryFiles();
    const ctx = makeNodeContext(data(), { caps: { files } });
    await expect(documentExtractorNode.run(ctx)).rejects.toThrow(/File variable not found for selector start\.doc/);
    await expect(extract("just text", files)).rejects.toThrow(/is not a file or a list of files/);
  });

  it("runs in a workflow on uploaded files", async () => {
    const files = new MemoryFiles();
    const pdf = files.add("scan.pdf", makePdf(["Invoice 42"]), "application/pdf");
    const docx = files.add("memo.docx", makeDocx(["Memo body"]));
    const registry = createNodeRegistry([...coreNodes, documentExtractorNode]);
    const doc = dsl(
      [
        n("start", "start", {
          variables: [
            { variable: "main", label: "Main", type: "file", required: true, allowed_file_types: ["document"] },
            { variable: "more", label: "More", type: "file-list", required: false, allowed_file_types: ["document"] },
          ],
        }),
        n("one", "document-extractor", { variable_selector: ["start", "main"], is_array_file: false }),
        n("many", "document-extractor", { variable_selector: ["start", "more"], is_array_file: true }),
        end("end", { main: ["one", "text"], more: ["many", "text"] }),
      ],
      [e("start", "one"), e("start", "many"), e("one", "end"), e("many", "end")],
    );
    const wf = compileWorkflow(doc, { registry });
    const ref = (f: FileValue) => ({ type: "document", transfer_method: "local_file", upload_file_id: f.related_id });
    const result = await runWorkflow(wf, {
      inputs: { main: ref(pdf), more: [ref(docx), ref(pdf)] },
      caps: testCapabilities({ files }),
    });
    expect(result.status).toBe("succeeded");
    expect(result.outputs).toEqual({ main: "Invoice 42", more: ["Memo body", "Invoice 42"] });
  });
});
