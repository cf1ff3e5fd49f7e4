import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FileCapability, HttpCapability, HttpRequestSpec } from "../capabilities/types.js";
import { NodeExecutionError, RunStoppedError } from "../errors.js";
import { createHttpClient, type HttpClient } from "../http/http-client.js";
import { type EchoedRequest, PDF_BYTES, startTestServer, type TestServer } from "../http/test-server.js";
import { makeNodeContext } from "../test-support/node-context.js";
import { FILE_IDENTITY, type FileValue, fileTypeForExtension } from "../variables/file-value.js";
import { VariablePool } from "../variables/variable-pool.js";
import { type HttpRequestData, httpRequestDataSchema, httpRequestNode } from "./http-request.js";

/** Files kept in memory: what `save` stores, `read` returns. */
function memoryFiles(): FileCapability & { saved: Array<{ file: FileValue; bytes: Uint8Array }> } {
  const store = new Map<string, Uint8Array>();
  const saved: Array<{ file: FileValue; bytes: Uint8Array }> = [];
  let n = 0;
  const make = (bytes: Uint8Array, meta: { filename: string; mimeType: string }): FileValue => {
    const id = `file-${++n}`;
    store.set(id, bytes);
    const ext = meta.filename.includes(".") ? meta.filename.slice(meta.filename.lastIndexOf(".")) : "";
    return {
      dify_model_identity: FILE_IDENTITY,
      id,
      type: fileTypeForExtension(ext),
      transfer_method: "tool_file",
      remote_url: null,
      related_id: id,
      filename: meta.filename,
      extension: ext,
      mime_type: meta.mimeType,
      size: bytes.byteLength,
      url: `/files/${id}`,
    };
  };
  return {
    saved,
    resolve: async () => {
      throw new Error("not used");
    },
    read: async (file) => {
      const bytes = file.related_id ? store.get(file.related_id) : undefined;
      if (!bytes) throw new Error(`no such file ${file.id}`);
      return bytes;
    },
    save: async (bytes, meta) => {
      const file = make(bytes, meta);
      saved.push({ file, bytes });
      return file;
    },
  };
}

let server: TestServer;
let http: HttpClient;
beforeAll(async () => {
  server = await startTestServer();
  http = createHttpClient({ allowList: ["127.0.0.1"] });
});
afterAll(async () => {
  await http.close();
  await server.close();
});

function data(over: Record<string, unknown>): HttpRequestData {
  return httpRequestDataSchema.parse({
    method: "get",
    url: `${server.origin}/echo`,
    authorization: { type: "no-auth" },
    headers: "",
    params: "",
    body: { type: "none", data: [] },
    ...over,
  });
}

async function run(
  d: HttpRequestData,
  opts: { pool?: VariablePool; files?: FileCapability; http?: HttpCapability; signal?: AbortSignal } = {},
) {
  const ctx = makeNodeContext(d, {
    pool: opts.pool,
    caps: { http: opts.http ?? http, files: opts.files ?? memoryFiles() },
    signal: opts.signal,
  });
  return httpRequestNode.run(ctx);
}

function echoed(outputs: Record<string, unknown>): EchoedRequest {
  return JSON.parse(outputs.body as string) as EchoedRequest;
}

async function nodeFailure(p: Promise<unknown>): Promise<NodeExecutionError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof NodeExecutionError) return e;
    throw e;
  }
  throw new Error("expected the node to fail");
}

function poolWith(values: Record<string, Record<string, unknown>>): VariablePool {
  const pool = new VariablePool();
  for (const [node, vars] of Object.entries(values)) pool.setAll(node, vars);
  return pool;
}

describe("http-request node: request assembly", () => {
  it("substitutes variables in the URL, params and headers", async () => {
    const pool = poolWith({ start: { q: "hello world", id: 42 }, env: { TOKEN: "t-1" } });
    const result = await run(
      data({
        method: "GET",
        url: `${server.origin}/echo?fixed=1&id={{#start.id#}}`,
        params: "q:{{#start.q#}}\nlang: en\n\n: ignored",
        headers: "X-Trace: {{#start.q#}}\nX-Token:{{#env.TOKEN#}}\nAccept",
      }),
      { pool },
    );
    const req = echoed(result.outputs);
    expect(req.method).toBe("GET");
    expect(req.url).toBe("/echo?fixed=1&id=42&q=hello+world&lang=en");
    expect(req.headers["x-trace"]).toBe("hello world");
    expect(req.headers["x-token"]).toBe("t-1");
    expect(req.headers.accept).toBe("");
    expect(result.outputs.status_code).toBe(200);
    expect(result.outputs.files).toEqual([]);
    expect((result.outputs.headers as Record<string, string>)["x-echo"]).toBe("1");
  });

  it("sends a JSON body as rendered (big integers keep their digits)", async () => {
    const pool = poolWith({ start: { name: "Ann" } });
    const body = '{"name": "{{#start.name#}}", "id": 12345678901234567890}';
    const result = await run(data({ method: "post", body: { type: "json", data: [{ key: "", type: "text", value: body }] } }), {
      pool,
    });
    const req = echoed(result.outputs);
    expect(req.body).toBe('{"name": "Ann", "id": 12345678901234567890}');
    expect(req.headers["content-type"]).toBe("application/json");
  });

  it("accepts raw newlines substituted into JSON strings, like json.loads(strict=False)", async () => {
    const pool = poolWith({ llm: { text: "line one\nline two" } });
    const result = await run(
      data({ method: "post", body: { type: "json", data: [{ type: "text", value: '{"text": "{{#llm.text#}}"}' }] } }),
      { pool },
    );
    expect(JSON.parse(echoed(result.outputs).body)).toEqual({ text: "line one\nline two" });
  });

  it("fails clearly when the JSON body is invalid after substitution", async () => {
    const pool = poolWith({ llm: { text: 'say "hi"' } });
    const e = await nodeFailure(
      run(data({ method: "post", body: { type: "json", data: [{ type: "text", value: '{"text": "{{#llm.text#}}"}' }] } }), {
        pool,
      }),
    );
    expect(e.errorType).toBe("RequestBodyError");
    expect(e.message).toContain("The JSON body is not valid JSON after variables were substituted");
    expect(e.message).toContain('{"text": "say "hi""}');
  });

  it("sends x-www-form-urlencoded bodies (last value of a repeated key wins)", async () => {
    const pool = poolWith({ start: { v: "x y" } });
    const items = [
      { key: "a", type: "text", value: "1" },
      { key: "b", type: "text", value: "{{#start.v#}}" },
      { key: "a", type: "text", value: "2" },
    ];
    const req = echoed(
      (await run(data({ method: "post", body: { type: "x-www-form-urlencoded", data: items } }), { pool })).outputs,
    );
    expect(req.body).toBe("a=2&b=x+y");
    expect(req.headers["content-type"]).toBe("application/x-www-form-urlencoded");
  });

  it("sends multipart form-data with text fields and files", async () => {
    const files = memoryFiles();
    const doc = await files.save(new TextEncoder().encode("file-content"), { filename: "notes.txt", mimeType: "text/plain" });
    const img = await files.save(new Uint8Array([1, 2, 3]), { filename: "a.png", mimeType: "image/png" });
    const pool = poolWith({ start: { doc, images: [img], title: "T" } });
    const items = [
      { key: "title", type: "text", value: "{{#start.title#}}" },
      { key: "doc", type: "file", file: ["start", "doc"] },
      { key: "images", type: "file", file: ["start", "images"] },
      { key: "missing", type: "file", file: ["start", "nothing"] },
    ];
    const result = await run(
      data({ method: "post", headers: "Content-Type: multipart/form-data", body: { type: "form-data", data: items } }),
      {
        pool,
        files,
      },
    );
    const req = echoed(result.outputs);
    expect(req.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
    expect(req.body).toContain('name="title"\r\n\r\nT');
    expect(req.body).toContain('name="doc"; filename="notes.txt"\r\nContent-Type: text/plain\r\n\r\nfile-content');
    expect(req.body).toContain('name="images"; filename="a.png"\r\nContent-Type: image/png');
    expect(req.body).not.toContain('name="missing"');
    expect(result.inputs?.body).toContain("doc: <file notes.txt, 12 bytes>");
  });

  it("sends raw text and binary bodies", async () => {
    const raw = echoed(
      (await run(data({ method: "put", body: { type: "raw-text", data: [{ type: "text", value: "plain" }] } }))).outputs,
    );
    expect([raw.method, raw.body, raw.headers["content-type"]]).toEqual(["PUT", "plain", "text/plain"]);

    const files = memoryFiles();
    const file = await files.save(new Uint8Array([0, 255, 7]), { filename: "blob.bin", mimeType: "application/x-thing" });
    const pool = poolWith({ start: { file } });
    const bin = echoed(
      (
        await run(data({ method: "post", body: { type: "binary", data: [{ type: "file", file: ["start", "file"] }] } }), {
          pool,
          files,
        })
      ).outputs,
    );
    expect(bin.bodyBase64).toBe("AP8H");
    expect(bin.headers["content-type"]).toBe("application/x-thing");
  });

  it("fails when the binary body's file is missing", async () => {
    const e = await nodeFailure(
      run(data({ method: "post", body: { type: "binary", data: [{ type: "file", file: ["start", "file"] }] } })),
    );
    expect(e.errorType).toBe("FileFetchError");
    expect(e.message).toBe("The binary body names the file variable start.file, which holds no file.");
  });

  it("reads the older body format where data is a string", async () => {
    const json = echoed((await run(data({ method: "post", body: { type: "json", data: '{"a": 1}' } }))).outputs);
    expect(json.body).toBe('{"a": 1}');
    const form = echoed(
      (await run(data({ method: "post", body: { type: "x-www-form-urlencoded", data: "a:1\nb: two" } }))).outputs,
    );
    expect(form.body).toBe("a=1&b=two");
  });

  it("sends no body for type none", async () => {
    const req = echoed((await run(data({ method: "delete" }))).outputs);
    expect([req.method, req.body, req.headers["content-type"]]).toEqual(["DELETE", "", undefined]);
  });

  it("takes timeouts in seconds from the node, Dify's defaults otherwise, capped by the node timeout", async () => {
    let seen: HttpRequestSpec | undefined;
    const capture: HttpCapability = {
      request: async (spec) => {
        seen = spec;
        return { status: 204, headers: {}, body: new Uint8Array(0), url: spec.url };
      },
    };
    await run(data({ timeout: { connect: 5, read: "30", write: null, max_connect_timeout: 10 }, ssl_verify: false }), {
      http: capture,
    });
    expect(seen?.timeouts).toEqual({ connectMs: 5_000, readMs: 30_000, writeMs: 600_000 });
    expect(seen?.sslVerify).toBe(false);
    expect(seen?.followRedirects).toBe(true);
    expect([seen?.maxTextBytes, seen?.maxBinaryBytes]).toEqual([1024 * 1024, 10 * 1024 * 1024]);
  });
});

describe("http-request node: authorization", () => {
  const auth = (type: string, api_key: string, header?: string) => ({ type: "api-key", config: { type, api_key, header } });

  it("sends bearer, basic and custom credentials", async () => {
    const bearer = echoed((await run(data({ authorization: auth("bearer", "sk-123") }))).outputs);
    expect(bearer.headers.authorization).toBe("Bearer sk-123");
    const basic = echoed((await run(data({ authorization: auth("basic", "user:pass") }))).outputs);
    expect(basic.headers.authorization).toBe(`Basic ${Buffer.from("user:pass").toString("base64")}`);
    const preEncoded = echoed((await run(data({ authorization: auth("basic", "dXNlcjpwYXNz") }))).outputs);
    expect(preEncoded.headers.authorization).toBe("Basic dXNlcjpwYXNz");
    const pool = poolWith({ env: { KEY: "k-secret" } });
    const custom = echoed((await run(data({ authorization: auth("custom", "{{#env.KEY#}}", "X-Api-Key") }), { pool })).outputs);
    expect(custom.headers["x-api-key"]).toBe("k-secret");
    expect(custom.headers.authorization).toBeUndefined();
  });

  it("masks credentials in inputs and the request log", async () => {
    const pool = poolWith({ env: { KEY: "sk-very-secret" } });
    const result = await run(
      data({
        authorization: auth("bearer", "{{#env.KEY#}}"),
        params: "key:{{#env.KEY#}}",
        headers: "Cookie: session=abc\nX-Other: visible",
      }),
      { pool },
    );
    expect(echoed(result.outputs).headers.authorization).toBe("Bearer sk-very-secret");
    const shown = JSON.stringify([result.inputs, result.processData]);
    expect(shown).not.toContain("sk-very-secret");
    expect(shown).not.toContain("session=abc");
    const inputs = result.inputs as { headers: Record<string, string>; url: string };
    expect(inputs.headers.Authorization).toBe("Bearer ******");
    expect(inputs.headers["X-Other"]).toBe("visible");
    expect(inputs.url).toContain("key=******");
    expect(result.processData?.request).toMatch(/^GET \/echo\?key=\*{6} HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\n/);
  });

  it("fails on an empty API key", async () => {
    const e = await nodeFailure(run(data({ authorization: auth("bearer", "{{#env.MISSING#}}") })));
    expect(e.errorType).toBe("AuthorizationConfigError");
  });
});

describe("http-request node: responses", () => {
  it("saves attachments as files and leaves the body empty", async () => {
    const files = memoryFiles();
    const result = await run(data({ url: `${server.origin}/attachment` }), { files });
    const out = result.outputs as { body: string; files: FileValue[]; status_code: number };
    expect(out.body).toBe("");
    expect(out.files).toHaveLength(1);
    expect(out.files[0]).toMatchObject({ filename: "report.pdf", mime_type: "application/pdf", size: PDF_BYTES.byteLength });
    expect(Buffer.from(files.saved[0]?.bytes ?? []).equals(PDF_BYTES)).toBe(true);
  });

  it("names files from RFC 5987 dispositions, the URL or the media type", async () => {
    const disposition = encodeURIComponent("attachment; filename*=UTF-8''%E6%8A%A5%E5%91%8A.pdf");
    const named = await run(data({ url: `${server.origin}/attachment?disposition=${disposition}` }));
    expect((named.outputs.files as FileValue[])[0]?.filename).toBe("报告.pdf");
    const image = await run(data({ url: `${server.origin}/image` }));
    expect((image.outputs.files as FileValue[])[0]).toMatchObject({ filename: "file.png", mime_type: "image/png" });
  });

  it("returns text bodies decoded with their charset", async () => {
    expect((await run(data({ url: `${server.origin}/charset` }))).outputs.body).toBe("你好");
    expect((await run(data({ url: `${server.origin}/gzip` }))).outputs.body).toBe('{"ok":true,"text":"héllo"}');
  });

  it("succeeds on 4xx/5xx with the status code", async () => {
    const result = await run(data({ url: `${server.origin}/status?code=404` }));
    expect(result.outputs).toMatchObject({ status_code: 404, body: "status 404", files: [] });
  });

  it("fails on 4xx/5xx when retry or an error strategy is configured, as Dify does", async () => {
    const retry = await nodeFailure(
      run(data({ url: `${server.origin}/status?code=503`, retry_config: { retry_enabled: true } })),
    );
    expect([retry.message, retry.errorType]).toEqual(["Request failed with status code 503", "HTTPResponseCodeError"]);
    const strategy = await nodeFailure(run(data({ url: `${server.origin}/status?code=500`, error_strategy: "fail-branch" })));
    expect(strategy.errorType).toBe("HTTPResponseCodeError");
  });
});

describe("http-request node: failures", () => {
  it("reports SSRF refusals", async () => {
    const guarded = createHttpClient();
    try {
      const e = await nodeFailure(run(data({ url: `${server.origin}/echo` }), { http: guarded }));
      expect(e.errorType).toBe("SSRFBlockedError");
      expect(e.message).toContain("Refused to connect to 127.0.0.1: it is a loopback address");
      expect(e.message).toContain("TRIBUTARY_HTTP_ALLOW_LIST");
    } finally {
      await guarded.close();
    }
  });

  it("rejects URLs that are not http(s)", async () => {
    const e = await nodeFailure(run(data({ url: "ftp://example.com/x" })));
    expect([e.errorType, e.message]).toEqual([
      "InvalidURLError",
      'The URL must start with http:// or https:// (got "ftp://example.com/x").',
    ]);
    const empty = await nodeFailure(run(data({ url: "{{#start.nothing#}}" })));
    expect(empty.message).toBe("The URL is empty.");
  });

  it("keeps the run's own error when it is stopped", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new RunStoppedError()), 50);
    await expect(run(data({ url: `${server.origin}/hang` }), { signal: ac.signal })).rejects.toBeInstanceOf(RunStoppedError);
  });

  it("reports transport errors as node failures", async () => {
    const e = await nodeFailure(run(data({ url: `${server.origin}/text?bytes=3000000` })));
    expect(e.errorType).toBe("HttpRequestNodeError");
    expect(e.message).toContain("text responses are limited to 1.00 MB");
  });
});

describe("http-request node: definition", () => {
  it("accepts any method case and rejects unknown methods", () => {
    expect(data({ method: "PoSt" }).method).toBe("post");
    expect(httpRequestDataSchema.safeParse({ method: "trace", url: "http://x" }).success).toBe(false);
  });

  it("lists every selector it reads", () => {
    const d = data({
      url: "http://x/{{#a.path#}}",
      headers: "H: {{#b.h#}}",
      params: "p:{{#c.p#}}",
      authorization: { type: "api-key", config: { type: "bearer", api_key: "{{#env.KEY#}}" } },
      body: {
        type: "form-data",
        data: [
          { key: "{{#d.k#}}", type: "text", value: "{{#e.v#}}" },
          { key: "f", type: "file", file: ["f", "file"] },
        ],
      },
    });
    expect(httpRequestNode.references(d)).toEqual([
      ["a", "path"],
      ["b", "h"],
      ["c", "p"],
      ["env", "KEY"],
      ["e", "v"],
      ["d", "k"],
      ["f", "file"],
    ]);
    const bin = data({ body: { type: "binary", data: [{ type: "file", file: ["s", "doc"] }] } });
    expect(httpRequestNode.references(bin)).toEqual([["s", "doc"]]);
  });

  it("validates static mistakes", () => {
    const problems: string[] = [];
    const report = (m: string) => problems.push(m);
    httpRequestNode.validate?.(data({ url: "example.com" }), { nodeId: "n", report });
    httpRequestNode.validate?.(data({ method: "post", body: { type: "json", data: [{ type: "text", value: "{bad json" }] } }), {
      nodeId: "n",
      report,
    });
    httpRequestNode.validate?.(data({ body: { type: "binary", data: [] } }), { nodeId: "n", report });
    expect(problems).toEqual([
      'the URL must start with http:// or https:// (got "example.com")',
      expect.stringContaining("the JSON body is not valid JSON"),
      "the binary body has no file variable selected",
    ]);
  });
});
