/**
 * Engine overhead: µs per node for linear chains of 1, 10 and 100 trivial nodes
 * (variable-aggregator forwarding the previous value), every event delivered to a listener,
 * against a plain chain of async functions of the same length measured in the same process.
 */
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { type Capabilities, compileWorkflow, type EngineEvent, parseDsl, runWorkflow } from "@tributary/engine";

const CHAINS = [1, 10, 100] as const;
const TARGET_US_PER_NODE = 15;

function chainDsl(length: number) {
  const nodes: unknown[] = [
    {
      id: "start",
      data: { type: "start", title: "Start", variables: [{ variable: "x", label: "x", type: "text-input", required: true }] },
    },
  ];
  const edges: unknown[] = [];
  let prev = "start";
  let prevSelector = ["start", "x"];
  for (let i = 0; i < length; i++) {
    const id = `n${i}`;
    nodes.push({ id, data: { type: "variable-aggregator", title: id, variables: [prevSelector] } });
    edges.push({ id: `e${i}`, source: prev, target: id });
    prev = id;
    prevSelector = [id, "output"];
  }
  nodes.push({ id: "end", data: { type: "end", title: "End", outputs: [{ variable: "out", value_selector: prevSelector }] } });
  edges.push({ id: "e-end", source: prev, target: "end" });
  return parseDsl({ workflow: { graph: { nodes, edges } } });
}

const unused = (name: string) => () => {
  throw new Error(`${name} is not used by this benchmark`);
};
const caps: Capabilities = {
  clock: { now: () => Date.now() },
  ids: { newId: () => randomUUID() },
  llm: { stream: unused("llm") },
  http: { request: unused("http") },
  sandbox: { run: unused("sandbox") },
  files: { resolve: unused("files"), read: unused("files"), save: unused("files") },
};

async function baselineChain(length: number, x: string): Promise<unknown> {
  let value: unknown = x;
  for (let i = 0; i < length + 2; i++) {
    value = await (async (v: unknown) => ({ output: v }))(value);
  }
  return value;
}

async function measure(fn: () => Promise<unknown>, minMs: number): Promise<number> {
  for (let i = 0; i < 50; i++) await fn(); // warm-up: JIT and caches
  let runs = 0;
  const t0 = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (let i = 0; i < 20; i++) await fn();
    runs += 20;
    elapsed = performance.now() - t0;
  }
  return (elapsed * 1000) / runs; // µs per run
}

export default async function main(): Promise<void> {
  const figures: Record<string, number> = {};
  for (const length of CHAINS) {
    const wf = compileWorkflow(chainDsl(length));
    const sink: EngineEvent[] = [];
    // The listener keeps every event, as a store or SSE consumer would; cleared per run.
    const onEvent = (e: EngineEvent) => {
      sink.push(e);
    };
    const engineUs = await measure(async () => {
      sink.length = 0;
      const r = await runWorkflow(wf, { inputs: { x: "hello" }, caps, onEvent });
      if (r.status !== "succeeded" || r.outputs.out !== "hello") throw new Error(`bench run failed: ${r.error}`);
    }, 1500);
    const baseUs = await measure(() => baselineChain(length, "hello"), 500);
    const nodes = length + 2; // the chain plus start and end
    figures[`chain${length}_us_per_run`] = round(engineUs);
    figures[`chain${length}_us_per_node`] = round(engineUs / nodes);
    figures[`chain${length}_baseline_us_per_run`] = round(baseUs);
    figures[`chain${length}_ratio_vs_baseline`] = round(engineUs / baseUs);
    figures[`chain${length}_events_per_run`] = sink.length;
    console.log(
      `chain ${String(length).padStart(3)}: ${round(engineUs)} µs/run, ${round(engineUs / nodes)} µs/node (${nodes} nodes), baseline ${round(baseUs)} µs/run`,
    );
  }
  const headline = figures.chain100_us_per_node ?? Number.NaN;
  console.log(
    JSON.stringify({
      bench: "engine",
      figures,
      headline: { metric: "us_per_node_chain100", value: headline, target: TARGET_US_PER_NODE, better: "lower" },
    }),
  );
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
