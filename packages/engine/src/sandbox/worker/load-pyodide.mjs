/**
 * Loads Pyodide from node_modules with Node.js invisible to it.
 *
 * In Node mode Pyodide wires `child_process` into `os.system`, real TCP sockets into
 * `socket`, NODEFS into the file system and a `globalThis.require` returning fs and
 * child_process. None of that can be switched off by an option, so we load it in its
 * "shell" mode instead: `process` is removed from the global object while the two modules
 * evaluate (both decide their environment once, at evaluation), and the three files it
 * needs are served from memory through the shell hooks `read`/`readbuffer`. Nothing is
 * fetched; any attempt to is counted and refused.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

const ASSETS = ["pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"];

/**
 * @param {{ stdout: (text: string) => void, stderr: (text: string) => void }} io
 * @returns {Promise<{ pyodide: any, networkAttempts: () => number }>}
 */
export async function loadPyodideOffline(io) {
  const require = createRequire(import.meta.url);
  const dir = `${dirname(require.resolve("pyodide/package.json"))}/`;
  /** @type {Map<string, Buffer>} */
  const assets = new Map(ASSETS.map((name) => [dir + name, readFileSync(join(dir, name))]));
  const asset = (/** @type {string} */ path) => {
    const bytes = assets.get(path);
    if (!bytes) throw new Error(`the sandbox does not serve ${path}`);
    return bytes;
  };

  let attempts = 0;
  const refuseNetwork = () => {
    attempts++;
    throw new Error("network access is disabled in the sandbox");
  };
  const getRandomValues = globalThis.crypto.getRandomValues.bind(globalThis.crypto);
  const toBase64 = (/** @type {Uint8Array} */ bytes) => Buffer.from(bytes).toString("base64");

  const shellHooks = {
    read: (/** @type {string} */ path) => asset(path).toString("utf8"),
    readbuffer: (/** @type {string} */ path) => {
      const b = asset(path);
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
    },
    load: () => {
      throw new Error("the sandbox does not load scripts");
    },
    fetch: refuseNetwork,
    WebSocket: refuseNetwork,
    XMLHttpRequest: refuseNetwork,
  };
  /** @type {Record<string, PropertyDescriptor | undefined>} */
  const saved = {};
  for (const [name, value] of Object.entries(shellHooks)) {
    saved[name] = Object.getOwnPropertyDescriptor(globalThis, name);
    Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
  // Shell-mode Emscripten gets random bytes (hash seeds, os.urandom) from the d8 shell's
  // `os.system("sh", ["-c", "head -cN /dev/urandom | base64 --wrap=0"])`, looked up on every
  // call. This stand-in only ever returns N random bytes, so it stays after start-up.
  Object.defineProperty(globalThis, "os", {
    value: Object.freeze({
      system(/** @type {string} */ _cmd, /** @type {string[]} */ args) {
        const match = /head -c(\d+) /.exec(String(args?.[1]));
        if (!match) throw new Error("not available in the sandbox");
        const bytes = new Uint8Array(Number(match[1]));
        getRandomValues(bytes);
        return toBase64(bytes);
      },
    }),
    configurable: false,
    writable: false,
  });

  // Deleted, not set to undefined: both modules test `typeof process` / `process?.versions`.
  delete globalThis.process;
  try {
    const { loadPyodide } = await import(pathToFileURL(`${dir}pyodide.mjs`).href);
    const { default: createPyodideModule } = await import(pathToFileURL(`${dir}pyodide.asm.mjs`).href);
    const pyodide = await loadPyodide({
      indexURL: dir,
      lockFileContents: asset(`${dir}pyodide-lock.json`).toString("utf8"),
      createPyodideModule,
      // The `js` module. A null-prototype object has no `constructor` to climb to Function.
      jsglobals: Object.freeze(Object.create(null)),
      env: { HOME: "/home/pyodide" },
      args: [],
      packages: [],
      stdout: io.stdout,
      stderr: io.stderr,
    });
    return { pyodide, networkAttempts: () => attempts };
  } finally {
    for (const [name, descriptor] of Object.entries(saved)) {
      if (descriptor) Object.defineProperty(globalThis, name, descriptor);
      else delete globalThis[/** @type {keyof typeof globalThis} */ (name)];
    }
    // `process` stays hidden for good; lockdown.mjs decides what else stays reachable.
  }
}
