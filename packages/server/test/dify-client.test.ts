/**
 * Drives the server with the published Dify Node SDK (`dify-client`), unchanged: the paths,
 * fields and framing it relies on must be exactly Dify's.
 */
import type { Readable } from "node:stream";
import { CompletionClient } from "dify-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modes, startTestServer, type TestServer } from "./support/harness.js";
import { branchWorkflow } from "./support/workflows.js";

/** `runWorkflow` exists in the SDK's JavaScript but is missing from its type declarations. */
interface WorkflowClient {
  runWorkflow(
    inputs: Record<string, unknown>,
    user: string,
    stream?: boolean,
  ): Promise<{ status: number; data: unknown; headers: Record<string, string> }>;
}

async function readStream(stream: Readable): Promise<Array<Record<string, unknown>>> {
  let text = "";
  for await (const chunk of stream) text += String(chunk);
  // How the SDK's README parses the stream: split into lines, keep `data: ` ones.
  return text
    .split("\n")
    .filter((line) => line.startsWith("data: "))
    .map((line) => JSON.parse(line.slice("data: ".length)) as Record<string, unknown>);
}

describe.each(modes)("dify-client SDK (%s)", (dialect) => {
  let server: TestServer;
  let client: CompletionClient & WorkflowClient;

  beforeAll(async () => {
    server = await startTestServer(dialect);
    const { key } = await server.createApp(branchWorkflow("SDK app"));
    client = new CompletionClient(key, `${server.url}/v1`) as CompletionClient & WorkflowClient;
  });
  afterAll(() => server?.close());

  it("runWorkflow, blocking", async () => {
    const res = await client.runWorkflow({ query: "from the sdk", lang: "fr" }, "sdk-user");
    expect(res.status).toBe(200);
    expect(res.data).toMatchObject({ data: { status: "succeeded", outputs: { greeting: "from the sdk", lang: "fr" } } });
  });

  it("runWorkflow, streaming", async () => {
    const res = await client.runWorkflow({ query: "streamed" }, "sdk-user", true);
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/text\/event-stream/);
    const frames = await readStream(res.data as Readable);
    expect(frames[0]?.["event"]).toBe("workflow_started");
    expect(frames.at(-1)).toMatchObject({
      event: "workflow_finished",
      data: { status: "succeeded", outputs: { text: "streamed" } },
    });
  });

  it("getApplicationParameters", async () => {
    const res = await client.getApplicationParameters("sdk-user");
    expect(res.status).toBe(200);
    expect(res.data.user_input_form[0]).toMatchObject({ "text-input": { variable: "query", required: true } });
    expect(res.data.system_parameters).toMatchObject({ file_size_limit: 15 });
  });

  it("fileUpload, then the file as an input", async () => {
    const form = new FormData();
    form.append("file", new Blob(["uploaded by the sdk"], { type: "text/plain" }), "sdk.txt");
    form.append("user", "sdk-user");
    const res = await client.fileUpload(form);
    expect(res.status).toBe(201);
    expect(res.data).toMatchObject({ name: "sdk.txt", extension: "txt", size: 19 });
    const run = await client.runWorkflow(
      { query: "q", doc: { type: "document", transfer_method: "local_file", upload_file_id: res.data.id } },
      "sdk-user",
    );
    expect(run.data).toMatchObject({ data: { status: "succeeded", outputs: { doc: { filename: "sdk.txt" } } } });
  });

  it("errors reach the SDK as Dify error bodies", async () => {
    const failed = await client
      .runWorkflow({}, "sdk-user")
      .catch((error: { response: { status: number; data: unknown } }) => error.response);
    expect(failed.status).toBe(400);
    expect(failed.data).toMatchObject({ code: "invalid_param", status: 400 });
  });
});
