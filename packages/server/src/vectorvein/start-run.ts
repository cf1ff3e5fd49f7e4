/**
 * Starting a run through VectorVein's protocol, shared by the Open API and the VApp page:
 * the run service runs it; this records who started it (run records are the owner's) and, for
 * a run through an access key, takes one of the key's uses first — atomically, so concurrent
 * runs never pass the key's limits — gives it back if the run cannot start, and charges the
 * run's token cost once it has finished.
 */
import type { AppDeps } from "../http/context.js";
import { DEFAULT_OPEN_API_WORKFLOW } from "../store/queries/open-api-workflows.js";
import type { AccessKeyRefusal, AccessKeyRow, AppRow, OpenApiWorkflowRow, RunRow, WorkflowVersionRow } from "../store/types.js";
import { tokenCredits } from "./wire.js";

export interface OpenApiRunRequest {
  app: AppRow;
  version: WorkflowVersionRow;
  inputs: Record<string, unknown>;
  owner: string;
  source: "api" | "vapp";
  apiKeyId: string | null;
  /** Runs through a VApp access key take one of its uses. */
  accessKey: AccessKeyRow | null;
  outputScope: "all" | "output_fields_only";
  inputFields: unknown[];
  responseMode: "blocking" | "async";
}

/** A use of an access key was refused; `reason` says why (the caller words it for its audience). */
export class AccessKeyRefusedError extends Error {
  readonly reason: AccessKeyRefusal;
  constructor(reason: AccessKeyRefusal) {
    super(accessKeyRefusalMessage(reason));
    this.name = "AccessKeyRefusedError";
    this.reason = reason;
  }
}

export function accessKeyRefusalMessage(reason: AccessKeyRefusal): string {
  switch (reason) {
    case "not_found":
      return "This access key does not exist (it may have been deleted). Ask the app's owner for a new one.";
    case "invalid":
      return "This access key has been invalidated. Ask the app's owner for a new one.";
    case "expired":
      return "This access key has expired. Ask the app's owner for a new one.";
    case "not_for_app":
      return "This access key does not open this app. Use a key made for it.";
    case "used_up":
      return "This access key has been used up: it has no runs left. Ask the app's owner for a new one.";
    case "credits_exhausted":
      return "This access key has not enough credits left for another run. Ask the app's owner to raise its max_credits or for a new key.";
  }
}

export async function workflowSettings(deps: AppDeps, appId: string): Promise<OpenApiWorkflowRow> {
  return (await deps.store.getOpenApiWorkflow(appId)) ?? { appId, ...DEFAULT_OPEN_API_WORKFLOW, toolCallData: {}, updatedAt: 0 };
}

/** The end user a run is recorded under (Dify's logs show it). */
export function endUserOf(request: Pick<OpenApiRunRequest, "owner" | "accessKey">): string {
  return request.accessKey ? `vapp:${request.accessKey.id}` : `vectorvein:${request.owner}`;
}

export async function startOpenApiRun(deps: AppDeps, request: OpenApiRunRequest): Promise<RunRow> {
  const now = deps.now ?? Date.now;
  let use: { recordId: string; settings: OpenApiWorkflowRow } | undefined;
  if (request.accessKey) {
    const settings = await workflowSettings(deps, request.app.id);
    const taken = await deps.store.consumeAccessKeyUse({
      accessKeyId: request.accessKey.id,
      appId: request.app.id,
      credits: settings.creditsPerRun,
      now: now(),
    });
    if (!taken.ok) throw new AccessKeyRefusedError(taken.reason);
    use = { recordId: taken.recordId, settings };
  }
  let run: RunRow;
  try {
    ({ run } = await deps.runs.start({
      app: request.app,
      version: request.version,
      inputs: request.inputs,
      user: endUserOf(request),
      responseMode: request.responseMode,
      triggeredFrom: request.source === "vapp" ? "vapp" : "open-api",
    }));
  } catch (error) {
    // The run never started (bad inputs, concurrency limit, shutdown): the use is given back.
    if (use && request.accessKey) await deps.store.refundAccessKeyUse(request.accessKey.id, use.recordId).catch(() => {});
    throw error;
  }
  await deps.store.createOpenApiRun({
    runId: run.id,
    owner: request.owner,
    appId: request.app.id,
    source: request.source,
    apiKeyId: request.apiKeyId,
    accessKeyId: request.accessKey?.id ?? null,
    outputScope: request.outputScope,
    inputFields: request.inputFields,
    createdAt: run.createdAt,
  });
  if (use) {
    const { recordId, settings } = use;
    await deps.store.setAccessKeyRecordRun(recordId, run.id);
    // Not awaited: the token cost is known only at the end; the caller answers now.
    deps.runs
      .waitForFinish(run.id)
      .then((finished) => deps.store.chargeAccessKeyRecord(recordId, tokenCredits(finished.totalTokens, settings)))
      .catch((error: unknown) =>
        deps.logger.warn({ err: error, runId: run.id }, "could not charge the token credits of a VApp run to its access key"),
      );
  }
  return run;
}
