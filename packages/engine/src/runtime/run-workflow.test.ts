import { beforeEach, describe, expect, it } from "vitest";
import { InputValidationError, RunStoppedError } from "../errors.js";
import type { EngineEvent } from "../events.js";
import { compileWorkflow } from "../graph/compile-workflow.js";
import { dsl, e, end, n, start } from "../test-support/graph-builder.js";
import { testCapabilities } from "../test-support/node-context.js";
import { resetTestNodes, sleepLog, testRegistry } from "../test-support/test-nodes.js";
import { type RunWorkflowOptions, runWorkflow } from "./run-workflow.js";

async function run(doc: ReturnType<typeof dsl>, inputs: Record<string, unknown> = {}, options: Partial<RunWorkflowOptions> = {}) {
  const wf = compileWorkflow(doc, { registry: testRegistry });
  const events: EngineEvent[] = [];
  const result = await runWorkflow(wf, { inputs, caps: testCapabilities(), onEvent: (ev) => events.push(ev), ...options });
  const started = events.filter((ev) => ev.type === "node_started").map((ev) => ev.execution.nodeId);
  const finished = events.filter((ev) => ev.type === "node_finished");
  return { result, events, started, finished };
}

const caseSel = (sel: string[], op: string, value: unknown, id = "yes") => ({
  case_id: id,
  logical_operator: "and",
  conditions: [{ variable_selector: sel, comparison_operator: op, value }],
});

beforeEach(() => resetTestNodes());

describe("linear runs and events", () => {
  it("runs start → echo → end and emits the events in order", async () => {
    const doc = dsl(
      [
        start("start", ["name"]),
        n("greet", "test-echo", { value: "Hello {{#start.name#}}!" }),
        end("end", { greeting: ["greet", "text"] }),
      ],
      [e("start", "greet"), e("greet", "end")],
    );
    const { result, events } = await run(doc, { name: "Ada" }, { userId: "u1", runId: "run-1", workflowId: "wf-1" });
    expect(result.status).toBe("succeeded");
    expect(result.outputs).toEqual({ greeting: "Hello Ada!" });
    expect(result.totalSteps).toBe(3);
    expect(events.map((ev) => ev.type)).toEqual([
      "workflow_started",
      "node_started",
      "node_finished",
      "node_started",
      "node_finished",
      "node_started",
      "node_finished",
      "workflow_finished",
    ]);
    const ws = events[0];
    expect(ws?.type === "workflow_started" && ws.inputs).toMatchObject({
      name: "Ada",
      "sys.user_id": "u1",
      "sys.workflow_run_id": "run-1",
    });
    const greetStart = events.find((ev) => ev.type === "node_started" && ev.execution.nodeId === "greet");
    expect(greetStart?.type === "node_started" && greetStart.execution).toMatchObject({ index: 2, predecessorNodeId: "start" });
  });

  it("rejects invalid inputs before the run starts", async () => {
    const doc = dsl(
      [
        n("start", "start", { variables: [{ variable: "age", label: "Age", type: "number", required: true }] }),
        end("end", { a: ["start", "age"] }),
      ],
      [e("start", "end")],
    );
    const wf = compileWorkflow(doc, { registry: testRegistry });
    const events: EngineEvent[] = [];
    await expect(runWorkflow(wf, { inputs: {}, caps: testCapabilities(), onEvent: (ev) => events.push(ev) })).rejects.toThrow(
      "age is required in input form",
    );
    await expect(runWorkflow(wf, { inputs: { age: "abc" }, caps: testCapabilities() })).rejects.toBeInstanceOf(
      InputValidationError,
    );
    expect(events).toEqual([]);
    const ok = await runWorkflow(wf, { inputs: { age: "42" }, caps: testCapabilities() });
    expect(ok.outputs).toEqual({ a: 42 });
  });
});

describe("branches", () => {
  const branchDoc = () =>
    dsl(
      [
        start("start", ["x"]),
        n("if", "if-else", { cases: [caseSel(["start", "x"], "is", "a")] }),
        n("yes", "test-echo", { value: "took yes" }),
        n("no", "test-echo", { value: "took no" }),
        n("after-no", "test-echo", { value: "after no" }),
        n("join", "variable-aggregator", {
          variables: [
            ["yes", "text"],
            ["after-no", "text"],
          ],
        }),
        end("end", { out: ["join", "output"] }),
      ],
      [
        e("start", "if"),
        e("if", "yes", "yes"),
        e("if", "no", "false"),
        e("no", "after-no"),
        e("yes", "join"),
        e("after-no", "join"),
        e("join", "end"),
      ],
    );

  it("takes the matching case, skips the other branch, and the join runs once", async () => {
    const a = await run(branchDoc(), { x: "a" });
    expect(a.result.outputs).toEqual({ out: "took yes" });
    expect(a.started).toEqual(["start", "if", "yes", "join", "end"]);
    const b = await run(branchDoc(), { x: "b" });
    expect(b.result.outputs).toEqual({ out: "after no" });
    expect(b.started).toEqual(["start", "if", "no", "after-no", "join", "end"]);
  });

  it("skips a node only when all its in-edges are skipped", async () => {
    const doc = dsl(
      [
        start("start", ["x"]),
        n("if", "if-else", { cases: [caseSel(["start", "x"], "not empty", "")] }),
        n("a", "test-echo", { value: "a" }),
        n("b", "test-echo", { value: "b" }),
        n("both", "test-echo", { value: "both" }),
        end("end", { out: ["both", "text"] }),
      ],
      [e("start", "if"), e("if", "a", "yes"), e("if", "b", "false"), e("a", "both"), e("b", "both"), e("both", "end")],
    );
    const { result, started } = await run(doc, {});
    expect(started).toEqual(["start", "if", "b", "both", "end"]);
    expect(result.outputs).toEqual({ out: "both" });
  });

  it("runs independent branches concurrently and the join waits for both", async () => {
    const doc = dsl(
      [
        start(),
        n("s1", "test-sleep", { ms: 150 }),
        n("s2", "test-sleep", { ms: 150 }),
        n("join", "test-echo", { value: "{{#s1.text#}}+{{#s2.text#}}" }),
        end("end", { out: ["join", "text"] }),
      ],
      [e("start", "s1"), e("start", "s2"), e("s1", "join"), e("s2", "join"), e("join", "end")],
    );
    const t0 = performance.now();
    const { result, started } = await run(doc);
    const took = performance.now() - t0;
    expect(result.outputs).toEqual({ out: "s1+s2" });
    expect(took).toBeLessThan(280);
    expect(started.indexOf("join")).toBeGreaterThan(started.indexOf("s2"));
    const starts = sleepLog.filter((l) => l.phase === "start");
    const ends = sleepLog.filter((l) => l.phase === "end");
    expect(starts).toHaveLength(2);
    expect(Math.max(...starts.map((s) => s.at))).toBeLessThan(Math.min(...ends.map((s) => s.at)));
  });

  it("bounds parallel branches by maxParallel", async () => {
    const sleepers = ["a", "b", "c", "d"].map((id) => n(id, "test-sleep", { ms: 60 }));
    const doc = dsl(
      [start(), ...sleepers, end("end", {})],
      [...sleepers.map((s) => e("start", s.id)), ...sleepers.map((s) => e(s.id, "end"))],
    );
    await run(doc, {}, { limits: { maxParallel: 2 } });
    let concurrent = 0;
    let peak = 0;
    for (const l of [...sleepLog].sort((x, y) => x.at - y.at)) {
      concurrent += l.phase === "start" ? 1 : -1;
      peak = Math.max(peak, concurrent);
    }
    expect(peak).toBe(2);
  });

  it("is deterministic for the same graph and inputs", async () => {
    const doc = dsl(
      [
        start(),
        n("a", "test-echo", { value: "a" }),
        n("b", "test-echo", { value: "b" }),
        n("c", "test-echo", { value: "c" }),
        end("end", {}),
      ],
      [e("start", "a"), e("start", "b"), e("start", "c"), e("a", "end"), e("b", "end"), e("c", "end")],
    );
    const orders = await Promise.all(
      [1, 2, 3].map(async () =>
        (await run(doc)).events.map((ev) => `${ev.type}:${"execution" in ev ? ev.execution.nodeId : ""}`),
      ),
    );
    expect(orders[1]).toEqual(orders[0]);
    expect(orders[2]).toEqual(orders[0]);
  });
});

describe("failures, retries and error strategies", () => {
  it("fails the run when a node fails, with node_finished failed then workflow_finished failed", async () => {
    const doc = dsl([start(), n("bad", "test-flaky", { key: "f1" }), end("end", {})], [e("start", "bad"), e("bad", "end")]);
    const { result, events } = await run(doc);
    expect(result.status).toBe("failed");
    expect(result.error).toBe("flaky failure #1");
    const fin = events.find((ev) => ev.type === "node_finished" && ev.execution.nodeId === "bad");
    expect(fin?.type === "node_finished" && [fin.status, fin.errorType]).toEqual(["failed", "FlakyError"]);
    expect(events.at(-1)?.type).toBe("workflow_finished");
    expect(events.some((ev) => ev.type === "node_started" && ev.execution.nodeId === "end")).toBe(false);
  });

  it("a failing branch stops its running siblings", async () => {
    const doc = dsl(
      [start(), n("bad", "test-flaky", { key: "f2" }), n("slow", "test-sleep", { ms: 5000 }), end("end", {})],
      [e("start", "slow"), e("start", "bad"), e("bad", "end"), e("slow", "end")],
    );
    const t0 = performance.now();
    const { result, finished } = await run(doc);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(result.status).toBe("failed");
    expect(finished.find((f) => f.execution.nodeId === "slow")?.status).toBe("failed");
  });

  it("retries with node_retry events and succeeds", async () => {
    const doc = dsl(
      [
        start(),
        n("flaky", "test-flaky", {
          key: "f3",
          failTimes: 2,
          retry_config: { retry_enabled: true, max_retries: 3, retry_interval: 10 },
        }),
        end("end", { attempts: ["flaky", "attempts"] }),
      ],
      [e("start", "flaky"), e("flaky", "end")],
    );
    const { result, events } = await run(doc);
    expect(result.status).toBe("succeeded");
    expect(result.outputs).toEqual({ attempts: 3 });
    const retries = events.filter((ev) => ev.type === "node_retry");
    expect(retries.map((r) => r.type === "node_retry" && [r.retryIndex, r.error])).toEqual([
      [1, "flaky failure #1"],
      [2, "flaky failure #2"],
    ]);
  });

  it("gives up after max_retries", async () => {
    const doc = dsl(
      [
        start(),
        n("flaky", "test-flaky", {
          key: "f4",
          failTimes: 5,
          retry_config: { retry_enabled: true, max_retries: 2, retry_interval: 1 },
        }),
        end("end", {}),
      ],
      [e("start", "flaky"), e("flaky", "end")],
    );
    const { result, events } = await run(doc);
    expect(result.status).toBe("failed");
    expect(result.error).toBe("flaky failure #3");
    expect(events.filter((ev) => ev.type === "node_retry")).toHaveLength(2);
  });

  it("fail-branch routes to the failure edge and the run is partial-succeeded", async () => {
    const doc = dsl(
      [
        start(),
        n("bad", "test-flaky", { key: "f5", error_strategy: "fail-branch" }),
        n("ok", "test-echo", { value: "ok path" }),
        n("handler", "test-echo", { value: "handled: {{#bad.error_message#}}" }),
        n("join", "variable-aggregator", {
          variables: [
            ["ok", "text"],
            ["handler", "text"],
          ],
        }),
        end("end", { out: ["join", "output"] }),
      ],
      [
        e("start", "bad"),
        e("bad", "ok", "success-branch"),
        e("bad", "handler", "fail-branch"),
        e("ok", "join"),
        e("handler", "join"),
        e("join", "end"),
      ],
    );
    const { result, finished, started } = await run(doc);
    expect(result.status).toBe("partial-succeeded");
    expect(result.exceptionsCount).toBe(1);
    expect(result.outputs).toEqual({ out: "handled: flaky failure #1" });
    expect(started).not.toContain("ok");
    expect(finished.find((f) => f.execution.nodeId === "bad")?.status).toBe("exception");
  });

  it("fail-branch takes the success edge when the node succeeds", async () => {
    const doc = dsl(
      [
        start(),
        n("fine", "test-flaky", { key: "f6", failTimes: 0, error_strategy: "fail-branch" }),
        n("ok", "test-echo", { value: "ok path" }),
        n("handler", "test-echo", { value: "handler" }),
        end("end", { out: ["ok", "text"] }),
      ],
      [e("start", "fine"), e("fine", "ok", "source"), e("fine", "handler", "fail-branch"), e("ok", "end"), e("handler", "end")],
    );
    const { result, started } = await run(doc);
    expect(result.status).toBe("succeeded");
    expect(started).toEqual(["start", "fine", "ok", "end"]);
  });

  it("default-value replaces the outputs and continues", async () => {
    const doc = dsl(
      [
        start(),
        n("bad", "test-flaky", {
          key: "f7",
          error_strategy: "default-value",
          default_value: [{ key: "attempts", type: "number", value: -1 }],
        }),
        end("end", { attempts: ["bad", "attempts"], err: ["bad", "error_message"] }),
      ],
      [e("start", "bad"), e("bad", "end")],
    );
    const { result } = await run(doc);
    expect(result.status).toBe("partial-succeeded");
    expect(result.outputs).toEqual({ attempts: -1, err: "flaky failure #1" });
  });
});

describe("stop and limits", () => {
  it("a stop mid-node ends the run within 1 s with status stopped", async () => {
    const doc = dsl([start(), n("slow", "test-sleep", { ms: 30_000 }), end("end", {})], [e("start", "slow"), e("slow", "end")]);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const t0 = performance.now();
    const { result, finished } = await run(doc, {}, { signal: controller.signal });
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(result.status).toBe("stopped");
    expect(finished.find((f) => f.execution.nodeId === "slow")?.status).toBe("stopped");
  });

  it("a stop ends the run even when the node ignores its abort signal", async () => {
    const doc = dsl(
      [start(), n("stubborn", "test-sleep", { ms: 3000, ignoreAbort: true }), end("end", {})],
      [e("start", "stubborn"), e("stubborn", "end")],
    );
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const t0 = performance.now();
    const { result } = await run(doc, {}, { signal: controller.signal });
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(result.status).toBe("stopped");
  });

  it("fails when the run exceeds its maximum run time", async () => {
    const doc = dsl([start(), n("slow", "test-sleep", { ms: 5000 }), end("end", {})], [e("start", "slow"), e("slow", "end")]);
    const { result } = await run(doc, {}, { limits: { maxRunTimeMs: 100 } });
    expect(result.status).toBe("failed");
    expect(result.errorCode).toBe("timeout");
    expect(result.error).toMatch(/maximum run time/);
  });

  it("fails a node that exceeds the node timeout", async () => {
    const doc = dsl([start(), n("slow", "test-sleep", { ms: 5000 }), end("end", {})], [e("start", "slow"), e("slow", "end")]);
    const { result } = await run(doc, {}, { limits: { nodeTimeoutMs: 80 } });
    expect(result.status).toBe("failed");
    expect(result.error).toMatch(/did not finish within/);
  });

  it("fails when the step limit is exceeded", async () => {
    const nodes = [start(), ...Array.from({ length: 10 }, (_, i) => n(`s${i}`, "test-echo", { value: "x" })), end("end", {})];
    const edges = nodes.slice(1).map((node, i) => e(nodes[i]?.id as string, node.id));
    const { result } = await run(dsl(nodes, edges), {}, { limits: { maxSteps: 5 } });
    expect(result.status).toBe("failed");
    expect(result.errorCode).toBe("limit_exceeded");
  });

  it("fails a node whose output exceeds the variable size limit", async () => {
    const doc = dsl(
      [start("start", ["big"]), n("copy", "test-echo", { value: "{{#start.big#}}" }), end("end", {})],
      [e("start", "copy"), e("copy", "end")],
    );
    const { result } = await run(doc, { big: "x".repeat(5000) }, { limits: { maxVariableBytes: 1000 } });
    expect(result.status).toBe("failed");
    expect(result.error).toMatch(/variable limit/);
  });
});

describe("streaming", () => {
  it("sends text_chunk only for text that reaches the outputs", async () => {
    const doc = dsl(
      [
        start(),
        n("llm", "test-stream", { chunks: ["Hel", "lo"] }),
        n("quiet", "test-stream", { chunks: ["no"] }),
        end("end", { answer: ["llm", "text"] }),
      ],
      [e("start", "llm"), e("llm", "quiet"), e("quiet", "end")],
    );
    const { events } = await run(doc);
    const chunks = events.filter((ev) => ev.type === "text_chunk");
    expect(chunks.map((c) => c.type === "text_chunk" && c.text)).toEqual(["Hel", "lo"]);
  });
});

describe("iteration", () => {
  const iterationDoc = (
    extra: Record<string, unknown>,
    body = n("body", "test-echo", { value: "<{{#it.item#}}:{{#it.index#}}>" }, "it"),
  ) =>
    dsl(
      [
        n("start", "start", { variables: [{ variable: "items", label: "items", type: "json_object", required: true }] }),
        n("it", "iteration", {
          start_node_id: "it-start",
          iterator_selector: ["start", "items", "list"],
          output_selector: [body.id, "text"],
          ...extra,
        }),
        n("it-start", "iteration-start", {}, "it"),
        body,
        end("end", { out: ["it", "output"] }),
      ],
      [e("start", "it"), e("it-start", body.id), e("it", "end")],
    );

  it("runs the body per item in order and emits iteration events", async () => {
    const { result, events } = await run(iterationDoc({}), { items: { list: ["a", "b", "c"] } });
    expect(result.outputs).toEqual({ out: ["<a:0>", "<b:1>", "<c:2>"] });
    const types = events.map((ev) => ev.type);
    expect(types.filter((t) => t.startsWith("iteration"))).toEqual([
      "iteration_started",
      "iteration_next",
      "iteration_next",
      "iteration_next",
      "iteration_completed",
    ]);
    const bodyStart = events.find((ev) => ev.type === "node_started" && ev.execution.nodeId === "body");
    expect(bodyStart?.type === "node_started" && bodyStart.execution).toMatchObject({ iterationId: "it", iterationIndex: 0 });
    expect(result.totalSteps).toBe(3 + 3 * 2);
  });

  it("runs rounds in parallel and keeps item order", async () => {
    const body = n("body", "test-sleep", { ms: 100, value: "done" }, "it");
    const t0 = performance.now();
    const { result } = await run(iterationDoc({ is_parallel: true, parallel_nums: 4 }, body), { items: { list: [1, 2, 3, 4] } });
    expect(performance.now() - t0).toBeLessThan(350);
    expect(result.outputs).toEqual({ out: ["done", "done", "done", "done"] });
  });

  it("continue-on-error keeps null for failed rounds; remove-abnormal-output drops them; terminated fails", async () => {
    const bodyFor = () => n("body", "test-flaky", { key: `iter-${Math.random()}`, failTimes: 1 }, "it");
    const failing = (mode: string) =>
      dsl(
        [
          n("start", "start", { variables: [{ variable: "items", label: "items", type: "json_object", required: true }] }),
          n("it", "iteration", {
            start_node_id: "it-start",
            iterator_selector: ["start", "items", "list"],
            output_selector: ["body", "attempts"],
            error_handle_mode: mode,
          }),
          n("it-start", "iteration-start", {}, "it"),
          bodyFor(),
          end("end", { out: ["it", "output"] }),
        ],
        [e("start", "it"), e("it-start", "body"), e("it", "end")],
      );
    const cont = await run(failing("continue-on-error"), { items: { list: [1, 2, 3] } });
    expect(cont.result.outputs).toEqual({ out: [null, 2, 3] });
    const removed = await run(failing("remove-abnormal-output"), { items: { list: [1, 2, 3] } });
    expect(removed.result.outputs).toEqual({ out: [2, 3] });
    const term = await run(failing("terminated"), { items: { list: [1, 2, 3] } });
    expect(term.result.status).toBe("failed");
    expect(term.finished.find((f) => f.execution.nodeId === "it")?.status).toBe("failed");
  });

  it("flattens array outputs unless flatten_output is false", async () => {
    const body = n("body", "test-echo", { value: "x" }, "it");
    const doc = (flatten: boolean) =>
      dsl(
        [
          n("start", "start", { variables: [{ variable: "items", label: "items", type: "json_object", required: true }] }),
          n("it", "iteration", {
            start_node_id: "it-start",
            iterator_selector: ["start", "items", "list"],
            output_selector: ["it", "item"],
            flatten_output: flatten,
          }),
          n("it-start", "iteration-start", {}, "it"),
          body,
          end("end", { out: ["it", "output"] }),
        ],
        [e("start", "it"), e("it-start", "body"), e("it", "end")],
      );
    const items = { list: [[1, 2], [3]] };
    expect((await run(doc(true), { items })).result.outputs).toEqual({ out: [1, 2, 3] });
    expect((await run(doc(false), { items })).result.outputs).toEqual({ out: [[1, 2], [3]] });
  });

  it("fails clearly when the iterator is not an array", async () => {
    const { result } = await run(iterationDoc({}), { items: { list: "nope" } });
    expect(result.status).toBe("failed");
    expect(result.error).toMatch(/must be an array/);
  });
});

describe("loop", () => {
  const loopDoc = (
    loop: Record<string, unknown>,
    bodyNodes = [n("inc", "test-set", { target: ["lp", "count"], add: 1 }, "lp")],
    bodyEdges = [e("lp-start", "inc")],
  ) =>
    dsl(
      [
        start(),
        n("lp", "loop", {
          start_node_id: "lp-start",
          loop_count: 10,
          loop_variables: [{ label: "count", var_type: "number", value_type: "constant", value: 0 }],
          ...loop,
        }),
        n("lp-start", "loop-start", {}, "lp"),
        ...bodyNodes,
        end("end", { count: ["lp", "count"] }),
      ],
      [e("start", "lp"), ...bodyEdges, e("lp", "end")],
    );

  it("runs loop_count rounds and keeps loop variables across rounds", async () => {
    const { result, events } = await run(loopDoc({ loop_count: 4 }));
    expect(result.outputs).toEqual({ count: 4 });
    expect(events.filter((ev) => ev.type === "loop_next")).toHaveLength(4);
    expect(events.some((ev) => ev.type === "loop_completed")).toBe(true);
  });

  it("stops when a break condition holds", async () => {
    const { result } = await run(
      loopDoc({
        break_conditions: [{ variable_selector: ["lp", "count"], comparison_operator: "≥", value: "3" }],
        logical_operator: "and",
      }),
    );
    expect(result.outputs).toEqual({ count: 3 });
  });

  it("stops when a loop-end node is reached", async () => {
    const body = [
      n("inc", "test-set", { target: ["lp", "count"], add: 1 }, "lp"),
      n("check", "if-else", { cases: [caseSel(["lp", "count"], "=", "2", "done")] }, "lp"),
      n("stop", "loop-end", {}, "lp"),
    ];
    const { result } = await run(loopDoc({}, body, [e("lp-start", "inc"), e("inc", "check"), e("check", "stop", "done")]));
    expect(result.outputs).toEqual({ count: 2 });
  });

  it("refuses loop_count above the server limit", async () => {
    const { result } = await run(loopDoc({ loop_count: 500 }));
    expect(result.status).toBe("failed");
    expect(result.error).toMatch(/exceeds this server's limit/);
  });
});

describe("stop reasons", () => {
  it("keeps the message of the caller's RunStoppedError", async () => {
    const doc = dsl([start(), n("slow", "test-sleep", { ms: 30_000 }), end("end", {})], [e("start", "slow"), e("slow", "end")]);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new RunStoppedError("The server shut down while the run was in progress.")), 20);
    const { result } = await run(doc, {}, { signal: controller.signal });
    expect(result.status).toBe("stopped");
    expect(result.error).toBe("The server shut down while the run was in progress.");
  });
});
