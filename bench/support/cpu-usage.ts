/**
 * CPU time of processes from /proc (Linux): which process of a deployment (API, worker,
 * PostgreSQL, Redis) spends the CPU a run costs. PostgreSQL and Redis are found by name, so
 * whatever else uses them on the machine meanwhile is counted too.
 */
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS_PER_SEC = 100;

/** utime + stime of `pid` in ms; 0 if it is gone. */
function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SEC;
  } catch {
    return 0;
  }
}

/** Pids whose command name is `comm` (e.g. "postgres", "redis-server"). */
export function pidsNamed(comm: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === comm) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

export type CpuGroups = Record<string, () => number[]>;

/** Total CPU ms per group of processes (pids resolved at each reading: PostgreSQL forks per connection). */
export function readCpu(groups: CpuGroups): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, pids] of Object.entries(groups)) out[name] = pids().reduce((sum, pid) => sum + cpuMs(pid), 0);
  return out;
}

export function cpuSince(groups: CpuGroups, before: Record<string, number>): Record<string, number> {
  const now = readCpu(groups);
  const out: Record<string, number> = {};
  for (const name of Object.keys(groups)) out[name] = (now[name] ?? 0) - (before[name] ?? 0);
  return out;
}
