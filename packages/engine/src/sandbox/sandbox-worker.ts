/**
 * One sandbox worker thread seen from the pool: start-up, one run at a time, interrupt,
 * termination. It knows nothing of queues or deadlines (create-sandbox.ts owns those).
 */
import { Worker } from "node:worker_threads";
import { errorMessage, SandboxError } from "../errors.js";
import { MIB, type ResolvedSandboxOptions } from "./sandbox-options.js";
import {
  type MessageToWorker,
  type RunMessage,
  type RunResultMessage,
  type WorkerData,
  type WorkerDiagnostics,
  type WorkerMessage,
  workerMessageSchema,
} from "./worker-protocol.js";

const ENTRY = new URL("./worker/entry.mjs", import.meta.url);
/** Pyodide's interrupt buffer takes a signal number; 2 is SIGINT (KeyboardInterrupt). */
const SIGINT = 2;
const STDERR_TAIL_CHARS = 2_000;

export interface WorkerStartup {
  startupMs: number;
  /** Network requests Pyodide attempted while loading (refused; 0 expected). */
  networkAttempts: number;
}

type Waiter<T> = { resolve(value: T): void; reject(error: Error): void };

export class SandboxWorker {
  /** Resolves when both interpreters are loaded; rejects with a SandboxError otherwise. */
  readonly ready: Promise<WorkerStartup>;
  private readonly worker: Worker;
  private readonly interruptFlag: Int32Array;
  private readonly startup: Waiter<WorkerStartup>;
  private pendingRun: (Waiter<RunResultMessage> & { id: number }) | null = null;
  private pendingDiagnostics: Waiter<WorkerDiagnostics> | null = null;
  private nextId = 1;
  private exitError: SandboxError | null = null;
  private started = false;
  private crash: Error | null = null;
  private stderrTail = "";
  private readonly exited: Promise<void>;

  /**
   * @param onLost called when the worker becomes unusable outside a run: it died while idle,
   * or could not reset Python after a run. A run it was handed meanwhile never started.
   */
  constructor(
    options: ResolvedSandboxOptions,
    private readonly onLost: (error: SandboxError) => void = () => {},
  ) {
    const interruptBuffer = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
    this.interruptFlag = new Int32Array(interruptBuffer);
    const workerData: WorkerData = {
      interruptBuffer,
      wasmMemoryLimitBytes: options.memoryLimitMb * MIB,
      jsMemoryLimitBytes: options.jsMemoryLimitMb * MIB,
      jsStackLimitBytes: options.jsStackLimitKb * 1024,
      fileSystemLimitBytes: options.fileSystemLimitMb * MIB,
      maxResultChars: options.maxResultChars,
    };
    let startup: Waiter<WorkerStartup> | undefined;
    this.ready = new Promise<WorkerStartup>((resolve, reject) => {
      startup = { resolve, reject };
    });
    // Callers may never await `ready` (the pool learns of failures through its own handler).
    this.ready.catch(() => {});
    this.startup = startup as Waiter<WorkerStartup>;
    this.worker = new Worker(ENTRY, {
      name: "tributary-sandbox",
      workerData,
      // Nothing of the host's environment, arguments or loader hooks (tsx, vitest) enters.
      env: {},
      argv: [],
      execArgv: [],
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: options.workerHeapLimitMb },
    });
    this.worker.unref();
    this.worker.stdout.resume();
    this.worker.stderr.on("data", (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString("utf8")).slice(-STDERR_TAIL_CHARS);
    });
    this.worker.on("message", (raw: unknown) => this.onMessage(raw));
    this.worker.on("error", (error) => {
      this.crash = error;
    });
    this.exited = new Promise((resolve) => this.worker.once("exit", () => resolve()));
    this.exited.then(() => this.onExit());
  }

  /** Runs one request. Rejects with a SandboxError if the worker dies meanwhile. */
  run(request: Omit<RunMessage, "type" | "id">): Promise<RunResultMessage> {
    if (this.exitError) return Promise.reject(this.exitError);
    if (this.pendingRun) return Promise.reject(new SandboxError("internal: sandbox worker is already running code"));
    const id = this.nextId++;
    Atomics.store(this.interruptFlag, 0, 0);
    return new Promise((resolve, reject) => {
      this.pendingRun = { id, resolve, reject };
      this.post({ type: "run", id, ...request });
    });
  }

  /** Asks the running code to stop: KeyboardInterrupt in Python, an interrupt in QuickJS. */
  interrupt(): void {
    Atomics.store(this.interruptFlag, 0, SIGINT);
  }

  diagnostics(): Promise<WorkerDiagnostics> {
    if (this.exitError) return Promise.reject(this.exitError);
    return new Promise((resolve, reject) => {
      this.pendingDiagnostics = { resolve, reject };
      this.post({ type: "diagnostics" });
    });
  }

  /** Keeps the host process alive while this worker runs code (an idle pool must not). */
  setActive(active: boolean): void {
    if (active) this.worker.ref();
    else this.worker.unref();
  }

  async terminate(): Promise<void> {
    if (!this.exitError) await this.worker.terminate();
    await this.exited;
  }

  private post(message: MessageToWorker): void {
    this.worker.postMessage(message);
  }

  private onMessage(raw: unknown): void {
    const parsed = workerMessageSchema.safeParse(raw);
    if (!parsed.success) {
      // Only a compromised or broken worker sends something else; never trust it again.
      this.crash = new Error(`unexpected message from the sandbox worker: ${parsed.error.message}`);
      void this.worker.terminate();
      return;
    }
    this.dispatch(parsed.data);
  }

  private dispatch(message: WorkerMessage): void {
    switch (message.type) {
      case "ready":
        this.started = true;
        this.startup.resolve({ startupMs: message.startupMs, networkAttempts: message.networkAttempts });
        return;
      case "broken":
        this.onLost(new SandboxError(`the sandbox worker cannot reset Python: ${message.message}`));
        return;
      case "startup-failed":
        this.crash = new Error(message.message);
        void this.worker.terminate();
        return;
      case "result": {
        const pending = this.pendingRun;
        if (pending?.id !== message.id) return;
        this.pendingRun = null;
        pending.resolve(message);
        return;
      }
      case "diagnostics": {
        const { type: _type, ...diagnostics } = message;
        this.pendingDiagnostics?.resolve(diagnostics);
        this.pendingDiagnostics = null;
      }
    }
  }

  private onExit(): void {
    this.exitError = this.describeExit();
    this.startup.reject(new SandboxError(`The code sandbox could not start: ${this.exitError.message}`));
    if (this.started && !this.pendingRun) this.onLost(this.exitError);
    this.pendingRun?.reject(this.exitError);
    this.pendingDiagnostics?.reject(this.exitError);
    this.pendingRun = null;
    this.pendingDiagnostics = null;
  }

  private describeExit(): SandboxError {
    const crash = this.crash;
    if ((crash as { code?: unknown } | null)?.code === "ERR_WORKER_OUT_OF_MEMORY") {
      return new SandboxError("The code ran out of memory: the sandbox worker exceeded its JavaScript heap limit.", {
        cause: crash,
      });
    }
    if (crash) return new SandboxError(`the sandbox worker stopped: ${errorMessage(crash)}`, { cause: crash });
    const tail = this.stderrTail.trim().split("\n").at(-1);
    return new SandboxError(`the sandbox worker stopped${tail ? `: ${tail}` : ""}`);
  }
}
