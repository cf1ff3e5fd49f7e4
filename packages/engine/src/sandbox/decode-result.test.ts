import { describe, expect, it } from "vitest";
import { SandboxError } from "../errors.js";
import { decodeResult } from "./decode-result.js";
import type { RunResultMessage } from "./worker-protocol.js";

const limits = { memoryLimitMb: 256, jsMemoryLimitMb: 64 };

function result(status: RunResultMessage["status"], payload: string, detail = ""): RunResultMessage {
  return { type: "result", id: 1, status, payload, detail, memoryBytes: 0 };
}

describe("decodeResult", () => {
  it("parses the JSON result and revives tagged non-finite numbers only when told to", () => {
    const tagged = '{"a": {"__tributary_nonfinite__": "NaN"}, "b": [{"__tributary_nonfinite__": "-Infinity"}]}';
    expect(decodeResult(result("ok", tagged, "nonfinite"), "python3", limits)).toEqual({
      ok: true,
      value: { a: Number.NaN, b: [Number.NEGATIVE_INFINITY] },
    });
    expect(decodeResult(result("ok", tagged), "python3", limits)).toEqual({
      ok: true,
      value: { a: { __tributary_nonfinite__: "NaN" }, b: [{ __tributary_nonfinite__: "-Infinity" }] },
    });
  });

  it("keeps a snippet's own object that only looks like a tag", () => {
    const value = '{"a": {"__tributary_nonfinite__": "NaN", "other": 1}, "b": {"__tributary_nonfinite__": "x"}}';
    expect(decodeResult(result("ok", value, "nonfinite"), "python3", limits)).toEqual({
      ok: true,
      value: { a: { __tributary_nonfinite__: "NaN", other: 1 }, b: { __tributary_nonfinite__: "x" } },
    });
  });

  it("turns failures into SandboxErrors with the traceback as the cause", () => {
    const decoded = decodeResult(result("error", "ValueError: bad", "Traceback ...\nValueError: bad"), "python3", limits);
    expect(decoded.ok).toBe(false);
    const error = (decoded as { error: SandboxError }).error;
    expect(error).toBeInstanceOf(SandboxError);
    expect(error.message).toBe("ValueError: bad");
    expect((error.cause as Error).message).toBe("Traceback ...\nValueError: bad");
  });

  it("names the memory limit of the language that hit it", () => {
    const python = decodeResult(result("memory", "MemoryError"), "python3", limits);
    const javascript = decodeResult(result("memory", "InternalError: out of memory"), "javascript", limits);
    expect(python.ok || python.error.message).toBe("The code ran out of memory (limit 256 MB): MemoryError");
    expect(javascript.ok || javascript.error.message).toBe(
      "The code ran out of memory (limit 64 MB): InternalError: out of memory",
    );
  });

  it("refuses results that are not JSON objects", () => {
    for (const payload of ["[1]", "null", "{oops"]) {
      expect(decodeResult(result("ok", payload), "javascript", limits).ok).toBe(false);
    }
  });
});
