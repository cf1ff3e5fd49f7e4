/**
 * javascript runs in QuickJS compiled to wasm: the snippet sees only the QuickJS
 * intrinsics (no require, process, import(), timers or host objects), so escaping means
 * breaking the interpreter, not finding a forgotten global. Each run gets a fresh runtime
 * and context with its own memory and stack limits, disposed afterwards.
 */
import { newQuickJSWASMModule, RELEASE_SYNC } from "quickjs-emscripten";

const CODE_FILENAME = "code.js";

// Evaluated in the run's context after the snippet: calls main the way Dify does
// (one object argument) and serialises the result there, so only strings cross back.
// Non-finite numbers are tagged because JSON would turn them into null.
const CALL_MAIN = `(function (inputsJson) {
  if (typeof main !== "function") throw new TypeError("The code must define a function main(...).");
  return main(JSON.parse(inputsJson));
})`;
const SERIALISE = `(function (value) {
  var kind = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
  if (kind !== "object") return ["error", "main() must return an object, got " + kind + "."];
  var tagged = false;
  var json = JSON.stringify(value, function (key, v) {
    if (typeof v === "number" && !isFinite(v)) {
      tagged = true;
      return { __tributary_nonfinite__: String(v) };
    }
    return v;
  });
  return ["ok", json, tagged ? "nonfinite" : ""];
})`;
const PRELUDE = `globalThis.console = { log() {}, info() {}, warn() {}, error() {}, debug() {} };`;

/**
 * @param {{ interrupt: Int32Array, memoryLimitBytes: number, stackLimitBytes: number, maxResultChars: number }} options
 */
export async function createJavaScriptRunner({ interrupt, memoryLimitBytes, stackLimitBytes, maxResultChars }) {
  const quickjs = await newQuickJSWASMModule(RELEASE_SYNC);

  return {
    /**
     * @param {string} code
     * @param {string} inputsJson
     * @param {number} deadline epoch ms
     * @returns {{ status: string, payload: string, detail: string }}
     */
    run(code, inputsJson, deadline) {
      let interrupted = false;
      const runtime = quickjs.newRuntime({
        memoryLimitBytes,
        maxStackSizeBytes: stackLimitBytes,
        interruptHandler: () => {
          interrupted = Atomics.load(interrupt, 0) !== 0 || Date.now() > deadline;
          return interrupted;
        },
      });
      const context = runtime.newContext();
      /** @type {Array<{ dispose(): void, alive: boolean }>} */
      const handles = [];
      const keep = (/** @type {any} */ handle) => {
        handles.push(handle);
        return handle;
      };
      const fail = (/** @type {any} */ errorHandle) => {
        keep(errorHandle);
        if (interrupted) return { status: "interrupted", payload: "interrupted", detail: "" };
        const error = context.dump(errorHandle);
        const message = describeGuestError(error);
        const status = /out of memory/i.test(message) ? "memory" : "error";
        return { status, payload: message, detail: typeof error?.stack === "string" ? error.stack : "" };
      };
      try {
        for (const source of [PRELUDE, code]) {
          const evaluated = context.evalCode(source, CODE_FILENAME, { type: "global" });
          if (evaluated.error) return fail(evaluated.error);
          evaluated.value.dispose();
        }
        const callMain = evalOrThrow(context, CALL_MAIN, keep);
        const serialise = evalOrThrow(context, SERIALISE, keep);
        const called = context.callFunction(callMain, context.undefined, keep(context.newString(inputsJson)));
        if (called.error) return fail(called.error);
        let result = keep(called.value);
        if (context.typeof(result) === "object" && isPromise(context, result, keep)) {
          // async main(): there is no event loop, so only work that needs no timers can settle.
          const jobs = runtime.executePendingJobs();
          if (jobs.error) return fail(jobs.error);
          const state = context.getPromiseState(result);
          if (state.type === "pending") {
            return { status: "error", payload: "main() returned a promise that never settled.", detail: "" };
          }
          if (state.type === "rejected") return fail(state.error);
          result = keep(state.value);
        }
        const serialised = context.callFunction(serialise, context.undefined, result);
        if (serialised.error) return fail(serialised.error);
        const triple = keep(serialised.value);
        const [status, payload, detail] = [0, 1, 2].map((i) => {
          const item = keep(context.getProp(triple, i));
          return context.typeof(item) === "string" ? context.getString(item) : null;
        });
        if (status !== "ok") return { status: "error", payload: String(payload), detail: "" };
        if (payload === null) {
          return { status: "error", payload: "main() returned a value that cannot be serialised as JSON.", detail: "" };
        }
        if (payload.length > maxResultChars) {
          return {
            status: "error",
            payload: `The result of main() is too large (${payload.length} characters as JSON).`,
            detail: "",
          };
        }
        return { status, payload, detail: detail ?? "" };
      } finally {
        for (const handle of handles) if (handle.alive) handle.dispose();
        context.dispose();
        runtime.dispose();
      }
    },
  };
}

/**
 * @param {any} context
 * @param {string} source
 * @param {(handle: any) => any} keep
 */
function evalOrThrow(context, source, keep) {
  const evaluated = context.evalCode(source, "<tributary>", { type: "global" });
  if (evaluated.error) {
    const error = context.dump(evaluated.error);
    evaluated.error.dispose();
    throw new Error(`sandbox harness failed: ${describeGuestError(error)}`);
  }
  return keep(evaluated.value);
}

/**
 * @param {any} context
 * @param {any} handle
 * @param {(handle: any) => any} keep
 */
function isPromise(context, handle, keep) {
  const promiseCtor = keep(context.getProp(context.global, "Promise"));
  const check = context.callFunction(
    keep(context.getProp(keep(context.getProp(promiseCtor, "prototype")), "isPrototypeOf")),
    keep(context.getProp(promiseCtor, "prototype")),
    handle,
  );
  if (check.error) {
    keep(check.error);
    return false;
  }
  return context.dump(keep(check.value)) === true;
}

/** @param {any} error */
function describeGuestError(error) {
  if (error && typeof error === "object" && typeof error.message === "string") {
    const name = typeof error.name === "string" ? error.name : "Error";
    const line = name === "SyntaxError" && typeof error.stack === "string" ? lineOf(error.stack) : "";
    return `${name}: ${error.message}${line}`;
  }
  // `throw "text"` and other non-Error values.
  return `Uncaught ${typeof error === "string" ? error : JSON.stringify(error)}`;
}

/** @param {string} stack */
function lineOf(stack) {
  const match = new RegExp(`${CODE_FILENAME.replace(".", "\\.")}:(\\d+)`).exec(stack);
  return match ? ` (line ${match[1]})` : "";
}
