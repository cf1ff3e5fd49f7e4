/**
 * Entry of one sandbox worker thread: loads both interpreters, locks the realm down, then
 * runs one request at a time for the pool (sandbox-worker.ts). Messages are described by
 * worker-protocol.ts, which validates everything coming back.
 *
 * Plain JavaScript on purpose. The app runs the engine under tsx and the tests under
 * vitest; a `.ts` entry would need tsx's loader inside the worker, and vitest's transform
 * does not reach worker threads at all. The pool also starts workers with an empty
 * execArgv so that no loader hook of the host runs next to untrusted code. An `.mjs` file
 * loads under plain Node in every case. (tsc does not copy it to dist/; the package runs
 * from src/.)
 */
import { parentPort, workerData } from "node:worker_threads";
import { createJavaScriptRunner } from "./javascript-runner.mjs";
import { leakedHostGlobals, lockDownRealm } from "./lockdown.mjs";
import { capWasmMemory } from "./memory-cap.mjs";
import { createPythonRunner } from "./python-runner.mjs";

/**
 * @typedef {{ interruptBuffer: SharedArrayBuffer, wasmMemoryLimitBytes: number, jsMemoryLimitBytes: number,
 *   jsStackLimitBytes: number, fileSystemLimitBytes: number, maxResultChars: number }} WorkerOptions
 */

const port = parentPort;
if (!port) throw new Error("entry.mjs must run in a worker thread");
const options = /** @type {WorkerOptions} */ (workerData);
const interrupt = new Int32Array(options.interruptBuffer);

async function start() {
  const startedAt = performance.now();
  capWasmMemory(options.wasmMemoryLimitBytes);
  const javascript = await createJavaScriptRunner({
    interrupt,
    memoryLimitBytes: options.jsMemoryLimitBytes,
    stackLimitBytes: options.jsStackLimitBytes,
    maxResultChars: options.maxResultChars,
  });
  const python = await createPythonRunner({
    interrupt,
    maxResultChars: options.maxResultChars,
    fileSystemLimitBytes: options.fileSystemLimitBytes,
  });
  lockDownRealm();
  return { javascript, python, startupMs: performance.now() - startedAt };
}

/**
 * @param {Awaited<ReturnType<typeof start>>} runners
 * @param {any} message
 */
function handle({ javascript, python }, message) {
  if (message?.type === "diagnostics") {
    return {
      type: "diagnostics",
      leakedGlobals: leakedHostGlobals(),
      pythonJsReferences: python.jsReferences(),
      networkAttempts: python.networkAttempts(),
      memoryBytes: python.memoryBytes(),
      fileBytes: python.fileBytes(),
    };
  }
  if (message?.type !== "run") return null;
  let outcome;
  try {
    outcome =
      message.language === "python3"
        ? python.run(message.code, message.inputsJson)
        : javascript.run(message.code, message.inputsJson, message.deadline);
  } catch (error) {
    outcome = { status: "fatal", payload: error instanceof Error ? error.message : String(error), detail: "" };
  }
  return { type: "result", id: message.id, ...outcome, memoryBytes: python.memoryBytes() };
}

/**
 * The Python state reset runs after the reply, so a caller never waits for it; a run that
 * arrives meanwhile waits in the port's queue. If it fails the worker says so and the pool
 * replaces it before giving it more work.
 * @param {Awaited<ReturnType<typeof start>>} runners
 */
function resetPython(runners) {
  // Any interrupt still set was meant for the run that just ended.
  Atomics.store(interrupt, 0, 0);
  try {
    runners.python.reset();
  } catch (error) {
    port.postMessage({ type: "broken", message: error instanceof Error ? error.message : String(error) });
  }
}

start().then(
  (runners) => {
    port.on("message", (message) => {
      const reply = handle(runners, message);
      if (reply) port.postMessage(reply);
      if (reply?.type === "result" && message.language === "python3" && reply.status !== "fatal") resetPython(runners);
    });
    port.postMessage({ type: "ready", startupMs: runners.startupMs, networkAttempts: runners.python.networkAttempts() });
  },
  (error) => {
    port.postMessage({ type: "startup-failed", message: error instanceof Error ? error.message : String(error) });
  },
);
