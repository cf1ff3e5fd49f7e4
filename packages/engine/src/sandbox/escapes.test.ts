/**
 * Escape attempts against the sandbox. Each must fail without touching the host: no host
 * file read or written, no process spawned, no connection made, no Node global reached,
 * and the pool must keep serving afterwards.
 */
import { existsSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CodeLanguage } from "../capabilities/types.js";
import { SandboxError } from "../errors.js";
import { createSandbox, type Sandbox } from "./create-sandbox.js";
import { resolveSandboxOptions } from "./sandbox-options.js";
import { SandboxWorker } from "./sandbox-worker.js";

let sandbox: Sandbox;
let probe: SandboxWorker;
let server: Server;
let port = 0;
let connections = 0;
const never = new AbortController().signal;
const marker = join(tmpdir(), `tributary-escape-${process.pid}`);

function run(language: CodeLanguage, code: string, inputs: Record<string, unknown> = {}) {
  return sandbox.run({ language, code, inputs, timeoutMs: 5_000 }, never) as Promise<Record<string, unknown>>;
}

async function failure(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SandboxError);
  return (error as SandboxError).message;
}

/** Python source whose main() runs `body` (already indented by four spaces). */
function python(...body: string[]): string {
  return ["import importlib", "def main(port=0):", ...body.map((line) => `    ${line}`)].join("\n");
}

beforeAll(async () => {
  server = createServer((socket) => {
    connections++;
    socket.end("HTTP/1.0 200 OK\r\n\r\nhost");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
  sandbox = createSandbox({ poolSize: 2 });
  probe = new SandboxWorker(resolveSandboxOptions());
  await Promise.all([sandbox.ready(), probe.ready]);
});

afterAll(async () => {
  await Promise.all([sandbox.close(), probe.terminate()]);
  await new Promise((resolve) => server.close(resolve));
  rmSync(marker, { force: true });
  // Nothing reached the host through any test of this file.
  expect(connections).toBe(0);
  expect(existsSync(marker)).toBe(false);
});

describe("the worker realm after start-up", () => {
  it("has no Node globals, no code generation, no Python handle on JavaScript, and loaded offline", async () => {
    const startup = await probe.ready;
    expect(startup.networkAttempts).toBe(0);
    const diagnostics = await probe.diagnostics();
    expect(diagnostics.leakedGlobals).toEqual([]);
    expect(diagnostics.pythonJsReferences).toEqual([]);
    expect(diagnostics.networkAttempts).toBe(0);
  });
});

describe("python3 escapes", () => {
  it("cannot read host files: only Pyodide's in-memory file system exists", async () => {
    expect(await failure(run("python3", python("return {'r': open('/etc/passwd').read()}")))).toBe(
      "FileNotFoundError: [Errno 44] No such file or directory: '/etc/passwd'",
    );
    expect(await failure(run("python3", python("return {'r': open('/proc/self/environ').read()}")))).toMatch(
      /^FileNotFoundError/,
    );
    const listing = await run(
      "python3",
      python("import os", "return {'root': sorted(os.listdir('/')), 'env': dict(os.environ)}"),
    );
    expect(listing.root).toEqual(["dev", "home", "lib", "proc", "tmp"]);
    expect(JSON.stringify(listing.env)).not.toContain(process.env["PATH"] ?? "/usr/bin");
  });

  it("cannot run host commands", async () => {
    const system = await run("python3", python("import os", `return {'status': os.system('touch ${marker}')}`));
    expect(system).toEqual({ status: -1 });
    expect(await failure(run("python3", python("import subprocess", `subprocess.run(['touch', '${marker}'])`)))).toBe(
      "OSError: [Errno 138] emscripten does not support processes.",
    );
    expect(existsSync(marker)).toBe(false);
  });

  it("cannot open network connections", async () => {
    expect(
      await failure(
        run("python3", python("import socket", "socket.create_connection(('127.0.0.1', port), timeout=1)"), { port }),
      ),
    ).toBe("OSError: [Errno 23] Host is unreachable");
    expect(
      await failure(
        run(
          "python3",
          python("import urllib.request", "return {'r': urllib.request.urlopen(f'http://127.0.0.1:{port}/').read()}"),
          {
            port,
          },
        ),
      ),
    ).toBe("urllib.error.URLError: <urlopen error [Errno 23] Host is unreachable>");
    expect(
      await failure(
        run("python3", python("http = importlib.import_module('pyodide.http')", "http.open_url(f'http://127.0.0.1:{port}/')"), {
          port,
        }),
      ),
    ).toBe("NameError: name 'XMLHttpRequest' is not defined");
  });

  it("cannot import the JavaScript bridges by name, nor find them another way", async () => {
    for (const name of ["js", "pyodide_js", "pyodide.ffi", "ctypes"]) {
      expect(await failure(run("python3", `import ${name}\ndef main():\n    return {}`))).toBe(
        `ImportError: module '${name}' is not available in the sandbox`,
      );
    }
    for (const name of ["js", "pyodide_js"]) {
      expect(await failure(run("python3", python(`importlib.import_module('${name}')`)))).toBe(
        `ModuleNotFoundError: No module named '${name}'`,
      );
    }
    const found = await run(
      "python3",
      python(
        "import gc",
        "ffi = importlib.import_module('pyodide.ffi')",
        "return {'n': sum(1 for o in gc.get_objects() for r in gc.get_referents(o) if isinstance(r, ffi.JsProxy))}",
      ),
    );
    expect(found).toEqual({ n: 0 });
  });

  it("cannot climb from a JavaScript object it creates to Function, eval or process", async () => {
    const viaToJs = python(
      "ffi = importlib.import_module('pyodide.ffi')",
      "array = ffi.to_js([1])",
      "return {'r': str(array.constructor.constructor('return process')())}",
    );
    expect(await failure(run("python3", viaToJs))).toBe(
      "pyodide.ffi.JsException: EvalError: code generation from strings is disabled in the sandbox",
    );
    const viaProxy = python(
      "ffi = importlib.import_module('pyodide.ffi')",
      "f = ffi.create_proxy(lambda: 1)",
      "return {'r': str(f.constructor.constructor('return globalThis')())}",
    );
    expect(await failure(run("python3", viaProxy))).toBe(
      "pyodide.ffi.JsException: EvalError: code generation from strings is disabled in the sandbox",
    );
    const runJs = python("code = importlib.import_module('pyodide.code')", "return {'r': code.run_js('process.pid')}");
    expect(await failure(run("python3", runJs))).toBe("ModuleNotFoundError: No module named 'js'");
  });

  it("cannot evaluate JavaScript through ctypes; the broken interpreter's worker is replaced", async () => {
    const viaCtypes = python(
      "ctypes = importlib.import_module('ctypes')",
      "libc = ctypes.CDLL(None)",
      `return {'r': libc.emscripten_run_script_int(b"require('fs').writeFileSync('${marker}', 'x'), 1")}`,
    );
    expect(await failure(run("python3", viaCtypes))).toBe(
      "The code broke the sandbox interpreter (EvalError: code generation from strings is disabled in the sandbox); its worker was replaced.",
    );
    expect(existsSync(marker)).toBe(false);
    expect(await run("python3", python("return {'ok': 1}"))).toEqual({ ok: 1 });
  });

  it("cannot install an audit hook, nor keep the import machinery changed for later runs", async () => {
    // An audit hook would see every later run's code; Python drops it silently.
    const hooked = python(
      "import sys",
      "seen = []",
      "sys.addaudithook(lambda event, args: seen.append(event))",
      "open('/tmp/probe', 'w').close()",
      "return {'seen': seen}",
    );
    expect(await run("python3", hooked)).toEqual({ seen: [] });
    await run("python3", python("import sys", "sys.meta_path.clear()", "return {}"));
    for (let i = 0; i < 2; i++) {
      expect(await run("python3", "import json\ndef main():\n    return {'r': json.dumps([1])}")).toEqual({ r: "[1]" });
    }
  });
});

describe("javascript escapes", () => {
  it("has no require, process, host globals or module loader", async () => {
    expect(await failure(run("javascript", "function main() { return { fs: require('fs') } }"))).toBe(
      "ReferenceError: 'require' is not defined",
    );
    expect(
      await run(
        "javascript",
        "function main() { return { process: typeof process, fetch: typeof fetch, globals: Object.getOwnPropertyNames(globalThis).filter((n) => /^[a-z]/.test(n)).sort() } }",
      ),
    ).toEqual({
      process: "undefined",
      fetch: "undefined",
      // QuickJS's standard globals, the console stand-in and the snippet's main: nothing else.
      globals: [
        "console",
        "decodeURI",
        "decodeURIComponent",
        "encodeURI",
        "encodeURIComponent",
        "escape",
        "eval",
        "globalThis",
        "isFinite",
        "isNaN",
        "main",
        "parseFloat",
        "parseInt",
        "undefined",
        "unescape",
      ],
    });
    expect(
      await failure(run("javascript", "async function main() { const fs = await import('fs'); return { r: typeof fs } }")),
    ).toBe("ReferenceError: could not load module 'fs'");
  });

  it("finds only the interpreter's own realm through constructors", async () => {
    const result = await run(
      "javascript",
      [
        "function main() {",
        "  const g = (() => {}).constructor('return this')();",
        "  const viaObject = ({}).constructor.constructor('return typeof process')();",
        "  return { same: g === globalThis, viaObject, require: typeof g.require };",
        "}",
      ].join("\n"),
    );
    expect(result).toEqual({ same: true, viaObject: "undefined", require: "undefined" });
  });

  it("leaves the pool healthy", async () => {
    expect(await run("javascript", "function main() { return { ok: 1 } }")).toEqual({ ok: 1 });
    expect(await run("python3", python("return {'ok': 1}"))).toEqual({ ok: 1 });
  });
});
