/** The native admin API: apps from DSL (YAML or JSON), versions, API keys and provider credentials. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { json, modes, startTestServer, type TestServer } from "./support/harness.js";
import { branchWorkflow, jsonOf } from "./support/workflows.js";

const YAML_WORKFLOW = `app:
  name: Echo from YAML
  mode: workflow
  description: Returns its input.
kind: app
version: 0.6.0
workflow:
  graph:
    nodes:
      - id: start
        data:
          type: start
          title: Start
          variables:
            - {variable: text, label: Text, type: paragraph, required: true}
      - id: end
        data:
          type: end
          title: End
          outputs:
            - {variable: echo, value_selector: [start, text]}
    edges:
      - {source: start, target: end}
`;

describe.each(modes)("admin API (%s)", (dialect) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(dialect);
  });
  afterAll(() => server?.close());

  const post = (path: string, body: string, type = "application/yaml") =>
    server.admin(path, { method: "POST", body, headers: { "Content-Type": type } });

  it("creates an app from YAML, gives it a key shown once, and runs it", async () => {
    const res = await post("/api/admin/apps", YAML_WORKFLOW);
    expect(res.status).toBe(201);
    const created = await json<{ app_id: string; workflow_id: string; name: string }>(res);
    expect(created.name).toBe("Echo from YAML");

    const keyRes = await server.admin(`/api/admin/apps/${created.app_id}/api-keys`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "ci" }),
    });
    expect(keyRes.status).toBe(201);
    const key = await json<{ id: string; key: string; prefix: string; name: string }>(keyRes);
    expect(key.key).toMatch(/^app-[A-Za-z0-9]{24}$/);
    expect(key.key.startsWith(key.prefix)).toBe(true);
    expect(key.name).toBe("ci");

    const listed = await json<{ data: Array<Record<string, unknown>> }>(
      await server.admin(`/api/admin/apps/${created.app_id}/api-keys`),
    );
    expect(listed.data).toHaveLength(1);
    expect(listed.data[0]).toMatchObject({ id: key.id, prefix: key.prefix, name: "ci" });
    expect(JSON.stringify(listed)).not.toContain(key.key);

    const run = await server.api(key.key, "/v1/workflows/run", {
      method: "POST",
      json: { inputs: { text: "yaml!" }, user: "u" },
    });
    expect((await json<{ data: { outputs: unknown } }>(run)).data.outputs).toEqual({ echo: "yaml!" });

    expect((await server.admin(`/api/admin/apps/${created.app_id}/api-keys/${key.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await server.admin(`/api/admin/apps/${created.app_id}/api-keys/${key.id}`, { method: "DELETE" })).status).toBe(404);
    expect((await server.api(key.key, "/v1/info")).status).toBe(401);
  });

  it("refuses an invalid workflow with every problem and its node, creating nothing", async () => {
    const before = (await json<{ total: number }>(await server.admin("/api/admin/apps"))).total;
    const broken = branchWorkflow("Broken");
    const nodes = broken.workflow.graph.nodes as Array<{ id: string; data: Record<string, unknown> }>;
    (nodes[1] as { data: Record<string, unknown> }).data["type"] = "no-such-node";
    (nodes[2] as { data: Record<string, unknown> }).data["outputs"] = [{ variable: "x", value_selector: ["ghost", "value"] }];
    const res = await post("/api/admin/apps", jsonOf(broken), "application/json");
    expect(res.status).toBe(400);
    const body = await json<{
      code: string;
      status: number;
      message: string;
      problems: Array<{ node_id: string | null; message: string }>;
    }>(res);
    expect(body).toMatchObject({ code: "invalid_workflow", status: 400 });
    const nodeIds = body.problems.map((p) => p.node_id);
    expect(nodeIds).toContain("branch");
    expect(nodeIds).toContain("end_fr");
    expect(body.problems.length).toBeGreaterThanOrEqual(2);
    for (const p of body.problems) expect(body.message).toContain(p.message);

    const notYaml = await post("/api/admin/apps", "app: [unclosed");
    expect(notYaml.status).toBe(400);
    expect((await json<{ problems: unknown[] }>(notYaml)).problems.length).toBeGreaterThan(0);
    expect((await post("/api/admin/apps", "")).status).toBe(400);
    expect((await json<{ total: number }>(await server.admin("/api/admin/apps"))).total).toBe(before);
  });

  it("lists, reads, updates, versions and deletes apps", async () => {
    const created = await json<{ app_id: string; workflow_id: string }>(
      await post("/api/admin/apps?name=Renamed", jsonOf(branchWorkflow()), "application/json"),
    );
    const one = await json<Record<string, unknown>>(await server.admin(`/api/admin/apps/${created.app_id}`));
    expect(one).toMatchObject({ app_id: created.app_id, name: "Renamed", enabled: true, workflow_id: created.workflow_id });
    expect(one["versions"]).toEqual([
      expect.objectContaining({ workflow_id: created.workflow_id, version: 1, source_format: "dify-json" }),
    ]);

    const v2 = await json<{ workflow_id: string; version: number }>(
      await post(`/api/admin/apps/${created.app_id}/versions`, YAML_WORKFLOW),
    );
    expect(v2.version).toBe(2);
    const after = await json<{ workflow_id: string; versions: unknown[] }>(
      await server.admin(`/api/admin/apps/${created.app_id}`),
    );
    expect(after.workflow_id).toBe(v2.workflow_id);
    expect(after.versions).toHaveLength(2);
    const badVersion = await post(`/api/admin/apps/${created.app_id}/versions`, "workflow: {graph: {nodes: []}}");
    expect(badVersion.status).toBe(400);
    expect((await json<{ workflow_id: string }>(await server.admin(`/api/admin/apps/${created.app_id}`))).workflow_id).toBe(
      v2.workflow_id,
    );

    const patched = await server.admin(`/api/admin/apps/${created.app_id}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ description: "new", tags: ["a", "b"], max_concurrency: 3 }),
    });
    expect(await json(patched)).toMatchObject({ description: "new", tags: ["a", "b"], max_concurrency: 3 });
    const badPatch = await server.admin(`/api/admin/apps/${created.app_id}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ enabled: "yes" }),
    });
    expect(badPatch.status).toBe(400);
    expect(await json(badPatch)).toMatchObject({ code: "invalid_param", params: "enabled" });

    const list = await json<{ data: Array<{ app_id: string }>; total: number }>(
      await server.admin("/api/admin/apps?search=renamed"),
    );
    expect(list.data.map((a) => a.app_id)).toContain(created.app_id);

    expect((await server.admin(`/api/admin/apps/${created.app_id}`, { method: "DELETE" })).status).toBe(204);
    expect((await server.admin(`/api/admin/apps/${created.app_id}`)).status).toBe(404);
    expect((await server.admin(`/api/admin/apps/${created.app_id}`, { method: "DELETE" })).status).toBe(404);
    expect((await post(`/api/admin/apps/${created.app_id}/versions`, YAML_WORKFLOW)).status).toBe(404);
    expect((await server.admin(`/api/admin/apps/${created.app_id}/api-keys`, { method: "POST" })).status).toBe(404);
  });

  it("stores provider credentials without ever showing them", async () => {
    const put = (provider: string, body: unknown) =>
      server.admin(`/api/admin/providers/${provider}`, {
        method: "PUT",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    const res = await put("openai", { api_key: "sk-secret-123", base_url: "https://api.openai.com/v1" });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ provider: "openai" });
    expect((await put("ollama", { base_url: "http://127.0.0.1:11434/v1" })).status).toBe(200);
    const list = await server.admin("/api/admin/providers");
    const text = await list.text();
    expect(text).not.toContain("sk-secret");
    expect((JSON.parse(text) as { data: Array<{ provider: string }> }).data.map((p) => p.provider).sort()).toEqual([
      "ollama",
      "openai",
    ]);
    expect(await server.handle.store.getCredentials("openai")).toMatchObject({
      apiKey: "sk-secret-123",
      baseUrl: "https://api.openai.com/v1",
    });

    await expect(put("openai", {}).then((r) => r.status)).resolves.toBe(400);
    await expect(put("openai", { base_url: "not a url" }).then((r) => r.status)).resolves.toBe(400);
    await expect(put("Bad Name!", { api_key: "x" }).then((r) => r.status)).resolves.toBe(400);
    await expect(put("openai", { api_key: "x", extra: 1 }).then((r) => r.status)).resolves.toBe(400);
    expect((await server.admin("/api/admin/providers/ollama", { method: "DELETE" })).status).toBe(204);
    expect((await server.admin("/api/admin/providers/ollama", { method: "DELETE" })).status).toBe(404);
  });
});
