/**
 * The VApp page in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core) opens a link made like the SDK's `generate_vapp_url`, fills the generated
 * form (text, select, file), runs the app, watches the node-by-node progress while the run
 * waits on an upstream the test controls, reads the rendered output (markdown rendered,
 * `<script>` shown and not run), and finds that a one-time key cannot run twice.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GateServer, startGateServer } from "./support/gate-server.js";
import { startTestServer, type TestServer } from "./support/harness.js";
import { createOpenApiKey, generateVappUrl, vv } from "./support/vectorvein.js";
import { workflow } from "./support/workflows.js";

const CHROMIUM = process.env["TRIBUTARY_CHROMIUM"] ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const edge = (source: string, target: string) => ({
  id: `${source}-${target}`,
  source,
  sourceHandle: "source",
  target,
  targetHandle: "target",
});

function browserWorkflow(gateUrl: string) {
  return workflow(
    "Report writer",
    [
      {
        id: "start",
        type: "start",
        variables: [
          { variable: "topic", label: "Topic", type: "text-input", required: true },
          { variable: "style", label: "Style", type: "select", required: true, options: ["short", "long"] },
          { variable: "notes", label: "Notes", type: "file", required: false },
        ],
      },
      {
        id: "hold",
        type: "http-request",
        title: "Fetch sources",
        method: "get",
        url: `${gateUrl}/hold/browser`,
        authorization: { type: "no-auth", config: null },
        headers: "",
        params: "",
        body: { type: "none", data: [] },
        timeout: { connect: 5, read: 60, write: 5 },
      },
      {
        id: "write",
        type: "template-transform",
        title: "Write report",
        template:
          "# Report on {{ topic }}\n\n**Style:** {{ style }}\n\n- first point\n- second point\n\n<script>window.__pwned = true</script>",
        variables: [
          { variable: "topic", value_selector: ["start", "topic"] },
          { variable: "style", value_selector: ["start", "style"] },
        ],
      },
      {
        id: "end",
        type: "end",
        outputs: [
          { variable: "report", value_selector: ["write", "output"] },
          { variable: "notes", value_selector: ["start", "notes"] },
          { variable: "upstream", value_selector: ["hold", "status_code"] },
        ],
      },
    ],
    [edge("start", "hold"), edge("hold", "write"), edge("write", "end")],
  );
}

describe.skipIf(!existsSync(CHROMIUM))("VApp page in headless Chromium", () => {
  let server: TestServer;
  let gate: GateServer;
  let browser: Browser;

  beforeAll(async () => {
    gate = await startGateServer();
    server = await startTestServer("sqlite");
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await gate?.close();
  });

  it("opens a signed link, runs the app with live progress, renders the output safely, and refuses a second run", async () => {
    const owner = await createOpenApiKey(server, { owner: "erin" });
    const { appId } = await server.createApp(browserWorkflow(gate.url));
    const created = await vv<Array<{ access_key: string }>>(server, owner.api_key, "vapp/access-key/create", {
      body: { access_key_type: "O", app_id: appId, description: "browser test" },
    });
    const accessKey = created.data[0]?.access_key as string;
    const url = generateVappUrl(owner.api_key, server.url, appId, accessKey, owner.key_id);

    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console: ${message.text()}`);
    });

    const response = await page.goto(url);
    expect(response?.status()).toBe(200);
    await expect.poll(() => page.locator("#vapp-title").textContent()).toBe("Report writer");
    // The token is gone from the address bar once the page has its session.
    await expect.poll(() => page.url()).toBe(`${server.url}/public/v-app/${appId}`);
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === "tributary_vapp")).toMatchObject({ httpOnly: true, sameSite: "Strict" });
    expect(await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie)).toBe("");
    await expect.poll(() => page.locator("#vapp-access").textContent()).toBe("Runs left: 1");

    await page.fill("#in-topic", "Ada <b>Lovelace</b>");
    await page.selectOption("#in-style", "long");
    await page.setInputFiles("#in-notes", { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("my notes") });
    await page.click("#vapp-run");

    // Live progress: the HTTP node shows as running while the upstream holds the run.
    await page.locator("li.step.running", { hasText: "Fetch sources" }).waitFor({ timeout: 15_000 });
    expect(await page.locator("#vapp-run").isDisabled()).toBe(true);
    gate.release("browser", "ok");

    const heading = page.locator("#vapp-outputs h2");
    await heading.waitFor({ timeout: 15_000 });
    expect(await heading.textContent()).toBe("Report on Ada <b>Lovelace</b>");
    expect(await page.locator("#vapp-outputs h2 b").count()).toBe(0);
    expect(await page.locator("#vapp-outputs strong").first().textContent()).toBe("Style:");
    expect(await page.locator("#vapp-outputs .markdown li").allTextContents()).toEqual(["first point", "second point"]);
    // The script is shown as text and never ran.
    expect(await page.locator("#vapp-outputs").textContent()).toContain("<script>window.__pwned = true</script>");
    expect(await page.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned)).toBeUndefined();
    expect(await page.locator("#vapp-outputs script").count()).toBe(0);

    const steps = await page
      .locator("#vapp-progress li")
      .evaluateAll((items) => items.map((li) => (li as unknown as { className: string }).className));
    expect(steps).toEqual(["step succeeded", "step succeeded", "step succeeded", "step succeeded"]);
    expect(await page.locator("#vapp-progress li").allTextContents()).toEqual([
      "startsucceeded",
      "Fetch sourcessucceeded",
      "Write reportsucceeded",
      "endsucceeded",
    ]);

    // The uploaded file comes back as a download link that works.
    const download = page.locator("#vapp-outputs a", { hasText: "Download notes.txt" });
    const href = await download.getAttribute("href");
    expect(href).toMatch(/\/files\/[0-9a-f-]+\/file-preview\?/);
    expect(await (await fetch(href as string)).text()).toBe("my notes");
    expect(await page.locator("#vapp-outputs section h3").allTextContents()).toEqual(["report", "notes", "upstream"]);

    // One-time key: spent, the button is off, and the server refuses a second run itself.
    await expect.poll(() => page.locator("#vapp-access").textContent()).toContain("no runs left");
    expect(await page.locator("#vapp-run").isDisabled()).toBe(true);
    const second = await page.evaluate(async (path) => {
      const reply = await fetch(`${path}/api/runs`, {
        method: "POST",
        headers: { "X-VApp-Request": "1", "Content-Type": "application/json" },
        body: JSON.stringify({ inputs: { topic: "again", style: "short" } }),
      });
      return { status: reply.status, body: (await reply.json()) as { message: string } };
    }, `/public/v-app/${appId}`);
    expect(second.status).toBe(403);
    expect(second.body.message).toContain("used up");

    // A second browser opening the same link gets an error page, not the form.
    const other = await browser.newPage();
    const again = await other.goto(url);
    expect(again?.status()).toBe(403);
    expect(await other.locator("h1").textContent()).toBe("Access key not valid");
    await other.close();

    expect(problems.filter((p) => !p.includes("403"))).toEqual([]);
    await context.close();
  });
});
