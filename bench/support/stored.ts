/** What a benchmark's server actually persisted, read from its SQLite file after it stopped. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";

export interface StoredCounts {
  runs: number;
  succeeded: number;
  nodeExecutions: number;
  events: number;
}

export function storedCounts(dataDir: string): StoredCounts {
  const db = new Database(join(dataDir, "tributary.db"), { readonly: true });
  try {
    const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    return {
      runs: count("select count(*) as n from runs"),
      succeeded: count("select count(*) as n from runs where status = 'succeeded'"),
      nodeExecutions: count("select count(*) as n from node_executions"),
      events: count("select count(*) as n from run_events"),
    };
  } finally {
    db.close();
  }
}

/**
 * A fresh directory on the default temp file system (a real disk here, so fsync costs what it
 * costs in production; /dev/shm would hide it), removed by `cleanup`.
 */
export function tempDataDir(label: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), `tributary-bench-${label}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
