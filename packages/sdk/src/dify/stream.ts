/**
 * A run's event stream: an `AsyncIterable` of typed frames (pings filtered out) whose run id
 * is known as soon as the response headers arrive. If the connection drops or goes silent
 * before `workflow_finished`, the stream reconnects by itself through the resume endpoint
 * with the last event id it saw, so no event is lost or repeated.
 */
import type { EventSourceMessage } from "eventsource-parser";
import {
  DifyStreamError,
  InvalidResponseError,
  NetworkError,
  RequestAbortedError,
  RequestTimeoutError,
  TributaryError,
} from "../errors.js";
import { readSse, SseIdleTimeout } from "../sse.js";
import { backoffDelay, type RetryPolicy, sleep } from "../transport.js";
import {
  type StreamErrorEvent,
  WORKFLOW_STREAM_EVENTS,
  type WorkflowFinishedData,
  type WorkflowStreamEvent,
  type WorkflowStreamEventName,
} from "./types.js";

/** One open HTTP response carrying SSE. */
export interface StreamConnection {
  body: ReadableStream<Uint8Array>;
  requestId: string;
  /** The run id from `X-Workflow-Run-ID`, when the server sent it. */
  runId: string | undefined;
  /** Unlinks the caller's signal and aborts the request. */
  close(): void;
}

export interface WorkflowStreamInit {
  first: StreamConnection;
  /** Opens the resume stream of `runId` after `lastEventId` (all events when undefined). */
  reopen: (runId: string, lastEventId: string | undefined) => Promise<StreamConnection>;
  /** Reconnect automatically after a dropped connection. */
  reconnect: boolean;
  retry: RetryPolicy;
  idleTimeoutMs: number;
  signal: AbortSignal | undefined;
  /** Stops the run (by task id, or run id, which Tributary accepts too). */
  stop: (taskOrRunId: string) => Promise<void>;
  /** Whether the server replayed an earlier run for the same Idempotency-Key. */
  replayed: boolean;
}

const KNOWN_EVENTS = new Set<string>(WORKFLOW_STREAM_EVENTS);

function isInterruption(error: unknown): boolean {
  if (error instanceof SseIdleTimeout || error instanceof NetworkError || error instanceof RequestTimeoutError) return true;
  // A body read that fails mid-way: undici throws TypeError("terminated"), browsers TypeError too.
  return error instanceof TypeError;
}

export class WorkflowStream implements AsyncIterable<WorkflowStreamEvent> {
  /** The request id of the call that opened the stream. */
  readonly requestId: string;
  /** True when an `Idempotency-Key` matched an earlier request: this is that run's stream. */
  readonly replayed: boolean;

  #runId: string;
  #connection: StreamConnection;
  #init: WorkflowStreamInit;
  #taskId: string | undefined;
  #lastEventId: string | undefined;
  #finished: WorkflowFinishedData | undefined;
  #streamError: DifyStreamError | undefined;
  #peeked: WorkflowStreamEvent[] = [];
  #source: AsyncGenerator<WorkflowStreamEvent, void, undefined>;
  #iterating = false;
  #done = false;
  #closed = false;

  private constructor(init: WorkflowStreamInit, runId: string) {
    this.#init = init;
    this.#connection = init.first;
    this.#runId = runId;
    this.requestId = init.first.requestId;
    this.replayed = init.replayed;
    this.#source = this.#frames();
  }

  /** @internal Opens the stream object; reads the first frame only when the headers lack the run id. */
  static async open(init: WorkflowStreamInit): Promise<WorkflowStream> {
    if (init.first.runId) return new WorkflowStream(init, init.first.runId);
    const stream = new WorkflowStream(init, "");
    const first = await stream.#source.next();
    if (first.done) {
      throw new InvalidResponseError("The event stream closed before its first event, so the run id is unknown.", {
        requestId: init.first.requestId,
        bodySnippet: "",
      });
    }
    stream.#peeked.push(first.value);
    stream.#runId = first.value.workflow_run_id;
    return stream;
  }

  /** The run's `workflow_run_id`: there as soon as the response headers arrived. */
  get runId(): string {
    return this.#runId;
  }

  /** The run's `task_id` (for `stop`), known after the first event. */
  get taskId(): string | undefined {
    return this.#taskId;
  }

  /** The SSE id of the last event received: pass it to `resume` to continue from there. */
  get lastEventId(): string | undefined {
    return this.#lastEventId;
  }

  /** The `workflow_finished` data, once it has been received. */
  get finished(): WorkflowFinishedData | undefined {
    return this.#finished;
  }

  [Symbol.asyncIterator](): AsyncIterator<WorkflowStreamEvent> {
    if (this.#iterating) {
      throw new TypeError("A WorkflowStream can be read only once; open another with resume(runId, {lastEventId}).");
    }
    this.#iterating = true;
    const peeked = this.#peeked;
    const source = this.#source;
    return {
      next: async () => {
        const buffered = peeked.shift();
        if (buffered) return { done: false, value: buffered };
        return source.next();
      },
      return: async () => {
        await source.return(undefined);
        return { done: true, value: undefined };
      },
    };
  }

  /**
   * Reads the rest of the stream and resolves with the `workflow_finished` data (whatever the
   * run's status: check `status`). Rejects with `DifyStreamError` on an `error` frame.
   */
  async result(): Promise<WorkflowFinishedData> {
    if (!this.#iterating) {
      for await (const _event of this) {
        // Drain: the frames are recorded as they pass.
      }
    } else if (!this.#done) {
      throw new TypeError("result() cannot be used while a for-await loop is reading the stream; use stream.finished after it.");
    }
    if (this.#streamError) throw this.#streamError;
    if (this.#finished) return this.#finished;
    throw new RequestAbortedError(`The stream of run ${this.runId} was closed before the run finished.`, {
      requestId: this.requestId,
    });
  }

  /** Closes the connection. The run goes on; `resume(runId, {lastEventId})` picks it up again. */
  close(): void {
    this.#closed = true;
    this.#connection.close();
  }

  /** Stops the run (the stream then ends with `workflow_finished`, status `stopped`). */
  async stop(): Promise<void> {
    await this.#init.stop(this.#taskId ?? this.runId);
  }

  async *#frames(): AsyncGenerator<WorkflowStreamEvent, void, undefined> {
    const init = this.#init;
    let reconnects = 0;
    try {
      for (;;) {
        try {
          for await (const message of readSse(this.#connection.body, { idleTimeoutMs: init.idleTimeoutMs })) {
            const frame = this.#parse(message);
            if (!frame) continue;
            reconnects = 0;
            yield frame;
            if (frame.event === "workflow_finished" || frame.event === "error") return;
          }
          if (this.#closed) return;
          throw new NetworkError(`The event stream of run ${this.runId || "(unknown)"} ended before the run finished.`, {
            requestId: this.#connection.requestId,
            maybeProcessed: true,
          });
        } catch (error) {
          this.#connection.close();
          if (this.#closed) return;
          if (init.signal?.aborted) {
            throw new RequestAbortedError(`Reading the stream of run ${this.runId} was cancelled.`, {
              requestId: this.#connection.requestId,
              cause: init.signal.reason,
            });
          }
          const canReconnect = init.reconnect && this.runId !== "" && isInterruption(error) && reconnects < init.retry.maxRetries;
          if (!canReconnect) throw this.#wrap(error);
          await sleep(backoffDelay(reconnects, init.retry), init.signal, this.#connection.requestId);
          reconnects++;
          this.#connection = await init.reopen(this.#runId, this.#lastEventId);
        }
      }
    } finally {
      this.#done = true;
      this.#connection.close();
    }
  }

  #parse(message: EventSourceMessage): WorkflowStreamEvent | undefined {
    if (message.event === "ping" || message.data.trim() === "") return undefined;
    let frame: { event?: unknown };
    try {
      frame = JSON.parse(message.data) as { event?: unknown };
    } catch {
      throw new InvalidResponseError(`The event stream of run ${this.runId} carried a frame that is not JSON.`, {
        requestId: this.#connection.requestId,
        bodySnippet: message.data.slice(0, 500),
      });
    }
    if (message.id !== undefined && message.id !== "") this.#lastEventId = message.id;
    // Frames this SDK version does not know are skipped, so the union stays exact.
    if (typeof frame.event !== "string" || !KNOWN_EVENTS.has(frame.event)) return undefined;
    const event = frame as WorkflowStreamEvent & { event: WorkflowStreamEventName };
    if (event.event === "workflow_finished") this.#finished = event.data;
    if (event.event === "error") this.#streamError = streamError(event, this.#connection.requestId);
    else if (this.#taskId === undefined) this.#taskId = event.task_id;
    return event;
  }

  #wrap(error: unknown): unknown {
    if (error instanceof TributaryError) return error;
    if (error instanceof SseIdleTimeout) {
      return new RequestTimeoutError(`The stream of run ${this.runId} was silent for ${error.idleTimeoutMs} ms.`, {
        requestId: this.#connection.requestId,
        timeoutMs: error.idleTimeoutMs,
        cause: error,
      });
    }
    return new NetworkError(
      `The stream of run ${this.runId} broke off: ${(error as Error)?.message ?? String(error)}. ` +
        `The run goes on: resume(runId, {lastEventId: "${this.#lastEventId ?? ""}"}) continues it.`,
      { requestId: this.#connection.requestId, maybeProcessed: true, cause: error },
    );
  }
}

function streamError(frame: StreamErrorEvent, requestId: string): DifyStreamError {
  return new DifyStreamError({ code: frame.code, message: frame.message, status: frame.status }, frame.workflow_run_id, {
    requestId,
    httpStatus: 200,
  });
}
