/**
 * The code sandbox: a pool of warm worker threads (sandbox-worker.ts), a FIFO queue, and
 * per-run deadlines and aborts. A run that overstays is interrupted; if its worker does
 * not come back within the grace period, or the interpreter broke, or it ran out of
 * memory, the worker is terminated and a fresh one started in its place.
 */
import { z } from "zod";
import type { SandboxCapability, SandboxRequest } from "../capabilities/types.js";
import { errorMessage, SandboxError } from "../errors.js";
import { decodeResult } from "./decode-result.js";
import { MemoryWatchdog } from "./memory-watchdog.js";
import { MIB, type ResolvedSandboxOptions, resolveSandboxOptions, type SandboxOptions } from "./sandbox-options.js";
import { SandboxWorker } from "./sandbox-worker.js";
import type { RunResultMessage } from "./worker-protocol.js";

export type Sandbox = SandboxCapability & {
  /** Stops every worker; pending and later runs fail with a SandboxError. */
  close(): Promise<void>;
  /**
   * Resolves once every worker that is starting has loaded (a server can wait for it before
   * taking traffic); rejects with the start-up error when no worker could start.
   */
  ready(): Promise<void>;
};

const requestSchema = z.object({
  language: z.enum(["python3", "javascript"]),
  code: z.string(),
  inputs: z.record(z.string(), z.unknown()),
  timeoutMs: z.number().positive().finite(),
});

/** A worker that ends a run above this share of its memory limit is replaced. */
const RECYCLE_MEMORY_SHARE = 0.75;
const RETRY_START_MS = { first: 1_000, max: 30_000 };
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Room above a run's own limits for a replacement worker starting meanwhile (~120 MB). */
const GROWTH_SLACK_MB = 256;

interface Job {
  request: SandboxRequest;
  inputsJson: string;
  signal: AbortSignal;
  settled: boolean;
  resolve(value: Record<string, unknown>): void;
  reject(error: Error): void;
  onAbort(): void;
  deadline?: ReturnType<typeof setTimeout>;
}

interface Slot {
  worker: SandboxWorker;
  state: "starting" | "idle" | "busy" | "failed";
  job: Job | null;
  /** Set while a stopped run is given time to unwind before the worker is terminated. */
  grace?: ReturnType<typeof setTimeout>;
  retry?: ReturnType<typeof setTimeout>;
  startFailures: number;
  /** When the slot last became idle (performance.now()). */
  freedAt: number;
  /** Runs the current worker has answered. */
  runs: number;
}

export function createSandbox(options?: SandboxOptions): Sandbox {
  return new SandboxPool(resolveSandboxOptions(options));
}

class SandboxPool implements Sandbox {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private readonly terminations = new Set<Promise<void>>();
  private closed = false;
  private startupError: SandboxError | null = null;
  private readonly watchdog: MemoryWatchdog<Slot>;

  constructor(private readonly options: ResolvedSandboxOptions) {
    const budgetMb =
      options.processGrowthLimitMb ??
      options.memoryLimitMb + options.workerHeapLimitMb + options.fileSystemLimitMb + GROWTH_SLACK_MB;
    this.watchdog = new MemoryWatchdog<Slot>(budgetMb * MIB, (slots, grown) => {
      const error = new SandboxError(
        `The code ran out of memory: the process grew by ${Math.ceil(grown / MIB)} MB while it ran, more than the ${budgetMb} MB the sandbox allows per run.`,
      );
      for (const slot of slots) {
        if (slot.job) this.settle(slot.job, error);
        this.replace(slot);
      }
    });
    for (let i = 0; i < options.poolSize; i++) {
      const slot: Slot = { worker: this.spawn(), state: "starting", job: null, startFailures: 0, freedAt: 0, runs: 0 };
      this.slots.push(slot);
      this.watchStartup(slot);
    }
  }

  run(request: SandboxRequest, signal: AbortSignal): Promise<Record<string, unknown>> {
    const parsed = requestSchema.safeParse(request);
    if (!parsed.success) return Promise.reject(new SandboxError(`invalid sandbox request: ${parsed.error.message}`));
    if (this.closed) return Promise.reject(new SandboxError("The code sandbox is closed."));
    if (signal.aborted) return Promise.reject(abortError(signal));
    if (this.slots.every((s) => s.state === "failed") && this.startupError) return Promise.reject(this.startupError);
    let inputsJson: string;
    try {
      inputsJson = JSON.stringify(parsed.data.inputs, (_key, value: unknown) => (value === undefined ? null : value));
    } catch (e) {
      return Promise.reject(new SandboxError(`The inputs cannot be passed to the code: ${errorMessage(e)}`));
    }
    return new Promise((resolve, reject) => {
      const job: Job = {
        request: parsed.data,
        inputsJson,
        signal,
        settled: false,
        resolve,
        reject,
        onAbort: () => this.abort(job),
      };
      signal.addEventListener("abort", job.onAbort, { once: true });
      this.queue.push(job);
      this.pump();
    });
  }

  async ready(): Promise<void> {
    for (;;) {
      const starting = this.slots.filter((s) => s.state === "starting").map((s) => s.worker.ready);
      if (starting.length === 0) break;
      await Promise.allSettled(starting);
    }
    if (this.slots.every((s) => s.state === "failed") && this.startupError) throw this.startupError;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watchdog.close();
    const error = new SandboxError("The code sandbox was closed.");
    for (const job of this.queue.splice(0)) this.settle(job, error);
    for (const slot of this.slots) {
      if (slot.job) this.settle(slot.job, error);
      clearTimeout(slot.grace);
      clearTimeout(slot.retry);
      this.terminate(slot.worker);
    }
    await Promise.all(this.terminations);
  }

  private spawn(): SandboxWorker {
    const worker: SandboxWorker = new SandboxWorker(this.options, () => this.lost(worker));
    return worker;
  }

  /** The worker became unusable between runs; a job it was just handed has not started. */
  private lost(worker: SandboxWorker): void {
    const slot = this.slots.find((s) => s.worker === worker);
    if (!slot || this.closed) return;
    const job = slot.job;
    if (job && !job.settled) {
      clearTimeout(job.deadline);
      this.queue.unshift(job);
    }
    slot.job = null;
    this.replace(slot);
  }

  private watchStartup(slot: Slot): void {
    const worker = slot.worker;
    worker.ready.then(
      () => {
        if (slot.worker !== worker || this.closed) return;
        slot.state = "idle";
        slot.startFailures = 0;
        this.pump();
      },
      (error: SandboxError) => {
        if (slot.worker !== worker || this.closed) return;
        this.startFailed(slot, error);
      },
    );
  }

  private startFailed(slot: Slot, error: SandboxError): void {
    slot.state = "failed";
    slot.startFailures++;
    this.startupError = error;
    if (this.slots.every((s) => s.state === "failed")) {
      for (const job of this.queue.splice(0)) this.settle(job, error);
    }
    const delay = Math.min(RETRY_START_MS.first * 2 ** (slot.startFailures - 1), RETRY_START_MS.max);
    slot.retry = setTimeout(() => this.replace(slot), delay);
    slot.retry.unref();
  }

  private pump(): void {
    // Least recently used first: a worker that just answered is still resetting Python.
    const idle = this.slots.filter((s) => s.state === "idle").sort((a, b) => a.freedAt - b.freedAt);
    for (const slot of idle) {
      const job = this.queue.shift();
      if (!job) return;
      this.start(slot, job);
    }
  }

  private start(slot: Slot, job: Job): void {
    const { language, code } = job.request;
    // setTimeout fires at once for delays beyond 2^31 − 1 ms.
    const timeoutMs = Math.min(job.request.timeoutMs, MAX_TIMER_MS);
    slot.state = "busy";
    slot.job = job;
    slot.worker.setActive(true);
    this.watchdog.watch(slot);
    job.deadline = setTimeout(
      () => this.stop(slot, job, new SandboxError(`Code execution timed out after ${timeoutMs} ms.`)),
      timeoutMs,
    );
    const worker = slot.worker;
    worker.run({ language, code, inputsJson: job.inputsJson, deadline: Date.now() + timeoutMs }).then(
      (result) => {
        if (slot.worker === worker) this.finished(slot, job, result);
      },
      (error: SandboxError) => {
        if (slot.worker !== worker) return;
        this.settle(job, error);
        this.replace(slot);
      },
    );
  }

  private finished(slot: Slot, job: Job, result: RunResultMessage): void {
    if (!job.settled) {
      if (result.status === "interrupted" && job.request.language === "javascript") {
        // QuickJS checks the deadline itself and may stop a moment before our timer fires.
        this.settle(job, new SandboxError(`Code execution timed out after ${job.request.timeoutMs} ms.`));
      } else if (result.status === "interrupted") {
        // The pool had not interrupted this run: the snippet raised KeyboardInterrupt itself.
        this.settle(job, new SandboxError("KeyboardInterrupt"));
      } else {
        const outcome = decodeResult(result, job.request.language, this.options);
        if (outcome.ok) this.settle(job, null, outcome.value);
        else this.settle(job, outcome.error);
      }
    }
    clearTimeout(slot.grace);
    slot.grace = undefined;
    slot.job = null;
    this.watchdog.release(slot);
    // A Python MemoryError leaves the interpreter near its ceiling and wasm memory never
    // shrinks; QuickJS frees its whole runtime after every run, so it needs no recycling.
    const pythonOutOfMemory = result.status === "memory" && job.request.language === "python3";
    const memoryLimit = this.options.memoryLimitMb * MIB;
    slot.runs++;
    const worn = this.options.maxRunsPerWorker !== undefined && slot.runs >= this.options.maxRunsPerWorker;
    if (result.status === "fatal" || pythonOutOfMemory || result.memoryBytes > memoryLimit * RECYCLE_MEMORY_SHARE || worn) {
      this.replace(slot);
      return;
    }
    slot.state = "idle";
    slot.freedAt = performance.now();
    slot.worker.setActive(false);
    this.pump();
  }

  /** Deadline or abort of a running job: fail it now, then let the worker unwind or replace it. */
  private stop(slot: Slot, job: Job, error: Error): void {
    if (job.settled) return;
    this.settle(job, error);
    if (slot.job !== job) return;
    slot.worker.interrupt();
    slot.grace = setTimeout(() => {
      if (slot.job === job) this.replace(slot);
    }, this.options.interruptGraceMs);
  }

  private abort(job: Job): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.settle(job, abortError(job.signal));
      return;
    }
    const slot = this.slots.find((s) => s.job === job);
    if (slot) this.stop(slot, job, abortError(job.signal));
  }

  private replace(slot: Slot): void {
    if (slot.job) this.settle(slot.job, new SandboxError("the sandbox worker was replaced while running the code"));
    slot.job = null;
    this.watchdog.release(slot);
    clearTimeout(slot.grace);
    clearTimeout(slot.retry);
    slot.grace = undefined;
    slot.retry = undefined;
    this.terminate(slot.worker);
    if (this.closed) return;
    slot.worker = this.spawn();
    slot.state = "starting";
    slot.runs = 0;
    this.watchStartup(slot);
  }

  private terminate(worker: SandboxWorker): void {
    const done = worker.terminate().finally(() => this.terminations.delete(done));
    this.terminations.add(done);
  }

  private settle(job: Job, error: Error | null, value?: Record<string, unknown>): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.deadline);
    job.signal.removeEventListener("abort", job.onAbort);
    if (error) job.reject(error);
    else job.resolve(value ?? {});
  }
}

function abortError(signal: AbortSignal): SandboxError {
  return new SandboxError("Code execution was aborted.", { cause: signal.reason });
}
