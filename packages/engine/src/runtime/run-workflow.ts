import type { Capabilities } from "../capabilities/types.js";
import { errorMessage, isTributaryError, RunStoppedError, RunTimeoutError } from "../errors.js";
import type { EventListener, WorkflowFinishedEvent } from "../events.js";
import type { CompiledWorkflow } from "../graph/compiled-workflow.js";
import { type RunLimits, resolveLimits } from "../limits.js";
import { seedConversationVariables } from "../nodes/assigner.js";
import { ENVIRONMENT_NODE_ID, SYSTEM_NODE_ID } from "../variables/selector.js";
import { VariablePool } from "../variables/variable-pool.js";
import { type PreparedInputs, prepareInputs } from "./prepare-inputs.js";
import { RunExecution, TOP_SCOPE } from "./run-execution.js";

export interface RunWorkflowOptions {
  /** Raw inputs (validated here) or inputs already checked with `prepareInputs`. */
  inputs: Record<string, unknown> | PreparedInputs;
  /** `sys.files` references, when `inputs` are raw. */
  files?: readonly unknown[];
  caps: Capabilities;
  runId?: string;
  workflowId?: string;
  appId?: string;
  userId?: string;
  /** Overrides for environment variable values (secrets configured on the server). */
  environment?: Record<string, string | number>;
  limits?: Partial<RunLimits>;
  /** Aborting it stops the run (status `stopped`). */
  signal?: AbortSignal;
  onEvent?: EventListener;
}

export type RunResult = Omit<WorkflowFinishedEvent, "type">;

function isPrepared(inputs: RunWorkflowOptions["inputs"]): inputs is PreparedInputs {
  return typeof inputs === "object" && inputs !== null && "inputs" in inputs && "files" in inputs && Array.isArray(inputs.files);
}

/**
 * Runs a compiled workflow to its end and resolves with the outcome; never rejects for a
 * failing node (the result says `failed`). Rejects only for invalid inputs, before
 * `workflow_started` is emitted.
 */
export async function runWorkflow(workflow: CompiledWorkflow, options: RunWorkflowOptions): Promise<RunResult> {
  const { caps } = options;
  const limits = resolveLimits(options.limits);
  const prepared = isPrepared(options.inputs)
    ? options.inputs
    : await prepareInputs(workflow.startVariables, options.inputs, caps.files, options.files ?? []);
  const runId = options.runId ?? caps.ids.newId();
  const workflowId = options.workflowId ?? "";
  const listener = options.onEvent ?? (() => {});
  const execution = new RunExecution(workflow, runId, caps, limits, listener);

  const pool = new VariablePool();
  const sys: Record<string, unknown> = {
    files: prepared.files,
    user_id: options.userId ?? "",
    app_id: options.appId ?? "",
    workflow_id: workflowId,
    workflow_run_id: runId,
  };
  pool.setAll(SYSTEM_NODE_ID, sys);
  pool.setAll(ENVIRONMENT_NODE_ID, { ...workflow.environment, ...options.environment });
  pool.setAll(workflow.startNodeId, prepared.inputs);
  seedConversationVariables(pool, workflow.dsl.workflow.conversation_variables);

  const createdAt = caps.clock.now();
  const started = performance.now();
  const runInputs: Record<string, unknown> = { ...prepared.inputs };
  for (const k in sys) runInputs[`${SYSTEM_NODE_ID}.${k}`] = sys[k];
  execution.emit({ type: "workflow_started", runId, workflowId, inputs: runInputs, createdAt });

  // One controller for the run: external stop, run deadline, or failure all abort it.
  const controller = new AbortController();
  const external = options.signal;
  // A caller may abort with its own RunStoppedError (e.g. "the server shut down"); keep its message.
  const onStop = () => controller.abort(external?.reason instanceof RunStoppedError ? external.reason : new RunStoppedError());
  if (external?.aborted) onStop();
  else external?.addEventListener("abort", onStop, { once: true });
  const deadline = setTimeout(
    () =>
      controller.abort(
        new RunTimeoutError(
          `The run exceeded the maximum run time of ${Math.round(limits.maxRunTimeMs / 1000)} s and was ended.`,
        ),
      ),
    limits.maxRunTimeMs,
  );
  deadline.unref?.();

  let status: RunResult["status"] = "succeeded";
  let error: string | null = null;
  let errorCode: string | null = null;
  try {
    await execution.executeLevel(workflow.root, pool, TOP_SCOPE, controller.signal);
    if (execution.exceptionsCount > 0) status = "partial-succeeded";
  } catch (e) {
    const reason = controller.signal.aborted ? controller.signal.reason : e;
    if (reason instanceof RunStoppedError) {
      status = "stopped";
      error = reason.message;
      errorCode = reason.code;
    } else {
      status = "failed";
      error = errorMessage(e instanceof RunStoppedError ? reason : e);
      errorCode = isTributaryError(reason) ? reason.code : isTributaryError(e) ? e.code : "internal_error";
    }
  } finally {
    clearTimeout(deadline);
    external?.removeEventListener("abort", onStop);
  }

  const result: RunResult = {
    runId,
    workflowId,
    status,
    outputs: execution.outputs,
    error,
    errorCode,
    elapsedMs: performance.now() - started,
    totalTokens: execution.totalTokens,
    totalPrice: execution.totalPrice,
    currency: execution.currency,
    totalSteps: execution.steps,
    exceptionsCount: execution.exceptionsCount,
    createdAt,
    finishedAt: caps.clock.now(),
  };
  execution.emit({ type: "workflow_finished", ...result });
  return result;
}
