import { performance } from "node:perf_hooks";
import type { Capabilities } from "../capabilities/types.js";
import {
  errorMessage,
  isTributaryError,
  LimitExceededError,
  NodeExecutionError,
  RunStoppedError,
  RunTimeoutError,
} from "../errors.js";
import {
  type EngineEvent,
  type EventListener,
  type ExecutionMetadata,
  emptyMetadata,
  type NodeExecutionRef,
  type NodeStatus,
} from "../events.js";
import type { CompiledEdge, CompiledNode, CompiledWorkflow, GraphLevel } from "../graph/compiled-workflow.js";
import type { RunLimits } from "../limits.js";
import type { ContainerRuntime, NodeRunContext, NodeRunResult } from "../nodes/node-definition.js";
import { exceedsSize } from "../variables/text.js";
import type { VariablePool } from "../variables/variable-pool.js";
import { abortable } from "./abortable.js";

/** Where a level runs: inside which iteration/loop round, and whether text streams out. */
export interface Scope {
  iterationId: string | null;
  iterationIndex: number | null;
  loopId: string | null;
  loopIndex: number | null;
  topLevel: boolean;
}

export const TOP_SCOPE: Scope = { iterationId: null, iterationIndex: null, loopId: null, loopIndex: null, topLevel: true };

interface NodeOutcome {
  /** null: every out-edge is taken; otherwise only edges with this handle. */
  handle: string | null;
  endsLoop: boolean;
}

export interface LevelResult {
  reachedLoopEnd: boolean;
  steps: number;
  tokens: number;
}

const NO_CONTAINER: ContainerRuntime = {
  runRound: () => Promise.reject(new Error("only iteration and loop nodes run child graphs")),
  emit: () => {},
  now: () => Date.now(),
};

/** A failure already reported by the failing node's node_finished event. */
export class NodeFailure extends NodeExecutionError {
  readonly nodeId: string;
  constructor(node: CompiledNode, cause: unknown) {
    super(errorMessage(cause), {
      cause,
      errorType: cause instanceof NodeExecutionError ? cause.errorType : cause instanceof Error ? cause.name : "Error",
      code: isTributaryError(cause) ? cause.code : "node_failed",
    });
    this.nodeId = node.id;
  }
}

/**
 * Executes one run of a compiled workflow: edge states, bounded parallel branches, retries,
 * error strategies, containers, limits and events. Dify's scheduling rule: a node runs when
 * none of its in-edges is still unknown and at least one was taken; when all were skipped it
 * is skipped and its out-edges are skipped in turn.
 */
export class RunExecution {
  steps = 0;
  totalTokens = 0;
  totalPrice = 0;
  currency = "USD";
  exceptionsCount = 0;
  readonly outputs: Record<string, unknown> = {};
  private executionIndex = 0;

  constructor(
    readonly workflow: CompiledWorkflow,
    readonly runId: string,
    private readonly caps: Capabilities,
    private readonly limits: RunLimits,
    private readonly listener: EventListener,
  ) {}

  emit(event: EngineEvent): void {
    try {
      this.listener(event);
    } catch {
      // A consumer's failure must never change the run; consumers log their own errors.
    }
  }

  /** Runs one graph level to completion; rejects with the first unhandled failure or abort. */
  executeLevel(level: GraphLevel, pool: VariablePool, scope: Scope, signal: AbortSignal): Promise<LevelResult> {
    const startSteps = this.steps;
    const startTokens = this.totalTokens;
    const root = level.nodes.get(level.rootId);
    if (!root) return Promise.reject(new Error(`level ${level.containerId ?? "root"} has no root node`));

    return new Promise<LevelResult>((resolve, reject) => {
      const remaining = new Map<string, number>();
      const anyTaken = new Set<string>();
      const predecessor = new Map<string, string>();
      const ready: Array<{ node: CompiledNode; predecessorId: string | null }> = [{ node: root, predecessorId: null }];
      let head = 0;
      let running = 0;
      let failure: unknown = null;
      let reachedLoopEnd = false;
      let settled = false;
      const controller = new AbortController();
      const onAbort = () => controller.abort(signal.reason);
      if (signal.aborted) controller.abort(signal.reason);
      else signal.addEventListener("abort", onAbort, { once: true });

      const settleEdge = (edge: CompiledEdge, taken: boolean): void => {
        const target = level.nodes.get(edge.target) as CompiledNode;
        const left = (remaining.get(target.id) ?? target.inEdges.length) - 1;
        remaining.set(target.id, left);
        if (taken) {
          anyTaken.add(target.id);
          predecessor.set(target.id, edge.source);
        }
        if (left > 0) return;
        if (anyTaken.has(target.id)) ready.push({ node: target, predecessorId: predecessor.get(target.id) ?? null });
        else for (const e of target.outEdges) settleEdge(e, false);
      };

      const finish = (): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        if (failure !== null) reject(failure);
        else resolve({ reachedLoopEnd, steps: this.steps - startSteps, tokens: this.totalTokens - startTokens });
      };

      const pump = (): void => {
        if (failure === null && controller.signal.aborted) failure = controller.signal.reason ?? new RunStoppedError();
        while (failure === null && !reachedLoopEnd && running < this.limits.maxParallel && head < ready.length) {
          const item = ready[head++] as { node: CompiledNode; predecessorId: string | null };
          running++;
          this.executeNode(item.node, pool, scope, controller.signal, item.predecessorId).then(
            (outcome) => {
              running--;
              if (outcome.endsLoop) reachedLoopEnd = true;
              for (const e of item.node.outEdges) settleEdge(e, takes(outcome, e));
              pump();
            },
            (err: unknown) => {
              running--;
              if (failure === null) {
                failure = err;
                // Sibling branches stop: a failed node fails the whole level, as in Dify.
                controller.abort(err);
              }
              pump();
            },
          );
        }
        if (running === 0 && (failure !== null || reachedLoopEnd || head >= ready.length)) finish();
      };
      pump();
    });
  }

  private nextRef(node: CompiledNode, scope: Scope, predecessorId: string | null): NodeExecutionRef {
    return {
      id: this.caps.ids.newId(),
      nodeId: node.id,
      nodeType: node.type,
      title: node.title,
      index: ++this.executionIndex,
      predecessorNodeId: predecessorId,
      iterationId: scope.iterationId,
      iterationIndex: scope.iterationIndex,
      loopId: scope.loopId,
      loopIndex: scope.loopIndex,
      createdAt: this.caps.clock.now(),
    };
  }

  private async executeNode(
    node: CompiledNode,
    pool: VariablePool,
    scope: Scope,
    signal: AbortSignal,
    predecessorId: string | null,
  ): Promise<NodeOutcome> {
    if (++this.steps > this.limits.maxSteps) {
      throw new LimitExceededError(
        `The run exceeded the limit of ${this.limits.maxSteps} node executions; check for runaway loops or raise the limit.`,
      );
    }
    const ref = this.nextRef(node, scope, predecessorId);
    this.emit({ type: "node_started", runId: this.runId, execution: ref });
    const started = performance.now();
    const stepsBefore = this.steps;
    const tokensBefore = this.totalTokens;
    let attempt = 0;

    for (;;) {
      const attemptSignal = node.def.usesIo ? withTimeout(signal, this.limits.nodeTimeoutMs, node.title) : null;
      const ctx: NodeRunContext<unknown> = {
        nodeId: node.id,
        title: node.title,
        data: node.data,
        pool,
        caps: this.caps,
        limits: this.limits,
        signal: attemptSignal?.signal ?? signal,
        emitText: (text, selector) => {
          if (scope.topLevel && this.workflow.streamedSelectors.has(selector.join("."))) {
            this.emit({ type: "text_chunk", runId: this.runId, nodeId: node.id, text, fromVariableSelector: selector });
          }
        },
        container: node.def.container ? this.containerRuntime(node, ref, scope) : NO_CONTAINER,
      };
      try {
        const pending = node.def.run(ctx);
        // IO nodes are raced against their signal so one that ignores aborts cannot hold a stop or timeout.
        const result: NodeRunResult = attemptSignal ? await abortable(pending, ctx.signal) : await pending;
        attemptSignal?.dispose();
        if (signal.aborted) throw signal.reason ?? new RunStoppedError();
        for (const key in result.outputs) {
          if (exceedsSize(result.outputs[key], this.limits.maxVariableBytes)) {
            throw new NodeExecutionError(
              `Output "${key}" is larger than the ${Math.round(this.limits.maxVariableBytes / 1024)} KB variable limit; reduce it (e.g. truncate text) before passing it on.`,
              { errorType: "VariableSizeExceededError" },
            );
          }
        }
        pool.setAll(node.id, result.outputs);
        const metadata = this.metadataFor(result, node, this.totalTokens - tokensBefore);
        if (node.type === "end" && scope.topLevel) Object.assign(this.outputs, result.outputs);
        this.finishNode(node, ref, "succeeded", result, null, null, started, metadata, stepsBefore);
        const handle = node.def.branching
          ? (result.handle ?? "false")
          : node.errorStrategy === "fail-branch"
            ? "success-branch"
            : null;
        return { handle, endsLoop: node.def.endsLoop === true };
      } catch (err) {
        attemptSignal?.dispose();
        if (signal.aborted) {
          const reason = signal.reason ?? new RunStoppedError();
          const status: NodeStatus = reason instanceof RunStoppedError ? "stopped" : "failed";
          const message = reason instanceof RunStoppedError ? "The run was stopped." : errorMessage(reason);
          this.finishNode(node, ref, status, null, message, null, started, emptyMetadata(), stepsBefore);
          throw reason;
        }
        if (err instanceof LimitExceededError || err instanceof NodeFailure) {
          // A child of this container exceeded a run-wide limit or failed: the container fails with it.
          this.finishNode(node, ref, "failed", null, err.message, errorTypeOf(err), started, emptyMetadata(), stepsBefore);
          throw err instanceof NodeFailure ? new NodeFailure(node, err) : err;
        }
        if (node.retry && attempt < node.retry.maxRetries) {
          attempt++;
          this.emit({
            type: "node_retry",
            runId: this.runId,
            execution: ref,
            retryIndex: attempt,
            inputs: null,
            error: errorMessage(err),
            elapsedMs: performance.now() - started,
            createdAt: this.caps.clock.now(),
          });
          await sleep(node.retry.intervalMs, signal);
          continue;
        }
        const message = errorMessage(err);
        const errorType = errorTypeOf(err);
        if (node.errorStrategy) {
          this.exceptionsCount++;
          const outputs: Record<string, unknown> = { error_message: message, error_type: errorType };
          if (node.errorStrategy === "default-value") for (const d of node.defaultValues) outputs[d.key] = d.value;
          pool.setAll(node.id, outputs);
          const metadata = emptyMetadata();
          metadata.extra = { error_strategy: node.errorStrategy };
          this.finishNode(node, ref, "exception", { outputs }, message, errorType, started, metadata, stepsBefore);
          return { handle: node.errorStrategy === "fail-branch" ? "fail-branch" : null, endsLoop: false };
        }
        this.finishNode(node, ref, "failed", null, message, errorType, started, emptyMetadata(), stepsBefore);
        throw new NodeFailure(node, err);
      }
    }
  }

  private metadataFor(result: NodeRunResult, node: CompiledNode, childTokens: number): ExecutionMetadata {
    const m = emptyMetadata();
    if (result.usage) {
      m.totalTokens = result.usage.totalTokens;
      m.promptTokens = result.usage.promptTokens;
      m.completionTokens = result.usage.completionTokens;
      m.totalPrice = result.usage.totalPrice;
      m.currency = result.usage.currency;
      this.totalTokens += result.usage.totalTokens;
      this.totalPrice += result.usage.totalPrice;
      this.currency = result.usage.currency;
    } else if (node.def.container) {
      m.totalTokens = childTokens;
    }
    if (result.metadata) m.extra = result.metadata;
    return m;
  }

  private finishNode(
    node: CompiledNode,
    ref: NodeExecutionRef,
    status: Exclude<NodeStatus, "running">,
    result: Partial<NodeRunResult> | null,
    error: string | null,
    errorType: string | null,
    started: number,
    metadata: ExecutionMetadata,
    stepsBefore: number,
  ): void {
    const elapsedMs = performance.now() - started;
    const finishedAt = this.caps.clock.now();
    if (node.def.container) {
      this.emit({
        type: node.def.container === "iteration" ? "iteration_completed" : "loop_completed",
        runId: this.runId,
        execution: ref,
        inputs: result?.inputs ?? {},
        outputs: result?.outputs ?? null,
        status,
        error,
        elapsedMs,
        steps: this.steps - stepsBefore,
        metadata,
        createdAt: ref.createdAt,
        finishedAt,
      });
    }
    this.emit({
      type: "node_finished",
      runId: this.runId,
      execution: ref,
      status,
      inputs: result?.inputs ?? null,
      processData: result?.processData ?? null,
      outputs: result?.outputs ?? null,
      error,
      errorType,
      elapsedMs,
      metadata,
      finishedAt,
    });
  }

  private containerRuntime(node: CompiledNode, ref: NodeExecutionRef, scope: Scope): ContainerRuntime {
    const level = this.workflow.containers.get(node.id);
    return {
      runRound: (options) => {
        if (!level) return Promise.reject(new Error(`container ${node.id} has no body`));
        const inner: Scope =
          node.def.container === "iteration"
            ? { ...scope, iterationId: node.id, iterationIndex: options.iterationIndex ?? null, topLevel: false }
            : { ...scope, loopId: node.id, loopIndex: options.loopIndex ?? null, topLevel: false };
        return this.executeLevel(level, options.pool, inner, options.signal);
      },
      emit: (input) => {
        const createdAt = this.caps.clock.now();
        if ("inputs" in input) {
          this.emit({
            type: input.type,
            runId: this.runId,
            execution: ref,
            inputs: input.inputs,
            metadata: input.metadata,
            createdAt,
          });
        } else {
          this.emit({
            type: input.type,
            runId: this.runId,
            execution: ref,
            index: input.index,
            preOutput: input.preOutput,
            createdAt,
          });
        }
      },
      now: () => this.caps.clock.now(),
    };
  }
}

function takes(outcome: NodeOutcome, edge: CompiledEdge): boolean {
  if (outcome.handle === null) return edge.sourceHandle !== "fail-branch";
  if (edge.sourceHandle === outcome.handle) return true;
  return outcome.handle === "success-branch" && edge.sourceHandle === "source";
}

function errorTypeOf(err: unknown): string {
  if (err instanceof NodeExecutionError) return err.errorType;
  if (err instanceof Error) return err.name;
  return "Error";
}

/** A child signal that also aborts after `ms`, with a timeout error naming the node. */
function withTimeout(parent: AbortSignal, ms: number, title: string): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onAbort = () => controller.abort(parent.reason);
  parent.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(
    () => controller.abort(new RunTimeoutError(`"${title}" did not finish within ${Math.round(ms / 1000)} s (node timeout).`)),
    ms,
  );
  timer.unref?.();
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(timer);
      parent.removeEventListener("abort", onAbort);
    },
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
