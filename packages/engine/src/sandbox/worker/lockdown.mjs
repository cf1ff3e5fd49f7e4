/**
 * Hardens this worker's JavaScript realm once both interpreters are loaded.
 *
 * Python in Pyodide can obtain JavaScript objects through the FFI (`pyodide.ffi.to_js`,
 * `create_proxy`, ctypes calling `emscripten_run_script`), and from any function object
 * `.constructor` leads to `Function`. So the realm itself must be harmless:
 * - no code from strings: `eval`, `Function` and the async/generator function
 *   constructors throw, which also removes the only way to write `import(...)`;
 * - no host objects on the global: `process` was never restored after loading, and
 *   network and cross-thread globals are removed here;
 * - no stack introspection hook to recover functions from frames.
 * Loading Pyodide in shell mode (load-pyodide.mjs) removed the Node modules it would
 * otherwise hold in closures (child_process, net, fs).
 */

const HOST_GLOBALS = [
  "process",
  "require",
  "module",
  "exports",
  "fetch",
  "Request",
  "Response",
  "Headers",
  "FormData",
  "WebSocket",
  "EventSource",
  "XMLHttpRequest",
  "BroadcastChannel",
  "navigator",
  "importScripts",
  "read",
  "readbuffer",
  "load",
];

export function lockDownRealm() {
  const refuse = () => {
    throw new EvalError("code generation from strings is disabled in the sandbox");
  };
  // `x instanceof Function` must keep working for Pyodide's own checks.
  Object.defineProperty(refuse, "prototype", { value: Function.prototype });
  const functionPrototypes = [
    Function.prototype,
    Object.getPrototypeOf(async () => {}),
    Object.getPrototypeOf(function* () {}),
    Object.getPrototypeOf(async function* () {}),
  ];
  for (const proto of functionPrototypes) {
    Object.defineProperty(proto, "constructor", { value: refuse, writable: false, configurable: false });
  }
  for (const name of ["eval", "Function"]) {
    Object.defineProperty(globalThis, name, { value: refuse, writable: false, configurable: false, enumerable: false });
  }
  for (const name of HOST_GLOBALS) {
    if (Object.getOwnPropertyDescriptor(globalThis, name)?.configurable) {
      delete globalThis[/** @type {keyof typeof globalThis} */ (name)];
    }
  }
  Object.defineProperty(Error, "prepareStackTrace", { value: undefined, writable: false, configurable: false });
}

/** What the tests check from inside the worker: names still reachable that should not be. */
export function leakedHostGlobals() {
  const leaked = HOST_GLOBALS.filter((name) => name in globalThis);
  try {
    Function.prototype.constructor("return 1");
    leaked.push("Function constructor");
  } catch {}
  try {
    // biome-ignore lint/security/noGlobalEval: checks that eval is disabled.
    globalThis.eval("1");
    leaked.push("eval");
  } catch {}
  return leaked;
}
