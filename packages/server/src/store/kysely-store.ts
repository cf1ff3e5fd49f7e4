/**
 * The one `Store` implementation, written once against Kysely (query modules in `queries/`).
 * The SQLite and PostgreSQL modules only open a connection, run their migrations and supply the
 * few `DialectHooks` where the two databases genuinely differ.
 */
import type { Kysely } from "kysely";
import type { CredentialsCipher } from "./credentials-cipher.js";
import type { Database } from "./db-schema.js";
import * as accessKeys from "./queries/access-keys.js";
import * as apiKeys from "./queries/api-keys.js";
import * as apps from "./queries/apps.js";
import * as credentials from "./queries/credentials.js";
import * as endUsers from "./queries/end-users.js";
import * as files from "./queries/files.js";
import * as openApiKeys from "./queries/open-api-keys.js";
import * as openApiRuns from "./queries/open-api-runs.js";
import * as openApiWorkflows from "./queries/open-api-workflows.js";
import * as runSteps from "./queries/run-steps.js";
import * as runs from "./queries/runs.js";
import type { DialectHooks, StoreContext } from "./queries/store-context.js";
import * as vappSessions from "./queries/vapp-sessions.js";
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
  writeRunBatches: Store["writeRunBatches"] = (batches) => runSteps.writeRunBatches(this.#ctx, batches);
  listRunEvents: Store["listRunEvents"] = (runId, options) => runSteps.listRunEvents(this.#ctx, runId, options);
  listNodeExecutions: Store["listNodeExecutions"] = (runId) => runSteps.listNodeExecutions(this.#ctx, runId);

  createFile: Store["createFile"] = (input) => files.createFile(this.#ctx, input);
  getFile: Store["getFile"] = (id) => files.getFile(this.#ctx, id);

  putCredentials: Store["putCredentials"] = (provider, values) => credentials.putCredentials(this.#ctx, provider, values);
  getCredentials: Store["getCredentials"] = (provider) => credentials.getCredentials(this.#ctx, provider);
  listCredentials: Store["listCredentials"] = () => credentials.listCredentials(this.#ctx);
  deleteCredentials: Store["deleteCredentials"] = (provider) => credentials.deleteCredentials(this.#ctx, provider);

  createOpenApiKey: Store["createOpenApiKey"] = (input) => openApiKeys.createOpenApiKey(this.#ctx, input);
  findOpenApiKeyByHash: Store["findOpenApiKeyByHash"] = (keyHash) => openApiKeys.findOpenApiKeyByHash(this.#ctx, keyHash);
  getOpenApiKeySecret: Store["getOpenApiKeySecret"] = (keyId) => openApiKeys.getOpenApiKeySecret(this.#ctx, keyId);
  listOpenApiKeys: Store["listOpenApiKeys"] = (owner) => openApiKeys.listOpenApiKeys(this.#ctx, owner);
  deleteOpenApiKey: Store["deleteOpenApiKey"] = (keyId) => openApiKeys.deleteOpenApiKey(this.#ctx, keyId);
  touchOpenApiKey: Store["touchOpenApiKey"] = (keyId, at) => openApiKeys.touchOpenApiKey(this.#ctx, keyId, at);

  createAccessKeys: Store["createAccessKeys"] = (inputs) => accessKeys.createAccessKeys(this.#ctx, inputs);
  getAccessKeys: Store["getAccessKeys"] = (owner, keys) => accessKeys.getAccessKeys(this.#ctx, owner, keys);
  findAccessKey: Store["findAccessKey"] = (key) => accessKeys.findAccessKey(this.#ctx, key);
  getAccessKeyById: Store["getAccessKeyById"] = (id) => accessKeys.getAccessKeyById(this.#ctx, id);
  listAccessKeys: Store["listAccessKeys"] = (query) => accessKeys.listAccessKeys(this.#ctx, query);
  updateAccessKeys: Store["updateAccessKeys"] = (ids, patch) => accessKeys.updateAccessKeys(this.#ctx, ids, patch);
  deleteAccessKeys: Store["deleteAccessKeys"] = (ids) => accessKeys.deleteAccessKeys(this.#ctx, ids);
  addAccessKeyApps: Store["addAccessKeyApps"] = (ids, appIds) => accessKeys.addAccessKeyApps(this.#ctx, ids, appIds);
  removeAccessKeyApps: Store["removeAccessKeyApps"] = (ids, appIds) => accessKeys.removeAccessKeyApps(this.#ctx, ids, appIds);
  consumeAccessKeyUse: Store["consumeAccessKeyUse"] = (input) => accessKeys.consumeAccessKeyUse(this.#ctx, input);
  refundAccessKeyUse: Store["refundAccessKeyUse"] = (keyId, recordId) =>
    accessKeys.refundAccessKeyUse(this.#ctx, keyId, recordId);
  setAccessKeyRecordRun: Store["setAccessKeyRecordRun"] = (recordId, runId) =>
    accessKeys.setAccessKeyRecordRun(this.#ctx, recordId, runId);
  chargeAccessKeyRecord: Store["chargeAccessKeyRecord"] = (recordId, credits) =>
    accessKeys.chargeAccessKeyRecord(this.#ctx, recordId, credits);
  listAccessKeyRecords: Store["listAccessKeyRecords"] = (ids) => accessKeys.listAccessKeyRecords(this.#ctx, ids);

  createOpenApiRun: Store["createOpenApiRun"] = (input) => openApiRuns.createOpenApiRun(this.#ctx, input);
  getOpenApiRun: Store["getOpenApiRun"] = (runId) => openApiRuns.getOpenApiRun(this.#ctx, runId);
  listOpenApiRuns: Store["listOpenApiRuns"] = (query) => openApiRuns.listOpenApiRuns(this.#ctx, query);
  deleteRun: Store["deleteRun"] = (runId) => openApiRuns.deleteRun(this.#ctx, runId);

  getOpenApiWorkflow: Store["getOpenApiWorkflow"] = (appId) => openApiWorkflows.getOpenApiWorkflow(this.#ctx, appId);
  putOpenApiWorkflow: Store["putOpenApiWorkflow"] = (appId, patch) =>
    openApiWorkflows.putOpenApiWorkflow(this.#ctx, appId, patch);
  listOpenApiApps: Store["listOpenApiApps"] = (query) => openApiWorkflows.listOpenApiApps(this.#ctx, query);
  findOrCreateDetachedVersion: Store["findOrCreateDetachedVersion"] = (input) =>
    openApiWorkflows.findOrCreateDetachedVersion(this.#ctx, input);

  createVappSession: Store["createVappSession"] = (input) => vappSessions.createVappSession(this.#ctx, input);
  getVappSession: Store["getVappSession"] = (idHash, now) => vappSessions.getVappSession(this.#ctx, idHash, now);
  deleteExpiredVappSessions: Store["deleteExpiredVappSessions"] = (now) => vappSessions.deleteExpiredVappSessions(this.#ctx, now);

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#ctx.db.destroy();
  }
}
