/**
 * One Pyodide interpreter per worker, loaded once and reused for every python3 run.
 * The harness (python-harness.py) does the Dify-style call and resets interpreter state
 * after each run; this module only moves strings across and classifies failures.
 */
import { readFileSync } from "node:fs";
import { capMemfs } from "./fs-quota.mjs";
import { loadPyodideOffline } from "./load-pyodide.mjs";

const HARNESS_SOURCE = readFileSync(new URL("./python-harness.py", import.meta.url), "utf8");

const refuse = () => {
  throw new Error("not available in the sandbox");
};

/**
 * @param {{ interrupt: Int32Array, maxResultChars: number, fileSystemLimitBytes: number }} options
 */
export async function createPythonRunner({ interrupt, maxResultChars, fileSystemLimitBytes }) {
  const discard = () => {};
  const { pyodide, networkAttempts } = await loadPyodideOffline({ stdout: discard, stderr: discard });
  // print() output is not part of a code node's result in Dify either.
  pyodide.setStdout({ batched: discard });
  pyodide.setStderr({ batched: discard });
  pyodide.setStdin({ error: true });
  pyodide.unregisterJsModule("js");
  pyodide.unregisterJsModule("pyodide_js");
  disableHostFacingApi(pyodide);
  const files = capMemfs(pyodide._module.FS, fileSystemLimitBytes);

  const namespace = pyodide.globals.get("dict")();
  pyodide.runPython(HARNESS_SOURCE, { globals: namespace, filename: "<tributary-harness>" });
  const runInPython = namespace.get("run");
  const jsReferences = namespace.get("js_references");
  const resetInPython = namespace.get("reset");
  pyodide.setInterruptBuffer(interrupt);
  /** @type {string | null} */
  let failure = null;

  return {
    networkAttempts,
    /** @returns {string[]} */
    jsReferences: () => JSON.parse(jsReferences()),
    memoryBytes: () => pyodide._module.HEAPU8.buffer.byteLength,
    fileBytes: () => files.usedBytes(),
    /**
     * Undoes what the last run changed in the interpreter. Throws (and marks the runner
     * broken) when that fails, e.g. because an interrupt meant for the run arrived late.
     */
    reset() {
      if (failure) return;
      try {
        resetInPython();
      } catch (error) {
        failure = describeHostError(error);
        throw error;
      }
    },
    /**
     * @param {string} code
     * @param {string} inputsJson
     * @returns {{ status: string, payload: string, detail: string }}
     */
    run(code, inputsJson) {
      if (failure) return { status: "fatal", payload: failure, detail: "" };
      let proxy;
      try {
        proxy = runInPython(code, inputsJson, maxResultChars);
        const [status, payload, detail] = proxy.toJs();
        return { status: String(status), payload: String(payload), detail: String(detail) };
      } catch (error) {
        // The harness catches everything the snippet raises; an exception here means the
        // interpreter itself failed (a JS exception through C frames is fatal to Pyodide,
        // a wasm stack overflow, an interrupt during the state reset), so this worker
        // must not run anything again.
        failure = describeHostError(error);
        return { status: "fatal", payload: failure, detail: "" };
      } finally {
        proxy?.destroy?.();
      }
    },
  };
}

/**
 * Pyodide API entry points that reach the host even in shell mode (node:net through
 * `initializeNodeSockFS`, file and package loading). Python cannot reach the API object
 * once `pyodide_js` is gone; this is the second line.
 * @param {any} pyodide
 */
function disableHostFacingApi(pyodide) {
  const api = pyodide._api;
  for (const name of ["initializeNodeSockFS", "loadBinaryFile", "loadDynlib", "install"]) api[name] = refuse;
  for (const name of ["loadPackage", "loadPackagesFromImports", "mountNodeFS", "mountNativeFS", "useNodeSockFS"]) {
    Object.defineProperty(pyodide, name, { value: refuse });
  }
  const filesystems = pyodide._module.FS.filesystems;
  for (const name of Object.keys(filesystems)) {
    if (name !== "MEMFS") delete filesystems[name];
  }
}

/** @param {unknown} error */
function describeHostError(error) {
  // A PythonError's message is a whole traceback; its last line names the exception.
  if (error instanceof Error) return `${error.name}: ${error.message.trim().split("\n").at(-1)}`;
  return String(error);
}
