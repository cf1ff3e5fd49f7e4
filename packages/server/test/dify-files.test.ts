/**
 * File uploads over Dify's API: the upload itself, its limits and refusals, and uploaded files
 * used as workflow inputs (single file, file list, `files`), then read back through their URL.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateServer } from "./support/gate-server.js";
import { dataFrames, json, modes, readSse, startTestServer, type TestServer } from "./support/harness.js";
import { branchWorkflow, containerWorkflow, extractWorkflow } from "./support/workflows.js";

function form(parts: Array<[string, string | Blob, string?]>): FormData {
  const data = new FormData();
  for (const [name, value, filename] of parts) {
    if (typeof value === "string") data.append(name, value);
    else data.append(name, value, filename);
  }
  return data;
}

const text = (content: string, type = "text/plain") => new Blob([content], { type });

/** Files under the storage root, excluding the temp directory: what an upload left on disk. */
function storedFiles(dataDir: string): string[] {
  const root = join(dataDir, "files");
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name))
    .filter((p) => !p.includes(`${join(root, "tmp")}`));
}

describe.each(modes)("Dify files (%s)", (dialect) => {
  let server: TestServer;
  let app: { appId: string; key: string };
  let containers: { appId: string; key: string };
  let other: { appId: string; key: string };

  beforeAll(async () => {
    server = await startTestServer(dialect, {
      // Small limits keep the oversized uploads small.
      uploads: { fileBytes: 64 * 1024, imageBytes: 16 * 1024 },
    });
    app = await server.createApp(branchWorkflow());
    containers = await server.createApp(containerWorkflow());
    other = await server.createApp(branchWorkflow("Other"));
  });
  afterAll(() => server?.close());

  const upload = (data: FormData | string, key = app.key, headers: Record<string, string> = {}) =>
    server.api(key, "/v1/files/upload", { method: "POST", body: data, headers });

  it("uploads a file (201, Dify's FileResponse) and uses it as a file input", async () => {
    const res = await upload(
      form([
        ["file", text("hello file"), "notes.txt"],
        ["user", "ann"],
      ]),
    );
    expect(res.status).toBe(201);
    const file = await json<Record<string, unknown>>(res);
    expect(file).toMatchObject({ name: "notes.txt", size: 10, extension: "txt", mime_type: "text/plain", preview_url: null });
    expect(typeof file["id"]).toBe("string");
    expect(Number.isInteger(file["created_at"])).toBe(true);
    expect(String(file["source_url"])).toMatch(/\/files\/.+\/file-preview\?timestamp=\d+&nonce=\w+&sign=/);

    // created_by is the end user, readable through /end-users.
    const user = await json<Record<string, unknown>>(await server.api(app.key, `/v1/end-users/${file["created_by"]}`));
    expect(user).toMatchObject({ id: file["created_by"], session_id: "ann", type: "service_api", is_anonymous: false });

    const run = await server.api(app.key, "/v1/workflows/run", {
      method: "POST",
      json: {
        inputs: { query: "with file", doc: { type: "document", transfer_method: "local_file", upload_file_id: file["id"] } },
        user: "ann",
      },
    });
    const body = await json<{ data: { status: string; outputs: { doc: Record<string, unknown> } } }>(run);
    expect(body.data.status).toBe("succeeded");
    const doc = body.data.outputs.doc;
    expect(doc).toMatchObject({
      dify_model_identity: "__dify__file__",
      type: "document",
      transfer_method: "local_file",
      related_id: file["id"],
      filename: "notes.txt",
      extension: ".txt",
      mime_type: "text/plain",
      size: 10,
    });
    // The file value's url is a signed link that serves the bytes without an API key.
    const download = await fetch(String(doc["url"]));
    expect(download.status).toBe(200);
    expect(await download.text()).toBe("hello file");
    const tampered = await fetch(String(doc["url"]).replace(/sign=[^&]+/, "sign=forged"));
    expect(tampered.status).toBe(403);
    // And the key-authenticated preview.
    const preview = await server.api(app.key, `/v1/files/${file["id"]}/preview?as_attachment=true`);
    expect(preview.status).toBe(200);
    expect(preview.headers.get("content-disposition")).toMatch(/^attachment; filename="notes.txt"/);
    expect(await preview.text()).toBe("hello file");
    expect((await server.api(other.key, `/v1/files/${file["id"]}/preview`)).status).toBe(404);
  });

  it("uploads without user under Dify's DEFAULT-USER", async () => {
    const res = await upload(form([["file", text("a,b\n1,2", "text/csv"), "table.csv"]]));
    expect(res.status).toBe(201);
    const file = await json<{ created_by: string }>(res);
    const user = await json(await server.api(app.key, `/v1/end-users/${file.created_by}`));
    expect(user).toMatchObject({ session_id: "DEFAULT-USER", is_anonymous: true });
  });

  it("file lists feed iterations, and sys.files accepts uploads", async () => {
    const ids: string[] = [];
    for (const name of ["a.md", "b.md"]) {
      const res = await upload(
        form([
          ["file", text(`# ${name}`), name],
          ["user", "ben"],
        ]),
        containers.key,
      );
      ids.push((await json<{ id: string }>(res)).id);
    }
    const res = await server.api(containers.key, "/v1/workflows/run", {
      method: "POST",
      json: {
        inputs: { docs: ids.map((id) => ({ type: "document", transfer_method: "local_file", upload_file_id: id })) },
        files: [{ type: "document", transfer_method: "local_file", upload_file_id: ids[0] }],
        user: "ben",
        response_mode: "streaming",
      },
    });
    const frames = dataFrames(await readSse(res));
    expect(frames.filter((f) => f.event === "iteration_next")).toHaveLength(2);
    const started = frames[0]?.["data"] as { inputs: Record<string, unknown> };
    expect((started.inputs["sys.files"] as unknown[]).length).toBe(1);
    const finished = frames.at(-1)?.["data"] as {
      status: string;
      outputs: { files: Array<{ filename: string }> };
      files: unknown[];
    };
    expect(finished.status).toBe("succeeded");
    expect(finished.outputs.files.map((f) => f.filename)).toEqual(["a.md", "b.md"]);
    expect(finished.files).toHaveLength(2);
  });

  it("nodes read uploaded files and remote URLs (through the SSRF-guarded client) via the files capability", async () => {
    const extract = await server.createApp(extractWorkflow());
    const res = await upload(
      form([
        ["file", text("Line one.\nLine two."), "lines.txt"],
        ["user", "cat"],
      ]),
      extract.key,
    );
    const { id } = await json<{ id: string }>(res);
    const local = await server.api(extract.key, "/v1/workflows/run", {
      method: "POST",
      json: { inputs: { doc: { type: "document", transfer_method: "local_file", upload_file_id: id } }, user: "cat" },
    });
    expect(await json(local)).toMatchObject({ data: { status: "succeeded", outputs: { text: "Line one.\nLine two." } } });

    const upstream = await startGateServer();
    try {
      upstream.release("remote.txt", "fetched remotely");
      const remote = await server.api(extract.key, "/v1/workflows/run", {
        method: "POST",
        json: { inputs: { doc: { transfer_method: "remote_url", url: `${upstream.url}/hold/remote.txt` } }, user: "cat" },
      });
      expect(await json(remote)).toMatchObject({ data: { status: "succeeded", outputs: { text: "fetched remotely" } } });
    } finally {
      await upstream.close();
    }

    // Uploads belong to their app: another app's run cannot use them.
    const foreign = await server.api(extract.key, "/v1/workflows/run", {
      method: "POST",
      json: {
        inputs: {
          doc: {
            type: "document",
            transfer_method: "local_file",
            upload_file_id: (await json<{ id: string }>(await upload(form([["file", text("x"), "x.txt"]]), other.key))).id,
          },
        },
        user: "cat",
      },
    });
    expect(foreign.status).toBe(400);
    expect(await json(foreign)).toMatchObject({ code: "invalid_param" });
  });

  it("refuses bad file inputs with invalid_param", async () => {
    const call = (doc: unknown, key = app.key) =>
      server.api(key, "/v1/workflows/run", { method: "POST", json: { inputs: { query: "q", doc }, user: "u" } });
    const unknown = await call({ type: "document", transfer_method: "local_file", upload_file_id: "no-such-file" });
    expect(unknown.status).toBe(400);
    expect(await json(unknown)).toMatchObject({ code: "invalid_param", status: 400 });
    const image = await upload(form([["file", text("x", "image/png"), "pic.png"]]));
    expect(image.status).toBe(201);
    const imageId = (await json<{ id: string }>(image)).id;
    const wrongType = await call({ type: "image", transfer_method: "local_file", upload_file_id: imageId });
    expect(wrongType.status).toBe(400);
    expect(((await json(wrongType)) as { message: string }).message).toMatch(/document/);
    const notAFile = await call("just text");
    expect(notAFile.status).toBe(400);
  });

  it("refuses uploads the way Dify does, leaving nothing on disk", async () => {
    const before = storedFiles(server.dataDir).length;
    const cases: Array<[string, Promise<Response>, number, string]> = [
      ["no file part", upload(form([["user", "u"]])), 400, "no_file_uploaded"],
      ["not multipart", upload("plain body", app.key, { "Content-Type": "text/plain" }), 400, "no_file_uploaded"],
      ["a file under another name", upload(form([["document", text("x"), "x.txt"]])), 400, "no_file_uploaded"],
      [
        "two files",
        upload(
          form([
            ["file", text("one"), "one.txt"],
            ["file", text("two"), "two.txt"],
          ]),
        ),
        400,
        "too_many_files",
      ],
      ["over the document limit", upload(form([["file", text("x".repeat(64 * 1024 + 1)), "big.txt"]])), 413, "file_too_large"],
      [
        "over the image limit",
        upload(form([["file", new Blob([new Uint8Array(16 * 1024 + 1)], { type: "image/png" }), "big.png"]])),
        413,
        "file_too_large",
      ],
      [
        "blocked extension",
        upload(form([["file", text("MZ", "application/octet-stream"), "tool.exe"]])),
        415,
        "unsupported_file_type",
      ],
      ["no extension", upload(form([["file", text("x"), "README"]])), 415, "unsupported_file_type"],
      ["MIME contradicts extension", upload(form([["file", text("x", "video/mp4"), "photo.png"]])), 415, "unsupported_file_type"],
    ];
    for (const [what, pending, status, code] of cases) {
      const res = await pending;
      const body = await json<{ code: string; status: number; message: string }>(res);
      expect({ what, status: res.status, code: body.code }).toEqual({ what, status, code });
      expect(body.status).toBe(status);
      expect(body.message.length).toBeGreaterThan(10);
    }
    // A document just under the limit is fine: the limit is per type.
    const ok = await upload(form([["file", text("x".repeat(20 * 1024)), "ok.png.txt"]]));
    expect(ok.status).toBe(201);
    expect(storedFiles(server.dataDir).length).toBe(before + 1);
  });

  it("refuses a file part without a filename", async () => {
    const boundary = "----tributary-test";
    const body = [
      `--${boundary}`,
      'Content-Disposition: form-data; name="file"; filename=""',
      "Content-Type: text/plain",
      "",
      "x",
      `--${boundary}--`,
      "",
    ].join("\r\n");
    const res = await upload(body, app.key, { "Content-Type": `multipart/form-data; boundary=${boundary}` });
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ code: "filename_not_exists_error" });
  });
});
