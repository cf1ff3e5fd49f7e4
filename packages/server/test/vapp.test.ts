/**
 * VApp links and the page's API over HTTP: links made by an independent implementation of the
 * SDK's `generate_vapp_url` (Node's crypto, step by step after the Python), every way a link
 * can be wrong, the session cookie, runs taking access-key uses atomically under concurrency,
 * credits, and the page's progress stream. SQLite and PostgreSQL, each on a fresh database.
 */
import { createHash } from "node:crypto";
import { startOpenAiTestServer } from "@tributary/engine/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dialects, json, startTestServer, type TestServer, waitFor } from "./support/harness.js";
import { createOpenApiKey, generateVappUrl, pythonQuote, vappToken, vv } from "./support/vectorvein.js";
import { llmWorkflow, workflow } from "./support/workflows.js";

const edge = (source: string, target: string) => ({
  id: `${source}-${target}`,
  source,
  sourceHandle: "source",
  target,
  targetHandle: "target",
});

function reportWorkflow(name = "Report <maker>") {
  return workflow(
    name,
    [
      {
        id: "start",
        type: "start",
        variables: [
          { variable: "topic", label: "Topic", type: "text-input", required: true },
          { variable: "style", label: "Style", type: "select", required: false, options: ["short", "long"] },
        ],
      },
      {
        id: "write",
        type: "template-transform",
        template: "# Report on {{ topic }}\n\n**Style:** {{ style }}\n\n<script>window.__pwned = true</script>",
        variables: [
          { variable: "topic", value_selector: ["start", "topic"] },
          { variable: "style", value_selector: ["start", "style"] },
        ],
      },
      { id: "end", type: "end", outputs: [{ variable: "report", value_selector: ["write", "output"] }] },
    ],
    [edge("start", "write"), edge("write", "end")],
  );
}

interface Cookie {
  value: string;
  attributes: string[];
}

function sessionCookie(res: Response): Cookie | undefined {
  const header = res.headers.getSetCookie().find((c) => c.startsWith("tributary_vapp="));
  if (!header) return undefined;
  const [pair, ...attributes] = header.split(";").map((s) => s.trim());
  return { value: (pair ?? "").slice("tributary_vapp=".length), attributes };
}

describe.each(dialects)("VApp links and page API (%s)", (dialect) => {
  let server: TestServer;
  let owner: { key_id: string; api_key: string };
  let appId: string;
  let otherAppId: string;

  beforeAll(async () => {
    server = await startTestServer(dialect);
    owner = await createOpenApiKey(server, { owner: "carol", rate_limit_per_minute: 0 });
    appId = (await server.createApp(reportWorkflow())).appId;
    otherAppId = (await server.createApp(reportWorkflow("Other"))).appId;
  });
  afterAll(() => server?.close());

  async function accessKey(body: Record<string, unknown>): Promise<string> {
    const reply = await vv<Array<{ access_key: string }>>(server, owner.api_key, "vapp/access-key/create", {
      body: { app_id: appId, ...body },
    });
    expect(reply.status).toBe(200);
    return reply.data[0]?.access_key as string;
  }

  const link = (
    key: string,
    options: Parameters<typeof vappToken>[3] = {},
    app = appId,
    keyId = owner.key_id,
    secret = owner.api_key,
  ) => generateVappUrl(secret, server.url, app, key, keyId, options);

  /** Opens a link like a browser would, and returns the session cookie header for the page's calls. */
  async function open(url: string): Promise<{ res: Response; cookie: string }> {
    const res = await fetch(url);
    const cookie = sessionCookie(res);
    return { res, cookie: cookie ? `tributary_vapp=${cookie.value}` : "" };
  }

  const pageApi = (cookie: string, path: string, init: { method?: string; json?: unknown; noHeader?: boolean } = {}) =>
    fetch(`${server.url}/public/v-app/${appId}/api/${path}`, {
      method: init.method ?? "GET",
      headers: {
        Cookie: cookie,
        ...(init.noHeader ? {} : { "X-VApp-Request": "1" }),
        ...(init.json !== undefined ? { "Content-Type": "application/json" } : {}),
      },
      ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
    });

  it("the independent token implementation matches the SDK's format", () => {
    const iv = Buffer.alloc(16, 7);
    const token = vappToken("k".repeat(32), "app", "key", { timestamp: 1_700_000_000, timeout: 900, iv });
    const raw = Buffer.from(token, "base64");
    expect(raw.subarray(0, 16)).toEqual(iv);
    // "app:key:1700000000:900" is 22 bytes: PKCS#7 pads it to two blocks.
    expect(raw.length).toBe(16 + 32);
    expect(pythonQuote("a+b/c=")).toBe("a%2Bb/c%3D");
  });

  it("a link made like generate_vapp_url opens the page with a strict, HttpOnly, SameSite=Strict session", async () => {
    const key = await accessKey({ access_key_type: "L" });
    const url = link(key);
    expect(url).toMatch(new RegExp(`^${server.url}/public/v-app/${appId}\\?token=[A-Za-z0-9%/_.~-]+&key_id=${owner.key_id}$`));
    const { res, cookie } = await open(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    const attributes = sessionCookie(res)?.attributes.map((a) => a.toLowerCase()) ?? [];
    expect(attributes).toEqual(expect.arrayContaining(["httponly", "samesite=strict", `path=/public/v-app/${appId}`]));
    expect(cookie).not.toBe("");

    const html = await res.text();
    // The app's title is escaped, and no secret reaches the page.
    expect(html).toContain("Report &#60;maker&#62;");
    expect(html).not.toContain("<maker>");
    expect(html).not.toContain(owner.api_key);
    expect(html).not.toContain(key);
    expect(html).toMatch(/<script type="module" src="\/public\/v-app\/assets\/vapp\.js\?v=[0-9a-f]+"><\/script>/);

    const script = await fetch(`${server.url}/public/v-app/assets/vapp.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toContain("javascript");
    expect(await script.text()).toContain("vapp-config");

    const state = await json<{ access: Record<string, unknown> }>(await pageApi(cookie, "state"));
    expect(state.access).toMatchObject({ type: "L", status: "AC", remaining_uses: null });
  });

  it("tampered, expired, wrong-app, unknown-key, revoked-key and bad-access-key links get a plain error page that leaks nothing", async () => {
    const key = await accessKey({ access_key_type: "L" });
    const page = async (url: string) => {
      const res = await fetch(url);
      const html = await res.text();
      expect(res.headers.get("content-type")).toContain("text/html");
      expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
      expect(sessionCookie(res)).toBeUndefined();
      for (const secret of [owner.api_key, key, owner.key_id]) expect(html).not.toContain(secret);
      return { status: res.status, html };
    };
    const notValid = "This link is not valid";

    // One flipped ciphertext bit: the padding or the text no longer checks out.
    const raw = Buffer.from(vappToken(owner.api_key, appId, key), "base64");
    raw[raw.length - 20] = (raw[raw.length - 20] ?? 0) ^ 0x01;
    const tampered = `${server.url}/public/v-app/${appId}?token=${pythonQuote(raw.toString("base64"))}&key_id=${owner.key_id}`;
    expect(await page(tampered)).toMatchObject({ status: 403, html: expect.stringContaining(notValid) });

    const expired = link(key, { timestamp: Math.floor(Date.now() / 1000) - 1000, timeout: 900 });
    const expiredPage = await page(expired);
    expect(expiredPage.status).toBe(403);
    expect(expiredPage.html).toContain("expired");
    // Within the allowed skew it still opens.
    expect((await fetch(link(key, { timestamp: Math.floor(Date.now() / 1000) - 920, timeout: 900 }))).status).toBe(200);

    // A token for one app opens no other.
    const forOther = link(key, {}, appId).replace(`/public/v-app/${appId}`, `/public/v-app/${otherAppId}`);
    expect(await page(forOther)).toMatchObject({ status: 403, html: expect.stringContaining(notValid) });

    expect(await page(link(key, {}, appId, "kid-unknown"))).toMatchObject({
      status: 403,
      html: expect.stringContaining(notValid),
    });
    // Encrypted with another key than the one key_id names.
    const wrongSecret = link(key, {}, appId, owner.key_id, "z".repeat(32));
    expect(await page(wrongSecret)).toMatchObject({ status: 403, html: expect.stringContaining(notValid) });

    const revocable = await createOpenApiKey(server, { owner: "carol" });
    const beforeRevoke = link(key, {}, appId, revocable.key_id, revocable.api_key);
    expect((await fetch(beforeRevoke)).status).toBe(200);
    expect((await server.admin(`/api/admin/open-api-keys/${revocable.key_id}`, { method: "DELETE" })).status).toBe(204);
    expect(await page(beforeRevoke)).toMatchObject({ status: 403, html: expect.stringContaining(notValid) });

    expect(await page(link("f".repeat(32)))).toMatchObject({ status: 403, html: expect.stringContaining(notValid) });
    // Another owner's access key does not open links made with carol's key.
    const dave = await createOpenApiKey(server, { owner: "dave", rate_limit_per_minute: 0 });
    const davesKey = (
      await vv<Array<{ access_key: string }>>(server, dave.api_key, "vapp/access-key/create", {
        body: { access_key_type: "L", app_id: appId },
      })
    ).data[0]?.access_key as string;
    expect(await page(link(davesKey))).toMatchObject({ status: 403, html: expect.stringContaining(notValid) });
    const notForApp = (
      await vv<Array<{ access_key: string }>>(server, owner.api_key, "vapp/access-key/create", {
        body: { access_key_type: "L", app_id: otherAppId },
      })
    ).data[0]?.access_key as string;
    expect((await page(link(notForApp))).status).toBe(403);

    expect((await page(`${server.url}/public/v-app/${appId}`)).status).toBe(400);
    expect((await page(`${server.url}/public/v-app/${appId}?token=abc&key_id=${owner.key_id}`)).status).toBe(403);
  });

  it("the page runs the app: progress over SSE, outputs, one use taken; a one-time key cannot run twice", async () => {
    const key = await accessKey({ access_key_type: "O" });
    const { cookie } = await open(link(key));
    const started = await pageApi(cookie, "runs", { method: "POST", json: { inputs: { topic: "rivers", style: "short" } } });
    expect(started.status).toBe(201);
    const { run_id: runId, access } = await json<{ run_id: string; access: Record<string, unknown> }>(started);
    expect(access).toMatchObject({ type: "O", status: "US", remaining_uses: 0 });

    const events = await fetch(`${server.url}/public/v-app/${appId}/api/runs/${runId}/events`, { headers: { Cookie: cookie } });
    expect(events.headers.get("content-type")).toContain("text/event-stream");
    const frames = (await events.text())
      .split("\n\n")
      .filter((block) => block.startsWith("data: "))
      .map((block) => JSON.parse(block.slice(6)) as Record<string, unknown>);
    expect(frames.filter((f) => f["type"] === "node_started").map((f) => f["node_id"])).toEqual(["start", "write", "end"]);
    expect(frames.filter((f) => f["type"] === "node_finished").every((f) => f["status"] === "succeeded")).toBe(true);
    const last = frames.at(-1) as { type: string; status: string; outputs: Array<Record<string, unknown>> };
    expect(last).toMatchObject({ type: "finished", status: "succeeded" });
    expect(last.outputs).toEqual([
      {
        type: "text",
        title: "report",
        value: "# Report on rivers\n\n**Style:** short\n\n<script>window.__pwned = true</script>",
      },
    ]);

    const again = await pageApi(cookie, "runs", { method: "POST", json: { inputs: { topic: "again" } } });
    expect(again.status).toBe(403);
    expect((await json<{ message: string }>(again)).message).toContain("used up");
    // Reopening the link of a used-up key: an error page, no new session.
    expect((await fetch(link(key))).status).toBe(403);

    const records = await vv<{ records: Array<Record<string, unknown>> }>(server, owner.api_key, "workflow/run-record/list", {
      body: { wid: appId },
    });
    expect(records.data.records.find((r) => r["rid"] === runId)).toMatchObject({ run_from: "VAPP", status: "FINISHED" });
    const record = await vv<{ input_fields: unknown[] }>(server, owner.api_key, "workflow/run-record/get", {
      body: { rid: runId },
    });
    expect(record.data.input_fields).toEqual([
      { node_id: "start", field_name: "topic", value: "rivers" },
      { node_id: "start", field_name: "style", value: "short" },
    ]);
  });

  it("bad inputs do not use the key up, and the page API needs its session and its header", async () => {
    const key = await accessKey({ access_key_type: "O" });
    const { cookie } = await open(link(key));
    const bad = await pageApi(cookie, "runs", { method: "POST", json: { inputs: {} } });
    expect(bad.status).toBe(400);
    expect((await json<{ message: string }>(bad)).message).toContain("topic is required");
    expect(await json(await pageApi(cookie, "state"))).toMatchObject({ access: { status: "AC", remaining_uses: 1 } });

    expect((await pageApi(cookie, "runs", { method: "POST", json: { inputs: { topic: "x" } }, noHeader: true })).status).toBe(
      403,
    );
    expect((await pageApi("tributary_vapp=forged", "runs", { method: "POST", json: { inputs: { topic: "x" } } })).status).toBe(
      401,
    );
    expect((await pageApi("", "state")).status).toBe(401);
    // The session is bound to its app.
    const other = await fetch(`${server.url}/public/v-app/${otherAppId}/api/state`, { headers: { Cookie: cookie } });
    expect(other.status).toBe(401);
  });

  it("50 simultaneous runs: a one-time key runs exactly once, a key with max_use_count 5 exactly five times", async () => {
    for (const [type, uses, extra] of [
      ["O", 1, {}],
      ["M", 5, { max_use_count: 5 }],
    ] as const) {
      const key = await accessKey({ access_key_type: type, ...extra });
      const { cookie } = await open(link(key));
      const replies = await Promise.all(
        Array.from({ length: 50 }, (_, i) => pageApi(cookie, "runs", { method: "POST", json: { inputs: { topic: `t${i}` } } })),
      );
      const statuses = replies.map((r) => r.status);
      expect(statuses.filter((s) => s === 201)).toHaveLength(uses);
      expect(statuses.filter((s) => s === 403)).toHaveLength(50 - uses);
      const got = await vv<Array<{ use_count: number; records: unknown[]; status: string }>>(
        server,
        owner.api_key,
        "vapp/access-key/get",
        {
          params: { get_type: "all" },
        },
      );
      const row = (
        await vv<Array<{ access_key: string; use_count: number; records: unknown[]; status: string }>>(
          server,
          owner.api_key,
          "vapp/access-key/get",
          { params: { access_keys: key } },
        )
      ).data[0];
      expect(got.status).toBe(200);
      expect(row).toMatchObject({ use_count: uses, status: "US" });
      expect(row?.records).toHaveLength(uses);
    }
  });

  it("credits: each run costs the app's credits per run; a run that would pass max_credits is refused", async () => {
    const updated = await vv(server, owner.api_key, "workflow/update", { body: { wid: otherAppId, vapp_credits_per_run: 2 } });
    expect(updated.status).toBe(200);
    const reply = await vv<Array<{ access_key: string }>>(server, owner.api_key, "vapp/access-key/create", {
      body: { access_key_type: "L", app_id: otherAppId, max_credits: 5 },
    });
    const key = reply.data[0]?.access_key as string;
    const { cookie } = await open(link(key, {}, otherAppId));
    const run = () =>
      fetch(`${server.url}/public/v-app/${otherAppId}/api/runs`, {
        method: "POST",
        headers: { Cookie: cookie, "X-VApp-Request": "1", "Content-Type": "application/json" },
        body: JSON.stringify({ inputs: { topic: "credits" } }),
      });
    expect((await run()).status).toBe(201);
    expect((await run()).status).toBe(201);
    const third = await run();
    expect(third.status).toBe(403);
    expect((await json<{ message: string }>(third)).message).toContain("credits");
    const row = (
      await vv<Array<Record<string, unknown>>>(server, owner.api_key, "vapp/access-key/get", { params: { access_keys: key } })
    ).data[0];
    expect(row).toMatchObject({ used_credits: 4, use_count: 2, max_credits: 5 });
  });

  it("token credits: once a run has finished, its tokens are charged to the key (per 1,000 tokens, rounded up)", async () => {
    const llm = await startOpenAiTestServer();
    try {
      const put = await server.admin("/api/admin/providers/openai", {
        method: "PUT",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ api_key: "sk-test", base_url: llm.url }),
      });
      expect(put.status).toBe(200);
      const llmApp = (await server.createApp(llmWorkflow("echo", "Echo LLM"))).appId;
      // 1,000 credits per 1,000 tokens: one credit per token, on top of 1 per run.
      await vv(server, owner.api_key, "workflow/update", { body: { wid: llmApp, vapp_credits_per_1k_tokens: 1000 } });
      const key = (
        await vv<Array<{ access_key: string }>>(server, owner.api_key, "vapp/access-key/create", {
          body: { access_key_type: "L", app_id: llmApp },
        })
      ).data[0]?.access_key as string;
      const { cookie } = await open(link(key, {}, llmApp));
      const started = await fetch(`${server.url}/public/v-app/${llmApp}/api/runs`, {
        method: "POST",
        headers: { Cookie: cookie, "X-VApp-Request": "1", "Content-Type": "application/json" },
        body: JSON.stringify({ inputs: { text: "one two three four" } }),
      });
      expect(started.status).toBe(201);
      const { run_id: runId } = await json<{ run_id: string }>(started);
      const record = await waitFor(async () => {
        const r = await vv<{ status: string; total_tokens: number }>(server, owner.api_key, "workflow/run-record/get", {
          body: { rid: runId },
        });
        return r.data.status === "RUNNING" ? undefined : r.data;
      });
      expect(record.status).toBe("FINISHED");
      expect(record.total_tokens).toBeGreaterThan(0);
      const charged = await waitFor(async () => {
        const row = (
          await vv<Array<{ used_credits: number; records: Array<{ credits: number }> }>>(
            server,
            owner.api_key,
            "vapp/access-key/get",
            {
              params: { access_keys: key },
            },
          )
        ).data[0];
        return row && row.used_credits > 1 ? row : undefined;
      });
      expect(charged.used_credits).toBe(1 + record.total_tokens);
      expect(charged.records[0]?.credits).toBe(1 + record.total_tokens);
    } finally {
      await llm.close();
    }
  });

  it("session cookies are stored hashed, never in the clear", async () => {
    const key = await accessKey({ access_key_type: "L" });
    const { cookie } = await open(link(key));
    const value = cookie.slice("tributary_vapp=".length);
    expect(value.length).toBeGreaterThanOrEqual(43);
    const hash = createHash("sha256").update(value).digest("hex");
    expect(await server.handle.store.getVappSession(hash, Date.now())).toMatchObject({ appId });
    expect(await server.handle.store.getVappSession(value, Date.now())).toBeUndefined();
    // The page reload path: no token, the session cookie alone reopens the page.
    const reload = await fetch(`${server.url}/public/v-app/${appId}`, { headers: { Cookie: cookie } });
    expect(reload.status).toBe(200);
  });
});
