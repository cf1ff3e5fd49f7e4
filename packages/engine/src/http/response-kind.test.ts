import { describe, expect, it } from "vitest";
import { classifyByHeaders, decodeText, dispositionFilename, isFileResponse } from "./response-kind.js";

const bytes = (s: string) => new TextEncoder().encode(s);
const binary = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0xff, 0xfe, 0x00]);

describe("isFileResponse (Dify's Response.is_file)", () => {
  it.each([
    [{ "content-type": "application/json" }, bytes("{}"), false],
    [{ "content-type": "text/html; charset=utf-8" }, bytes("<p>"), false],
    [{ "content-type": "text/csv" }, bytes("a,b"), false],
    [{ "content-type": "application/xml" }, bytes("<a/>"), false],
    [{ "content-type": "application/vnd.api+json" }, bytes("{}"), false],
    [{ "content-type": "application/javascript" }, bytes("let a"), false],
    [{}, bytes("anything"), false],
    [{ "content-type": "image/png" }, binary, true],
    [{ "content-type": "audio/mpeg" }, binary, true],
    [{ "content-type": "video/mp4" }, binary, true],
    [{ "content-type": "application/pdf" }, bytes("%PDF-1.4\n\u00e2"), true],
    [{ "content-type": "application/octet-stream" }, binary, true],
    [{ "content-type": "application/octet-stream" }, bytes('{"looks": "like json"}'), false],
    [{ "content-type": "application/octet-stream" }, bytes("plain words, no markers"), true],
    [{ "content-type": "text/plain", "content-disposition": 'attachment; filename="a.txt"' }, bytes("x"), true],
    [{ "content-type": "text/plain", "content-disposition": 'inline; filename="a.txt"' }, bytes("x"), true],
    [{ "content-type": "text/plain", "content-disposition": "inline" }, bytes("x"), false],
  ])("%j", (headers, body, expected) => {
    expect(isFileResponse(headers as Record<string, string>, body)).toBe(expected);
  });

  it("sniffs only what headers cannot decide", () => {
    expect(classifyByHeaders({ "content-type": "application/zip" })).toBe("sniff");
    expect(classifyByHeaders({ "content-type": "image/webp" })).toBe("file");
    expect(classifyByHeaders({ "content-type": "text/plain" })).toBe("text");
  });
});

describe("dispositionFilename", () => {
  it("prefers filename* and decodes it", () => {
    expect(dispositionFilename(`attachment; filename="fallback.pdf"; filename*=UTF-8''%E6%8A%A5%E5%91%8A.pdf`)).toBe("报告.pdf");
    expect(dispositionFilename('attachment; filename="a \\"quoted\\" name.txt"')).toBe('a "quoted" name.txt');
    expect(dispositionFilename("attachment; filename=plain.csv")).toBe("plain.csv");
    expect(dispositionFilename("attachment")).toBeNull();
    expect(dispositionFilename(undefined)).toBeNull();
  });
});

describe("decodeText", () => {
  it("uses the declared charset, UTF-8 otherwise", () => {
    expect(decodeText({ "content-type": "text/plain; charset=gbk" }, new Uint8Array([0xc4, 0xe3, 0xba, 0xc3]))).toBe("你好");
    expect(decodeText({ "content-type": "text/plain; charset=no-such" }, bytes("héllo"))).toBe("héllo");
    expect(decodeText({}, bytes("héllo"))).toBe("héllo");
  });
});
