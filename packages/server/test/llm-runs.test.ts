/**
 * An LLM node against the engine's OpenAI-compatible test server, with credentials set through
 * the admin API: text_chunk frames while the model streams, and token usage in the results.
 */
import { startOpenAiTestServer } from "@tributary/engine/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataFrames, json, modes, readSse, startTestServer, type TestServer } from "./support/harness.js";
import { llmWorkflow } from "./support/workflows.js";

describe.each(modes)("LLM runs (%s)", (dialect) => {
  let server: TestServer;
  let llm: Awaited<ReturnType<typeof startOpenAiTestServer>>;
  let key: string;

  beforeAll(async () => {
    llm = await startOpenAiTestServer();
    server = await startTestServer(dialect);
    const put = await server.admin("/api/admin/providers/openai", {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ api_key: "sk-test", base_url: llm.url }),
    });
    expect(put.status).toBe(200);
    ({ key } = await server.createApp(llmWorkflow("echo")));
  });
  afterAll(async () => {
    await server?.close();
    await llm?.close();
  });

  it("streams text_chunk frames between the LLM node's start and finish", async () => {
    const res = await server.api(key, "/v1/workflows/run", {
      method: "POST",
      json: { inputs: { text: "one two three four" }, user: "u", response_mode: "streaming" },
    });
    const frames = dataFrames(await readSse(res));
    const chunks = frames.filter((f) => f.event === "text_chunk");
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) {
      expect(c).toMatchObject({ task_id: expect.any(String), workflow_run_id: res.headers.get("x-workflow-run-id") });
      expect(c["data"]).toMatchObject({ text: expect.any(String), from_variable_selector: ["llm", "text"] });
    }
    expect(chunks.map((c) => (c["data"] as { text: string }).text).join("")).toBe("one two three four");
    const kinds = frames.map((f) => f.event);
    const llmStarted = frames.findIndex(
      (f) => f.event === "node_started" && (f["data"] as { node_id: string }).node_id === "llm",
    );
    const llmFinished = frames.findIndex(
      (f) => f.event === "node_finished" && (f["data"] as { node_id: string }).node_id === "llm",
    );
    expect(kinds.indexOf("text_chunk")).toBeGreaterThan(llmStarted);
    expect(kinds.lastIndexOf("text_chunk")).toBeLessThan(llmFinished);
    const finished = frames.at(-1)?.["data"] as { status: string; total_tokens: number; outputs: { answer: string } };
    expect(finished).toMatchObject({ status: "succeeded", outputs: { answer: "one two three four" } });
    expect(finished.total_tokens).toBeGreaterThan(0);
    expect(frames[llmFinished]?.["data"]).toMatchObject({ execution_metadata: { total_tokens: finished.total_tokens } });
  });

  it("a provider failure fails the node and the run, reported in Dify's shape", async () => {
    const { key: failing } = await server.createApp(llmWorkflow("error-401", "Failing LLM"));
    const res = await server.api(failing, "/v1/workflows/run", { method: "POST", json: { inputs: { text: "hi" }, user: "u" } });
    expect(res.status).toBe(200);
    const body = await json<{ data: { status: string; error: string } }>(res);
    expect(body.data.status).toBe("failed");
    expect(body.data.error.length).toBeGreaterThan(0);
  });
});
