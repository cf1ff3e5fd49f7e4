/**
 * VectorVein's Open API end to end, over HTTP, as the `vectorvein` SDK drives it: every reply
 * HTTP 200 with `{status, msg, data}`, and the objects 0.2.1 builds with `Dataclass(**dict)`
 * carrying exactly its fields. Runs for SQLite and PostgreSQL, each on a fresh database.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GateServer, startGateServer } from "./support/gate-server.js";
import { dialects, json, startTestServer, type TestServer, waitFor } from "./support/harness.js";
import {
  ACCESS_KEY_LIST_FIELDS,
  createOpenApiKey,
  type Envelope,
  expectAccessKeyShape,
  keysOf,
  OUTPUT_FIELDS,
  TAG_FIELDS,
  UPLOAD_FIELDS,
  vv,
} from "./support/vectorvein.js";
import { gatedWorkflow, workflow } from "./support/workflows.js";

const edge = (source: string, target: string) => ({
  id: `${source}-${target}`,
  source,
  sourceHandle: "source",
  target,
  targetHandle: "target",
});

function greeter(name = "Greeter") {
  return workflow(
    name,
    [
      {
        id: "start",
        type: "start",
        variables: [
          { variable: "name", label: "Name", type: "text-input", required: true, max_length: 100 },
          { variable: "count", label: "Count", type: "number", required: false },
        ],
      },
      {
        id: "greet",
        type: "template-transform",
        template: "Hello {{ name }}!",
        variables: [{ variable: "name", value_selector: ["start", "name"] }],
      },
      {
        id: "end",
        type: "end",
        outputs: [
          { variable: "greeting", value_selector: ["greet", "output"] },
          { variable: "count", value_selector: ["start", "count"] },
        ],
      },
    ],
    [edge("start", "greet"), edge("greet", "end")],
  );
}

/** Its HTTP node calls a port nothing listens on: every run fails. */
function failing() {
  return workflow(
    "Failing",
    [
      { id: "start", type: "start", variables: [] },
      {
        id: "call",
        type: "http-request",
        method: "get",
        url: "http://127.0.0.1:9/nothing",
        authorization: { type: "no-auth", config: null },
        headers: "",
        params: "",
        body: { type: "none", data: [] },
        timeout: { connect: 2, read: 2, write: 2 },
      },
      { id: "end", type: "end", outputs: [{ variable: "status", value_selector: ["call", "status_code"] }] },
    ],
    [edge("start", "call"), edge("call", "end")],
  );
}

function fileEcho() {
  return workflow(
    "File echo",
    [
      { id: "start", type: "start", variables: [{ variable: "doc", label: "Doc", type: "file", required: true }] },
      { id: "end", type: "end", outputs: [{ variable: "doc", value_selector: ["start", "doc"] }] },
    ],
    [edge("start", "end")],
  );
}

const VV_ID = (n: number) => `c0ffee00-0000-4000-8000-${String(n).padStart(12, "0")}`;

/** A VectorVein workflow: a shown TextInOut port feeds a TemplateCompose, shown in a Text output. */
function vectorVeinWorkflow() {
  const port = (name: string, extra: Record<string, unknown>) => ({
    name,
    display_name: name,
    field_type: "input",
    required: true,
    show: false,
    value: "",
    type: "str",
    is_output: false,
    ...extra,
  });
  return {
    nodes: [
      {
        id: VV_ID(1),
        type: "TextInOut",
        category: "textProcessing",
        position: { x: 0, y: 0 },
        data: {
          task_name: "text_processing.text_in_out",
          description: "Topic",
          template: {
            text: port("text", { field_type: "textarea", show: true, value: "rivers" }),
            input_type: port("input_type", { field_type: "select", value: "text" }),
            output: port("output", { field_type: "text", is_output: true }),
          },
        },
      },
      {
        id: VV_ID(2),
        type: "TemplateCompose",
        category: "textProcessing",
        position: { x: 400, y: 0 },
        data: {
          task_name: "text_processing.template_compose",
          template: {
            template: port("template", { field_type: "textarea", value: "About {{topic}}." }),
            topic: port("topic", {}),
            output: port("output", { field_type: "text", is_output: true }),
          },
        },
      },
      {
        id: VV_ID(3),
        type: "Text",
        category: "outputs",
        position: { x: 800, y: 0 },
        data: {
          task_name: "output.text",
          template: {
            text: port("text", { field_type: "textarea" }),
            output_title: port("output_title", { value: "Summary" }),
            render_markdown: port("render_markdown", { field_type: "checkbox", value: true }),
            output: port("output", { field_type: "text", is_output: true }),
          },
        },
      },
    ],
    edges: [
      { id: "e1", source: VV_ID(1), sourceHandle: "output", target: VV_ID(2), targetHandle: "topic" },
      { id: "e2", source: VV_ID(2), sourceHandle: "output", target: VV_ID(3), targetHandle: "text" },
    ],
    viewport: { x: 0, y: 0, zoom: 1 },
  };
}

describe.each(dialects)("VectorVein Open API (%s)", (dialect) => {
  let server: TestServer;
  let gate: GateServer;
  let alice: { key_id: string; api_key: string };
  let bob: { key_id: string; api_key: string };
  let greeterId: string;
  let gatedId: string;
  let failingId: string;
  let fileEchoId: string;

  beforeAll(async () => {
    gate = await startGateServer();
    server = await startTestServer(dialect);
    // Unlimited: this suite alone makes more calls than the default 60 per minute.
    alice = await createOpenApiKey(server, { owner: "alice", name: "alice's key", rate_limit_per_minute: 0 });
    bob = await createOpenApiKey(server, { owner: "bob" });
    greeterId = (await server.createApp(greeter())).appId;
    gatedId = (await server.createApp(gatedWorkflow(gate.url))).appId;
    failingId = (await server.createApp(failing())).appId;
    fileEchoId = (await server.createApp(fileEcho())).appId;
  });
  afterAll(async () => {
    await server?.close();
    await gate?.close();
  });

  const call = <T = unknown>(endpoint: string, body?: unknown, key = alice.api_key) =>
    vv<T>(server, key, endpoint, body === undefined ? {} : { body });

  async function finished(rid: string, key = alice.api_key): Promise<Envelope<Array<Record<string, unknown>>>> {
    return waitFor(async () => {
      const reply = await call<Array<Record<string, unknown>>>("workflow/check-status", { rid }, key);
      return reply.status === 202 ? undefined : reply;
    }, 15_000);
  }

  it("admin: Open API keys are 32 ASCII characters, shown once, listed by prefix, revocable", async () => {
    expect(alice.api_key).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(Buffer.byteLength(alice.api_key, "utf8")).toBe(32);
    const listed = await json<{ data: Array<Record<string, unknown>> }>(await server.admin("/api/admin/open-api-keys"));
    const mine = listed.data.find((k) => k["key_id"] === alice.key_id);
    expect(mine).toMatchObject({
      owner: "alice",
      name: "alice's key",
      rate_limit_per_minute: null,
      prefix: alice.api_key.slice(0, 6),
    });
    // VectorVein's documented default.
    expect(listed.data.find((k) => k["key_id"] === bob.key_id)).toMatchObject({ owner: "bob", rate_limit_per_minute: 60 });
    expect(JSON.stringify(listed)).not.toContain(alice.api_key);

    const temp = await createOpenApiKey(server, { owner: "temp" });
    expect((await call("user/validate-api-key", undefined, temp.api_key)).status).toBe(200);
    expect((await server.admin(`/api/admin/open-api-keys/${temp.key_id}`, { method: "DELETE" })).status).toBe(204);
    expect((await server.admin(`/api/admin/open-api-keys/${temp.key_id}`, { method: "DELETE" })).status).toBe(404);
    const revoked = await call("user/validate-api-key", undefined, temp.api_key);
    expect(revoked).toMatchObject({ status: 401, data: null });
    expect(revoked.msg).toMatch(/invalid or expired/);
    // The admin API itself needs the admin token.
    expect((await fetch(`${server.url}/api/admin/open-api-keys`)).status).toBe(401);
  });

  it("answers everything in the envelope: missing or wrong key, unknown endpoint, wrong method, bad JSON", async () => {
    const missing = await vv(server, null, "user/validate-api-key");
    expect(missing).toMatchObject({ status: 401, data: null });
    expect(missing.msg).toContain("VECTORVEIN-API-KEY");
    expect((await vv(server, "x".repeat(32), "workflow/list", { body: {} })).status).toBe(401);
    expect(await call("workflow/nope", {})).toMatchObject({ status: 404, data: null });
    const wrongMethod = await vv(server, alice.api_key, "workflow/run", { method: "GET" });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.msg).toContain("POST");

    const res = await fetch(`${server.url}/api/v1/open-api/workflow/run`, {
      method: "POST",
      headers: { "VECTORVEIN-API-KEY": alice.api_key, "Content-Type": "application/json" },
      body: "{not json",
    });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ status: 400, data: null });
    const noWid = await call("workflow/run", { input_fields: [] });
    expect(noWid.status).toBe(400);
    expect(noWid.msg).toContain("wid");
  });

  it("user-info/get and user/validate-api-key name the key's owner", async () => {
    const info = await call<Record<string, unknown>>("user-info/get");
    expect(keysOf(info.data)).toEqual(["credits", "date_joined", "email", "uid", "username"]);
    expect(info.data).toMatchObject({ uid: "alice", username: "alice" });
    expect((await call("user/validate-api-key")).data).toEqual({ user_id: "alice", username: "alice" });
  });

  it("runs without waiting, then check-status gives 202 and finally the outputs as exact WorkflowOutputs", async () => {
    const started = await call<{ rid: string }>("workflow/run", {
      wid: greeterId,
      output_scope: "output_fields_only",
      wait_for_completion: false,
      input_fields: [
        { node_id: "start", field_name: "name", value: "Ada" },
        { node_id: "start", field_name: "count", value: 3 },
      ],
    });
    expect(started.status).toBe(200);
    expect(keysOf(started.data)).toEqual(["rid"]);
    const done = await finished(started.data.rid);
    expect(done.status).toBe(200);
    for (const output of done.data) expect(keysOf(output)).toEqual(OUTPUT_FIELDS);
    expect(done.data).toEqual([
      { type: "text", title: "greeting", value: "Hello Ada!" },
      { type: "number", title: "count", value: 3 },
    ]);

    // output_scope "all": the end outputs, then every node's own outputs.
    const all = await call<Array<Record<string, unknown>>>("workflow/run", {
      wid: greeterId,
      output_scope: "all",
      wait_for_completion: true,
      input_fields: [{ node_id: "start", field_name: "name", value: "Ada" }],
    });
    for (const output of all.data) expect(keysOf(output)).toEqual(OUTPUT_FIELDS);
    expect(all.data).toContainEqual({ type: "text", title: "greet: output", value: "Hello Ada!" });
    expect(all.data[0]).toEqual({ type: "text", title: "greeting", value: "Hello Ada!" });
  });

  it("is described in /openapi.json", async () => {
    const doc = await json<{ paths: Record<string, unknown>; components: { securitySchemes: Record<string, unknown> } }>(
      await fetch(`${server.url}/openapi.json`),
    );
    for (const path of ["workflow/run", "workflow/check-status", "vapp/access-key/list", "file-upload/upload", "user-info/get"]) {
      expect(Object.keys(doc.paths)).toContain(`/api/v1/open-api/${path}`);
    }
    expect(Object.keys(doc.paths)).toContain("/api/admin/open-api-keys");
    expect(doc.components.securitySchemes["VectorVeinApiKey"]).toMatchObject({ type: "apiKey", name: "VECTORVEIN-API-KEY" });
  });

  it("wait_for_completion answers 200 with the rid and the outputs; 202 with data.rid when the run takes longer", async () => {
    const waited = await call<Array<Record<string, unknown>>>("workflow/run", {
      wid: greeterId,
      wait_for_completion: true,
      input_fields: [{ node_id: "start", field_name: "name", value: "Grace" }],
    });
    expect(waited.status).toBe(200);
    expect(typeof waited["rid"]).toBe("string");
    expect(waited.data[0]).toEqual({ type: "text", title: "greeting", value: "Hello Grace!" });

    const slow = await call<{ rid: string }>("workflow/run", {
      wid: gatedId,
      wait_for_completion: true,
      input_fields: [{ node_id: "start", field_name: "name", value: "slow" }],
    });
    expect(slow.status).toBe(202);
    expect(slow.data.rid).toBe(slow["rid"]);
    gate.release("slow");
    expect((await finished(slow.data.rid)).status).toBe(200);
  });

  it("overrides a node's own field for one run, without touching the published workflow", async () => {
    const override = {
      wid: greeterId,
      wait_for_completion: true,
      input_fields: [
        { node_id: "start", field_name: "name", value: "Linus" },
        { node_id: "greet", field_name: "template", value: "Bye {{ name }}." },
      ],
    };
    const first = await call<Array<{ value: unknown }>>("workflow/run", override);
    expect(first.data[0]?.value).toBe("Bye Linus.");
    const again = await call<Array<{ value: unknown }>>("workflow/run", override);
    expect(again.data[0]?.value).toBe("Bye Linus.");
    const plain = await call<Array<{ value: unknown }>>("workflow/run", {
      wid: greeterId,
      wait_for_completion: true,
      input_fields: [{ node_id: "start", field_name: "name", value: "Linus" }],
    });
    expect(plain.data[0]?.value).toBe("Hello Linus!");
    // Equal overrides share one detached version; the published one stays current.
    const app = await json<{ workflow_id: string; versions: Array<{ version: number; workflow_id: string }> }>(
      await server.admin(`/api/admin/apps/${greeterId}`),
    );
    expect(app.versions.map((v) => v.version)).toEqual([1, -1]);
    expect(app.workflow_id).toBe(app.versions[0]?.workflow_id);

    const unknown = await call("workflow/run", {
      wid: greeterId,
      input_fields: [{ node_id: "nope", field_name: "x", value: 1 }],
    });
    expect(unknown.status).toBe(400);
    expect(unknown.msg).toContain('node_id "nope"');
    expect(unknown.msg).toContain("start / name");
    const missing = await call("workflow/run", { wid: greeterId, input_fields: [] });
    expect(missing.status).toBe(400);
    expect(missing.msg).toContain("name is required");
    expect((await call("workflow/run", { wid: "no-such-app", input_fields: [] })).status).toBe(404);
  });

  it("a failed run: check-status is 500 with the error in msg, and its record is FAILED", async () => {
    const started = await call<{ rid: string }>("workflow/run", { wid: failingId, input_fields: [] });
    const done = await finished(started.data.rid);
    expect(done.status).toBe(500);
    expect(done.msg).toMatch(/^Workflow run failed: .+/);
    expect(done.data).toEqual([]);
    const record = await call<Record<string, unknown>>("workflow/run-record/get", { rid: started.data.rid });
    expect(record.data).toMatchObject({ rid: started.data.rid, wid: failingId, status: "FAILED", workflow_title: "Failing" });
  });

  it("stop-run, and run records: list (filters, sorting, paging echo), get, stop, delete — per owner", async () => {
    const held = await call<{ rid: string }>("workflow/run", {
      wid: gatedId,
      input_fields: [{ node_id: "start", field_name: "name", value: "hold-1" }],
    });
    await gate.arrived("hold-1");
    const running = await call<Array<Record<string, unknown>>>("workflow/check-status", { rid: held.data.rid });
    expect(running).toMatchObject({ status: 202, data: [] });
    const deleteRunning = await call("workflow/run-record/delete", { rid: held.data.rid });
    expect(deleteRunning.status).toBe(400);
    expect(deleteRunning.msg).toContain("stop it first");
    expect((await call("workflow/stop-run", { rid: held.data.rid })).data).toEqual({ rid: held.data.rid, status: "STOPPED" });
    const stopped = await call("workflow/check-status", { rid: held.data.rid });
    expect(stopped.status).toBe(500);
    expect(stopped.msg).toContain("stopped");

    const held2 = await call<{ rid: string }>("workflow/run", {
      wid: gatedId,
      input_fields: [{ node_id: "start", field_name: "name", value: "hold-2" }],
    });
    await gate.arrived("hold-2");
    expect((await call("workflow/run-record/stop", { rid: held2.data.rid })).data).toMatchObject({ status: "STOPPED" });

    const list = await call<{ records: Array<Record<string, unknown>>; total: number; page: number; page_size: number }>(
      "workflow/run-record/list",
      { page: 1, page_size: 2, wid: gatedId, status: ["STOPPED"], sort_field: "start_time", sort_order: "descend" },
    );
    expect(list.data).toMatchObject({ total: 2, page: 1, page_size: 2 });
    expect(list.data.records.map((r) => r["rid"])).toEqual([held2.data.rid, held.data.rid]);
    expect(keysOf(list.data.records[0])).toEqual(
      [
        "end_time",
        "error",
        "rid",
        "run_from",
        "start_time",
        "status",
        "total_tokens",
        "used_credits",
        "wid",
        "workflow_title",
      ].sort(),
    );
    const ascending = await call<{ records: Array<Record<string, unknown>> }>("workflow/run-record/list", {
      wid: gatedId,
      status: ["STOPPED"],
      sort_order: "ascend",
    });
    expect(ascending.data.records.map((r) => r["rid"])).toEqual([held.data.rid, held2.data.rid]);
    const finishedOnly = await call<{ records: Array<Record<string, unknown>> }>("workflow/run-record/list", {
      status: ["FINISHED"],
      page_size: 100,
    });
    expect(finishedOnly.data.records.every((r) => r["status"] === "FINISHED")).toBe(true);

    const record = await call<Record<string, unknown>>("workflow/run-record/get", { rid: held.data.rid });
    expect(record.data).toMatchObject({ status: "STOPPED", run_from: "API", output_scope: "output_fields_only" });
    expect(record.data["input_fields"]).toEqual([{ node_id: "start", field_name: "name", value: "hold-1" }]);
    expect((record.data["nodes"] as unknown[]).length).toBeGreaterThan(0);

    // Another owner sees none of alice's runs.
    expect((await call("workflow/check-status", { rid: held.data.rid }, bob.api_key)).status).toBe(404);
    expect((await call<{ total: number }>("workflow/run-record/list", {}, bob.api_key)).data.total).toBe(0);

    expect((await call("workflow/run-record/delete", { rid: held.data.rid })).data).toEqual({ rid: held.data.rid });
    expect((await call("workflow/run-record/get", { rid: held.data.rid })).status).toBe(404);
  });

  it("file-upload/upload answers exactly the four FileUploadResult fields; oss_path is a file input value", async () => {
    const form = new FormData();
    form.append("file", new Blob(["hello file"], { type: "text/plain" }), "notes.txt");
    const res = await fetch(`${server.url}/api/v1/open-api/file-upload/upload`, {
      method: "POST",
      headers: { "VECTORVEIN-API-KEY": alice.api_key, "VECTORVEIN-API-VERSION": "20240508" },
      body: form,
    });
    expect(res.status).toBe(200);
    const uploaded =
      await json<Envelope<{ oss_path: string; original_filename: string; file_size: number; content_type: string }>>(res);
    expect(uploaded.status).toBe(200);
    expect(keysOf(uploaded.data)).toEqual(UPLOAD_FIELDS);
    expect(uploaded.data).toMatchObject({ original_filename: "notes.txt", file_size: 10, content_type: "text/plain" });

    const ran = await call<Array<{ type: string; title: string; value: string }>>("workflow/run", {
      wid: fileEchoId,
      wait_for_completion: true,
      input_fields: [{ node_id: "start", field_name: "doc", value: uploaded.data.oss_path }],
    });
    expect(ran.status).toBe(200);
    expect(ran.data[0]).toMatchObject({ type: "file", title: "doc" });
    expect(await (await fetch(ran.data[0]?.value as string)).text()).toBe("hello file");

    const noFile = await fetch(`${server.url}/api/v1/open-api/file-upload/upload`, {
      method: "POST",
      headers: { "VECTORVEIN-API-KEY": alice.api_key },
      body: new FormData(),
    });
    expect((await json<Envelope>(noFile)).status).toBe(400);
  });

  it("workflow create/get/list/update/delete with a Dify DSL graph", async () => {
    const graph = greeter("Unused name").workflow.graph;
    const created = await call<Record<string, unknown>>("workflow/create", {
      title: "Greeter via VectorVein",
      brief: "Says hello",
      images: ["https://example.com/cover.png"],
      tags: [{ tid: "demo" }, { tid: "greetings" }],
      data: graph,
      language: "en-US",
      tool_call_data: {},
    });
    expect(created.msg).toBe("success");
    const wid = created.data["wid"] as string;
    expect(created.data).toMatchObject({
      title: "Greeter via VectorVein",
      brief: "Says hello",
      language: "en-US",
      images: ["https://example.com/cover.png"],
      tags: [
        { tid: "demo", name: "demo" },
        { tid: "greetings", name: "greetings" },
      ],
      source_workflow: null,
    });
    for (const tag of created.data["tags"] as unknown[]) expect(keysOf(tag)).toEqual(TAG_FIELDS);
    expect((created.data["data"] as { nodes: unknown[] }).nodes).toHaveLength(3);

    const ran = await call<Array<{ value: unknown }>>("workflow/run", {
      wid,
      wait_for_completion: true,
      input_fields: [{ node_id: "start", field_name: "name", value: "Tim" }],
    });
    expect(ran.data[0]?.value).toBe("Hello Tim!");

    const got = await call<Record<string, unknown>>("workflow/get", { wid });
    expect(got.data).toMatchObject({ wid, title: "Greeter via VectorVein" });

    const searched = await call<{ workflows: Array<Record<string, unknown>>; total: number; page: number; page_size: number }>(
      "workflow/list",
      { page: 1, page_size: 5, search_text: "via vectorvein", sort_field: "update_time", sort_order: "descend" },
    );
    expect(searched.data).toMatchObject({ total: 1, page: 1, page_size: 5 });
    expect(searched.data.workflows[0]?.["wid"]).toBe(wid);
    expect(searched.data.workflows[0]).not.toHaveProperty("data");
    const tagged = await call<{ workflows: Array<Record<string, unknown>> }>("workflow/list", { tags: ["greetings"] });
    expect(tagged.data.workflows.map((w) => w["wid"])).toEqual([wid]);
    const paged = await call<{ workflows: unknown[]; page: number; page_size: number }>("workflow/list", {
      page: 2,
      page_size: 1,
      sort_field: "create_time",
      sort_order: "ascend",
    });
    expect(paged.data.workflows).toHaveLength(1);
    expect(paged.data).toMatchObject({ page: 2, page_size: 1 });

    const changed = greeter("x").workflow.graph;
    (changed.nodes[1] as unknown as { data: { template: string } }).data.template = "Hi {{ name }}";
    const updated = await call<Record<string, unknown>>("workflow/update", {
      wid,
      data: changed,
      title: "Renamed",
      tags: ["t1"],
    });
    expect(updated.data).toMatchObject({ title: "Renamed", tags: [{ tid: "t1", name: "t1" }], language: "en-US" });
    const ranAgain = await call<Array<{ value: unknown }>>("workflow/run", {
      wid,
      wait_for_completion: true,
      input_fields: [{ node_id: "start", field_name: "name", value: "Tim" }],
    });
    expect(ranAgain.data[0]?.value).toBe("Hi Tim");

    const broken = greeter("x").workflow.graph;
    (broken.nodes[1] as unknown as { data: { variables: unknown[] } }).data.variables = [
      { variable: "name", value_selector: ["ghost", "x"] },
    ];
    const refused = await call<{ problems: Array<{ node_id: string | null }> }>("workflow/update", { wid, data: broken });
    expect(refused.status).toBe(400);
    expect(refused.data.problems.some((p) => p.node_id === "greet")).toBe(true);

    const empty = await call<Record<string, unknown>>("workflow/create", {});
    expect(empty.data).toMatchObject({ title: "New workflow", data: { nodes: [], edges: [] }, language: "zh-CN" });
    const notRunnable = await call("workflow/run", { wid: empty.data["wid"], input_fields: [] });
    expect(notRunnable.status).toBe(400);

    expect((await call("workflow/delete", { wid })).data).toEqual({ wid });
    expect((await call("workflow/get", { wid })).status).toBe(404);
  });

  it("imports VectorVein workflow JSON and runs it addressed by VectorVein node ids and port names", async () => {
    const created = await call<Record<string, unknown>>("workflow/create", {
      title: "From VectorVein",
      data: vectorVeinWorkflow(),
    });
    expect(created.status).toBe(200);
    const wid = created.data["wid"] as string;
    // The client gets its own JSON back.
    expect(created.data["data"]).toEqual(vectorVeinWorkflow());
    const ran = await call<Array<Record<string, unknown>>>("workflow/run", {
      wid,
      wait_for_completion: true,
      input_fields: [{ node_id: VV_ID(1), field_name: "text", value: "oceans" }],
    });
    expect(ran.status).toBe(200);
    expect(ran.data).toEqual([{ type: "text", title: "Summary", value: "About oceans." }]);

    const unsupported = vectorVeinWorkflow();
    unsupported.nodes.push({
      id: VV_ID(9),
      type: "WebCrawler",
      category: "webCrawlers",
      position: { x: 0, y: 300 },
      data: { task_name: "web_crawlers.web_crawler", description: "Fetch the news", template: {} as never },
    });
    const refused = await call<{ problems: Array<{ node_id: string | null; message: string }> }>("workflow/create", {
      title: "Unsupported",
      data: unsupported,
    });
    expect(refused.status).toBe(400);
    expect(refused.msg).toContain(VV_ID(9));
    expect(refused.msg).toContain("WebCrawler");
    expect(refused.data.problems[0]).toMatchObject({ node_id: VV_ID(9) });
  });

  it("access keys: create, get, list, update, delete, add-apps, remove-apps with the SDK's exact shapes", async () => {
    const created = await call<unknown[]>("vapp/access-key/create", {
      access_key_type: "M",
      app_id: greeterId,
      count: 3,
      max_use_count: 5,
      max_credits: 100,
      description: "测试密钥",
    });
    expect(created.status).toBe(200);
    expect(created.data).toHaveLength(3);
    for (const key of created.data) expectAccessKeyShape(key);
    const first = created.data[0] as Record<string, unknown>;
    expect(first).toMatchObject({
      access_key_type: "M",
      use_count: 0,
      max_use_count: 5,
      max_credits: 100,
      used_credits: 0,
      v_app: { app_id: greeterId, title: "Greeter", description: "Greeter (test workflow)", info: {}, images: [] },
      v_apps: [],
      records: [],
      status: "AC",
      access_scope: "S",
      description: "测试密钥",
      expire_time: null,
      last_use_time: null,
    });
    expect(first["access_key"]).toMatch(/^[0-9a-f]{32}$/);
    expect(first["create_time"]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);

    const multi = await call<Array<Record<string, unknown>>>("vapp/access-key/create", {
      access_key_type: "L",
      app_ids: [greeterId, gatedId],
      expire_time: "2099-12-31 23:59:59",
    });
    expectAccessKeyShape(multi.data[0]);
    expect(multi.data[0]).toMatchObject({
      access_scope: "M",
      v_app: null,
      expire_time: "2099-12-31 23:59:59",
      max_use_count: null,
    });
    expect((multi.data[0]?.["v_apps"] as Array<{ app_id: string }> | undefined)?.map((a) => a.app_id)).toEqual([
      greeterId,
      gatedId,
    ]);
    const once = await call<Array<Record<string, unknown>>>("vapp/access-key/create", {
      access_key_type: "O",
      app_id: greeterId,
    });
    expect(once.data[0]).toMatchObject({ access_key_type: "O", max_use_count: 1 });

    expect((await call("vapp/access-key/create", { access_key_type: "X", app_id: greeterId })).status).toBe(400);
    expect((await call("vapp/access-key/create", { access_key_type: "L", app_id: "missing-app" })).status).toBe(404);
    expect((await call("vapp/access-key/create", { access_key_type: "M", app_id: greeterId })).msg).toContain("max_use_count");
    expect(
      (await call("vapp/access-key/create", { access_key_type: "L", app_id: greeterId, expire_time: "tomorrow" })).status,
    ).toBe(400);

    const names = created.data.map((k) => (k as { access_key: string }).access_key);
    const got = await vv<unknown[]>(server, alice.api_key, "vapp/access-key/get", {
      params: { get_type: "selected", access_keys: names.slice(0, 2).join(",") },
    });
    expect(got.status).toBe(200);
    expect(got.data).toHaveLength(2);
    for (const key of got.data) expectAccessKeyShape(key);
    const all = await vv<unknown[]>(server, alice.api_key, "vapp/access-key/get", { params: { get_type: "all" } });
    expect(all.data.length).toBe(5);
    const none = await vv(server, alice.api_key, "vapp/access-key/get", { params: { access_keys: "0".repeat(32) } });
    expect(none.status).toBe(404);
    // Keys are the owner's: bob cannot see alice's.
    expect((await vv(server, bob.api_key, "vapp/access-key/get", { params: { access_keys: names[0] as string } })).status).toBe(
      404,
    );

    const page = await call<Record<string, unknown>>("vapp/access-key/list", {
      page: 2,
      page_size: 2,
      sort_field: "create_time",
      sort_order: "descend",
    });
    expect(keysOf(page.data)).toEqual(ACCESS_KEY_LIST_FIELDS);
    expect(page.data).toMatchObject({ total: 5, page: 2, page_size: 2 });
    for (const key of page.data["access_keys"] as unknown[]) expectAccessKeyShape(key);
    const filtered = await call<{ access_keys: Array<{ access_key: string }>; total: number }>("vapp/access-key/list", {
      app_id: gatedId,
      status: ["AC"],
      access_key_type: "L",
    });
    expect(filtered.data.total).toBe(1);

    const typeChange = await call("vapp/access-key/update", { access_key: names[0], access_key_type: "L" });
    expect(typeChange.status).toBe(400);
    expect(typeChange.msg).toContain("cannot change after creation");
    const updated = await call<Array<Record<string, unknown>>>("vapp/access-key/update", {
      access_keys: names.slice(0, 2),
      description: "renamed",
      max_use_count: 9,
      expire_time: "2098-01-01T00:00:00Z",
      access_key_type: "M",
    });
    expect(updated.status).toBe(200);
    expect(updated.data.map((k) => [k["description"], k["max_use_count"], k["expire_time"]])).toEqual([
      ["renamed", 9, "2098-01-01T00:00:00Z"],
      ["renamed", 9, "2098-01-01T00:00:00Z"],
    ]);

    const added = await call<Array<Record<string, unknown>>>("vapp/access-key/add-apps", {
      access_keys: [names[0]],
      app_ids: [gatedId],
    });
    expect(added.data[0]).toMatchObject({ access_scope: "M", v_app: null });
    expect((added.data[0]?.["v_apps"] as unknown[] | undefined)?.length).toBe(2);
    const removed = await call<Array<Record<string, unknown>>>("vapp/access-key/remove-apps", {
      access_keys: [names[0]],
      app_ids: [greeterId],
    });
    expect((removed.data[0]?.["v_apps"] as Array<{ app_id: string }> | undefined)?.map((a) => a.app_id)).toEqual([gatedId]);

    const wrongApp = await call("vapp/access-key/delete", { app_id: failingId, access_keys: [names[1]] });
    expect(wrongApp.status).toBe(404);
    expect((await call("vapp/access-key/delete", { app_id: greeterId, access_keys: [names[1], names[2]] })).status).toBe(200);
    expect((await vv(server, alice.api_key, "vapp/access-key/get", { params: { access_keys: names[1] as string } })).status).toBe(
      404,
    );
  });

  it("an expired access key: get answers 403; list filters it as EX", async () => {
    const [key] = (
      await call<Array<{ access_key: string }>>("vapp/access-key/create", {
        access_key_type: "L",
        app_id: failingId,
        expire_time: new Date(Date.now() + 1500).toISOString().replace(/\.\d{3}Z$/, "Z"),
      })
    ).data;
    await new Promise((r) => setTimeout(r, 2100));
    const got = await vv(server, alice.api_key, "vapp/access-key/get", { params: { access_keys: key?.access_key as string } });
    expect(got.status).toBe(403);
    const expired = await call<{ access_keys: Array<{ access_key: string; status: string }> }>("vapp/access-key/list", {
      status: ["EX"],
      app_id: failingId,
    });
    expect(expired.data.access_keys.map((k) => [k.access_key, k.status])).toEqual([[key?.access_key, "EX"]]);
  });

  it("with VECTORVEIN-API-KEY-TYPE: VAPP an access key runs the apps it opens, one use per run", async () => {
    const [key] = (
      await call<Array<{ access_key: string }>>("vapp/access-key/create", {
        access_key_type: "M",
        app_id: greeterId,
        max_use_count: 2,
      })
    ).data;
    const accessKey = key?.access_key as string;
    const run = (name: string) =>
      vv<{ rid: string }>(server, accessKey, "workflow/run", {
        vapp: true,
        body: { wid: greeterId, input_fields: [{ node_id: "start", field_name: "name", value: name }] },
      });
    const first = await run("one");
    expect(first.status).toBe(200);
    const status = await waitFor(async () => {
      const r = await vv<unknown[]>(server, accessKey, "workflow/check-status", {
        vapp: true,
        body: { rid: first.data.rid, wid: greeterId },
      });
      return r.status === 202 ? undefined : r;
    });
    expect(status.data).toEqual([
      { type: "text", title: "greeting", value: "Hello one!" },
      { type: "json", title: "count", value: null },
    ]);
    expect((await run("two")).status).toBe(200);
    const third = await run("three");
    expect(third.status).toBe(403);
    expect(third.msg).toContain("used up");
    // Only run and check-status: the rest needs an Open API key; without the VAPP header the key is unknown.
    expect((await vv(server, accessKey, "vapp/access-key/list", { vapp: true, body: {} })).status).toBe(403);
    expect((await vv(server, accessKey, "workflow/run", { body: { wid: greeterId, input_fields: [] } })).status).toBe(401);
    const other = await vv(server, accessKey, "workflow/run", { vapp: true, body: { wid: gatedId, input_fields: [] } });
    expect(other.status).toBe(403);

    const got = await vv<Array<{ use_count: number; records: Array<{ rid: string; credits: number }> }>>(
      server,
      alice.api_key,
      "vapp/access-key/get",
      { params: { access_keys: accessKey } },
    );
    expect(got.data[0]?.use_count).toBe(2);
    expect(got.data[0]?.records.map((r) => r.rid)).toContain(first.data.rid);
    // An Open API key with the VAPP header addresses the same app id.
    const viaOwner = await vv<{ rid: string }>(server, alice.api_key, "workflow/run", {
      vapp: true,
      body: { wid: greeterId, input_fields: [{ node_id: "start", field_name: "name", value: "owner" }] },
    });
    expect(viaOwner.status).toBe(200);
  });

  it("rate limit per key: the call over the limit is answered with status 429 in the envelope", async () => {
    const limited = await createOpenApiKey(server, { owner: "limited", rate_limit_per_minute: 5 });
    for (let i = 0; i < 5; i++) expect((await call("user/validate-api-key", undefined, limited.api_key)).status).toBe(200);
    const over = await call("user/validate-api-key", undefined, limited.api_key);
    expect(over.status).toBe(429);
    expect(over.msg).toContain("5 calls per minute");
    // Other keys are not affected.
    expect((await call("user/validate-api-key")).status).toBe(200);
  });
});
