/**
 * The one event union the engine emits. Protocol adapters (Dify SSE, VectorVein polling),
 * storage and queues all consume these; each maps them to its own wire shape.
 * Times are epoch milliseconds; durations are milliseconds.
 */

export type RunStatus = "running" | "succeeded" | "failed" | "stopped" | "partial-succeeded";

/** `exception` = the node failed but its error strategy (fail-branch/default-value) handled it. */
export type NodeStatus = "running" | "succeeded" | "failed" | "stopped" | "exception";

export interface ExecutionMetadata {
  totalTokens: number;
  promptTokens: number;
  completionTokens: number;
  totalPrice: number;
  currency: string;
  /** Extra facts a node reports (e.g. iteration length, loop rounds, error strategy). */
  extra?: Record<string, unknown>;
}

/** Identity of one node execution, repeated on every event about it. */
export interface NodeExecutionRef {
  /** Node execution id (unique per attempt series of one node in one run/iteration round). */
  id: string;
  nodeId: string;
  nodeType: string;
  title: string;
  /** 1-based order in which node executions started in this run. */
  index: number;
  predecessorNodeId: string | null;
  /** Set when the node runs inside an iteration / loop container. */
  iterationId: string | null;
  iterationIndex: number | null;
  loopId: string | null;
  loopIndex: number | null;
  createdAt: number;
}

export interface WorkflowStartedEvent {
  type: "workflow_started";
  runId: string;
  workflowId: string;
  inputs: Record<string, unknown>;
  createdAt: number;
}

export interface NodeStartedEvent {
  type: "node_started";
  runId: string;
  execution: NodeExecutionRef;
}

export interface TextChunkEvent {
  type: "text_chunk";
  runId: string;
  nodeId: string;
  text: string;
  fromVariableSelector: readonly string[];
}

export interface NodeFinishedEvent {
  type: "node_finished";
  runId: string;
  execution: NodeExecutionRef;
  status: Exclude<NodeStatus, "running">;
  inputs: Record<string, unknown> | null;
  processData: Record<string, unknown> | null;
  outputs: Record<string, unknown> | null;
  error: string | null;
  errorType: string | null;
  elapsedMs: number;
  metadata: ExecutionMetadata;
  finishedAt: number;
}

export interface NodeRetryEvent {
  type: "node_retry";
  runId: string;
  execution: NodeExecutionRef;
  /** 1-based number of the retry about to happen. */
  retryIndex: number;
  inputs: Record<string, unknown> | null;
  error: string;
  elapsedMs: number;
  createdAt: number;
}

export interface ContainerStartedEvent {
  type: "iteration_started" | "loop_started";
  runId: string;
  execution: NodeExecutionRef;
  inputs: Record<string, unknown>;
  /** Iteration: items count. Loop: configured loop_count. */
  metadata: Record<string, unknown>;
  createdAt: number;
}

export interface ContainerNextEvent {
  type: "iteration_next" | "loop_next";
  runId: string;
  execution: NodeExecutionRef;
  /** 0-based round about to run. */
  index: number;
  /** Output of the previous round (iteration: its output selector value; loop: variables). */
  preOutput: unknown;
  createdAt: number;
}

export interface ContainerCompletedEvent {
  type: "iteration_completed" | "loop_completed";
  runId: string;
  execution: NodeExecutionRef;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown> | null;
  status: Exclude<NodeStatus, "running">;
  error: string | null;
  elapsedMs: number;
  steps: number;
  metadata: ExecutionMetadata;
  createdAt: number;
  finishedAt: number;
}

export interface WorkflowFinishedEvent {
  type: "workflow_finished";
  runId: string;
  workflowId: string;
  status: Exclude<RunStatus, "running">;
  outputs: Record<string, unknown>;
  error: string | null;
  /** Error code of the failure (`node_failed`, `stopped`, `timeout`, …); null on success. */
  errorCode: string | null;
  elapsedMs: number;
  totalTokens: number;
  totalPrice: number;
  currency: string;
  totalSteps: number;
  exceptionsCount: number;
  createdAt: number;
  finishedAt: number;
}

export type EngineEvent =
  | WorkflowStartedEvent
  | NodeStartedEvent
  | TextChunkEvent
  | NodeRetryEvent
  | NodeFinishedEvent
  | ContainerStartedEvent
  | ContainerNextEvent
  | ContainerCompletedEvent
  | WorkflowFinishedEvent;

export type EngineEventType = EngineEvent["type"];

/** Listeners are called synchronously and must not block; the engine never awaits them. */
export type EventListener = (event: EngineEvent) => void;

export function emptyMetadata(): ExecutionMetadata {
  return { totalTokens: 0, promptTokens: 0, completionTokens: 0, totalPrice: 0, currency: "USD" };
}
