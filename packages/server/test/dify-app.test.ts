/** App description endpoints and the run logs with their filters and paging. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { json, modes, startTestServer, type TestServer } from "./support/harness.js";
import { branchWorkflow } from "./support/workflows.js";

describe.each(modes)("Dify app and logs (%s)", (dialect) => {
  let server: TestServer;
  let app: { appId: string; workflowId: string; key: string };
  let other: { appId: string; key: string };

  beforeAll(async () => {
    server = await startTestServer(dialect);
    app = await server.createApp({
      ...branchWorkflow("Support desk"),
      workflow: {
        ...branchWorkflow().workflow,
        features: { file_upload: { enabled: true, allowed_file_types: ["document"], number_limits: 2 } },
      },
    });
    other = await server.createApp(branchWorkflow("Other"));
  });
  afterAll(() => server?.close());

  it("GET /parameters: the start node's form, file upload settings and Dify's size limits", async () => {
    const res = await server.api(app.key, "/v1/parameters?user=abc");
    expect(res.status).toBe(200);
    const body = await json<Record<string, unknown>>(res);
    expect(body["user_input_form"]).toEqual([
      { "text-input": { variable: "query", label: "Query", type: "text-input", required: true, max_length: 100, default: "" } },
      { select: { variable: "lang", label: "Language", type: "select", required: false, options: ["en", "fr"], default: "" } },
      { number: { variable: "count", label: "Count", type: "number", required: false, default: "" } },
      {
        file: {
          variable: "doc",
          label: "Document",
          type: "file",
          required: false,
          allowed_file_types: ["document"],
          allowed_file_upload_methods: ["local_file", "remote_url"],
          default: "",
        },
      },
    ]);
    expect(body["file_upload"]).toEqual({ enabled: true, allowed_file_types: ["document"], number_limits: 2 });
    expect(body["system_parameters"]).toEqual({
      file_size_limit: 15,
      image_file_size_limit: 10,
      audio_file_size_limit: 50,
      video_file_size_limit: 100,
      workflow_file_upload_limit: 10,
    });
    expect(body).toMatchObject({ opening_statement: null, suggested_questions: [], speech_to_text: { enabled: false } });
    const otherParams = await json<Record<string, unknown>>(await server.api(other.key, "/v1/parameters"));
    expect(otherParams["file_upload"]).toMatchObject({ image: { enabled: false, number_limits: 3 } });
  });

  it("GET /info, /site, /meta", async () => {
    expect(await json(await server.api(app.key, "/v1/info"))).toEqual({
      name: "Support desk",
      description: "Support desk (test workflow)",
      tags: [],
      mode: "workflow",
      author_name: "",
    });
    const site = await json<Record<string, unknown>>(await server.api(app.key, "/v1/site"));
    expect(site).toMatchObject({
      title: "Support desk",
      icon_type: "emoji",
      icon: "🤖",
      icon_background: "#FFEAD5",
      default_language: "en-US",
    });
    expect(await json(await server.api(app.key, "/v1/meta"))).toEqual({ tool_icons: {} });
  });

  it("GET /end-users/{id}: only this app's users", async () => {
    const run = await json<{ workflow_run_id: string }>(
      await server.api(app.key, "/v1/workflows/run", { method: "POST", json: { inputs: { query: "who" }, user: "enduser-1" } }),
    );
    const logs = await json<{ data: Array<{ id: string; created_by_end_user: { id: string } }> }>(
      await server.api(app.key, "/v1/workflows/logs?created_by_end_user_session_id=enduser-1"),
    );
    const endUserId = logs.data.find((l) => l.id === run.workflow_run_id)?.created_by_end_user.id as string;
    const user = await json<Record<string, unknown>>(await server.api(app.key, `/v1/end-users/${endUserId}`));
    expect(user).toMatchObject({
      id: endUserId,
      app_id: app.appId,
      session_id: "enduser-1",
      type: "service_api",
      is_anonymous: false,
    });
    expect(typeof user["created_at"]).toBe("string");
    const foreign = await server.api(other.key, `/v1/end-users/${endUserId}`);
    expect(foreign.status).toBe(404);
    expect(await json(foreign)).toMatchObject({ code: "end_user_not_found", status: 404 });
  });

  it("GET /workflows/logs: newest first, with every filter and paging", async () => {
    const t0 = Date.now();
    const runIds: string[] = [];
    for (const [query, user] of [
      ["alpha apples", "log-u1"],
      ["beta bananas", "log-u2"],
      ["gamma grapes", "log-u1"],
    ] as const) {
      const body = await json<{ workflow_run_id: string }>(
        await server.api(app.key, "/v1/workflows/run", { method: "POST", json: { inputs: { query }, user } }),
      );
      runIds.push(body.workflow_run_id);
    }
    const all = await json<{
      page: number;
      limit: number;
      total: number;
      has_more: boolean;
      data: Array<Record<string, unknown>>;
    }>(await server.api(app.key, "/v1/workflows/logs?limit=100"));
    expect(all).toMatchObject({ page: 1, limit: 100, has_more: false });
    const ours = all.data.filter((d) => runIds.includes(d["id"] as string)).map((d) => d["id"]);
    expect(ours).toEqual([...runIds].reverse());
    const entry = all.data.find((d) => d["id"] === runIds[0]) as Record<string, unknown>;
    expect(entry).toMatchObject({
      workflow_run: {
        id: runIds[0],
        version: "1",
        status: "succeeded",
        error: null,
        total_steps: 3,
        exceptions_count: 0,
        triggered_from: "app-run",
      },
      created_from: "service-api",
      created_by_role: "end_user",
      created_by_account: null,
      created_by_end_user: { type: "service_api", is_anonymous: false, session_id: "log-u1" },
    });
    expect(Number.isInteger(entry["created_at"])).toBe(true);

    const page = async (query: string) =>
      json<{ total: number; has_more: boolean; data: Array<{ id: string }>; page: number; limit: number }>(
        await server.api(app.key, `/v1/workflows/logs?${query}`),
      );
    expect((await page("keyword=bananas")).data.map((d) => d.id)).toEqual([runIds[1]]);
    expect((await page("keyword=BANANAS")).data.map((d) => d.id)).toEqual([runIds[1]]);
    expect((await page("created_by_end_user_session_id=log-u1")).data.map((d) => d.id)).toEqual([runIds[2], runIds[0]]);
    expect((await page("status=succeeded&created_by_end_user_session_id=log-u2")).total).toBe(1);
    expect((await page("status=failed&created_by_end_user_session_id=log-u2")).total).toBe(0);
    expect((await page("created_by_account=admin@example.com")).total).toBe(0);
    const first = await page("limit=1&page=1");
    expect(first).toMatchObject({ page: 1, limit: 1, has_more: true });
    expect(first.total).toBeGreaterThanOrEqual(3);
    const second = await page("limit=1&page=2");
    expect(second.data[0]?.id).not.toBe(first.data[0]?.id);
    const future = new Date(t0 + 3_600_000).toISOString();
    const past = new Date(t0 - 3_600_000).toISOString();
    expect((await page(`created_at__after=${encodeURIComponent(future)}`)).total).toBe(0);
    expect((await page(`created_at__before=${encodeURIComponent(past)}`)).total).toBe(0);
    expect(
      (await page(`created_at__after=${encodeURIComponent(past)}&created_at__before=${encodeURIComponent(future)}&limit=100`))
        .total,
    ).toBe(first.total);
    // Logs are per app.
    expect(
      (await json<{ data: Array<{ id: string }> }>(await server.api(other.key, "/v1/workflows/logs"))).data.map((d) => d.id),
    ).not.toContain(runIds[0]);

    for (const [query, param] of [
      ["limit=0", "limit"],
      ["limit=101", "limit"],
      ["page=0", "page"],
      ["page=abc", "page"],
      ["status=sleeping", "status"],
      ["created_at__before=yesterday", "created_at__before"],
    ]) {
      const res = await server.api(app.key, `/v1/workflows/logs?${query}`);
      expect(res.status).toBe(400);
      expect(await json(res)).toMatchObject({ code: "invalid_param", status: 400, params: param });
    }
  });
});
