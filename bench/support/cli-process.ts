/**
 * `tributary serve` / `tributary worker` exactly as deployed (packages/cli/bin/tributary.js), as
 * child processes whose output goes to a log file (a pipe would make the benchmark process
 * read every log line), ready once a line matches.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { sleep } from "./stats.js";

export const CLI = fileURLToPath(new URL("../../packages/cli/bin/tributary.js", import.meta.url));

export interface CliProcess {
  /** The first capture group of the ready pattern (e.g. the URL). */
  url: string;
  child: ChildProcess;
  output(): string;
  stop(graceMs?: number): Promise<void>;
}

export async function startCli(
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  logFile: string,
  timeoutMs = 30_000,
): Promise<CliProcess> {
  const fd = openSync(logFile, "w");
  // BENCH_CPU_PROF=<dir>: each process writes a V8 CPU profile there when it exits.
  const profileDir = process.env["BENCH_CPU_PROF"];
  const profile = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn(process.execPath, [...profile, CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  const output = () => readFileSync(logFile, "utf8");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const url = ready.exec(output())?.[1];
    if (url) return handle(url);
    if (child.exitCode !== null) throw new Error(`tributary ${args[0]} exited with ${child.exitCode}:\n${output().slice(-3000)}`);
    if (Date.now() > deadline)
      throw new Error(`tributary ${args[0]} was not ready within ${timeoutMs} ms:\n${output().slice(-3000)}`);
    await sleep(25);
  }

  function handle(url: string): CliProcess {
    return {
      url,
      child,
      output,
      stop(graceMs = 10_000) {
        return new Promise((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const kill = setTimeout(() => child.kill("SIGKILL"), graceMs);
          child.once("exit", () => {
            clearTimeout(kill);
            resolve();
          });
          child.kill("SIGTERM");
        });
      },
    };
  }
}
