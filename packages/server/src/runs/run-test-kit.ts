/**
 * Test-only helpers for the run service tests: a few node types for timing (registered next
 * to the engine's core nodes through its public registry API), a compact DSL builder, test
 * capabilities without IO, and a thin store wrapper that counts, delays or fails batch writes
 * while delegating everything to the real store.
 */
import { randomUUID } from "node:crypto";
import {
  type Capabilities,
  type CompiledWorkflow,
  coreNodes,
  createNodeRegistry,
  defineNode,
  InputValidationError,
  type NodeRegistry,
} from "@tributary/engine";
import { z } from "zod";
import type { AppRow, NewApp, RunBatch, Store, WorkflowVersionRow } from "../store/types.js";

/** Waits `ms`, abortably; outputs `text`. An IO node, so the engine races it against stop. */
const sleepNode = defineNode({
  type: "test-sleep",
  usesIo: true,
  schema: z.looseObject({ ms: z.number(), value: z.string().default("") }),
  references: () => [],
  run(ctx) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => resolve({ outputs: { text: ctx.data.value || ctx.nodeId } }), ctx.data.ms);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(ctx.signal.reason);
      });
    });
  },
});

/** Never finishes and ignores stop (not an IO node, so the engine cannot race it): the worst case for stop. */
const hangNode = defineNode({
  type: "test-hang",
  schema: z.looseObject({}),
  references: () => [],
  run: () => new Promise(() => {}),
});

/** Streams `chunks` as text, one per macrotask (like tokens arriving from a provider), `gapMs` apart. */
const streamNode = defineNode({
  type: "test-stream",
  usesIo: true,
  schema: z.looseObject({ chunks: z.array(z.string()), gapMs: z.number().default(0) }),
  references: () => [],
  async run(ctx) {
    for (const chunk of ctx.data.chunks) {
      await new Promise((resolve) => (ctx.data.gapMs > 0 ? setTimeout(resolve, ctx.data.gapMs) : setImmediate(resolve)));
      ctx.emitText(chunk, [ctx.nodeId, "text"]);
    }
    return { outputs: { text: ctx.data.chunks.join("") } };
  },
});

export const testRegistry: NodeRegistry = createNodeRegistry([...coreNodes, sleepNode, hangNode, streamNode]);

// ---------------------------------------------------------------------------------------------
// DSL

export interface NodeSpec {
  id: string;
  type: string;
  parentId?: string;
  [field: string]: unknown;
}

export const node = (id: string, type: string, data: Record<string, unknown> = {}, parentId?: string): NodeSpec => ({
  id,
  type,
  ...data,
  ...(parentId ? { parentId } : {}),
});

export const edge = (source: string, target: string, sourceHandle = "source") => ({ source, target, sourceHandle });

export const startNode = (variables: Array<Record<string, unknown>> = []): NodeSpec =>
  node("start", "start", { variables: variables.map((v) => ({ label: v["variable"], required: false, ...v })) });

export const endNode = (outputs: Record<string, string[]>, id = "end"): NodeSpec =>
  node(id, "end", { outputs: Object.entries(outputs).map(([variable, value_selector]) => ({ variable, value_selector })) });

/** A Dify DSL document (raw, as stored in a version row). */
export function dsl(nodes: NodeSpec[], edges: Array<{ source: string; target: string; sourceHandle?: string }>) {
  return {
    app: { name: "test", mode: "workflow" },
    kind: "app",
    version: "0.6.0",
    workflow: {
      environment_variables: [],
      graph: {
        nodes: nodes.map(({ id, type, parentId, ...data }) => ({
          id,
          type: "custom",
          ...(parentId ? { parentId } : {}),
          data: { type, title: id, ...data },
        })),
        edges: edges.map((e, i) => ({ id: `e${i}`, targetHandle: "target", ...e })),
      },
    },
  };
}

/** start → if-else → iteration (echo-like aggregator per item) → end: only core nodes. */
export function typicalWorkflow(): ReturnType<typeof dsl> {
  return dsl(
    [
      startNode([{ variable: "items", type: "json_object", required: true }]),
      node("check", "if-else", {
        cases: [
          {
            case_id: "has",
            logical_operator: "and",
            conditions: [{ variable_selector: ["start", "items", "list"], comparison_operator: "not empty", value: "" }],
          },
        ],
      }),
      node("it", "iteration", {
        start_node_id: "it-start",
        iterator_selector: ["start", "items", "list"],
        output_selector: ["pick", "output"],
      }),
      node("it-start", "iteration-start", {}, "it"),
      node("pick", "variable-aggregator", { variables: [["it", "item"]], output_type: "string" }, "it"),
      endNode({ out: ["it", "output"] }),
      endNode({ out: ["start", "items"] }, "empty"),
    ],
    [
      edge("start", "check"),
      edge("check", "it", "has"),
      edge("check", "empty", "false"),
      edge("it-start", "pick"),
      edge("it", "end"),
    ],
  );
}

/** start → sleep × n → end, with a streamed node before the end: IO-like timing. */
export function sleepyWorkflow(opts: { sleeps?: number; ms?: number; chunks?: number; gapMs?: number } = {}) {
  const sleeps = opts.sleeps ?? 3;
  const nodes: NodeSpec[] = [startNode([{ variable: "name", type: "text-input" }])];
  const edges: Array<{ source: string; target: string }> = [];
  let prev = "start";
  for (let i = 0; i < sleeps; i++) {
    nodes.push(node(`s${i}`, "test-sleep", { ms: opts.ms ?? 5 }));
    edges.push(edge(prev, `s${i}`));
    prev = `s${i}`;
  }
  const chunks = Array.from({ length: opts.chunks ?? 5 }, (_, i) => `c${i} `);
  nodes.push(node("talk", "test-stream", { chunks, gapMs: opts.gapMs ?? 0 }));
  edges.push(edge(prev, "talk"));
  nodes.push(endNode({ text: ["talk", "text"] }));
  edges.push(edge("talk", "end"));
  return dsl(nodes, edges);
}

// ---------------------------------------------------------------------------------------------
// Capabilities and store

export function testCapabilities(): Capabilities {
  const none = (what: string) => () => {
    throw new Error(`the run service tests use no ${what}`);
  };
  return {
    clock: { now: () => Date.now() },
    ids: { newId: () => randomUUID() },
    llm: { stream: none("llm") },
    http: { request: none("http") },
    sandbox: { run: none("sandbox") },
    files: {
      resolve: async (ref) => {
        throw new InputValidationError(`file ${ref.upload_file_id ?? ref.url ?? ""} not found`, "files");
      },
      read: none("files"),
      save: none("files"),
    },
  };
}

export async function seedApp(
  store: Store,
  doc: unknown,
  app: Partial<NewApp> = {},
): Promise<{ app: AppRow; version: WorkflowVersionRow }> {
  const created = await store.createApp({ name: "App", ...app });
  const version = await store.createWorkflowVersion({
    appId: created.id,
    dsl: doc as Record<string, unknown>,
    sourceText: JSON.stringify(doc),
    sourceFormat: "dify-json",
  });
  return { app: (await store.getApp(created.id)) as AppRow, version };
}

export interface BatchLog {
  runId: string;
  events: number;
  nodes: number;
  final: boolean;
  ok: boolean;
  committedAt: number;
}

export interface InstrumentedStore extends Store {
  readonly batches: BatchLog[];
  /** Calls of read methods, by name. */
  readonly reads: { listRunEvents: number };
  /** Transactions run for batches: writeRunBatch and writeRunBatches calls (one transaction each). */
  readonly transactions: number;
  /** Called before each batch is written (alone or in a group); throw to fail it (and its group), await to delay it. */
  beforeWrite: ((batch: RunBatch) => void | Promise<void>) | undefined;
}

/** The real store with `writeRunBatch(es)` counted (and optionally delayed or failed) on the way through. */
export function instrumentStore(real: Store): InstrumentedStore {
  const batches: BatchLog[] = [];
  const reads = { listRunEvents: 0 };
  const state: { beforeWrite: InstrumentedStore["beforeWrite"]; transactions: number } = {
    beforeWrite: undefined,
    transactions: 0,
  };
  const logOf = (batch: RunBatch): BatchLog => ({
    runId: batch.runId,
    events: batch.events.length,
    nodes: batch.nodeExecutions.length,
    final: batch.runPatch?.status !== undefined,
    ok: false,
    committedAt: 0,
  });
  const writeRunBatch = async (batch: RunBatch): Promise<void> => {
    const log = logOf(batch);
    batches.push(log);
    state.transactions++;
    await state.beforeWrite?.(batch);
    await real.writeRunBatch(batch);
    log.ok = true;
    log.committedAt = performance.now();
  };
  const writeRunBatches = async (group: readonly RunBatch[]): Promise<void> => {
    const logs = group.map(logOf);
    batches.push(...logs);
    state.transactions++;
    for (const batch of group) await state.beforeWrite?.(batch);
    await real.writeRunBatches(group);
    const at = performance.now();
    for (const log of logs) {
      log.ok = true;
      log.committedAt = at;
    }
  };
  return new Proxy(real, {
    get(target, prop) {
      if (prop === "writeRunBatch") return writeRunBatch;
      if (prop === "writeRunBatches") return writeRunBatches;
      if (prop === "transactions") return state.transactions;
      if (prop === "batches") return batches;
      if (prop === "reads") return reads;
      if (prop === "listRunEvents") {
        return (...args: Parameters<Store["listRunEvents"]>) => {
          reads.listRunEvents++;
          return target.listRunEvents(...args);
        };
      }
      if (prop === "beforeWrite") return state.beforeWrite;
      const value = Reflect.get(target, prop, target);
      // The real store keeps private fields, so its methods must run with it as `this`.
      return typeof value === "function" ? value.bind(target) : value;
    },
    set(_target, prop, value) {
      if (prop !== "beforeWrite") return false;
      state.beforeWrite = value as InstrumentedStore["beforeWrite"];
      return true;
    },
  }) as InstrumentedStore;
}

export type { CompiledWorkflow };
