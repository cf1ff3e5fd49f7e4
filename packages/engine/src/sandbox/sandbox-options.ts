import { z } from "zod";

const MIB = 1024 * 1024;

export const sandboxOptionsSchema = z.object({
  /** Workers kept warm; each holds one Pyodide interpreter (≈ 30 MB of wasm memory idle). */
  poolSize: z.number().int().min(1).max(64).default(2),
  /**
   * Ceiling for each worker's WebAssembly memory, so for Python's whole heap (code,
   * interpreter and data). Wasm memory never shrinks, so a worker that ends a run above
   * three quarters of this is replaced.
   */
  memoryLimitMb: z.number().int().min(64).max(4096).default(256),
  /**
   * Bytes Python may keep in files (Pyodide's in-memory file system, the ~3 MB standard
   * library included). File contents are JavaScript buffers that the two limits above do
   * not see; writes past this fail with "No space left on device".
   */
  fileSystemLimitMb: z.number().int().min(16).max(4096).default(64),
  /** QuickJS heap of one javascript run. */
  jsMemoryLimitMb: z.number().int().min(1).max(1024).default(64),
  /** QuickJS stack of one javascript run (deep recursion fails with "stack overflow"). */
  jsStackLimitKb: z.number().int().min(64).max(8192).default(1024),
  /** V8 heap of each worker thread (JavaScript objects; the wasm memory above is separate). */
  workerHeapLimitMb: z.number().int().min(32).max(4096).default(256),
  /**
   * After a deadline or an abort, how long Python gets to unwind the KeyboardInterrupt by
   * itself before the worker is terminated (which costs a 2 s Pyodide reload).
   */
  interruptGraceMs: z.number().int().min(0).max(10_000).default(300),
  /**
   * How much the whole process may grow while one run is active (scaled by the runs
   * active at once) before those runs' workers are terminated. It catches memory outside
   * the limits above, such as JavaScript buffers made through Pyodide's FFI. Default: the
   * three limits above plus 256 MB.
   */
  processGrowthLimitMb: z.number().int().min(64).optional(),
  /**
   * Replace a worker after this many runs. Unset (the default), a worker serves runs until
   * something breaks it; Python state is reset between runs, but a snippet set on leaving
   * code behind (rebinding a stdlib function's __code__, say) can reach later runs in the
   * same worker. 1 gives every run a fresh interpreter, at ~2.5 s of CPU per run.
   */
  maxRunsPerWorker: z.number().int().min(1).optional(),
  /** Largest result accepted from main(), as JSON characters. */
  maxResultChars: z
    .number()
    .int()
    .min(1024)
    .default(16 * MIB),
});

export type SandboxOptions = z.input<typeof sandboxOptionsSchema>;
export type ResolvedSandboxOptions = z.output<typeof sandboxOptionsSchema>;

export function resolveSandboxOptions(options: SandboxOptions = {}): ResolvedSandboxOptions {
  return sandboxOptionsSchema.parse(options);
}

export { MIB };
