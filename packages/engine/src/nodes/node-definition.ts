import type { z } from "zod";
import type { Capabilities, LlmUsage } from "../capabilities/types.js";
import type { EngineEvent, ExecutionMetadata } from "../events.js";
import type { RunLimits } from "../limits.js";
import type { VariableSelector } from "../variables/selector.js";
import type { VariablePool } from "../variables/variable-pool.js";

/** What a node's `run` returns. Failures are thrown (NodeExecutionError or any error). */
export interface NodeRunResult {
  /** The resolved inputs shown in node_finished (`inputs`). */
  inputs?: Record<string, unknown>;
  outputs: Record<string, unknown>;
  processData?: Record<string, unknown>;
  usage?: LlmUsage;
  metadata?: Record<string, unknown>;
  /** Branch nodes: the sourceHandle taken (if-else case id or "false", class id, …). */
  handle?: string;
}

/** The facts validation knows about a node when it checks it. */
export interface NodeValidationContext {
  nodeId: string;
  /** Report a problem (a plain sentence; the node id is added by the caller). */
  report(message: string): void;
}

export interface NodeRunContext<D> {
  nodeId: string;
  title: string;
  data: D;
  pool: VariablePool;
  caps: Capabilities;
  limits: RunLimits;
  /** Aborted on stop, run timeout, node timeout, or a failing sibling branch. */
  signal: AbortSignal;
  /** Streams text to clients (`text_chunk`) when the run's outputs use this node's `selector`. */
  emitText(text: string, selector: VariableSelector): void;
  /** Containers only: runs the body of this container; see runtime/container.ts. */
  container: ContainerRuntime;
}

export interface ContainerRoundOptions {
  /** Pool the body runs in (a fork of the container's pool). */
  pool: VariablePool;
  iterationIndex?: number;
  loopIndex?: number;
  signal: AbortSignal;
}

export interface ContainerRoundResult {
  /** True when a loop-end node was reached in this round. */
  reachedLoopEnd: boolean;
  steps: number;
  tokens: number;
}

export interface ContainerRuntime {
  /** Runs the child graph of this container once; throws if a child fails. */
  runRound(options: ContainerRoundOptions): Promise<ContainerRoundResult>;
  /** Emits iteration_* / loop_* events for this container. */
  emit(event: ContainerEventInput): void;
  now(): number;
}

export type ContainerEventInput =
  | { type: "iteration_started" | "loop_started"; inputs: Record<string, unknown>; metadata: Record<string, unknown> }
  | { type: "iteration_next" | "loop_next"; index: number; preOutput: unknown };

export interface NodeDefinition<D = unknown> {
  type: string;
  /** Validates and parses `node.data`; unknown fields are kept (loose objects). */
  schema: z.ZodType<D>;
  /**
   * Selectors this node reads (for "names a node that is not upstream" and for ordering
   * checks). Include references found in text fields (`{{#…#}}`).
   */
  references(data: D): VariableSelector[];
  /** Extra checks beyond the schema (e.g. Jinja2 syntax). */
  validate?(data: D, ctx: NodeValidationContext): void;
  /** Branch nodes take only the out-edges whose sourceHandle equals the result's `handle`. */
  branching?: boolean;
  /** Branch nodes: every handle the node can take, so edges naming another handle are reported. */
  handles?(data: D): string[];
  /** Nodes that wait on IO (LLM, HTTP, code) get a per-attempt timeout signal. */
  usesIo?: boolean;
  /** Containers run a child graph (nodes whose parentId is this node). */
  container?: "iteration" | "loop";
  /** Children reaching this node end the enclosing loop round (loop-end). */
  endsLoop?: boolean;
  /** Not executable in Tributary; validation explains what the node needs. */
  unsupported?: string;
  run(ctx: NodeRunContext<D>): Promise<NodeRunResult> | NodeRunResult;
}

/** Erases the data type so definitions of all node types fit one registry. */
// biome-ignore lint/suspicious/noExplicitAny: a registry holds definitions of every data type; each is checked by its own schema.
export type AnyNodeDefinition = NodeDefinition<any>;

export function defineNode<D>(def: NodeDefinition<D>): NodeDefinition<D> {
  return def;
}

export type { EngineEvent, ExecutionMetadata };
