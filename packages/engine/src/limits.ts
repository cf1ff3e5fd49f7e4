/** Run limits. Defaults follow Dify's so imported workflows behave the same. */
export interface RunLimits {
  /** Node executions per run, children of iterations and loops included. */
  maxSteps: number;
  /** Wall time of the whole run. */
  maxRunTimeMs: number;
  /** Wall time of one node attempt (containers excluded: their children are timed). */
  nodeTimeoutMs: number;
  /** Serialized size of one node output variable, in bytes. */
  maxVariableBytes: number;
  /** Nodes of one graph level running at once (parallel branches). */
  maxParallel: number;
  /** Upper bound for `parallel_nums` of a parallel iteration. */
  maxIterationParallel: number;
  /** Upper bound for a loop node's `loop_count`. */
  maxLoopCount: number;
  /** Rendered template-transform output, in characters. */
  maxTemplateOutputChars: number;
  /** Template render deadline. */
  templateTimeoutMs: number;
  /** Code node deadline. */
  codeTimeoutMs: number;
  /** Code node string output, in characters (Dify: 400 000). */
  codeMaxStringLength: number;
  /** Code node output nesting depth (Dify: 5). */
  codeMaxDepth: number;
  /** Code node array output length (Dify: 1000 numbers/strings, 30 objects by default). */
  codeMaxArrayLength: number;
  /** HTTP response caps. */
  httpMaxTextBytes: number;
  httpMaxBinaryBytes: number;
}

export const DEFAULT_LIMITS: Readonly<RunLimits> = Object.freeze({
  maxSteps: 500,
  maxRunTimeMs: 1_200_000,
  nodeTimeoutMs: 600_000,
  maxVariableBytes: 200 * 1024,
  maxParallel: 10,
  maxIterationParallel: 10,
  maxLoopCount: 100,
  maxTemplateOutputChars: 400_000,
  templateTimeoutMs: 5_000,
  codeTimeoutMs: 15_000,
  codeMaxStringLength: 400_000,
  codeMaxDepth: 5,
  codeMaxArrayLength: 1_000,
  httpMaxTextBytes: 1024 * 1024,
  httpMaxBinaryBytes: 10 * 1024 * 1024,
});

export function resolveLimits(overrides?: Partial<RunLimits>): RunLimits {
  return overrides ? { ...DEFAULT_LIMITS, ...overrides } : { ...DEFAULT_LIMITS };
}
