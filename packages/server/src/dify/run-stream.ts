/**
 * A run's events as Dify's SSE stream. The stream reads the run service's subscription (stored
 * events first, then live ones), frames each event with its sequence number as the SSE id,
 * and ends after `workflow_finished`. The client going away only ends the subscription: the
 * run keeps going and its events stay in the store for a later resume.
 */

import { SSE_HEADERS, sseBody, sseFrame } from "../http/sse.js";
import type { Logger } from "../logger.js";
import type { RunService } from "../runs/types.js";
import type { RunRow, Store } from "../store/types.js";
import { createdByOf, errorFrame, eventToFrame, type FrameContext, workflowFinishedFrame } from "./wire.js";

export interface RunStreamDeps {
  runs: RunService;
  store: Store;
  logger: Logger;
  pingIntervalMs: number;
}

export function runStreamResponse(
  deps: RunStreamDeps,
  run: RunRow,
  options: { afterSeq?: number; requestSignal?: AbortSignal; headers?: Record<string, string> } = {},
): Response {
  const controller = new AbortController();
  const onRequestAbort = () => controller.abort();
  options.requestSignal?.addEventListener("abort", onRequestAbort, { once: true });
  const frames = generateFrames(deps, run, options.afterSeq ?? 0, controller.signal);
  const body = sseBody(frames, {
    pingIntervalMs: deps.pingIntervalMs,
    onCancel: () => {
      options.requestSignal?.removeEventListener("abort", onRequestAbort);
      controller.abort();
    },
  });
  return new Response(body, {
    status: 200,
    headers: { ...SSE_HEADERS, "X-Workflow-Run-ID": run.id, ...options.headers },
  });
}

async function* generateFrames(deps: RunStreamDeps, run: RunRow, afterSeq: number, signal: AbortSignal): AsyncGenerator<string> {
  const endUser = run.endUserId ? await deps.store.getEndUser(run.endUserId).catch(() => undefined) : undefined;
  const ctx: FrameContext = { taskId: run.taskId, runId: run.id, createdBy: createdByOf(endUser) };
  let lastSeq = afterSeq;
  try {
    for await (const { seq, event } of deps.runs.subscribe(run.id, afterSeq, signal)) {
      lastSeq = seq;
      yield sseFrame(eventToFrame(event, ctx), seq);
      if (event.type === "workflow_finished") return;
    }
  } catch (error) {
    if (signal.aborted) return;
    deps.logger.error({ err: error, runId: run.id }, "run event stream failed");
    yield sseFrame(
      errorFrame(
        run.id,
        500,
        "internal_server_error",
        `The event stream of run ${run.id} broke off: ${(error as Error).message}. The run itself is unaffected; resume with GET /v1/workflow/${run.id}/events and Last-Event-ID.`,
      ),
    );
    return;
  }
  if (signal.aborted) return;
  // Resumed after the final event: the client already has everything.
  const current = await deps.store.getRun(run.id).catch(() => undefined);
  if (current && current.status !== "running") {
    // A run ended by crash recovery never stored a workflow_finished; close the stream with one
    // built from the run row, unless the client already received the stored one.
    const tail = await deps.store.listRunEvents(run.id, { afterSeq: Math.max(0, lastSeq - 1) }).catch(() => []);
    if (!tail.some((e) => e.type === "workflow_finished")) yield sseFrame(workflowFinishedFrame(current, ctx));
    return;
  }
  yield sseFrame(
    errorFrame(
      run.id,
      500,
      "internal_server_error",
      `The event stream of run ${run.id} ended before the run finished. Poll GET /v1/workflows/run/${run.id} for its result.`,
    ),
  );
}
