/**
 * `POST /v1/workflows/run` and `POST /v1/workflows/{workflow_id}/run`: Dify's run endpoint in
 * its three response modes — blocking (wait, then the result), streaming (SSE) and, beyond
 * Dify, async (202 with the ids, then poll). With an `Idempotency-Key` header a retried
 * request gets the original run back instead of starting another one.
 */
import { createHash } from "node:crypto";
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppDeps, AppEnv } from "../http/context.js";
import { ApiError, badRequest } from "../http/errors.js";
import { parseWith, readJsonBody } from "../http/request-body.js";
import { defineRoute, pathParam } from "../http/route.js";
import type { AppRow, ResponseMode, WorkflowVersionRow } from "../store/types.js";
import { appKeyAuth } from "./auth.js";
import { runStreamResponse } from "./run-stream.js";
import {
  asyncResponseSchema,
  blockingResponseSchema,
  errorResponses,
  errorSchema,
  idParam,
  jsonContent,
  runRequestSchema,
} from "./schemas.js";
import { finishedData } from "./wire.js";

const TRIGGERED_FROM = "app-run";
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export const USER_REQUIRED_MESSAGE = "Arg user must be provided.";

/** The JSON body as an object with a usable `user`, checked in Dify's order (user first). */
export async function readUserBody(
  c: Context<AppEnv>,
  maxBytes: number,
): Promise<{ body: Record<string, unknown>; user: string }> {
  const body = await readJsonBody(c, maxBytes);
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw badRequest('The request body must be a JSON object, e.g. {"inputs": {}, "user": "abc-123"}.');
  }
  const raw = (body as Record<string, unknown>)["user"];
  const user = typeof raw === "number" && Number.isFinite(raw) ? String(raw) : typeof raw === "string" ? raw.trim() : "";
  if (user === "") throw badRequest(USER_REQUIRED_MESSAGE, "user");
  if (user.length > 255) throw badRequest("user must be at most 255 characters.", "user");
  return { body: body as Record<string, unknown>, user };
}

/** Canonical JSON (sorted keys), so the same request hashes the same however it was serialised. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

async function versionToRun(deps: AppDeps, app: AppRow, workflowId: string | undefined): Promise<WorkflowVersionRow> {
  if (workflowId !== undefined) {
    const version = await deps.store.getWorkflowVersion(workflowId);
    if (!version || version.appId !== app.id) {
      throw new ApiError(
        404,
        "not_found",
        `Workflow not found with id: ${workflowId}. Use the workflow_id of one of this app's published versions (see a run's workflow_id or the admin API).`,
      );
    }
    return version;
  }
  const version = app.currentVersionId ? await deps.store.getWorkflowVersion(app.currentVersionId) : undefined;
  if (!version) {
    throw new ApiError(
      400,
      "app_unavailable",
      "App unavailable: it has no published workflow yet. Publish one with the admin API first.",
    );
  }
  return version;
}

function assertWorkflowMode(version: WorkflowVersionRow): void {
  const mode = (version.dsl["app"] as { mode?: unknown } | undefined)?.mode;
  if (mode !== undefined && mode !== "workflow") {
    throw new ApiError(
      400,
      "not_workflow_app",
      `Please check if your app mode matches the right API route: this app is a "${String(mode)}" app and /workflows/run runs "workflow" apps.`,
    );
  }
}

export function registerRunRoutes(app: OpenAPIHono<AppEnv>, deps: AppDeps): void {
  const auth = appKeyAuth(deps.store, deps.now);
  const streamDeps = { runs: deps.runs, store: deps.store, logger: deps.logger, pingIntervalMs: deps.pingIntervalMs ?? 10_000 };

  const handle = async (c: Context<AppEnv>, workflowId: string | undefined): Promise<Response> => {
    const appRow = c.get("app");
    const { body, user } = await readUserBody(c, deps.config.maxBodyBytes);
    const request = parseWith(runRequestSchema, body);
    const mode: ResponseMode = request.response_mode ?? "blocking";
    const version = await versionToRun(deps, appRow, workflowId);
    assertWorkflowMode(version);

    const key = c.req.header("idempotency-key");
    if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
      throw badRequest(
        "The Idempotency-Key header must be 1 to 255 visible ASCII characters (a UUID works well).",
        "Idempotency-Key",
      );
    }
    // The response mode is how to deliver, not what to run: a retry may switch it.
    const bodyHash = createHash("sha256")
      .update(canonical({ workflow_id: workflowId ?? null, inputs: request.inputs, files: request.files ?? [], user }))
      .digest("hex");

    // Errors (invalid inputs, concurrency, idempotency conflicts) are translated by their code in onError.
    const { run, created } = await deps.runs.start({
      app: appRow,
      version,
      inputs: request.inputs,
      files: request.files ?? [],
      user,
      responseMode: mode,
      triggeredFrom: TRIGGERED_FROM,
      ...(key !== undefined ? { idempotency: { key, bodyHash } } : {}),
    });
    const headers: Record<string, string> = { "X-Workflow-Run-ID": run.id };
    if (!created) headers["Idempotent-Replayed"] = "true";

    if (mode === "async") {
      return c.json({ task_id: run.taskId, workflow_run_id: run.id }, 202, headers);
    }
    if (mode === "streaming") {
      return runStreamResponse(streamDeps, run, { requestSignal: c.req.raw.signal, headers });
    }
    // Blocking: the run does not depend on this request; a client that leaves only stops the wait.
    let finished: Awaited<ReturnType<AppDeps["runs"]["waitForFinish"]>>;
    try {
      finished = await deps.runs.waitForFinish(run.id, c.req.raw.signal);
    } catch (error) {
      // Nobody is left to answer; the run carries on and stays readable by id.
      if (c.req.raw.signal.aborted) return new Response(null, { status: 204 });
      throw error;
    }
    return c.json({ task_id: finished.taskId, workflow_run_id: finished.id, data: finishedData(finished) }, 200, headers);
  };

  const responses = {
    200: {
      description: "blocking: the finished run; streaming: an SSE stream of run events (see the Dify docs).",
      content: {
        "application/json": { schema: blockingResponseSchema },
        "text/event-stream": {
          schema: z.string().openapi({
            description:
              "`event: ping`, then frames `id: <seq>` + `data: {event, task_id, workflow_run_id, data}`, ending after workflow_finished.",
          }),
        },
      },
    },
    202: jsonContent(asyncResponseSchema, "async: the run was accepted; poll GET /v1/workflows/run/{id}."),
    ...errorResponses,
    409: jsonContent(errorSchema, "The Idempotency-Key was used with a different body."),
    413: jsonContent(errorSchema, "The body is too large."),
    429: jsonContent(errorSchema, "Too many runs of this app in progress."),
  };
  const request = { body: { content: { "application/json": { schema: runRequestSchema } }, required: true } };

  defineRoute(
    app,
    {
      method: "post",
      path: "/v1/workflows/run",
      tags: ["Workflow runs"],
      summary: "Run the app's published workflow",
      security: [{ Bearer: [] }],
      request: { body: request.body },
      responses,
    },
    auth,
    (c) => handle(c, undefined),
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/v1/workflows/{workflow_id}/run",
      tags: ["Workflow runs"],
      summary: "Run one published version of the workflow",
      security: [{ Bearer: [] }],
      request: { params: idParam("workflow_id", "A published version's workflow_id."), body: request.body },
      responses,
    },
    auth,
    (c) => handle(c, pathParam(c, "workflow_id")),
  );
}
