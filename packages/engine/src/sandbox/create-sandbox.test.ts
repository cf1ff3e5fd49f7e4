import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CodeLanguage, SandboxRequest } from "../capabilities/types.js";
import { SandboxError } from "../errors.js";
import { createSandbox, type Sandbox } from "./create-sandbox.js";

let sandbox: Sandbox;
const never = new AbortController().signal;

function run(language: CodeLanguage, code: string, inputs: Record<string, unknown> = {}, timeoutMs = 5_000) {
  return sandbox.run({ language, code, inputs, timeoutMs }, never) as Promise<Record<string, unknown>>;
}

async function failure(promise: Promise<unknown>): Promise<SandboxError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SandboxError);
  return error as SandboxError;
}

/** The pool stays usable: both languages answer after whatever the test did. */
async function expectHealthy() {
  expect(await run("python3", "def main():\n    return {'ok': True}")).toEqual({ ok: true });
  expect(await run("javascript", "function main() { return { ok: true } }")).toEqual({ ok: true });
}

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await work();
  return { result, ms: performance.now() - started };
}

beforeAll(async () => {
  sandbox = createSandbox({ poolSize: 2, memoryLimitMb: 160, processGrowthLimitMb: 400 });
  // Both workers load Pyodide (~2.5 s each).
  await sandbox.ready();
});

afterAll(async () => {
  await sandbox.close();
});

describe("python3", () => {
  it("calls main(**inputs) and returns plain JSON values", async () => {
    const result = await run(
      "python3",
      [
        "def main(name: str, numbers: list, options: dict, missing) -> dict:",
        "    return {",
        "        'greeting': f'héllo {name}',",
        "        'total': sum(numbers),",
        "        'mean': sum(numbers) / len(numbers),",
        "        'nested': {'flag': options['flag'], 'none': missing, 'items': [1, 'two', None]},",
        "        'tuple': (1, 2),",
        "    }",
      ].join("\n"),
      { name: "Ann", numbers: [1, 2, 4], options: { flag: true }, missing: null },
    );
    expect(result).toEqual({
      greeting: "héllo Ann",
      total: 7,
      mean: 7 / 3,
      nested: { flag: true, none: null, items: [1, "two", null] },
      tuple: [1, 2],
    });
    // No proxies: ordinary objects and arrays of this realm.
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(Array.isArray((result.nested as { items: unknown }).items)).toBe(true);
  });

  it("requires main() to return a dict", async () => {
    const error = await failure(run("python3", "def main():\n    return [1, 2]"));
    expect(error.message).toBe("main() must return a dict, got list.");
  });

  it("reports an exception as the traceback's last line, with the traceback as the cause", async () => {
    const error = await failure(run("python3", "def helper(x):\n    return x / 0\n\ndef main():\n    return {'r': helper(1)}"));
    expect(error.message).toBe("ZeroDivisionError: division by zero");
    const traceback = (error.cause as Error).message;
    expect(traceback).toContain('File "<code>", line 2, in helper');
    expect(traceback).not.toContain("harness");
  });

  it("reports syntax errors with their line", async () => {
    const error = await failure(run("python3", "def main():\n    return {'a': }"));
    expect(error.message).toBe("SyntaxError: expression expected after dictionary key and ':' (line 2)");
    const indentation = await failure(run("python3", "def main():\nreturn {}"));
    expect(indentation.message).toBe("IndentationError: expected an indented block after function definition on line 1 (line 2)");
  });

  it("reports a KeyboardInterrupt the snippet raises itself as an error, not a timeout", async () => {
    expect((await failure(run("python3", "def main():\n    raise KeyboardInterrupt"))).message).toBe("KeyboardInterrupt");
  });

  it("says so when main is missing or does not accept the inputs", async () => {
    expect((await failure(run("python3", "def helper():\n    return {}"))).message).toBe(
      "The code must define a function main(...).",
    );
    expect((await failure(run("python3", "def main():\n    return {}", { x: 1 }))).message).toBe(
      "TypeError: main() got an unexpected keyword argument 'x'",
    );
  });

  it("rejects values JSON cannot carry, and carries non-finite numbers for the node to judge", async () => {
    expect((await failure(run("python3", "def main():\n    return {'s': {1, 2}}"))).message).toBe(
      "TypeError: Object of type set is not JSON serializable",
    );
    const result = await run("python3", "def main():\n    return {'a': float('nan'), 'b': [float('-inf')], 'c': 1.5}");
    expect(result).toEqual({ a: Number.NaN, b: [Number.NEGATIVE_INFINITY], c: 1.5 });
  });

  it("does not let one run change what the next run sees", async () => {
    await run(
      "python3",
      [
        "import builtins, json, sys, os",
        "def main():",
        "    builtins.len = None",
        "    json.dumps = None",
        "    sys.modules['json'] = None",
        "    os.environ['LEAK'] = 'x'",
        "    open('/tmp/leak.txt', 'w').write('x')",
        "    globals()['LEFT_BEHIND'] = 1",
        "    return {}",
      ].join("\n"),
    );
    // Both workers: the pool may hand the next runs to either.
    for (let i = 0; i < 2; i++) {
      const result = await run(
        "python3",
        [
          "import json, os",
          "def main():",
          "    return {'len': len('abc'), 'json': json.dumps([1]), 'env': os.environ.get('LEAK'),",
          "            'file': os.path.exists('/tmp/leak.txt'), 'global': 'LEFT_BEHIND' in globals()}",
        ].join("\n"),
      );
      expect(result).toEqual({ len: 3, json: "[1]", env: null, file: false, global: false });
    }
  });
});

describe("javascript", () => {
  it("calls main with one object argument, as Dify does", async () => {
    const result = await run(
      "javascript",
      "function main({ a, b, list }) {\n  console.log('ignored');\n  return { sum: a + b, list: list.map((x) => x * 2), none: null };\n}",
      { a: 1, b: 2.5, list: [1, 2] },
    );
    expect(result).toEqual({ sum: 3.5, list: [2, 4], none: null });
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
  });

  it("settles an async main that needs no timers", async () => {
    expect(await run("javascript", "async function main({ a }) { return { a: await Promise.resolve(a) } }", { a: 5 })).toEqual({
      a: 5,
    });
  });

  it("requires main() to return an object", async () => {
    expect((await failure(run("javascript", "function main() { return [1] }"))).message).toBe(
      "main() must return an object, got array.",
    );
    expect((await failure(run("javascript", "function main() { return 'x' }"))).message).toBe(
      "main() must return an object, got string.",
    );
  });

  it("reports thrown errors and syntax errors", async () => {
    expect((await failure(run("javascript", "function main() { return { a: undefinedName } }"))).message).toBe(
      "ReferenceError: 'undefinedName' is not defined",
    );
    expect((await failure(run("javascript", "function main() {\n  return { a: 1 \n}}}"))).message).toMatch(
      /^SyntaxError: .+ \(line 3\)$/,
    );
    expect((await failure(run("javascript", "const x = 1;"))).message).toBe(
      "TypeError: The code must define a function main(...).",
    );
  });

  it("carries non-finite numbers", async () => {
    expect(await run("javascript", "function main() { return { a: NaN, b: [1 / 0] } }")).toEqual({
      a: Number.NaN,
      b: [Number.POSITIVE_INFINITY],
    });
  });
});

describe("deadlines and aborts", () => {
  it("stops a Python busy loop at the deadline with KeyboardInterrupt", async () => {
    const { result: error, ms } = await timed(() =>
      failure(run("python3", "def main():\n    while True:\n        pass", {}, 300)),
    );
    expect(error.message).toBe("Code execution timed out after 300 ms.");
    expect(ms).toBeLessThan(1_000);
    await expectHealthy();
  });

  it("terminates and replaces a worker stuck in C code that never checks for interrupts", async () => {
    const { result: error, ms } = await timed(() =>
      failure(run("python3", "def main():\n    return {'n': len(str(10 ** (10 ** 8)))}", {}, 300)),
    );
    expect(error.message).toBe("Code execution timed out after 300 ms.");
    expect(ms).toBeLessThan(1_000);
    await expectHealthy();
  });

  it("stops a JavaScript busy loop at the deadline", async () => {
    const error = await failure(run("javascript", "function main() { for (;;) {} }", {}, 300));
    expect(error.message).toBe("Code execution timed out after 300 ms.");
    await expectHealthy();
  });

  it("ends a run within a second of an abort, in both languages", async () => {
    for (const [language, code] of [
      ["python3", "def main():\n    while True:\n        pass"],
      ["javascript", "function main() { for (;;) {} }"],
    ] as const) {
      const controller = new AbortController();
      const pending = sandbox.run({ language, code, inputs: {}, timeoutMs: 60_000 }, controller.signal);
      setTimeout(() => controller.abort(new Error("user stop")), 200);
      const { result: error, ms } = await timed(() => failure(pending));
      expect(error.message).toBe("Code execution was aborted.");
      expect((error.cause as Error).message).toBe("user stop");
      expect(ms).toBeLessThan(1_000);
    }
    await expectHealthy();
  });

  it("rejects at once when the signal is already aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    const request: SandboxRequest = { language: "python3", code: "def main():\n    return {}", inputs: {}, timeoutMs: 1_000 };
    expect((await failure(sandbox.run(request, controller.signal))).message).toBe("Code execution was aborted.");
  });
});

describe("memory", () => {
  it("fails Python allocations beyond the sandbox's memory limit and replaces the worker", async () => {
    const huge = await failure(run("python3", "def main():\n    return {'n': len('a' * 10**10)}"));
    expect(huge.message).toBe("OverflowError: cannot fit 'int' into an index-sized integer");
    const list = await failure(run("python3", "def main():\n    return {'n': len([0] * 10**10)}"));
    expect(list.message).toBe("OverflowError: cannot fit 'int' into an index-sized integer");
    const big = await failure(run("python3", "def main():\n    return {'n': len('a' * (400 * 2**20))}"));
    expect(big.message).toBe("The code ran out of memory (limit 160 MB): MemoryError");
    const growing = await failure(
      run("python3", "def main():\n    chunks = []\n    while True:\n        chunks.append(bytearray(2**20))"),
    );
    expect(growing.message).toBe("The code ran out of memory (limit 160 MB): MemoryError");
    await expectHealthy();
  });

  it("fails file writes beyond the in-memory file system quota", async () => {
    const writer =
      "def main():\n    for i in range(10):\n        open(f'/tmp/f{i}', 'wb').write(b'x' * (16 * 2**20))\n    return {}";
    expect((await failure(run("python3", writer))).message).toBe("OSError: [Errno 51] No space left on device");
    const truncate = "def main():\n    open('/tmp/t', 'wb').truncate(10**9)\n    return {}";
    expect((await failure(run("python3", truncate))).message).toBe("OSError: [Errno 51] No space left on device");
    // The reset after each run removed the files, so the quota is free again.
    expect(await run("python3", "def main():\n    open('/tmp/f', 'wb').write(b'x' * 2**20)\n    return {}")).toEqual({});
  });

  it("terminates runs whose JavaScript-side allocations grow the process past its budget", async () => {
    const bomb = [
      "import importlib",
      "def main():",
      "    ffi = importlib.import_module('pyodide.ffi')",
      "    chunk = b'x' * (64 * 2**20)",
      "    return {'n': len([ffi.to_js(chunk) for _ in range(40)])}",
    ].join("\n");
    const error = await failure(run("python3", bomb, {}, 20_000));
    expect(error.message).toMatch(
      /^The code ran out of memory: the process grew by \d+ MB while it ran, more than the 400 MB the sandbox allows per run\.$/,
    );
    await expectHealthy();
  });

  it("fails JavaScript allocations beyond the QuickJS heap limit", async () => {
    const repeat = await failure(run("javascript", "function main() { return { n: 'x'.repeat(1e9).length } }"));
    expect(repeat.message).toBe("The code ran out of memory (limit 64 MB): InternalError: out of memory");
    const growing = await failure(
      run("javascript", "function main() { const a = []; for (;;) a.push(new Array(1e5).fill(1)); }", {}, 10_000),
    );
    expect(growing.message).toBe("The code ran out of memory (limit 64 MB): InternalError: out of memory");
    await expectHealthy();
  });

  it("fails deep JavaScript recursion at the stack limit", async () => {
    const error = await failure(run("javascript", "function main() { const f = () => f(); return f() }"));
    expect(error.message).toBe("InternalError: stack overflow");
  });
});

describe("the pool", () => {
  it("runs two requests at once with two workers and queues the third", async () => {
    await sandbox.ready();
    const busy = "import time\ndef main():\n    t = time.time()\n    while time.time() - t < 0.4:\n        pass\n    return {}";
    const { ms: two } = await timed(() => Promise.all([run("python3", busy), run("python3", busy)]));
    // One after the other would take 800 ms at least.
    expect(two).toBeLessThan(790);
    const { ms: three } = await timed(() => Promise.all([run("python3", busy), run("python3", busy), run("python3", busy)]));
    expect(three).toBeGreaterThanOrEqual(790);
  });

  it("keeps warm runs in the milliseconds", async () => {
    const p50 = async (language: CodeLanguage, code: string) => {
      const times: number[] = [];
      for (let i = 0; i < 30; i++) times.push((await timed(() => run(language, code, { a: i }))).ms);
      return times.sort((x, y) => x - y)[15] as number;
    };
    const python = await p50("python3", "def main(a):\n    return {'b': a * 2}");
    const javascript = await p50("javascript", "function main({ a }) { return { b: a * 2 } }");
    console.info(`warm run p50: python3 ${python.toFixed(1)} ms, javascript ${javascript.toFixed(1)} ms`);
    expect(python).toBeLessThan(50);
    expect(javascript).toBeLessThan(50);
  });

  it("recycles workers after maxRunsPerWorker runs, which is what isolates runs completely", async () => {
    // The reset between runs restores namespaces, not function objects edited in place.
    const plant = "import textwrap\ndef main():\n    textwrap.dedent.__code__ = (lambda text: 'planted').__code__\n    return {}";
    const probe = "import textwrap\ndef main():\n    return {'r': textwrap.dedent('x')}";
    const recycling = createSandbox({ poolSize: 1, maxRunsPerWorker: 2 });
    const request = (code: string) => ({ language: "python3" as const, code, inputs: {}, timeoutMs: 5_000 });
    try {
      await recycling.run(request(plant), never);
      expect(await recycling.run(request(probe), never)).toEqual({ r: "planted" });
      expect(await recycling.run(request(probe), never)).toEqual({ r: "x" });
    } finally {
      await recycling.close();
    }
  });

  it("rejects invalid requests", async () => {
    const bad = { language: "ruby", code: "", inputs: {}, timeoutMs: 1 } as unknown as SandboxRequest;
    expect((await failure(sandbox.run(bad, never))).message).toMatch(/^invalid sandbox request/);
  });

  it("fails pending and later runs once closed", async () => {
    const other = createSandbox({ poolSize: 1 });
    const pending = failure(
      other.run({ language: "python3", code: "def main():\n    return {}", inputs: {}, timeoutMs: 1_000 }, never),
    );
    await other.close();
    expect((await pending).message).toBe("The code sandbox was closed.");
    const later = other.run({ language: "python3", code: "def main():\n    return {}", inputs: {}, timeoutMs: 1_000 }, never);
    expect((await failure(later)).message).toBe("The code sandbox is closed.");
  });
});
