/**
 * The one `Store` implementation, written once against Kysely (query modules in `queries/`).
 * The SQLite and PostgreSQL modules only open a connection, run their migrations and supply the
 * few `DialectHooks` where the two databases genuinely differ.
 */
import type { Kysely } from "kysely";
import type { CredentialsCipher } from "./credentials-cipher.js";
import type { Database } from "./db-schema.js";
import * as apiKeys from "./queries/api-keys.js";
import * as apps from "./queries/apps.js";
import * as credentials from "./queries/credentials.js";
import * as endUsers from "./queries/end-users.js";
import * as files from "./queries/files.js";
import * as runSteps from "./queries/run-steps.js";
import * as runs from "./queries/runs.js";
import type { DialectHooks, StoreContext } from "./queries/store-context.js";
import type { Store } from "./types.js";

export type { DialectHooks } from "./queries/store-context.js";

export interface KyselyStoreOptions {
  cipher: CredentialsCipher;
  /** Injected so tests can control created/updated times. */
  now?: () => number;
}

export class KyselyStore implements Store {
  readonly dialect: Store["dialect"];
  readonly #ctx: StoreContext;
  #closed = false;

  constructor(db: Kysely<Database>, hooks: DialectHooks, options: KyselyStoreOptions) {
    this.dialect = hooks.dialect;
    this.#ctx = { db, hooks, cipher: options.cipher, now: options.now ?? Date.now };
  }

  createApp: Store["createApp"] = (input) => apps.createApp(this.#ctx, input);
  getApp: Store["getApp"] = (id, options) => apps.getApp(this.#ctx, id, options);
  listApps: Store["listApps"] = (query) => apps.listApps(this.#ctx, query);
  updateApp: Store["updateApp"] = (id, patch) => apps.updateApp(this.#ctx, id, patch);
  deleteApp: Store["deleteApp"] = (id) => apps.deleteApp(this.#ctx, id);

  createWorkflowVersion: Store["createWorkflowVersion"] = (input) => apps.createWorkflowVersion(this.#ctx, input);
  getWorkflowVersion: Store["getWorkflowVersion"] = (id) => apps.getWorkflowVersion(this.#ctx, id);
  listWorkflowVersions: Store["listWorkflowVersions"] = (appId) => apps.listWorkflowVersions(this.#ctx, appId);

  createApiKey: Store["createApiKey"] = (input) => apiKeys.createApiKey(this.#ctx, input);
  findApiKeyByHash: Store["findApiKeyByHash"] = (keyHash) => apiKeys.findApiKeyByHash(this.#ctx, keyHash);
  listApiKeys: Store["listApiKeys"] = (appId) => apiKeys.listApiKeys(this.#ctx, appId);
  deleteApiKey: Store["deleteApiKey"] = (appId, keyId) => apiKeys.deleteApiKey(this.#ctx, appId, keyId);
  touchApiKey: Store["touchApiKey"] = (keyId, at) => apiKeys.touchApiKey(this.#ctx, keyId, at);

  getOrCreateEndUser: Store["getOrCreateEndUser"] = (key) => endUsers.getOrCreateEndUser(this.#ctx, key);
  getEndUser: Store["getEndUser"] = (id) => endUsers.getEndUser(this.#ctx, id);

  createRun: Store["createRun"] = (input) => runs.createRun(this.#ctx, input);
  createRunIdempotent: Store["createRunIdempotent"] = (input, windowStart) =>
    runs.createRunIdempotent(this.#ctx, input, windowStart);
  getRun: Store["getRun"] = (id) => runs.getRun(this.#ctx, id);
  getRunByTaskId: Store["getRunByTaskId"] = (taskId) => runs.getRunByTaskId(this.#ctx, taskId);
  findRunByIdempotencyKey: Store["findRunByIdempotencyKey"] = (appId, key, windowStart) =>
    runs.findRunByIdempotencyKey(this.#ctx, appId, key, windowStart);
  countRunningRuns: Store["countRunningRuns"] = (appId) => runs.countRunningRuns(this.#ctx, appId);
  listRuns: Store["listRuns"] = (query) => runs.listRuns(this.#ctx, query);
  failOrphanedRuns: Store["failOrphanedRuns"] = (filter, message) => runs.failOrphanedRuns(this.#ctx, filter, message);

  writeRunBatch: Store["writeRunBatch"] = (batch) => runSteps.writeRunBatch(this.#ctx, batch);
  listRunEvents: Store["listRunEvents"] = (runId, options) => runSteps.listRunEvents(this.#ctx, runId, options);
  listNodeExecutions: Store["listNodeExecutions"] = (runId) => runSteps.listNodeExecutions(this.#ctx, runId);

  createFile: Store["createFile"] = (input) => files.createFile(this.#ctx, input);
  getFile: Store["getFile"] = (id) => files.getFile(this.#ctx, id);

  putCredentials: Store["putCredentials"] = (provider, values) => credentials.putCredentials(this.#ctx, provider, values);
  getCredentials: Store["getCredentials"] = (provider) => credentials.getCredentials(this.#ctx, provider);
  listCredentials: Store["listCredentials"] = () => credentials.listCredentials(this.#ctx);
  deleteCredentials: Store["deleteCredentials"] = (provider) => credentials.deleteCredentials(this.#ctx, provider);

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#ctx.db.destroy();
  }
}
