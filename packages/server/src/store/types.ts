/**
 * The storage contract the rest of the server codes against. Two implementations (SQLite and
 * PostgreSQL, see `sqlite-store.ts` / `postgres-store.ts`) pass one shared contract test suite.
 *
 * Conventions, identical in both dialects:
 * - rows are camelCase; times are epoch milliseconds (numbers); JSON columns come back parsed;
 * - "not found" is `undefined` (never an exception); constraint violations throw;
 * - ids are caller-supplied where the protocol fixes them (runs, files) and generated (UUID v4)
 *   where they are the store's business, unless the caller passes one.
 */
import type { ExecutionMetadata, NodeStatus, RunStatus } from "@tributary/engine";

export type { ExecutionMetadata, NodeStatus, RunStatus };

export type JsonObject = Record<string, unknown>;

export interface Page<T> {
  items: T[];
  /** Rows matching the filters across all pages. */
  total: number;
  page: number;
  limit: number;
  hasMore: boolean;
}

export interface PageRequest {
  /** 1-based. Default 1. */
  page?: number;
  /** Default 20; the store caps it at 1000 so a bad caller cannot load a whole table. */
  limit?: number;
}

// ---------------------------------------------------------------------------------------------
// Apps and versions

/** Dify-style icon: an emoji with a background colour, or an image (uploaded file id / URL). */
export interface AppIcon {
  type: "emoji" | "image" | "link";
  value: string;
  background: string | null;
}

export interface AppRow {
  id: string;
  name: string;
  description: string;
  tags: string[];
  icon: AppIcon | null;
  /** VectorVein `images`: cover images (URLs or file ids). */
  images: string[];
  /** Disabled apps refuse runs (Dify answers 403). */
  enabled: boolean;
  /** Max runs in state `running` at once for this app; null = no app-level limit. */
  maxConcurrency: number | null;
  /** The published version new runs use; null until the first version is created. */
  currentVersionId: string | null;
  createdAt: number;
  updatedAt: number;
  /** Soft delete: set once deleted; deleted apps are hidden from get/list/key lookup by default. */
  deletedAt: number | null;
}

export interface NewApp {
  id?: string;
  name: string;
  description?: string;
  tags?: string[];
  icon?: AppIcon | null;
  images?: string[];
  enabled?: boolean;
  maxConcurrency?: number | null;
}

export interface AppPatch {
  name?: string;
  description?: string;
  tags?: string[];
  icon?: AppIcon | null;
  images?: string[];
  enabled?: boolean;
  maxConcurrency?: number | null;
}

export interface ListAppsQuery extends PageRequest {
  /** Case-insensitive substring of the name. */
  search?: string;
  includeDeleted?: boolean;
}

export interface GetOptions {
  includeDeleted?: boolean;
}

/** Immutable once written. `id` is Dify's `workflow_id`. */
export interface WorkflowVersionRow {
  id: string;
  appId: string;
  /** 1, 2, 3 … per app, assigned by the store. */
  version: number;
  /** The normalised native DSL (Dify graph), parsed. */
  dsl: JsonObject;
  /** What the user uploaded, byte for byte, so export gives them back their own file. */
  sourceText: string;
  /** e.g. `dify-yaml`, `dify-json`, `vectorvein-json`. */
  sourceFormat: string;
  createdAt: number;
}

export interface NewWorkflowVersion {
  id?: string;
  appId: string;
  dsl: JsonObject;
  sourceText: string;
  sourceFormat: string;
}

// ---------------------------------------------------------------------------------------------
// App API keys (Dify `app-…` bearer keys). The plaintext never reaches the store.

export interface AppApiKeyRow {
  id: string;
  appId: string;
  /** Hex SHA-256 of the full token (see `hashApiKey` in `api-key-hash.ts`). */
  keyHash: string;
  /** First characters of the token, for display (`app-AbCd…`). */
  prefix: string;
  name: string | null;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface NewAppApiKey {
  id?: string;
  appId: string;
  keyHash: string;
  prefix: string;
  name?: string | null;
}

// ---------------------------------------------------------------------------------------------
// End users

export interface EndUserRow {
  id: string;
  appId: string;
  /** Dify's `user` string, unique per app. */
  sessionId: string;
  /** Dify `type`, e.g. `service_api`. */
  type: string;
  isAnonymous: boolean;
  createdAt: number;
}

export interface EndUserKey {
  appId: string;
  sessionId: string;
  /** Used only when the user does not exist yet. Default `service_api`. */
  type?: string;
  isAnonymous?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Runs

export type ResponseMode = "blocking" | "streaming" | "async";

export interface RunRow {
  /** `workflow_run_id` (= VectorVein `rid`). */
  id: string;
  /** Dify `task_id`, used to stop the run. */
  taskId: string;
  appId: string;
  /** Workflow version id. */
  workflowId: string;
  endUserId: string | null;
  status: RunStatus;
  inputs: JsonObject;
  /** null until the run finishes. */
  outputs: JsonObject | null;
  error: string | null;
  errorCode: string | null;
  responseMode: ResponseMode;
  /** Dify `triggered_from`: `app-run`, `debugging`, `open-api`, … */
  triggeredFrom: string;
  /** Process instance (embedded server or worker) executing the run; used by orphan recovery. */
  owner: string | null;
  idempotencyKey: string | null;
  /** Hash of the request body that came with the idempotency key, to reject a reused key. */
  idempotencyBodyHash: string | null;
  totalTokens: number;
  totalPrice: number;
  currency: string;
  totalSteps: number;
  exceptionsCount: number;
  elapsedMs: number;
  createdAt: number;
  finishedAt: number | null;
}

export interface NewRun {
  id: string;
  taskId: string;
  appId: string;
  workflowId: string;
  endUserId?: string | null;
  /** Default `running`. */
  status?: RunStatus;
  inputs: JsonObject;
  responseMode: ResponseMode;
  triggeredFrom: string;
  owner?: string | null;
  idempotencyKey?: string | null;
  idempotencyBodyHash?: string | null;
  createdAt: number;
}

export interface RunPatch {
  status?: RunStatus;
  outputs?: JsonObject | null;
  error?: string | null;
  errorCode?: string | null;
  totalTokens?: number;
  totalPrice?: number;
  currency?: string;
  totalSteps?: number;
  exceptionsCount?: number;
  elapsedMs?: number;
  finishedAt?: number | null;
  /** Hand the run to another process (e.g. the queue worker that picked it up). */
  owner?: string | null;
}

export interface IdempotentRunResult {
  run: RunRow;
  /** false = a run with this key already existed inside the window and is returned instead. */
  created: boolean;
}

export interface ListRunsQuery extends PageRequest {
  /** Omit to list across apps (VectorVein run records are owner-scoped, not app-scoped). */
  appId?: string;
  status?: RunStatus | RunStatus[];
  /** Case-insensitive substring of the inputs JSON, outputs JSON or error text. */
  keyword?: string;
  /** Inclusive bounds on `createdAt` (epoch ms). */
  createdBefore?: number;
  createdAfter?: number;
  /** Dify `created_by_end_user_session_id`. */
  endUserSessionId?: string;
}

/** One row of Dify's `/workflows/logs`: the run plus what its wire shape needs besides. */
export interface RunLogEntry {
  run: RunRow;
  endUser: EndUserRow | null;
  /** Version number of `run.workflowId`; null if that version row is gone. */
  workflowVersion: number | null;
}

/**
 * Which `running` runs to fail at recovery. All given conditions must hold; `{}` means every
 * running run (embedded mode: at startup, every running run belongs to a dead process).
 */
export interface OrphanFilter {
  owners?: string[];
  exceptOwners?: string[];
  /** Only runs created strictly before this time. */
  createdBefore?: number;
}

// ---------------------------------------------------------------------------------------------
// Run events and node executions

export interface NewRunEvent {
  /** Per-run sequence number assigned by the writer; unique per run, ascending. */
  seq: number;
  /** Engine event type (`node_started`, …). */
  type: string;
  /** The event as the engine emitted it (JSON-serialisable). */
  payload: unknown;
  createdAt: number;
}

export interface RunEventRow extends NewRunEvent {
  runId: string;
}

export interface NodeExecutionRow {
  /** Node execution id (engine `NodeExecutionRef.id`). */
  id: string;
  runId: string;
  nodeId: string;
  nodeType: string;
  title: string;
  index: number;
  predecessorNodeId: string | null;
  iterationId: string | null;
  iterationIndex: number | null;
  loopId: string | null;
  loopIndex: number | null;
  status: NodeStatus;
  inputs: JsonObject | null;
  processData: JsonObject | null;
  outputs: JsonObject | null;
  error: string | null;
  errorType: string | null;
  /** Number of retries so far (node_retry events). */
  retryCount: number;
  elapsedMs: number | null;
  metadata: ExecutionMetadata | null;
  createdAt: number;
  finishedAt: number | null;
}

/**
 * Full state of one node execution. Upsert by `id`: a later batch replaces every column but
 * `runId` and `createdAt`, so the writer sends the execution's complete current state.
 */
export type NodeExecutionUpsert = Omit<
  NodeExecutionRow,
  | "runId"
  | "predecessorNodeId"
  | "iterationId"
  | "iterationIndex"
  | "loopId"
  | "loopIndex"
  | "inputs"
  | "processData"
  | "outputs"
  | "error"
  | "errorType"
  | "retryCount"
  | "elapsedMs"
  | "metadata"
  | "finishedAt"
> &
  Partial<
    Pick<
      NodeExecutionRow,
      | "predecessorNodeId"
      | "iterationId"
      | "iterationIndex"
      | "loopId"
      | "loopIndex"
      | "inputs"
      | "processData"
      | "outputs"
      | "error"
      | "errorType"
      | "retryCount"
      | "elapsedMs"
      | "metadata"
      | "finishedAt"
    >
  >;

export interface RunBatch {
  runId: string;
  events: NewRunEvent[];
  nodeExecutions: NodeExecutionUpsert[];
  runPatch?: RunPatch;
}

export interface ListRunEventsOptions {
  /** Only events with `seq > afterSeq` (resume after the last one seen). */
  afterSeq?: number;
  limit?: number;
}

// ---------------------------------------------------------------------------------------------
// Files

export interface UploadedFileRow {
  id: string;
  /** null for uploads not tied to one app (VectorVein uploads are user-scoped). */
  appId: string | null;
  endUserId: string | null;
  /** Original file name. */
  name: string;
  size: number;
  /** Without the dot, lower case (`pdf`). */
  extension: string;
  mimeType: string;
  /** Where the bytes live (path relative to the files root, or object key). */
  storageKey: string;
  createdAt: number;
}

export type NewUploadedFile = Omit<UploadedFileRow, "createdAt" | "appId" | "endUserId"> & {
  appId?: string | null;
  endUserId?: string | null;
  createdAt?: number;
};

// ---------------------------------------------------------------------------------------------
// Provider credentials (encrypted at rest with AES-256-GCM)

/** Whatever a provider needs (`apiKey`, `baseUrl`, `organization`, …). */
export type ProviderCredentials = Record<string, unknown>;

/** Listing never decrypts: it shows which providers are configured, not their secrets. */
export interface ProviderCredentialInfo {
  provider: string;
  createdAt: number;
  updatedAt: number;
}

// ---------------------------------------------------------------------------------------------

export interface Store extends OpenApiStore {
  readonly dialect: "sqlite" | "postgres";

  // apps
  createApp(input: NewApp): Promise<AppRow>;
  getApp(id: string, options?: GetOptions): Promise<AppRow | undefined>;
  /** Newest first. */
  listApps(query?: ListAppsQuery): Promise<Page<AppRow>>;
  /** undefined when the app does not exist or is deleted. */
  updateApp(id: string, patch: AppPatch): Promise<AppRow | undefined>;
  /** Soft delete. false when it did not exist or was already deleted. */
  deleteApp(id: string): Promise<boolean>;

  // workflow versions
  /** Assigns the next version number and makes it the app's current version, atomically. Throws if the app is missing. */
  createWorkflowVersion(input: NewWorkflowVersion): Promise<WorkflowVersionRow>;
  getWorkflowVersion(id: string): Promise<WorkflowVersionRow | undefined>;
  /** Newest version first. */
  listWorkflowVersions(appId: string): Promise<WorkflowVersionRow[]>;

  // app API keys
  createApiKey(input: NewAppApiKey): Promise<AppApiKeyRow>;
  /** undefined when no key has this hash or its app is deleted. */
  findApiKeyByHash(keyHash: string): Promise<{ key: AppApiKeyRow; app: AppRow } | undefined>;
  /** Oldest first. */
  listApiKeys(appId: string): Promise<AppApiKeyRow[]>;
  deleteApiKey(appId: string, keyId: string): Promise<boolean>;
  touchApiKey(keyId: string, at: number): Promise<void>;

  // end users
  /** Safe under concurrency: two callers with the same (app, session) get the same row. */
  getOrCreateEndUser(key: EndUserKey): Promise<EndUserRow>;
  getEndUser(id: string): Promise<EndUserRow | undefined>;

  // runs
  createRun(input: NewRun): Promise<RunRow>;
  /**
   * Atomic "find or create" for an `Idempotency-Key`: if a run of this app with this key was
   * created at or after `windowStart`, returns it (`created: false`, compare its
   * `idempotencyBodyHash` yourself); otherwise creates `input`. Concurrent calls with the same
   * key create one run.
   */
  createRunIdempotent(
    input: NewRun & { idempotencyKey: string; idempotencyBodyHash: string },
    windowStart: number,
  ): Promise<IdempotentRunResult>;
  getRun(id: string): Promise<RunRow | undefined>;
  getRunByTaskId(taskId: string): Promise<RunRow | undefined>;
  /** Newest run of the app with this key created at or after `windowStart`. */
  findRunByIdempotencyKey(appId: string, idempotencyKey: string, windowStart: number): Promise<RunRow | undefined>;
  countRunningRuns(appId: string): Promise<number>;
  /** Newest first (createdAt, then id). */
  listRuns(query?: ListRunsQuery): Promise<Page<RunLogEntry>>;
  /**
   * Crash recovery: marks matching `running` runs (and their `running` node executions) as
   * `failed` with `message` (errorCode `orphaned`), setting finishedAt/elapsedMs. Returns the
   * number of runs failed.
   */
  failOrphanedRuns(filter: OrphanFilter, message: string): Promise<number>;

  // run steps
  /**
   * Appends events, upserts node executions and patches the run in ONE transaction: on any
   * error (duplicate seq, unknown run, …) nothing of the batch is written.
   */
  writeRunBatch(batch: RunBatch): Promise<void>;
  /**
   * `writeRunBatch` for several batches (of any runs) in ONE transaction, in the given order,
   * so they share one commit (group commit). All or nothing: if any batch fails, none of them
   * is written. Empty batches are skipped, as by `writeRunBatch`.
   */
  writeRunBatches(batches: readonly RunBatch[]): Promise<void>;
  /** Ascending seq. */
  listRunEvents(runId: string, options?: ListRunEventsOptions): Promise<RunEventRow[]>;
  /** Ascending `index`. */
  listNodeExecutions(runId: string): Promise<NodeExecutionRow[]>;

  // files
  createFile(input: NewUploadedFile): Promise<UploadedFileRow>;
  getFile(id: string): Promise<UploadedFileRow | undefined>;

  // provider credentials
  putCredentials(provider: string, values: ProviderCredentials): Promise<void>;
  /** Throws `CredentialDecryptError` when the secret key does not match. */
  getCredentials(provider: string): Promise<ProviderCredentials | undefined>;
  listCredentials(): Promise<ProviderCredentialInfo[]>;
  deleteCredentials(provider: string): Promise<boolean>;

  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// VectorVein Open API: Open API keys, VApp access keys, run ownership, workflow settings and
// VApp page sessions. Methods live in `OpenApiStore`, which `Store` extends.

/** An Open API key. The secret itself is kept encrypted (it is the AES key of VApp links). */
export interface OpenApiKeyRow {
  /** Public `key_id` (VApp links name the key that encrypted them by it). */
  id: string;
  /** Whose key it is: access keys, run records and uploads are scoped to the owner. */
  owner: string;
  name: string | null;
  /** First characters of the secret, for display. */
  prefix: string;
  /** Calls per minute; null = unlimited. */
  rateLimitPerMinute: number | null;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface NewOpenApiKey {
  id: string;
  owner: string;
  name?: string | null;
  /** The 32-character secret; stored encrypted, looked up by `keyHash`. */
  secret: string;
  keyHash: string;
  prefix: string;
  rateLimitPerMinute: number | null;
}

export type AccessKeyType = "O" | "M" | "L";
/** Stored status: AC active or IN invalidated. EX and US are derived from expiry and counters. */
export type StoredAccessKeyStatus = "AC" | "IN";
export type AccessKeyStatus = "AC" | "IN" | "EX" | "US";
export type AccessKeyScope = "S" | "M";

export interface AccessKeyRow {
  id: string;
  /** The key string end users hold (unique). */
  accessKey: string;
  owner: string;
  type: AccessKeyType;
  scope: AccessKeyScope;
  storedStatus: StoredAccessKeyStatus;
  useCount: number;
  maxUseCount: number | null;
  maxCredits: number | null;
  usedCredits: number;
  description: string;
  /** Epoch ms; null = never expires. */
  expireAt: number | null;
  /** `expire_time` exactly as the client sent it (echoed back). */
  expireTimeText: string | null;
  createdAt: number;
  lastUseAt: number | null;
  /** Apps the key opens (live apps only), in the order they were added. */
  appIds: string[];
}

export interface NewAccessKey {
  id?: string;
  accessKey: string;
  owner: string;
  type: AccessKeyType;
  scope: AccessKeyScope;
  maxUseCount: number | null;
  maxCredits: number | null;
  description: string;
  expireAt: number | null;
  expireTimeText: string | null;
  appIds: string[];
}

export interface AccessKeyPatch {
  maxUseCount?: number | null;
  maxCredits?: number | null;
  description?: string;
  expireAt?: number | null;
  expireTimeText?: string | null;
  /** Replaces the key's apps (and its scope). */
  apps?: { appIds: string[]; scope: AccessKeyScope };
}

export type AccessKeySortField = "create_time" | "expire_time" | "last_use_time" | "use_count" | "used_credits";

export interface ListAccessKeysQuery extends PageRequest {
  owner: string;
  appId?: string;
  /** Effective statuses (EX/US are computed with `now`). */
  statuses?: AccessKeyStatus[];
  type?: AccessKeyType;
  sortField?: AccessKeySortField;
  sortOrder?: "asc" | "desc";
  now: number;
}

export interface AccessKeyRecordRow {
  id: string;
  accessKeyId: string;
  runId: string;
  appId: string;
  credits: number;
  createdAt: number;
}

/** Why a use was refused (checked in this order). */
export type AccessKeyRefusal = "not_found" | "invalid" | "expired" | "not_for_app" | "used_up" | "credits_exhausted";

export type ConsumeAccessKeyResult =
  | { ok: true; key: AccessKeyRow; recordId: string }
  | { ok: false; reason: AccessKeyRefusal; key: AccessKeyRow | undefined };

export interface ConsumeAccessKeyUse {
  accessKeyId: string;
  appId: string;
  /** Credits charged up front (the per-run cost); refused if it would pass `maxCredits`. */
  credits: number;
  now: number;
}

export type OpenApiRunSource = "api" | "vapp";

/** Who started a run through the VectorVein protocol, and how its outputs are reported. */
export interface OpenApiRunRow {
  runId: string;
  owner: string;
  appId: string;
  source: OpenApiRunSource;
  apiKeyId: string | null;
  accessKeyId: string | null;
  outputScope: "all" | "output_fields_only";
  /** The input_fields as the client sent them. */
  inputFields: unknown[];
  createdAt: number;
}

export type RunRecordSortField = "start_time" | "end_time";

export interface ListOpenApiRunsQuery extends PageRequest {
  owner: string;
  appId?: string;
  statuses?: RunStatus[];
  sortField?: RunRecordSortField;
  sortOrder?: "asc" | "desc";
}

export interface OpenApiRunEntry {
  meta: OpenApiRunRow;
  run: RunRow;
  /** The app's name now (null when the app was deleted). */
  appName: string | null;
}

/** VectorVein-only settings of an app (Tributary's app row holds title, brief, tags, images). */
export interface OpenApiWorkflowRow {
  appId: string;
  language: string;
  toolCallData: JsonObject;
  sourceWorkflow: string | null;
  /** VApp cost: credits per run, plus credits per 1,000 tokens (rounded up). */
  creditsPerRun: number;
  creditsPer1kTokens: number;
  updatedAt: number;
}

export type OpenApiWorkflowPatch = Partial<Omit<OpenApiWorkflowRow, "appId" | "updatedAt">>;

export type OpenApiAppSortField = "create_time" | "update_time" | "title";

export interface ListOpenApiAppsQuery extends PageRequest {
  search?: string;
  /** Apps carrying every one of these tags. */
  tags?: string[];
  sortField?: OpenApiAppSortField;
  sortOrder?: "asc" | "desc";
}

export interface VappSessionRow {
  /** SHA-256 of the cookie value. */
  idHash: string;
  appId: string;
  accessKeyId: string;
  expiresAt: number;
  createdAt: number;
}

export interface OpenApiStore {
  // Open API keys
  createOpenApiKey(input: NewOpenApiKey): Promise<OpenApiKeyRow>;
  findOpenApiKeyByHash(keyHash: string): Promise<OpenApiKeyRow | undefined>;
  /** The key with its decrypted secret (to open VApp links it encrypted). */
  getOpenApiKeySecret(keyId: string): Promise<{ key: OpenApiKeyRow; secret: string } | undefined>;
  /** Oldest first; all owners when `owner` is omitted. */
  listOpenApiKeys(owner?: string): Promise<OpenApiKeyRow[]>;
  deleteOpenApiKey(keyId: string): Promise<boolean>;
  touchOpenApiKey(keyId: string, at: number): Promise<void>;

  // VApp access keys (all owner-scoped)
  createAccessKeys(inputs: NewAccessKey[]): Promise<AccessKeyRow[]>;
  /** Keys of `owner` among `accessKeys` (missing ones are simply absent). */
  getAccessKeys(owner: string, accessKeys: string[]): Promise<AccessKeyRow[]>;
  /** Any owner's key by its string (VApp links and access-key API auth). */
  findAccessKey(accessKey: string): Promise<AccessKeyRow | undefined>;
  getAccessKeyById(id: string): Promise<AccessKeyRow | undefined>;
  listAccessKeys(query: ListAccessKeysQuery): Promise<Page<AccessKeyRow>>;
  updateAccessKeys(ids: string[], patch: AccessKeyPatch): Promise<void>;
  deleteAccessKeys(ids: string[]): Promise<number>;
  addAccessKeyApps(ids: string[], appIds: string[]): Promise<void>;
  removeAccessKeyApps(ids: string[], appIds: string[]): Promise<void>;
  /**
   * Atomically takes one use (and `credits`) of a key for `appId`, and records it: with N
   * concurrent callers and R uses left, exactly min(N, R) succeed.
   */
  consumeAccessKeyUse(input: ConsumeAccessKeyUse): Promise<ConsumeAccessKeyResult>;
  /** Gives back a use taken by `consumeAccessKeyUse` whose run then could not start. */
  refundAccessKeyUse(accessKeyId: string, recordId: string): Promise<void>;
  /** Ties the use record to its run. */
  setAccessKeyRecordRun(recordId: string, runId: string): Promise<void>;
  /** Adds credits to a use (e.g. token costs once the run has finished). */
  chargeAccessKeyRecord(recordId: string, credits: number): Promise<void>;
  /** Newest first, grouped by key id. */
  listAccessKeyRecords(accessKeyIds: string[]): Promise<Map<string, AccessKeyRecordRow[]>>;

  // runs started through the VectorVein protocol
  createOpenApiRun(input: OpenApiRunRow): Promise<void>;
  getOpenApiRun(runId: string): Promise<OpenApiRunEntry | undefined>;
  listOpenApiRuns(query: ListOpenApiRunsQuery): Promise<Page<OpenApiRunEntry>>;
  /** Deletes the run itself (events and node executions with it). */
  deleteRun(runId: string): Promise<boolean>;

  // VectorVein workflow settings
  getOpenApiWorkflow(appId: string): Promise<OpenApiWorkflowRow | undefined>;
  putOpenApiWorkflow(appId: string, patch: OpenApiWorkflowPatch): Promise<OpenApiWorkflowRow>;
  listOpenApiApps(query: ListOpenApiAppsQuery): Promise<Page<AppRow>>;
  /**
   * A version of `appId` that is not made current (e.g. a run with node fields overridden):
   * returns the existing one with the same `sourceText` and `sourceFormat`, or creates it with
   * the next negative version number so published versions keep counting 1, 2, 3 …
   */
  findOrCreateDetachedVersion(input: NewWorkflowVersion): Promise<WorkflowVersionRow>;

  // VApp page sessions
  createVappSession(input: VappSessionRow): Promise<void>;
  /** undefined when unknown or expired at `now`. */
  getVappSession(idHash: string, now: number): Promise<VappSessionRow | undefined>;
  deleteExpiredVappSessions(now: number): Promise<number>;
}
