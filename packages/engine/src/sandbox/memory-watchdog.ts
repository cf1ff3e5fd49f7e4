/**
 * The last line against memory a run allocates outside every per-worker limit: JavaScript
 * buffers that Python creates through Pyodide's FFI (`to_js`, typed-array constructors)
 * are neither wasm memory nor V8 heap, so neither cap sees them.
 *
 * Node 20 cannot measure one worker's memory from outside while it is busy, so this
 * samples the whole process's resident memory while runs are active. When it has grown by
 * more than `budgetBytes` per active run since the earliest of them started, every active
 * run is reported: the pool cannot tell which one allocated.
 */
export interface MemoryWatchdogOptions {
  intervalMs?: number;
  /** Resident set size in bytes; replaceable for tests. */
  rss?: () => number;
}

export class MemoryWatchdog<T> {
  private readonly active = new Map<T, number>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly intervalMs: number;
  private readonly rss: () => number;

  constructor(
    private readonly budgetBytes: number,
    private readonly onExceeded: (runs: T[], grownBytes: number) => void,
    options: MemoryWatchdogOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 100;
    this.rss = options.rss ?? (() => process.memoryUsage.rss());
  }

  watch(run: T): void {
    this.active.set(run, this.rss());
    if (!this.timer) {
      this.timer = setInterval(() => this.check(), this.intervalMs);
      this.timer.unref();
    }
  }

  release(run: T): void {
    this.active.delete(run);
    if (this.active.size === 0) this.close();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Public so tests can drive it without timers. */
  check(): void {
    if (this.active.size === 0) return;
    const grown = this.rss() - Math.min(...this.active.values());
    if (grown > this.budgetBytes * this.active.size) this.onExceeded([...this.active.keys()], grown);
  }
}
