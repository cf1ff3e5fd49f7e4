/**
 * Reading and controlling one run: its detail, its node executions (beyond Dify), stopping
 * it by task id, and resuming its event stream. A run of another app is "not found", never
 * "forbidden", so keys cannot probe other apps' run ids.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppDeps, AppEnv } from "../http/context.js";
import { ApiError, badRequest } from "../http/errors.js";
import { defineRoute, pathParam } from "../http/route.js";
import { SSE_HEADERS, sseBody, sseFrame } from "../http/sse.js";
import type { RunRow } from "../store/types.js";
import { appKeyAuth } from "./auth.js";
import { readUserBody, USER_REQUIRED_MESSAGE } from "./run-routes.js";
import { runStreamResponse } from "./run-stream.js";
import { errorResponses, idParam, jsonContent, nodeExecutionSchema, runDetailSchema, userBodySchema } from "./schemas.js";
import { createdByOf, nodeExecution, runDetail, workflowFinishedFrame } from "./wire.js";

const runNotFound = () =>
  new ApiError(
    404,
    "not_found",
    "Workflow run not found. Check the workflow_run_id and that you use the API key of the app that ran it.",
  );

async function runOfApp(deps: AppDeps, c: Context<AppEnv>, runId: string): Promise<RunRow> {
  const run = await deps.store.getRun(runId);
  if (!run || run.appId !== c.get("app").id) throw runNotFound();
  return run;
}

export function registerRunReadRoutes(app: OpenAPIHono<AppEnv>, deps: AppDeps): void {
  const auth = appKeyAuth(deps.store, deps.now);
  const pingIntervalMs = deps.pingIntervalMs ?? 10_000;

  defineRoute(
    app,
    {
      method: "get",
      path: "/v1/workflows/run/{workflow_run_id}",
      tags: ["Workflow runs"],
      summary: "Get a run's status and result",
      security: [{ Bearer: [] }],
      request: { params: idParam("workflow_run_id", "The run's workflow_run_id.") },
      responses: { 200: jsonContent(runDetailSchema, "The run."), ...errorResponses },
    },
    auth,
    async (c) => c.json(runDetail(await runOfApp(deps, c, pathParam(c, "workflow_run_id")))),
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/v1/workflows/run/{workflow_run_id}/node-executions",
      tags: ["Workflow runs"],
      summary: "List a run's node executions (Tributary extension)",
      security: [{ Bearer: [] }],
      request: { params: idParam("workflow_run_id", "The run's workflow_run_id.") },
      responses: {
        200: jsonContent(z.object({ data: z.array(nodeExecutionSchema) }), "Node executions in start order."),
        ...errorResponses,
      },
    },
    auth,
    async (c) => {
      const run = await runOfApp(deps, c, pathParam(c, "workflow_run_id"));
      const rows = await deps.store.listNodeExecutions(run.id);
      return c.json({ data: rows.map(nodeExecution) });
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/v1/workflows/tasks/{task_id}/stop",
      tags: ["Workflow runs"],
      summary: "Stop a running run",
      description: "Answers once the run has really ended (status `stopped`), not when the stop was merely requested.",
      security: [{ Bearer: [] }],
      request: {
        params: idParam("task_id", "The task_id of the run."),
        body: { content: { "application/json": { schema: userBodySchema } }, required: true },
      },
      responses: {
        200: jsonContent(z.object({ result: z.literal("success") }), "The run is stopped (or had already ended)."),
        ...errorResponses,
      },
    },
    auth,
    async (c) => {
      await readUserBody(c, deps.config.maxBodyBytes);
      const taskId = pathParam(c, "task_id");
      const run = (await deps.store.getRunByTaskId(taskId)) ?? (await deps.store.getRun(taskId));
      if (!run || run.appId !== c.get("app").id) {
        throw new ApiError(
          404,
          "not_found",
          `Task not found: no run of this app has task_id ${taskId}. Use the task_id from the run's response.`,
        );
      }
      if (run.status === "running") await deps.runs.stop(run.taskId);
      return c.json({ result: "success" as const });
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/v1/workflow/{workflow_run_id}/events",
      tags: ["Workflow runs"],
      summary: "Resume a run's event stream",
      description:
        "Replays the run's events from the start (or after the `Last-Event-ID` header / `last_event_id` query) and follows it live " +
        "until `workflow_finished`. For a finished run without Last-Event-ID it sends the single `workflow_finished` frame, as Dify does; " +
        "add `include_state_snapshot=true` to replay everything.",
      security: [{ Bearer: [] }],
      request: {
        params: idParam("workflow_run_id", "The run's workflow_run_id."),
        query: z.object({
          user: z.string().openapi({ description: "The end user who started the run." }),
          include_state_snapshot: z.enum(["true", "false"]).optional(),
          last_event_id: z.string().optional(),
        }),
      },
      responses: {
        200: { description: "SSE stream.", content: { "text/event-stream": { schema: z.string() } } },
        ...errorResponses,
      },
    },
    auth,
    async (c) => {
      const user = (c.req.query("user") ?? "").trim();
      if (user === "") throw badRequest(USER_REQUIRED_MESSAGE, "user");
      const run = await runOfApp(deps, c, pathParam(c, "workflow_run_id"));
      const endUser = run.endUserId ? await deps.store.getEndUser(run.endUserId) : undefined;
      // Dify only resumes runs for the end user who started them.
      if (!endUser || endUser.sessionId !== user) throw runNotFound();

      const lastEventId = c.req.header("last-event-id") ?? c.req.query("last_event_id");
      let afterSeq: number | undefined;
      if (lastEventId !== undefined && lastEventId.trim() !== "") {
        // Event `n` is Redis Stream entry `n-0` in distributed mode; either spelling resumes after it.
        const id = /^(\d{1,15})(?:-0)?$/.exec(lastEventId.trim());
        if (!id) {
          throw badRequest("Last-Event-ID must be the id of an event of this stream (a whole number).", "Last-Event-ID");
        }
        afterSeq = Number(id[1]);
      }
      const replayAll = c.req.query("include_state_snapshot") === "true";
      if (run.status !== "running" && afterSeq === undefined && !replayAll) {
        const frame = workflowFinishedFrame(run, { taskId: run.taskId, runId: run.id, createdBy: createdByOf(endUser) });
        const single = (async function* () {
          yield sseFrame(frame);
        })();
        return new Response(sseBody(single, { pingIntervalMs }), { headers: { ...SSE_HEADERS, "X-Workflow-Run-ID": run.id } });
      }
      return runStreamResponse({ runs: deps.runs, store: deps.store, logger: deps.logger, pingIntervalMs }, run, {
        afterSeq: afterSeq ?? 0,
        requestSignal: c.req.raw.signal,
      });
    },
  );
}
