import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FILE_IDENTITY, type FileValue, type HttpRequestSpec } from "@tributary/engine";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createServerCapabilities, type ServerCapabilities, storeThenEnvCredentials } from "./capabilities.js";
import { loadConfig } from "./config.js";
import { ServerFiles } from "./files/server-files.js";
import { sqliteHarness, type TestDatabase } from "./store/store-test-harness.js";
import type { Store } from "./store/types.js";

const harness = sqliteHarness();
let db: TestDatabase;
let store: Store;
let server: Server;
let baseUrl: string;
let caps: ServerCapabilities | undefined;
let dir: string;

beforeAll(async () => {
  await harness.setup();
  server = createServer((_req, res) => res.end("hello from the intranet"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await harness.teardown();
});
beforeEach(async () => {
  db = await harness.fresh();
  store = await db.open();
  dir = mkdtempSync(join(tmpdir(), "tributary-caps-"));
});
afterEach(async () => {
  await caps?.close();
  caps = undefined;
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = (url: string): HttpRequestSpec => ({
  method: "GET",
  url,
  headers: [],
  timeouts: { connectMs: 2000, readMs: 2000, writeMs: 2000 },
  maxTextBytes: 1024 * 1024,
  maxBinaryBytes: 1024 * 1024,
  followRedirects: true,
  sslVerify: true,
});

function serverFiles(): ServerFiles {
  const config = loadConfig({}, { dataDir: dir, filesDir: join(dir, "files"), adminToken: "x".repeat(32) });
  return new ServerFiles({ config, store, signingKey: randomBytes(32), baseUrl: () => "http://localhost:8080" });
}

describe("createServerCapabilities", () => {
  it("refuses internal addresses unless TRIBUTARY_HTTP_ALLOW_LIST names them", async () => {
    caps = createServerCapabilities({ store, config: { httpAllowList: [] }, files: serverFiles(), sandbox: { warm: false } });
    await expect(caps.http.request(get(baseUrl), new AbortController().signal)).rejects.toMatchObject({ code: "ssrf_blocked" });
    await caps.close();

    caps = createServerCapabilities({
      store,
      config: { httpAllowList: ["127.0.0.1"] },
      files: serverFiles(),
      sandbox: { warm: false },
    });
    const response = await caps.http.request(get(baseUrl), new AbortController().signal);
    expect(response.status).toBe(200);
    expect(new TextDecoder().decode(response.body)).toBe("hello from the intranet");
  });

  it("reads remote files through the same guarded HTTP client", async () => {
    const remote: FileValue = {
      dify_model_identity: FILE_IDENTITY,
      id: null,
      type: "document",
      transfer_method: "remote_url",
      remote_url: `${baseUrl}/doc.txt`,
      related_id: null,
      filename: "doc.txt",
      extension: ".txt",
      mime_type: "text/plain",
      size: -1,
      url: `${baseUrl}/doc.txt`,
    };
    caps = createServerCapabilities({ store, config: { httpAllowList: [] }, files: serverFiles(), sandbox: { warm: false } });
    await expect(caps.files.read(remote, new AbortController().signal)).rejects.toMatchObject({ code: "ssrf_blocked" });
    await caps.close();
    caps = createServerCapabilities({
      store,
      config: { httpAllowList: ["127.0.0.1"] },
      files: serverFiles(),
      sandbox: { warm: false },
    });
    expect(new TextDecoder().decode(await caps.files.read(remote, new AbortController().signal))).toBe("hello from the intranet");
  });

  it("scopes uploaded files to an app with forApp", async () => {
    caps = createServerCapabilities({ store, config: { httpAllowList: [] }, files: serverFiles(), sandbox: { warm: false } });
    const a = await store.createApp({ name: "A" });
    const b = await store.createApp({ name: "B" });
    const row = await store.createFile({
      id: "file-1",
      appId: a.id,
      name: "notes.txt",
      size: 3,
      extension: "txt",
      mimeType: "text/plain",
      storageKey: "x/notes.txt",
    });
    const ref = { type: "document", transfer_method: "local_file", upload_file_id: row.id } as const;
    expect((await caps.forApp(a.id).files.resolve(ref)).filename).toBe("notes.txt");
    await expect(caps.forApp(b.id).files.resolve(ref)).rejects.toMatchObject({ code: "invalid_input" });
    expect(caps.forApp(a.id).llm).toBe(caps.llm);
  });

  it("accepts a ready FileCapability too", async () => {
    const files = serverFiles().capability({ request: () => Promise.reject(new Error("unused")) });
    caps = createServerCapabilities({ store, config: { httpAllowList: [] }, files, sandbox: { warm: false } });
    expect(caps.files).toBe(files);
    expect(typeof caps.ids.newId()).toBe("string");
    expect(caps.ids.newId()).not.toBe(caps.ids.newId());
    expect(Math.abs(caps.clock.now() - Date.now())).toBeLessThan(1000);
  });

  it("closes idempotently, and a closed lazy sandbox refuses work", async () => {
    caps = createServerCapabilities({ store, config: { httpAllowList: [] }, files: serverFiles(), sandbox: { warm: false } });
    await caps.close();
    await caps.close();
    await expect(
      caps.sandbox.run({ language: "javascript", code: "", inputs: {}, timeoutMs: 1000 }, new AbortController().signal),
    ).rejects.toMatchObject({ code: "sandbox_error" });
  });
});

describe("storeThenEnvCredentials", () => {
  it("uses credentials from the admin API first, then the environment", async () => {
    await store.putCredentials("openai", { apiKey: "sk-stored", baseUrl: "https://proxy.example/v1" });
    const lookup = storeThenEnvCredentials(store, { OPENAI_API_KEY: "sk-env", DEEPSEEK_API_KEY: "ds-env" });
    expect(await lookup("openai")).toEqual({ apiKey: "sk-stored", baseUrl: "https://proxy.example/v1" });
    expect(await lookup("deepseek")).toEqual({ apiKey: "ds-env" });
    expect(await lookup("anthropic")).toBeUndefined();
    // Admin changes apply to the next call.
    await store.deleteCredentials("openai");
    expect(await lookup("openai")).toEqual({ apiKey: "sk-env" });
  });

  it("reports stored credentials it cannot decrypt as a provider configuration problem", async () => {
    await store.putCredentials("openai", { apiKey: "sk-stored" });
    const otherKey = await db.open({ secretKey: randomBytes(32) });
    try {
      const lookup = storeThenEnvCredentials(otherKey, { OPENAI_API_KEY: "sk-env" });
      await expect(Promise.resolve(lookup("openai"))).rejects.toMatchObject({
        code: "provider_not_configured",
        message: expect.stringContaining('The credentials stored for provider "openai" cannot be used'),
      });
    } finally {
      await otherKey.close();
    }
  });
});
