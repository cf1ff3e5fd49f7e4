/**
 * Starting the processes a benchmark measures: the real server or a bare baseline, each a Node
 * child running TypeScript through tsx, optionally pinned to one core with `taskset` so the
 * load generator (this process, pinned to the other core) does not compete with it.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ChildMessage } from "./child-ipc.js";

export const SERVE_CHILD = fileURLToPath(new URL("./serve-child.ts", import.meta.url));
export const BARE_CHILD = fileURLToPath(new URL("./bare-child.ts", import.meta.url));

export interface Child {
  url: string;
  adminToken: string | undefined;
  process: ChildProcess;
  /** RSS and heap after forced GC (the child must run with --expose-gc). */
  memory(): Promise<Extract<ChildMessage, { type: "memory" }>>;
  /** Writes a V8 heap snapshot (after forced GC) to `file`. */
  heapSnapshot(file: string): Promise<void>;
  /** The figures a measuring child sends when it is done. */
  result(timeoutMs?: number): Promise<Record<string, number>>;
  /** SIGTERM (a graceful shutdown for the server), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** What the child wrote to stderr (for error messages). */
  stderr(): string;
}

export interface StartChildOptions {
  /** Core to pin the child to (taskset -c); undefined = not pinned. */
  cpu?: number | undefined;
  env?: Record<string, string>;
  nodeArgs?: string[];
  timeoutMs?: number;
}

const hasTaskset = (() => {
  try {
    execFileSync("taskset", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** Cores this machine has for pinning, or none when taskset is missing. */
export function pinningAvailable(): boolean {
  return hasTaskset;
}

/** Pins this process (every thread) to `cpu`; false when taskset is unavailable. */
export function pinSelf(cpu: number): boolean {
  if (!hasTaskset) return false;
  execFileSync("taskset", ["-a", "-p", "-c", String(cpu), String(process.pid)], { stdio: "ignore" });
  return true;
}

export async function startChild(entry: string, options: StartChildOptions = {}): Promise<Child> {
  if (!existsSync(entry)) throw new Error(`no such benchmark child: ${entry}`);
  // BENCH_CPU_PROF=<dir>: every child writes a V8 CPU profile there when it exits.
  const profileDir = process.env["BENCH_CPU_PROF"];
  const profile = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
  const nodeArgs = ["--import", "tsx", ...profile, ...(options.nodeArgs ?? []), entry];
  const [command, args] =
    options.cpu !== undefined && hasTaskset
      ? ["taskset", ["-c", String(options.cpu), process.execPath, ...nodeArgs]]
      : [process.execPath, nodeArgs];
  const child = spawn(command, args, {
    env: { ...process.env, ...options.env },
    // Logs go nowhere: a pipe would make this process (the load generator) read them.
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-8_000);
  });
  // Messages nobody waits for yet (a result sent before `result()` is called) are kept.
  const waiters: Array<{ type: ChildMessage["type"]; take(m: ChildMessage): void }> = [];
  const unclaimed: ChildMessage[] = [];
  child.on("message", (m: ChildMessage) => {
    const i = waiters.findIndex((w) => w.type === m.type);
    if (i < 0) unclaimed.push(m);
    else waiters.splice(i, 1)[0]?.take(m);
  });
  const next = (type: ChildMessage["type"], timeoutMs: number) =>
    new Promise<ChildMessage>((resolve, reject) => {
      const early = unclaimed.findIndex((m) => m.type === type);
      if (early >= 0) {
        resolve(unclaimed.splice(early, 1)[0] as ChildMessage);
        return;
      }
      const waiter = {
        type,
        take(m: ChildMessage) {
          clearTimeout(timer);
          child.off("exit", onExit);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        child.off("exit", onExit);
        reject(new Error(`child sent no ${type} within ${timeoutMs} ms:\n${stderr}`));
      }, timeoutMs);
      const onExit = (code: number | null) => {
        clearTimeout(timer);
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`child exited with ${code} before ${type}:\n${stderr}`));
      };
      child.once("exit", onExit);
      waiters.push(waiter);
    });
  const ready = await next("ready", options.timeoutMs ?? 30_000);
  if (ready.type !== "ready") throw new Error("unexpected message");
  return {
    url: ready.url,
    adminToken: ready.adminToken,
    process: child,
    async memory() {
      const reply = next("memory", 30_000);
      child.send({ type: "memory" });
      const m = await reply;
      if (m.type !== "memory") throw new Error("unexpected message");
      return m;
    },
    async heapSnapshot(file) {
      const reply = next("heap-snapshot", 120_000);
      child.send({ type: "heap-snapshot", file });
      await reply;
    },
    async result(timeoutMs = 60_000) {
      const m = await next("result", timeoutMs);
      if (m.type !== "result") throw new Error("unexpected message");
      return m.figures;
    },
    stop(graceMs = 10_000) {
      return new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const kill = setTimeout(() => child.kill("SIGKILL"), graceMs);
        child.once("exit", () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill("SIGTERM");
      });
    },
    stderr: () => stderr,
  };
}
