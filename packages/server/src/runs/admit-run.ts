import { randomUUID } from "node:crypto";
import { type Capabilities, type Clock, type CompiledWorkflow, type PreparedInputs, prepareInputs } from "@tributary/engine";
import type { AppRow, EndUserRow, NewRun, RunRow, Store } from "../store/types.js";
import { IdempotencyConflictError } from "./errors.js";
import { runInputs } from "./run-inputs.js";
import type { StartedRun, StartRunRequest } from "./types.js";
import type { WorkflowCache } from "./workflow-cache.js";

export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

/** Gives back a run slot; safe to call more than once. */
export type Release = () => void;

export interface AdmitRunDeps {
  store: Store;
  clock: Clock;
  workflows: WorkflowCache;
  capabilitiesFor(app: AppRow): Capabilities;
  /** Recorded as the new run's `owner`. */
  owner: string;
  /**
   * Takes a run slot for `runId` of `app` or throws TooManyRunsError. Called after the inputs
   * are validated and before the row exists, so a refused run leaves nothing behind.
   */
  acquire(app: AppRow, runId: string): Release | Promise<Release>;
}

export interface AdmittedRun {
  run: RunRow;
  compiled: CompiledWorkflow;
  caps: Capabilities;
  prepared: PreparedInputs;
  endUser: EndUserRow;
  release: Release;
}

export type Admission = { replayed: StartedRun; admitted?: undefined } | { admitted: AdmittedRun; replayed?: undefined };

/**
 * The part of `start` every run service shares: an idempotent replay is answered before a
 * slot is taken (a replay must not be refused by the concurrency limit), then inputs are
 * checked against the start node (throws InputValidationError), a slot is taken, and the run
 * row is created. What happens next (execute here, or enqueue) is the caller's.
 */
export async function admitRun(deps: AdmitRunDeps, request: StartRunRequest): Promise<Admission> {
  const { store, clock } = deps;
  const { app, version, idempotency } = request;
  const compiled = deps.workflows.get(version);
  const caps = deps.capabilitiesFor(app);
  const now = clock.now();
  const windowStart = now - IDEMPOTENCY_WINDOW_MS;
  if (idempotency) {
    const existing = await store.findRunByIdempotencyKey(app.id, idempotency.key, windowStart);
    if (existing) return { replayed: replayed(existing, idempotency) };
  }
  const prepared = await prepareInputs(compiled.startVariables, request.inputs, caps.files, request.files ?? []);
  const id = randomUUID();
  const release = await deps.acquire(app, id);
  try {
    const endUser = await store.getOrCreateEndUser({ appId: app.id, sessionId: request.user });
    const newRun: NewRun = {
      id,
      taskId: randomUUID(),
      appId: app.id,
      workflowId: version.id,
      endUserId: endUser.id,
      inputs: runInputs(prepared, { user_id: endUser.sessionId, app_id: app.id, workflow_id: version.id, workflow_run_id: id }),
      responseMode: request.responseMode,
      triggeredFrom: request.triggeredFrom,
      owner: deps.owner,
      createdAt: now,
    };
    let run: RunRow;
    if (idempotency) {
      const result = await store.createRunIdempotent(
        { ...newRun, idempotencyKey: idempotency.key, idempotencyBodyHash: idempotency.bodyHash },
        windowStart,
      );
      if (!result.created) {
        release();
        return { replayed: replayed(result.run, idempotency) };
      }
      run = result.run;
    } else {
      run = await store.createRun(newRun);
    }
    return { admitted: { run, compiled, caps, prepared, endUser, release } };
  } catch (error) {
    release();
    throw error;
  }
}

function replayed(existing: RunRow, idempotency: { key: string; bodyHash: string }): StartedRun {
  if (existing.idempotencyBodyHash !== idempotency.bodyHash) throw new IdempotencyConflictError(idempotency.key, existing.id);
  return { run: existing, created: false };
}
