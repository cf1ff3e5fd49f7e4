/**
 * Runs every example in this folder through the engine with the real capabilities: code in
 * the sandbox, LLM nodes through the AI SDK against the local OpenAI-compatible test server.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  compileWorkflow,
  createDefaultCapabilities,
  type EngineEvent,
  type OwnedCapabilities,
  type RunResult,
  runWorkflow,
} from "@tributary/engine";
import { type OpenAiTestServer, startOpenAiTestServer } from "@tributary/engine/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const dir = import.meta.dirname;
let caps: OwnedCapabilities;
let llmServer: OpenAiTestServer;

beforeAll(async () => {
  llmServer = await startOpenAiTestServer();
  caps = createDefaultCapabilities({
    credentials: (provider) =>
      ["openai", "deepseek"].includes(provider) ? { apiKey: "sk-test", baseUrl: llmServer.url } : undefined,
    sandbox: { poolSize: 1 },
  });
});

afterAll(async () => {
  await caps?.close();
  await llmServer?.close();
});

async function runExample(file: string, inputs: Record<string, unknown>): Promise<{ result: RunResult; events: EngineEvent[] }> {
  const wf = compileWorkflow(readFileSync(join(dir, file), "utf8"));
  const events: EngineEvent[] = [];
  const result = await runWorkflow(wf, { inputs, caps, onEvent: (e) => events.push(e) });
  return { result, events };
}

describe("offline examples", () => {
  it("hello-template greets in the chosen language", async () => {
    const { result } = await runExample("hello-template.yml", { name: "  Ada ", language: "French" });
    expect(result.outputs).toEqual({ greeting: "Bonjour, Ada!" });
    const plain = await runExample("hello-template.yml", { name: "Grace" });
    expect(plain.result.outputs).toEqual({ greeting: "Hello, Grace!" });
  });

  it("ticket-router takes the urgent, billing and general branches", async () => {
    const urgent = await runExample("ticket-router.yml", { subject: "Site outage", body: "all down", priority: 2 });
    expect(urgent.result.outputs).toEqual({ decision: "ESCALATED to oncall@example.com: Site outage", branch: "urgent" });
    const billing = await runExample("ticket-router.yml", { subject: "Money", body: "please refund me", priority: "1" });
    expect(billing.result.outputs).toEqual({ decision: "Queued for billing: Money", branch: "billing" });
    const general = await runExample("ticket-router.yml", { subject: "Hi", body: "question", priority: 1 });
    expect(general.result.outputs).toEqual({ decision: "Queued for the general team: Hi", branch: "false" });
  });

  it("text-stats-python counts with a Python code node", async () => {
    const { result } = await runExample("text-stats-python.yml", { text: "The cat sat. The cat ran! A dog.", top: 2 });
    expect(result.status).toBe("succeeded");
    expect(result.outputs).toEqual({
      report: "8 words in 3 sentences; most common: the, cat",
      words: 8,
      average_word_length: 2.75,
    });
  });

  it("slugify-javascript runs a JavaScript code node", async () => {
    const { result } = await runExample("slugify-javascript.yml", { title: "Héllo, World! 2026" });
    expect(result.outputs).toMatchObject({ slug: "hello-world-2026", length: 16 });
    expect(typeof result.outputs.short_id).toBe("string");
  });

  it("batch-invoice-lines iterates in parallel and keeps order", async () => {
    const { result, events } = await runExample("batch-invoice-lines.yml", { lines: "Pen;2;1.5\nBook;1;12\nInk;3;0.99" });
    expect(result.outputs).toEqual({
      lines: ["1. Pen x2 = 3.00 EUR", "2. Book x1 = 12.00 EUR", "3. Ink x3 = 2.97 EUR"],
      total: 17.97,
    });
    expect(events.filter((e) => e.type === "iteration_next")).toHaveLength(3);
  });

  it("json-guard routes invalid payloads through the fail branch", async () => {
    const ok = await runExample("json-guard.yml", { payload: '{"email": " Ada@Example.com ", "name": "Ada"}' });
    expect(ok.result).toMatchObject({ status: "succeeded", outputs: { result: "accepted ada@example.com (2 fields)" } });
    const bad = await runExample("json-guard.yml", { payload: '{"name": "no email"}' });
    expect(bad.result.status).toBe("partial-succeeded");
    expect(bad.result.outputs.result).toMatch(/^rejected: .*payload must be an object with an email field/);
  });

  it("parallel-digest joins two parallel branches", async () => {
    const { result } = await runExample("parallel-digest.yml", { title: "News", text: "First thing happened. Then more." });
    expect(result.outputs).toEqual({ digest: "NEWS — First thing happened." });
  });
});

describe("LLM examples (local OpenAI-compatible server)", () => {
  it("llm-summarize streams the model's answer into the outputs", async () => {
    llmServer.script({ text: "- cats sit\n- dogs run" });
    const { result, events } = await runExample("llm-summarize.yml", { text: "Cats sit. Dogs run.", style: "bullet points" });
    expect(result.status).toBe("succeeded");
    expect(result.outputs.summary).toBe("- cats sit\n- dogs run");
    expect(result.totalTokens).toBeGreaterThan(0);
    const chunks = events.filter((e) => e.type === "text_chunk").map((e) => (e.type === "text_chunk" ? e.text : ""));
    expect(chunks.join("")).toBe("- cats sit\n- dogs run");
    const sent = llmServer.requests.at(-1)?.body as { model: string; messages: Array<{ role: string; content: unknown }> };
    expect(sent.model).toBe("gpt-4o-mini");
    expect(JSON.stringify(sent.messages[0]?.content)).toContain("bullet points");
  });

  it("llm-translate-batch translates each line through the openai-compatible provider", async () => {
    const { result } = await runExample("llm-translate-batch.yml", { lines: "one\ntwo\n\nthree", target: "French" });
    expect(result.status).toBe("succeeded");
    // The test server echoes the user message: each line comes back in order.
    expect(result.outputs).toEqual({ translations: ["one", "two", "three"] });
  });
});
