/**
 * `DifyWorkflowClient`: Dify's Workflow App API (as Tributary serves it) with an app key.
 * Runs are sent with an `Idempotency-Key`, so a retried run request gets the same run back
 * instead of starting a second one; reads and stops are retried as they are idempotent.
 */
import {
  DifyApiError,
  DifyAuthenticationError,
  type DifyErrorBody,
  InvalidResponseError,
  RunWaitTimeoutError,
  type TributaryError,
} from "../errors.js";
import {
  type CallOptions,
  type ExchangeContext,
  type FetchLike,
  newRequestId,
  parseRetryAfter,
  type RequestPlan,
  type RetryPolicy,
  readJson,
  responseRequestId,
  sleep,
  Transport,
} from "../transport.js";
import { multipartBody, type UploadFileOptions, type UploadSource } from "../upload.js";
import { type StreamConnection, WorkflowStream } from "./stream.js";
import type {
  AppInfo,
  AppParameters,
  AppSite,
  AsyncRunResponse,
  BlockingRunResponse,
  FileInput,
  JsonObject,
  LogsPage,
  LogsQuery,
  NodeExecution,
  RunDetail,
  UploadedFile,
} from "./types.js";

export const DEFAULT_BASE_URL = "http://127.0.0.1:8080";

export interface DifyWorkflowClientOptions {
  /** The app's API key (`app-…`); it names the app. */
  apiKey: string;
  /** The server, e.g. `http://127.0.0.1:8080` (`/v1` is added unless the URL ends with it). Default http://127.0.0.1:8080. */
  baseUrl?: string;
  /** Time limit of each request, until its answer is read (streams: until the headers). Default 60 s. */
  timeoutMs?: number;
  /** Time limit of a blocking `run` and of `waitForRun`. Default 21 min (the server's 20 min run limit plus a minute). */
  runTimeoutMs?: number;
  /** Retries of a failed request where retrying is safe. Default 2. */
  maxRetries?: number;
  /** Backoff tuning (first delay, longest delay, longest Retry-After honoured). */
  retry?: Partial<Omit<RetryPolicy, "maxRetries">>;
  /** A stream silent (no event, no ping) this long is treated as broken and resumed. Default 60 s. */
  streamIdleTimeoutMs?: number;
  /** Default end user (`user`) for calls that do not pass one. */
  user?: string;
  /** Custom fetch (e.g. with a proxy). Default: the global fetch. */
  fetch?: FetchLike;
}

export interface RunOptions extends CallOptions {
  /** The end user; required here or in the client options (Dify identifies end users by it). */
  user?: string;
  /** `sys.files`: files sent alongside the inputs. */
  files?: FileInput[];
  /** Run this published version (`workflow_id`) instead of the app's current one. */
  workflowId?: string;
  /** Default: a fresh UUID per call, which makes the call's own retries safe. Reuse one to dedupe across calls. */
  idempotencyKey?: string;
}

export interface StreamOptions extends RunOptions {
  /** Reconnect through the resume endpoint if the connection drops. Default true. */
  reconnect?: boolean;
}

export interface ResumeOptions extends CallOptions {
  user?: string;
  /** Continue after this event (the stream's `lastEventId`); without it, a finished run sends only `workflow_finished`. */
  lastEventId?: string;
  /** Replay every event from the start, even for a finished run. */
  includeStateSnapshot?: boolean;
  reconnect?: boolean;
}

export interface WaitOptions {
  signal?: AbortSignal;
  /** Give up (RunWaitTimeoutError) after this long. Default: the client's runTimeoutMs. */
  maxWaitMs?: number;
  /** Longest pause between polls (they start at 200 ms and double). Default 2 s. */
  pollIntervalMs?: number;
}

export interface UploadOptions extends CallOptions, UploadFileOptions {
  user?: string;
}

export interface UserOptions extends CallOptions {
  user?: string;
}

function normaliseBaseUrl(baseUrl: string): string {
  const trimmed = baseUrl.replace(/\/+$/, "");
  return /\/v1$/.test(trimmed) ? trimmed : `${trimmed}/v1`;
}

function isDifyErrorBody(value: unknown): value is DifyErrorBody {
  const v = value as Partial<DifyErrorBody> | null;
  return typeof v === "object" && v !== null && typeof v.code === "string" && typeof v.message === "string";
}

/** The error for a non-2xx answer: Dify's body when there is one, else what came instead. */
async function errorFromResponse(response: Response, ctx: ExchangeContext): Promise<TributaryError> {
  const text = await response.text().catch(() => "");
  const requestId = responseRequestId(response, ctx.requestId);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (isDifyErrorBody(body)) {
    const status = typeof body.status === "number" ? body.status : response.status;
    const Cls = response.status === 401 || response.status === 403 ? DifyAuthenticationError : DifyApiError;
    const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
    return new Cls(
      { ...body, status },
      { httpStatus: response.status, requestId, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) },
    );
  }
  return new InvalidResponseError(
    `HTTP ${response.status} from ${ctx.url} without a Dify error body: ${JSON.stringify(text.slice(0, 200))}. ` +
      "Check that the base URL points at a Tributary (or Dify) server.",
    { httpStatus: response.status, requestId, bodySnippet: text.slice(0, 500) },
  );
}

async function jsonOrError<T>(response: Response, ctx: ExchangeContext): Promise<T> {
  if (!response.ok) throw await errorFromResponse(response, ctx);
  return (await readJson(response, ctx)) as T;
}

export class DifyWorkflowClient {
  readonly baseUrl: string;
  readonly #transport: Transport;
  readonly #options: DifyWorkflowClientOptions;
  readonly #runTimeoutMs: number;
  readonly #idleTimeoutMs: number;

  constructor(options: DifyWorkflowClientOptions) {
    if (typeof options?.apiKey !== "string" || options.apiKey.trim() === "") {
      throw new TypeError(
        "DifyWorkflowClient needs apiKey: the app's API key (app-…), created with `tributary key create APP_ID` or the admin API.",
      );
    }
    const fetchImpl = options.fetch ?? globalThis.fetch?.bind(globalThis);
    if (typeof fetchImpl !== "function") {
      throw new TypeError("No global fetch here (Node.js 18+ and browsers have one): pass options.fetch.");
    }
    this.#options = options;
    this.baseUrl = normaliseBaseUrl(options.baseUrl ?? DEFAULT_BASE_URL);
    this.#runTimeoutMs = options.runTimeoutMs ?? 21 * 60_000;
    this.#idleTimeoutMs = options.streamIdleTimeoutMs ?? 60_000;
    this.#transport = new Transport({
      baseUrl: this.baseUrl,
      timeoutMs: options.timeoutMs ?? 60_000,
      fetch: fetchImpl,
      retry: {
        maxRetries: options.maxRetries ?? 2,
        baseDelayMs: options.retry?.baseDelayMs ?? 500,
        maxDelayMs: options.retry?.maxDelayMs ?? 8_000,
        maxRetryAfterMs: options.retry?.maxRetryAfterMs ?? 60_000,
      },
      headers: () => ({ Authorization: `Bearer ${options.apiKey}` }),
    });
  }

  #user(user: string | undefined, method: string): string {
    const chosen = user ?? this.#options.user;
    if (chosen === undefined || String(chosen).trim() === "") {
      throw new TypeError(
        `${method}() needs an end user: pass {user: "…"} or set user in the DifyWorkflowClient options (Dify identifies end users by it).`,
      );
    }
    return chosen;
  }

  #runPlan(inputs: JsonObject, options: RunOptions, mode: "blocking" | "streaming" | "async", method: string): RequestPlan {
    const body = {
      inputs,
      user: this.#user(options.user, method),
      response_mode: mode,
      ...(options.files ? { files: options.files } : {}),
    };
    const text = JSON.stringify(body);
    return {
      method: "POST",
      path: options.workflowId ? `/workflows/${encodeURIComponent(options.workflowId)}/run` : "/workflows/run",
      headers: { "Content-Type": "application/json", "Idempotency-Key": options.idempotencyKey ?? newRequestId() },
      body: () => text,
      // The Idempotency-Key makes a repeated request return the same run.
      idempotent: true,
    };
  }

  /** Runs the workflow and waits for the result (`response_mode: "blocking"`). */
  run(inputs: JsonObject, options: RunOptions = {}): Promise<BlockingRunResponse> {
    const plan = this.#runPlan(inputs, options, "blocking", "run");
    return this.#transport.send<BlockingRunResponse>(
      plan,
      { ...options, timeoutMs: options.timeoutMs ?? this.#runTimeoutMs },
      jsonOrError,
    );
  }

  /**
   * Runs the workflow and streams its events. Resolves when the response headers arrive,
   * with `runId` set; iterate the result for the events.
   */
  async stream(inputs: JsonObject, options: StreamOptions = {}): Promise<WorkflowStream> {
    const user = this.#user(options.user, "stream");
    const plan = this.#runPlan(inputs, { ...options, user }, "streaming", "stream");
    const { connection, replayed } = await this.#openStream(plan, options);
    return this.#wrapStream(connection, replayed, user, options);
  }

  /** Resumes a run's event stream (e.g. after a disconnect) from `lastEventId`. */
  async resume(runId: string, options: ResumeOptions = {}): Promise<WorkflowStream> {
    const user = this.#user(options.user, "resume");
    const { connection } = await this.#openStream(
      this.#resumePlan(runId, user, options.lastEventId, options.includeStateSnapshot),
      options,
    );
    return this.#wrapStream(connection, false, user, options);
  }

  #resumePlan(runId: string, user: string, lastEventId: string | undefined, snapshot: boolean | undefined): RequestPlan {
    return {
      method: "GET",
      path: `/workflow/${encodeURIComponent(runId)}/events`,
      query: { user, ...(snapshot ? { include_state_snapshot: "true" } : {}) },
      headers: lastEventId !== undefined ? { "Last-Event-ID": lastEventId } : {},
      idempotent: true,
    };
  }

  #wrapStream(
    first: StreamConnection,
    replayed: boolean,
    user: string,
    options: CallOptions & { reconnect?: boolean },
  ): Promise<WorkflowStream> {
    return WorkflowStream.open({
      first,
      replayed,
      reconnect: options.reconnect ?? true,
      retry: this.#transport.config.retry,
      idleTimeoutMs: this.#idleTimeoutMs,
      signal: options.signal,
      reopen: async (runId, lastEventId) => {
        // Without an event id, replay everything: the caller has seen nothing it could miss twice.
        const plan = this.#resumePlan(runId, user, lastEventId, lastEventId === undefined);
        return (await this.#openStream(plan, options)).connection;
      },
      stop: async (taskOrRunId) => {
        await this.stop(taskOrRunId, { user, ...(options.signal ? { signal: options.signal } : {}) });
      },
    });
  }

  #openStream(plan: RequestPlan, call: CallOptions): Promise<{ connection: StreamConnection; replayed: boolean }> {
    return this.#transport.send(plan, call, async (response, ctx) => {
      if (!response.ok) throw await errorFromResponse(response, ctx);
      const type = response.headers.get("content-type") ?? "";
      if (!/^text\/event-stream/i.test(type) || !response.body) {
        const text = await response.text().catch(() => "");
        throw new InvalidResponseError(`Expected an event stream from ${ctx.url} but got ${type || "no content type"}.`, {
          httpStatus: response.status,
          requestId: responseRequestId(response, ctx.requestId),
          bodySnippet: text.slice(0, 500),
        });
      }
      const close = ctx.detach();
      return {
        connection: {
          body: response.body,
          requestId: responseRequestId(response, ctx.requestId),
          runId: response.headers.get("x-workflow-run-id") ?? undefined,
          close,
        },
        replayed: response.headers.get("idempotent-replayed") === "true",
      };
    });
  }

  /** Starts the run and returns at once (HTTP 202, Tributary's `response_mode: "async"`). */
  runAsync(inputs: JsonObject, options: RunOptions = {}): Promise<AsyncRunResponse> {
    return this.#transport.send<AsyncRunResponse>(this.#runPlan(inputs, options, "async", "runAsync"), options, jsonOrError);
  }

  /** Polls `getRun` until the run is no longer `running`, and returns it. */
  async waitForRun(runId: string, options: WaitOptions = {}): Promise<RunDetail> {
    const deadline = Date.now() + (options.maxWaitMs ?? this.#runTimeoutMs);
    const longest = options.pollIntervalMs ?? 2_000;
    let pause = Math.min(200, longest);
    for (;;) {
      const run = await this.getRun(runId, options.signal ? { signal: options.signal } : {});
      if (run.status !== "running") return run;
      if (Date.now() + pause > deadline) {
        throw new RunWaitTimeoutError(
          `Run ${runId} was still running after ${options.maxWaitMs ?? this.#runTimeoutMs} ms; it goes on. Wait again, or stop it with stop().`,
          runId,
        );
      }
      await sleep(pause, options.signal, null);
      pause = Math.min(longest, pause * 2);
    }
  }

  /** A run's status and result. */
  getRun(runId: string, options: CallOptions = {}): Promise<RunDetail> {
    return this.#transport.send<RunDetail>(
      { method: "GET", path: `/workflows/run/${encodeURIComponent(runId)}`, idempotent: true },
      options,
      jsonOrError,
    );
  }

  /** The run's node executions, in start order (Tributary extension). */
  async nodeExecutions(runId: string, options: CallOptions = {}): Promise<NodeExecution[]> {
    const page = await this.#transport.send<{ data: NodeExecution[] }>(
      { method: "GET", path: `/workflows/run/${encodeURIComponent(runId)}/node-executions`, idempotent: true },
      options,
      jsonOrError,
    );
    return page.data;
  }

  /**
   * Stops a run by its `task_id` (Tributary also accepts the run id). Resolves once the run
   * has really ended (status `stopped`, or whatever it had already ended with).
   */
  stop(taskId: string, options: UserOptions = {}): Promise<{ result: "success" }> {
    const text = JSON.stringify({ user: this.#user(options.user, "stop") });
    return this.#transport.send<{ result: "success" }>(
      {
        method: "POST",
        path: `/workflows/tasks/${encodeURIComponent(taskId)}/stop`,
        headers: { "Content-Type": "application/json" },
        body: () => text,
        idempotent: true,
      },
      options,
      jsonOrError,
    );
  }

  /**
   * Uploads a file for use as a file input (`{type, transfer_method: "local_file",
   * upload_file_id: file.id}`): a Blob or File, a ReadableStream, or in Node.js a file path.
   */
  async uploadFile(source: UploadSource, options: UploadOptions = {}): Promise<UploadedFile> {
    const user = options.user ?? this.#options.user;
    const multipart = await multipartBody(source, user !== undefined ? { user } : {}, options);
    return this.#transport.send<UploadedFile>(
      {
        method: "POST",
        path: "/files/upload",
        headers: multipart.headers,
        body: multipart.body,
        // A second upload would store a second copy; only a refused or never-sent request is repeated.
        idempotent: false,
        replayable: multipart.replayable,
        streamingBody: multipart.streaming,
      },
      options,
      jsonOrError,
    );
  }

  /** The app's runs, newest first, with Dify's filters and paging. */
  logs(query: LogsQuery = {}, options: CallOptions = {}): Promise<LogsPage> {
    const iso = (value: string | Date | undefined) => (value instanceof Date ? value.toISOString() : value);
    return this.#transport.send<LogsPage>(
      {
        method: "GET",
        path: "/workflows/logs",
        query: {
          keyword: query.keyword,
          status: query.status,
          page: query.page,
          limit: query.limit,
          created_at__before: iso(query.createdAtBefore),
          created_at__after: iso(query.createdAtAfter),
          created_by_end_user_session_id: query.endUserSessionId,
        },
        idempotent: true,
      },
      options,
      jsonOrError,
    );
  }

  /** The app's name, description and tags. */
  info(options: CallOptions = {}): Promise<AppInfo> {
    return this.#transport.send<AppInfo>({ method: "GET", path: "/info", idempotent: true }, options, jsonOrError);
  }

  /** The app's input form and upload limits. */
  parameters(options: CallOptions = {}): Promise<AppParameters> {
    return this.#transport.send<AppParameters>({ method: "GET", path: "/parameters", idempotent: true }, options, jsonOrError);
  }

  /** The app's web-app settings (title, icon, description). */
  site(options: CallOptions = {}): Promise<AppSite> {
    return this.#transport.send<AppSite>({ method: "GET", path: "/site", idempotent: true }, options, jsonOrError);
  }
}
