/**
 * @tributary/sdk in a real browser: the source bundled for the browser platform by esbuild
 * (which fails on any Node-only import), loaded by a page on another origin in headless
 * Chromium, talking to the real server over CORS: a blocking run, a stream whose run id comes
 * from the response headers, a File upload, Dify's errors, and a VApp link made with Web
 * Crypto that Node's crypto decrypts.
 */
import { createDecipheriv } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GateServer, startGateServer } from "./support/gate-server.js";
import { startTestServer, type TestServer } from "./support/harness.js";
import { branchWorkflow, extractWorkflow, gatedWorkflow } from "./support/workflows.js";

const CHROMIUM = process.env["TRIBUTARY_CHROMIUM"] ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"];
const SDK_ENTRY = fileURLToPath(new URL("../../sdk/src/index.ts", import.meta.url));

describe.skipIf(!existsSync(CHROMIUM))("@tributary/sdk in headless Chromium", () => {
  let server: TestServer;
  let gate: GateServer;
  let pageServer: Server;
  let pageOrigin: string;
  let browser: Browser;
  let page: Page;
  let keys: { branch: string; gated: string; extract: string };

  beforeAll(async () => {
    const bundle = await build({
      entryPoints: [SDK_ENTRY],
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      write: false,
      logLevel: "silent",
    });
    const script = bundle.outputFiles[0]?.text ?? "";
    pageServer = createServer((req, res) => {
      if (req.url === "/sdk.js") {
        res.writeHead(200, { "Content-Type": "text/javascript" });
        res.end(script);
        return;
      }
      res.writeHead(200, { "Content-Type": "text/html" });
      res.end('<!doctype html><script type="module">import * as sdk from "/sdk.js"; window.sdk = sdk;</script>');
    });
    await new Promise<void>((resolve) => pageServer.listen(0, "127.0.0.1", resolve));
    // Another port is another origin (so CORS is exercised); loopback is a secure context for Web Crypto.
    pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;

    gate = await startGateServer();
    server = await startTestServer("sqlite");
    keys = {
      branch: (await server.createApp(branchWorkflow("Browser branch"))).key,
      gated: (await server.createApp(gatedWorkflow(gate.url, "Browser gated"))).key,
      extract: (await server.createApp(extractWorkflow("Browser extract"))).key,
    };
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    page = await browser.newPage();
    await page.goto(pageOrigin);
    await page.waitForFunction(() => "sdk" in globalThis);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await gate?.close();
    await new Promise((resolve) => pageServer?.close(resolve));
  });

  it("runs, streams (run id from the headers, across origins), uploads a File and maps errors", async () => {
    // The gated run's upstream answers as soon as it is asked.
    gate.release("browser");
    const result = await page.evaluate(
      async ({ url, keys }) => {
        // The bundle's exports, as the page's module script put them on window.
        const sdk = (globalThis as unknown as { sdk: typeof import("@tributary/sdk") }).sdk;
        const branch = new sdk.DifyWorkflowClient({ apiKey: keys.branch, baseUrl: url, user: "browser" });
        const blocking = await branch.run({ query: "from the browser", lang: "fr" });

        const gated = new sdk.DifyWorkflowClient({ apiKey: keys.gated, baseUrl: url, user: "browser" });
        const stream = await gated.stream({ name: "browser" });
        const runIdAtHeaders = stream.runId;
        const events: string[] = [];
        for await (const event of stream) events.push(event.event);

        const extract = new sdk.DifyWorkflowClient({ apiKey: keys.extract, baseUrl: url, user: "browser" });
        const file = await extract.uploadFile(new File(["Written in a browser."], "browser.txt", { type: "text/plain" }));
        const read = await extract.run({ doc: { type: "document", transfer_method: "local_file", upload_file_id: file.id } });

        const failure = await branch.getRun("missing").catch((e: unknown) => e);
        const pathUpload = await extract.uploadFile("/etc/hostname").catch((e: unknown) => (e as Error).message);
        return {
          blocking: blocking.data.outputs,
          runIdAtHeaders,
          finishedRunId: stream.finished?.id,
          events,
          upload: { name: file.name, size: file.size },
          text: read.data.outputs["text"],
          failure: {
            isDifyError: failure instanceof sdk.DifyApiError,
            status: (failure as { status?: number }).status,
            code: (failure as { code?: string }).code,
            requestId: (failure as { requestId?: string }).requestId,
          },
          pathUpload,
        };
      },
      { url: server.url, keys },
    );
    expect(result.blocking).toEqual({ greeting: "from the browser", lang: "fr" });
    expect(result.runIdAtHeaders).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.finishedRunId).toBe(result.runIdAtHeaders);
    expect(result.events[0]).toBe("workflow_started");
    expect(result.events.at(-1)).toBe("workflow_finished");
    expect(result.upload).toEqual({ name: "browser.txt", size: 21 });
    expect(String(result.text)).toContain("Written in a browser.");
    expect(result.failure).toMatchObject({ isDifyError: true, status: 404, code: "not_found" });
    expect(result.failure.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.pathUpload).toMatch(/can only be uploaded in Node\.js/);
  });

  it("generateVappUrl with the browser's Web Crypto: Node's crypto decrypts the token", async () => {
    const apiKey = "0123456789abcdefABCDEFGHIJKLMNOP";
    const url = await page.evaluate(async (key) => {
      const sdk = (globalThis as unknown as { sdk: typeof import("@tributary/sdk") }).sdk;
      const client = new sdk.VectorVeinClient({ apiKey: key, baseUrl: "http://127.0.0.1:8080" });
      return client.generateVappUrl("app-in-browser", "access-1", "kid-1", { timeout: 600 });
    }, apiKey);
    const token = Buffer.from(new URL(url).searchParams.get("token") ?? "", "base64");
    const decipher = createDecipheriv("aes-256-cbc", Buffer.from(apiKey), token.subarray(0, 16));
    const plain = Buffer.concat([decipher.update(token.subarray(16)), decipher.final()]).toString();
    expect(plain).toMatch(/^app-in-browser:access-1:\d+:600$/);
  });
});
