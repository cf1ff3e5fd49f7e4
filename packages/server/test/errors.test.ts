/**
 * Every kind of bad request gets Dify's error shape `{code, message, status}` with Dify's
 * status code, and leaves nothing half-written behind.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { json, modes, startTestServer, type TestServer } from "./support/harness.js";
import { branchWorkflow } from "./support/workflows.js";

interface ErrorBody {
  code: string;
  message: string;
  status: number;
  params?: string;
}

describe.each(modes)("errors (%s)", (dialect) => {
  let server: TestServer;
  let app: { appId: string; key: string };

  beforeAll(async () => {
    server = await startTestServer(dialect, { maxBodyBytes: 4096 });
    app = await server.createApp(branchWorkflow());
  });
  afterAll(() => server?.close());

  const runsLogged = async () => (await json<{ total: number }>(await server.api(app.key, "/v1/workflows/logs"))).total;

  async function expectError(res: Response, status: number, code: string, message?: string | RegExp): Promise<ErrorBody> {
    const body = await json<ErrorBody>(res);
    expect({ status: res.status, code: body.code }).toEqual({ status, code });
    expect(body.status).toBe(status);
    expect(typeof body.message).toBe("string");
    if (typeof message === "string") expect(body.message).toBe(message);
    else if (message) expect(body.message).toMatch(message);
    return body;
  }

  it("authentication: 401 with WWW-Authenticate for a missing, malformed or unknown key", async () => {
    const url = `${server.url}/v1/info`;
    for (const [headers, message] of [
      [{}, /^Authorization header must be provided and start with 'Bearer'/],
      [{ Authorization: "app-without-scheme" }, /^Authorization header must be provided and start with 'Bearer'/],
      [{ Authorization: "Basic dXNlcjpwYXNz" }, /^Authorization scheme must be 'Bearer'/],
      [{ Authorization: "Bearer app-doesnotexist" }, /^Access token is invalid/],
    ] as const) {
      const res = await fetch(url, { headers });
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="api"');
      await expectError(res, 401, "unauthorized", message);
    }
    // The admin token is not an app key, and an app key is not the admin token.
    await expectError(await fetch(url, { headers: { Authorization: `Bearer ${server.adminToken}` } }), 401, "unauthorized");
    await expectError(
      await fetch(`${server.url}/api/admin/apps`, { headers: { Authorization: `Bearer ${app.key}` } }),
      401,
      "unauthorized",
    );
  });

  it("a disabled app answers 403; a deleted app's key stops working", async () => {
    const extra = await server.createApp(branchWorkflow("Disabled soon"));
    const patch = await server.admin(`/api/admin/apps/${extra.appId}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ enabled: false }),
    });
    expect(patch.status).toBe(200);
    await expectError(await server.api(extra.key, "/v1/info"), 403, "forbidden", /disabled/);
    await expectError(
      await server.api(extra.key, "/v1/workflows/run", { method: "POST", json: { inputs: { query: "q" }, user: "u" } }),
      403,
      "forbidden",
    );
    expect((await server.admin(`/api/admin/apps/${extra.appId}`, { method: "DELETE" })).status).toBe(204);
    await expectError(await server.api(extra.key, "/v1/info"), 401, "unauthorized");
  });

  it("bad JSON bodies: Dify's 'Invalid JSON payload' for malformed or empty JSON, nothing run", async () => {
    const before = await runsLogged();
    const post = (body: string, type = "application/json") =>
      server.api(app.key, "/v1/workflows/run", { method: "POST", body, headers: { "Content-Type": type } });
    for (const body of ["", "   ", "{bad json", '{"inputs": {}, "user": "u",}']) {
      await expectError(await post(body), 400, "bad_request", "Invalid JSON payload received or JSON payload is empty.");
    }
    await expectError(await post('{"inputs": {}, "user": "u"}', "text/plain"), 415, "unsupported_media_type");
    await expectError(await post("[1, 2]"), 400, "invalid_param");
    await expectError(await post('"just a string"'), 400, "invalid_param");
    expect(await runsLogged()).toBe(before);
  });

  it("wrong fields: user first (Dify's message), then each field named in params", async () => {
    const before = await runsLogged();
    const run = (body: unknown) => server.api(app.key, "/v1/workflows/run", { method: "POST", json: body });
    await expectError(await run({ inputs: { query: "q" } }), 400, "invalid_param", "Arg user must be provided.");
    await expectError(await run({ inputs: { query: "q" }, user: "" }), 400, "invalid_param", "Arg user must be provided.");
    await expectError(await run({ inputs: { query: "q" }, user: { id: 1 } }), 400, "invalid_param", "Arg user must be provided.");
    expect((await expectError(await run({ user: "u" }), 400, "invalid_param")).params).toBe("inputs");
    expect((await expectError(await run({ inputs: "query=q", user: "u" }), 400, "invalid_param")).params).toBe("inputs");
    expect((await expectError(await run({ inputs: {}, user: "u", response_mode: "fast" }), 400, "invalid_param")).params).toBe(
      "response_mode",
    );
    expect((await expectError(await run({ inputs: {}, user: "u", files: "x" }), 400, "invalid_param")).params).toBe("files");
    // Input checks come from the start node: required, max length, select options, numbers.
    expect((await expectError(await run({ inputs: {}, user: "u" }), 400, "invalid_param", /query is required/)).params).toBe(
      "query",
    );
    await expectError(
      await run({ inputs: { query: "x".repeat(101) }, user: "u" }),
      400,
      "invalid_param",
      /less than 100 characters/,
    );
    await expectError(await run({ inputs: { query: "q", lang: "de" }, user: "u" }), 400, "invalid_param", /one of/);
    await expectError(await run({ inputs: { query: "q", count: "many" }, user: "u" }), 400, "invalid_param", /number/);
    // A numeric user is accepted, as Dify does (str(user)).
    expect((await run({ inputs: { query: "q" }, user: 42 })).status).toBe(200);
    expect(await runsLogged()).toBe(before + 1);
  });

  it("oversized bodies are 413 before anything runs", async () => {
    const before = await runsLogged();
    const res = await server.api(app.key, "/v1/workflows/run", {
      method: "POST",
      json: { inputs: { query: "x".repeat(5000) }, user: "u" },
    });
    await expectError(res, 413, "request_entity_too_large", /limit of 4096 bytes/);
    expect(await runsLogged()).toBe(before);
  });

  it("unknown routes and ids: 404 in Dify's shape", async () => {
    await expectError(await fetch(`${server.url}/v1/nothing-here`), 404, "not_found");
    await expectError(await server.api(app.key, "/v1/workflows/run/unknown-run"), 404, "not_found");
    await expectError(await server.api(app.key, "/v1/end-users/unknown"), 404, "end_user_not_found");
    await expectError(await server.api(app.key, "/v1/files/unknown/preview"), 404, "not_found");
    await expectError(await fetch(`${server.url}/files/unknown/file-preview?timestamp=1&nonce=a&sign=b`), 403, "forbidden");
  });

  it("a known path with the wrong method is 405 with Allow", async () => {
    const res = await server.api(app.key, "/v1/workflows/run");
    expect(res.headers.get("allow")).toBe("POST");
    await expectError(res, 405, "method_not_allowed");
    const del = await server.api(app.key, "/v1/workflows/run/some-id", { method: "DELETE" });
    expect(del.headers.get("allow")).toBe("GET, HEAD");
    await expectError(del, 405, "method_not_allowed");
  });

  it("serves the OpenAPI 3.1 document, health and the /v1 index", async () => {
    const doc = await json<{
      openapi: string;
      paths: Record<string, unknown>;
      components: { securitySchemes: Record<string, unknown> };
    }>(await fetch(`${server.url}/openapi.json`));
    expect(doc.openapi).toBe("3.1.0");
    for (const path of [
      "/v1/workflows/run",
      "/v1/workflows/{workflow_id}/run",
      "/v1/workflows/run/{workflow_run_id}",
      "/v1/workflows/run/{workflow_run_id}/node-executions",
      "/v1/workflows/tasks/{task_id}/stop",
      "/v1/workflow/{workflow_run_id}/events",
      "/v1/files/upload",
      "/v1/workflows/logs",
      "/v1/info",
      "/v1/parameters",
      "/v1/site",
      "/v1/meta",
      "/v1/end-users/{end_user_id}",
      "/api/admin/apps",
      "/api/admin/apps/{app_id}",
      "/api/admin/apps/{app_id}/versions",
      "/api/admin/apps/{app_id}/api-keys",
      "/api/admin/apps/{app_id}/api-keys/{key_id}",
      "/api/admin/providers",
      "/api/admin/providers/{provider}",
    ]) {
      expect(doc.paths, path).toHaveProperty([path]);
    }
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(["AdminBearer", "Bearer", "VectorVeinApiKey"]);
    expect(await json(await fetch(`${server.url}/healthz`))).toMatchObject({ status: "ok" });
    expect(await json(await fetch(`${server.url}/v1`))).toMatchObject({ api_version: "v1" });
  });
});
