/**
 * `VectorVeinClient`: VectorVein's Open API (as Tributary serves it) with an Open API key.
 * Every method of the Python SDK 0.2.1 is here under its camelCase name and with its
 * defaults, errors and client-side checks, plus the newer workflow CRUD, run records, file
 * upload and user info. Replies are `{status, msg, data}` envelopes over HTTP 200: the
 * envelope's `status` decides success (200/201/202) or the error class.
 */
import {
  AccessKeyError,
  APIKeyError,
  InvalidResponseError,
  NetworkError,
  RequestAbortedError,
  RequestError,
  RequestTimeoutError,
  TimeoutError,
  VectorVeinAPIError,
  WorkflowError,
} from "../errors.js";
import {
  type CallOptions,
  type ExchangeContext,
  type FetchLike,
  parseRetryAfter,
  type RequestPlan,
  type RetryPolicy,
  readJson,
  responseRequestId,
  sleep,
  Transport,
} from "../transport.js";
import { multipartBody, type UploadFileOptions, type UploadSource } from "../upload.js";
import type {
  AccessKey,
  AccessKeyListResponse,
  AccessKeyType,
  APIUserIdentity,
  ApiKeyType,
  Envelope,
  FileUploadResult,
  JsonObject,
  OutputScope,
  UserInfo,
  Workflow,
  WorkflowInputField,
  WorkflowListResponse,
  WorkflowOutput,
  WorkflowRunRecord,
  WorkflowRunRecordList,
  WorkflowRunResult,
} from "./types.js";
import { generateVappUrl, type VappUrlOptions } from "./vapp-url.js";

export const API_VERSION = "20240508";
const OPEN_API_PATH = "/api/v1/open-api";

export interface VectorVeinClientOptions {
  /** The Open API key (32 characters on Tributary; also the AES key of VApp links). */
  apiKey: string;
  /** The server, e.g. `http://127.0.0.1:8080` (`/api/v1/open-api` is added unless present). Default http://127.0.0.1:8080. */
  baseUrl?: string;
  /** Default key type of `runWorkflow`/`checkWorkflowStatus`. Default `WORKFLOW`. */
  apiKeyType?: ApiKeyType;
  /** Time limit of each request. Default 60 s (the Python SDK's). */
  timeoutMs?: number;
  /** Retries where safe (refused connections, envelope 429, 502/503/504 on reads). Default 2. */
  maxRetries?: number;
  retry?: Partial<Omit<RetryPolicy, "maxRetries">>;
  fetch?: FetchLike;
}

export interface RunWorkflowOptions extends CallOptions {
  /** Default `output_fields_only`. */
  outputScope?: OutputScope;
  apiKeyType?: ApiKeyType;
  /** With `waitForCompletion`: give up after this many seconds (Python's `timeout`). Default 30. */
  timeout?: number;
  /** With `waitForCompletion`: longest pause between status checks. Default 5000 ms (the Python SDK's). */
  pollIntervalMs?: number;
}

export interface CheckStatusOptions extends CallOptions {
  /** Required with `apiKeyType: "VAPP"`. */
  wid?: string;
  apiKeyType?: ApiKeyType;
}

export interface CreateAccessKeysOptions extends CallOptions {
  accessKeyType: AccessKeyType;
  appId?: string;
  appIds?: string[];
  /** Default 1. */
  count?: number;
  /** ISO 8601 or `YYYY-MM-DD HH:MM:SS`. */
  expireTime?: string;
  maxCredits?: number;
  maxUseCount?: number;
  description?: string;
}

export interface ListAccessKeysOptions extends CallOptions {
  page?: number;
  pageSize?: number;
  sortField?: string;
  sortOrder?: string;
  appId?: string;
  status?: string[];
  accessKeyType?: AccessKeyType;
}

export interface UpdateAccessKeysOptions extends CallOptions {
  accessKey?: string;
  accessKeys?: string[];
  appId?: string;
  appIds?: string[];
  expireTime?: string;
  maxUseCount?: number;
  maxCredits?: number;
  description?: string;
  /** The server refuses a change of type (it is fixed at creation). */
  accessKeyType?: AccessKeyType;
}

export interface CreateWorkflowOptions extends CallOptions {
  title?: string;
  brief?: string;
  images?: string[];
  tags?: Array<Record<string, string>>;
  /** `{nodes, edges}`: a Dify DSL graph or a VectorVein workflow. Default empty. */
  data?: JsonObject;
  language?: string;
  toolCallData?: JsonObject;
  sourceWorkflowWid?: string;
}

export interface ListWorkflowsOptions extends CallOptions {
  page?: number;
  pageSize?: number;
  tags?: string[];
  sortField?: string;
  sortOrder?: string;
  searchText?: string;
}

export interface UpdateWorkflowOptions extends CallOptions {
  title?: string;
  brief?: string;
  images?: string[];
  tags?: Array<string | JsonObject>;
  language?: string;
}

export interface ListRunRecordsOptions extends CallOptions {
  page?: number;
  pageSize?: number;
  wid?: string;
  /** e.g. `["RUNNING", "FAILED"]`. */
  status?: string[];
  sortField?: string;
  sortOrder?: string;
}

interface EnvelopeRequest extends CallOptions {
  query?: RequestPlan["query"];
  json?: JsonObject;
  apiKeyType?: ApiKeyType;
  idempotent: boolean;
}

function normaliseBaseUrl(baseUrl: string): { api: string; origin: string } {
  const trimmed = baseUrl.replace(/\/+$/, "");
  if (trimmed.endsWith(OPEN_API_PATH)) return { api: trimmed, origin: trimmed.slice(0, -OPEN_API_PATH.length) };
  return { api: trimmed + OPEN_API_PATH, origin: trimmed };
}

/** Drops undefined values, like the newer Python SDK's `_build_payload`. */
function compact(payload: Record<string, unknown>): JsonObject {
  return Object.fromEntries(Object.entries(payload).filter(([, v]) => v !== undefined));
}

function call(options: CallOptions): CallOptions {
  return {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  };
}

export class VectorVeinClient {
  static readonly API_VERSION = API_VERSION;
  /** The Open API base, e.g. `http://127.0.0.1:8080/api/v1/open-api`. */
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly apiKeyType: ApiKeyType;
  readonly #origin: string;
  readonly #transport: Transport;

  constructor(options: VectorVeinClientOptions) {
    if (typeof options?.apiKey !== "string" || options.apiKey === "") {
      throw new APIKeyError(
        "VectorVeinClient needs apiKey: an Open API key (create one with `tributary openapi-key create` or POST /api/admin/open-api-keys).",
      );
    }
    const fetchImpl = options.fetch ?? globalThis.fetch?.bind(globalThis);
    if (typeof fetchImpl !== "function") {
      throw new TypeError("No global fetch here (Node.js 18+ and browsers have one): pass options.fetch.");
    }
    const { api, origin } = normaliseBaseUrl(options.baseUrl ?? "http://127.0.0.1:8080");
    this.baseUrl = api;
    this.#origin = origin;
    this.apiKey = options.apiKey;
    this.apiKeyType = options.apiKeyType ?? "WORKFLOW";
    this.#transport = new Transport({
      baseUrl: api,
      timeoutMs: options.timeoutMs ?? 60_000,
      fetch: fetchImpl,
      retry: {
        maxRetries: options.maxRetries ?? 2,
        baseDelayMs: options.retry?.baseDelayMs ?? 500,
        maxDelayMs: options.retry?.maxDelayMs ?? 8_000,
        maxRetryAfterMs: options.retry?.maxRetryAfterMs ?? 60_000,
      },
      headers: () => ({ "VECTORVEIN-API-KEY": options.apiKey, "VECTORVEIN-API-VERSION": API_VERSION }),
    });
  }

  // -------------------------------------------------------------------------------------------
  // Transport

  async #send<T>(
    plan: RequestPlan,
    options: CallOptions,
    handle: (response: Response, ctx: ExchangeContext) => Promise<T>,
  ): Promise<T> {
    try {
      return await this.#transport.send(plan, options, handle);
    } catch (error) {
      throw asRequestError(error);
    }
  }

  /** One envelope call: the envelope on 200/201/202, else the Python SDK's error for its status. */
  #request<T = unknown>(method: "GET" | "POST", endpoint: string, request: EnvelopeRequest): Promise<Envelope<T>> {
    const keyType = request.apiKeyType ?? this.apiKeyType;
    const headers: Record<string, string> = keyType === "VAPP" ? { "VECTORVEIN-API-KEY-TYPE": "VAPP" } : {};
    let body: (() => string) | undefined;
    if (request.json !== undefined) {
      const text = JSON.stringify(request.json);
      headers["Content-Type"] = "application/json";
      body = () => text;
    }
    return this.#send(
      {
        method,
        path: `/${endpoint}`,
        headers,
        idempotent: request.idempotent,
        ...(request.query ? { query: request.query } : {}),
        ...(body ? { body } : {}),
      },
      call(request),
      (response, ctx) => readEnvelope<T>(response, ctx),
    );
  }

  // -------------------------------------------------------------------------------------------
  // Workflow runs (0.2.1)

  /** Starts a run and returns its `rid` at once. */
  runWorkflow(
    wid: string,
    inputFields: WorkflowInputField[],
    options?: RunWorkflowOptions & { waitForCompletion?: false },
  ): Promise<string>;
  /** Starts a run and polls until it finishes (or `timeout` seconds pass: `TimeoutError`). */
  runWorkflow(
    wid: string,
    inputFields: WorkflowInputField[],
    options: RunWorkflowOptions & { waitForCompletion: true },
  ): Promise<WorkflowRunResult>;
  runWorkflow(
    wid: string,
    inputFields: WorkflowInputField[],
    options?: RunWorkflowOptions & { waitForCompletion?: boolean },
  ): Promise<string | WorkflowRunResult>;
  async runWorkflow(
    wid: string,
    inputFields: WorkflowInputField[],
    options: RunWorkflowOptions & { waitForCompletion?: boolean } = {},
  ): Promise<string | WorkflowRunResult> {
    const wait = options.waitForCompletion ?? false;
    const apiKeyType = options.apiKeyType ?? this.apiKeyType;
    const payload = {
      wid,
      output_scope: options.outputScope ?? "output_fields_only",
      wait_for_completion: wait,
      input_fields: inputFields.map((f) => ({ node_id: f.node_id, field_name: f.field_name, value: f.value })),
    };
    const result = await this.#request<{ rid?: string } | WorkflowOutput[]>("POST", "workflow/run", {
      ...call(options),
      json: payload,
      apiKeyType,
      idempotent: false,
    });
    const data = result.data;
    const dataRid = data && !Array.isArray(data) && typeof data === "object" ? data.rid : undefined;
    if (!wait) {
      if (typeof dataRid !== "string") {
        throw new WorkflowError(
          "The run reply carries no data.rid; the server's answer does not follow the Open API.",
          result.status,
        );
      }
      return dataRid;
    }
    const rid = (typeof result["rid"] === "string" && result["rid"]) || dataRid || "";
    // A server that waited already answers with the outputs; the Python SDK would fetch them again.
    if (result.status === 200 && Array.isArray(data)) return { rid, status: 200, msg: result.msg, data };

    const timeout = options.timeout ?? 30;
    const longest = options.pollIntervalMs ?? 5_000;
    const started = Date.now();
    let pause = Math.min(250, longest);
    for (;;) {
      if (Date.now() - started > timeout * 1000) {
        throw new TimeoutError(`Workflow execution timed out after ${timeout} seconds`, rid);
      }
      const status = await this.checkWorkflowStatus(rid, {
        ...call(options),
        apiKeyType,
        ...(apiKeyType === "VAPP" ? { wid } : {}),
      });
      if (status.status === 200) return status;
      await sleep(pause, options.signal, null);
      pause = Math.min(longest, pause * 2);
    }
  }

  /**
   * A run's status: `status` 200 with the outputs when finished, 202 (empty `data`) while
   * running. A failed run throws `WorkflowError` with the server's message.
   */
  async checkWorkflowStatus(rid: string, options: CheckStatusOptions = {}): Promise<WorkflowRunResult> {
    const apiKeyType = options.apiKeyType ?? this.apiKeyType;
    if (apiKeyType === "VAPP" && !options.wid) {
      throw new VectorVeinAPIError("Workflow ID cannot be empty when api_key_type is 'VAPP': pass {wid}.");
    }
    let response: Envelope<WorkflowOutput[]>;
    try {
      response = await this.#request<WorkflowOutput[]>("POST", "workflow/check-status", {
        ...call(options),
        json: compact({ rid, wid: options.wid }),
        apiKeyType,
        idempotent: true,
      });
    } catch (error) {
      if (error instanceof VectorVeinAPIError && error.statusCode === 500 && !(error instanceof RequestError)) {
        throw new WorkflowError(`Workflow execution failed: ${error.message}`, 500, {
          requestId: error.requestId,
          httpStatus: error.httpStatus,
          cause: error,
        });
      }
      throw error;
    }
    return { rid, status: response.status, msg: response.msg, data: Array.isArray(response.data) ? response.data : [] };
  }

  /** Stops a run (`workflow/stop-run`); answers once it has stopped. */
  async stopWorkflowRun(rid: string, options: CallOptions = {}): Promise<{ rid: string; status: string }> {
    return (
      await this.#request<{ rid: string; status: string }>("POST", "workflow/stop-run", {
        ...call(options),
        json: { rid },
        idempotent: true,
      })
    ).data;
  }

  // -------------------------------------------------------------------------------------------
  // Access keys (0.2.1)

  /** Access keys by value (`getType: "selected"`) or all of them. */
  async getAccessKeys(
    accessKeys?: string[],
    getType: "selected" | "all" = "selected",
    options: CallOptions = {},
  ): Promise<AccessKey[]> {
    try {
      const result = await this.#request<AccessKey[]>("GET", "vapp/access-key/get", {
        ...call(options),
        query: { get_type: getType, ...(accessKeys?.length ? { access_keys: accessKeys.join(",") } : {}) },
        idempotent: true,
      });
      return result.data;
    } catch (error) {
      throw accessKeyError(error, {
        404: "Access key not found: check its value, or list the keys with listAccessKeys().",
        403: "Access key is no longer valid (expired, used up or disabled).",
      });
    }
  }

  /** Creates `count` access keys for one app (`appId`) or several (`appIds`). */
  async createAccessKeys(options: CreateAccessKeysOptions): Promise<AccessKey[]> {
    if (!["O", "M", "L"].includes(options.accessKeyType)) {
      throw new AccessKeyError(
        `Invalid access key type ${JSON.stringify(options.accessKeyType)}: it must be 'O' (one use), 'M' (multiple uses) or 'L' (long-term).`,
      );
    }
    if (options.appId && options.appIds) {
      throw new AccessKeyError("Pass either appId or appIds, not both.");
    }
    const payload: JsonObject = { access_key_type: options.accessKeyType, count: options.count ?? 1 };
    if (options.appId) payload["app_id"] = options.appId;
    if (options.appIds) payload["app_ids"] = options.appIds;
    if (options.expireTime) payload["expire_time"] = options.expireTime;
    if (options.maxCredits !== undefined) payload["max_credits"] = options.maxCredits;
    if (options.maxUseCount !== undefined) payload["max_use_count"] = options.maxUseCount;
    if (options.description) payload["description"] = options.description;
    try {
      const result = await this.#request<AccessKey[]>("POST", "vapp/access-key/create", {
        ...call(options),
        json: payload,
        idempotent: false,
      });
      return result.data;
    } catch (error) {
      throw accessKeyError(error, {
        404: "The app does not exist: check the app id (it is the app_id of the admin API).",
        403: "Not allowed to create access keys for this app with this Open API key.",
      });
    }
  }

  /** A page of access keys. */
  async listAccessKeys(options: ListAccessKeysOptions = {}): Promise<AccessKeyListResponse> {
    const payload: JsonObject = {
      page: options.page ?? 1,
      page_size: options.pageSize ?? 10,
      sort_field: options.sortField ?? "create_time",
      sort_order: options.sortOrder ?? "descend",
    };
    if (options.appId) payload["app_id"] = options.appId;
    if (options.status?.length) payload["status"] = options.status;
    if (options.accessKeyType) payload["access_key_type"] = options.accessKeyType;
    const result = await this.#request<AccessKeyListResponse>("POST", "vapp/access-key/list", {
      ...call(options),
      json: payload,
      idempotent: true,
    });
    return result.data;
  }

  /** Deletes access keys of an app. */
  async deleteAccessKeys(appId: string, accessKeys: string[], options: CallOptions = {}): Promise<void> {
    await this.#request("POST", "vapp/access-key/delete", {
      ...call(options),
      json: { app_id: appId, access_keys: accessKeys },
      idempotent: false,
    });
  }

  /** Changes limits, expiry, description or apps of access keys (not their type). */
  async updateAccessKeys(options: UpdateAccessKeysOptions): Promise<void> {
    const payload: JsonObject = {};
    if (options.accessKey) payload["access_key"] = options.accessKey;
    if (options.accessKeys) payload["access_keys"] = options.accessKeys;
    if (options.appId) payload["app_id"] = options.appId;
    if (options.appIds) payload["app_ids"] = options.appIds;
    if (options.expireTime) payload["expire_time"] = options.expireTime;
    if (options.maxUseCount !== undefined) payload["max_use_count"] = options.maxUseCount;
    if (options.maxCredits !== undefined) payload["max_credits"] = options.maxCredits;
    if (options.description) payload["description"] = options.description;
    if (options.accessKeyType) payload["access_key_type"] = options.accessKeyType;
    await this.#request("POST", "vapp/access-key/update", { ...call(options), json: payload, idempotent: true });
  }

  async addAppsToAccessKeys(accessKeys: string[], appIds: string[], options: CallOptions = {}): Promise<void> {
    await this.#request("POST", "vapp/access-key/add-apps", {
      ...call(options),
      json: { access_keys: accessKeys, app_ids: appIds },
      idempotent: true,
    });
  }

  async removeAppsFromAccessKeys(accessKeys: string[], appIds: string[], options: CallOptions = {}): Promise<void> {
    await this.#request("POST", "vapp/access-key/remove-apps", {
      ...call(options),
      json: { access_keys: accessKeys, app_ids: appIds },
      idempotent: true,
    });
  }

  /**
   * A signed link to the app's VApp page for an access key, byte-compatible with the Python
   * SDK's `generate_vapp_url`. `keyId` is the public id of this client's Open API key.
   * Unlike Python, `baseUrl` defaults to this client's server (not vectorvein.com), and a
   * trailing slash on it is dropped.
   */
  generateVappUrl(appId: string, accessKey: string, keyId: string, options: VappUrlOptions = {}): Promise<string> {
    return generateVappUrl(this.apiKey, appId, accessKey, keyId, { baseUrl: this.#origin, ...options });
  }

  // -------------------------------------------------------------------------------------------
  // Workflows (newer SDKs)

  async createWorkflow(options: CreateWorkflowOptions = {}): Promise<Workflow> {
    const payload: JsonObject = {
      title: options.title ?? "New workflow",
      brief: options.brief ?? "",
      images: options.images ?? [],
      tags: options.tags ?? [],
      data: options.data ?? { nodes: [], edges: [] },
      language: options.language ?? "zh-CN",
      tool_call_data: options.toolCallData ?? {},
    };
    if (options.sourceWorkflowWid) payload["source_workflow_wid"] = options.sourceWorkflowWid;
    return (await this.#request<Workflow>("POST", "workflow/create", { ...call(options), json: payload, idempotent: false }))
      .data;
  }

  async getWorkflow(wid: string, options: CallOptions = {}): Promise<Workflow> {
    return (await this.#request<Workflow>("POST", "workflow/get", { ...call(options), json: { wid }, idempotent: true })).data;
  }

  async listWorkflows(options: ListWorkflowsOptions = {}): Promise<WorkflowListResponse> {
    const payload = compact({
      page: options.page ?? 1,
      page_size: options.pageSize ?? 10,
      tags: options.tags,
      sort_field: options.sortField ?? "update_time",
      sort_order: options.sortOrder ?? "descend",
      search_text: options.searchText,
    });
    return (
      await this.#request<WorkflowListResponse>("POST", "workflow/list", { ...call(options), json: payload, idempotent: true })
    ).data;
  }

  /** New `data` is published as a new version; pass undefined to change only title, brief, images, tags or language. */
  async updateWorkflow(wid: string, data: JsonObject | undefined, options: UpdateWorkflowOptions = {}): Promise<Workflow> {
    const payload = compact({
      wid,
      data,
      title: options.title,
      brief: options.brief,
      images: options.images,
      tags: options.tags,
      language: options.language,
    });
    return (await this.#request<Workflow>("POST", "workflow/update", { ...call(options), json: payload, idempotent: true })).data;
  }

  async deleteWorkflow(wid: string, options: CallOptions = {}): Promise<void> {
    await this.#request("POST", "workflow/delete", { ...call(options), json: { wid }, idempotent: false });
  }

  // -------------------------------------------------------------------------------------------
  // Run records (newer SDKs)

  async listWorkflowRunRecords(options: ListRunRecordsOptions = {}): Promise<WorkflowRunRecordList> {
    const payload = compact({
      page: options.page ?? 1,
      page_size: options.pageSize ?? 10,
      wid: options.wid,
      status: options.status,
      sort_field: options.sortField ?? "start_time",
      sort_order: options.sortOrder ?? "descend",
    });
    return (
      await this.#request<WorkflowRunRecordList>("POST", "workflow/run-record/list", {
        ...call(options),
        json: payload,
        idempotent: true,
      })
    ).data;
  }

  async getWorkflowRunRecord(rid: string, options: CallOptions = {}): Promise<WorkflowRunRecord> {
    return (
      await this.#request<WorkflowRunRecord>("POST", "workflow/run-record/get", {
        ...call(options),
        json: { rid },
        idempotent: true,
      })
    ).data;
  }

  async stopWorkflowRunRecord(rid: string, options: CallOptions = {}): Promise<{ rid: string; status: string }> {
    return (
      await this.#request<{ rid: string; status: string }>("POST", "workflow/run-record/stop", {
        ...call(options),
        json: { rid },
        idempotent: true,
      })
    ).data;
  }

  async deleteWorkflowRunRecord(rid: string, options: CallOptions = {}): Promise<void> {
    await this.#request("POST", "workflow/run-record/delete", { ...call(options), json: { rid }, idempotent: false });
  }

  // -------------------------------------------------------------------------------------------
  // Files and user (newer SDKs)

  /** Uploads a file; pass the result's `oss_path` as a file input value. */
  async uploadFile(source: UploadSource, options: UploadFileOptions & CallOptions = {}): Promise<FileUploadResult> {
    const multipart = await multipartBody(source, {}, options);
    const result = await this.#send(
      {
        method: "POST",
        path: "/file-upload/upload",
        headers: multipart.headers,
        body: multipart.body,
        idempotent: false,
        replayable: multipart.replayable,
        streamingBody: multipart.streaming,
      },
      call(options),
      (response, ctx) => readEnvelope<FileUploadResult>(response, ctx),
    );
    return result.data;
  }

  /** The Open API key owner's profile. */
  async getUserInfo(options: CallOptions = {}): Promise<UserInfo> {
    const result = await this.#request<UserInfo>("GET", "user-info/get", { ...call(options), idempotent: true });
    if (typeof result.data !== "object" || result.data === null) {
      throw new VectorVeinAPIError("Invalid API response for user info", result.status);
    }
    return result.data;
  }

  /** Checks the key and returns whom it belongs to. */
  async validateApiKey(options: CallOptions = {}): Promise<APIUserIdentity> {
    const result = await this.#request<Partial<APIUserIdentity>>("GET", "user/validate-api-key", {
      ...call(options),
      idempotent: true,
    });
    if (typeof result.data !== "object" || result.data === null) {
      throw new VectorVeinAPIError("Invalid API response for user identity", result.status);
    }
    return { user_id: String(result.data.user_id ?? ""), username: String(result.data.username ?? "") };
  }
}

/** Reads an envelope; throws APIKeyError (401/403) or VectorVeinAPIError for other non-success statuses. */
async function readEnvelope<T>(response: Response, ctx: ExchangeContext): Promise<Envelope<T>> {
  const parsed = (await readJson(response, ctx)) as Partial<Envelope<T>> & { message?: unknown };
  const requestId = responseRequestId(response, ctx.requestId);
  if (typeof parsed !== "object" || parsed === null || typeof parsed.status !== "number") {
    throw new InvalidResponseError(
      `The answer of ${ctx.url} (HTTP ${response.status}) is not an Open API envelope {status, msg, data}. Check the base URL.`,
      { httpStatus: response.status, requestId, bodySnippet: JSON.stringify(parsed).slice(0, 500) },
    );
  }
  const status = parsed.status;
  // Tributary's own errors (e.g. an unknown route) say `message`; envelopes say `msg`.
  const msg = typeof parsed.msg === "string" ? parsed.msg : typeof parsed.message === "string" ? parsed.message : "Unknown error";
  const context = { httpStatus: response.status, requestId };
  if (status === 401 || status === 403) {
    throw new APIKeyError(msg || "API key is invalid or expired", status, context);
  }
  if (status !== 200 && status !== 201 && status !== 202) {
    const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
    throw new VectorVeinAPIError(msg, status, { ...context, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
  }
  return { ...parsed, status, msg: typeof parsed.msg === "string" ? parsed.msg : "", data: parsed.data as T };
}

/** Transport failures become the Python SDK's RequestError (with the original as `cause`). */
function asRequestError(error: unknown): unknown {
  if (error instanceof VectorVeinAPIError) return error;
  const context = (e: { requestId: string | null; httpStatus: number | null }) => ({
    requestId: e.requestId,
    httpStatus: e.httpStatus,
    cause: error,
  });
  if (error instanceof RequestAbortedError)
    return new RequestError(`Request failed: ${error.message}`, "aborted", context(error));
  if (error instanceof RequestTimeoutError)
    return new RequestError(`Request failed: ${error.message}`, "timeout", context(error));
  if (error instanceof NetworkError) return new RequestError(`Request failed: ${error.message}`, "network", context(error));
  if (error instanceof InvalidResponseError) {
    return new RequestError(`Request failed: ${error.message}`, "invalid_response", context(error));
  }
  return error;
}

/** The Python SDK's AccessKeyError mapping of 404/403 for access-key calls. */
function accessKeyError(error: unknown, messages: { 404: string; 403: string }): unknown {
  if (!(error instanceof VectorVeinAPIError) || error instanceof RequestError) return error;
  const status = error.statusCode;
  if (status === 404 || status === 403) {
    return new AccessKeyError(`${messages[status]} (server: ${error.message})`, status, {
      requestId: error.requestId,
      httpStatus: error.httpStatus,
      cause: error,
    });
  }
  return error;
}
