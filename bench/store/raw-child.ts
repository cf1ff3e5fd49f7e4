/**
 * Child-process entry: the raw better-sqlite3 baseline of the store benchmark. Copies the schema
 * and the stored runs of the server's database (BENCH_RAW: {source, dir, maxMs}), then writes
 * the same rows again into a fresh file with the store's pragmas, timed, two ways:
 * - `two_tx`: per run, the row committed on its own (what an accepted async run needs before
 *   its 202), then its events, node executions and final state in a second transaction;
 * - `one_tx`: per run, everything in one transaction.
 * Prepared statements, no query builder, nothing else running: the limit for these rows.
 */
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import { sendToParent } from "../support/child-ipc.js";

interface RawOptions {
  source: string;
  dir: string;
  /** The runs to copy: created at or after this (ms since the epoch). */
  since: number;
  /** Upper bound per variant; runs beyond it are not written. */
  maxMs: number;
}

type Row = Record<string, unknown>;

interface RunRows {
  run: Row;
  events: Row[];
  nodes: Row[];
}

const options = JSON.parse(process.env["BENCH_RAW"] ?? "{}") as RawOptions;
sendToParent({ type: "ready", url: "" });

const source = new Database(options.source, { readonly: true });
const schema = source
  .prepare("select sql from sqlite_master where sql is not null and name not like 'sqlite_%' order by rowid")
  .all() as Array<{ sql: string }>;
const runs = (
  source
    .prepare("select * from runs where status = 'succeeded' and created_at >= ? order by created_at")
    .all(options.since) as Row[]
).map(
  (run): RunRows => ({
    run,
    events: source.prepare("select * from run_events where run_id = ? order by seq").all(run["id"]) as Row[],
    nodes: source.prepare("select * from node_executions where run_id = ?").all(run["id"]) as Row[],
  }),
);
/** The rows runs refer to (apps, versions, end users), copied untimed. */
const parents = ["apps", "workflow_versions", "end_users"].map((table) => ({
  table,
  rows: source.prepare(`select * from ${table}`).all() as Row[],
}));
source.close();

function open(file: string): Database.Database {
  const db = new Database(file);
  // The store's pragmas (sqlite-store.ts).
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("busy_timeout = 5000");
  db.pragma("foreign_keys = ON");
  for (const { sql } of schema) db.exec(sql);
  return db;
}

function inserter(db: Database.Database, table: string, sample: Row) {
  const columns = Object.keys(sample);
  const stmt = db.prepare(`insert into ${table} (${columns.join(", ")}) values (${columns.map(() => "?").join(", ")})`);
  return (row: Row) => stmt.run(...columns.map((c) => row[c]));
}

/** Columns the finish of a run sets (the rest are known when it is accepted). */
const FINISH_COLUMNS = [
  "status",
  "outputs",
  "error",
  "error_code",
  "total_tokens",
  "total_price",
  "currency",
  "total_steps",
  "exceptions_count",
  "elapsed_ms",
  "finished_at",
];

function variant(name: "two_tx" | "one_tx"): { seconds: number; runs: number; rows: number } {
  const db = open(join(options.dir, `raw-${name}-${options.since}.db`));
  // apps and workflow_versions refer to each other; checked again for everything timed.
  db.pragma("foreign_keys = OFF");
  for (const { table, rows } of parents) {
    const first = rows[0];
    if (!first) continue;
    const insert = inserter(db, table, first);
    db.transaction(() => rows.forEach(insert))();
  }
  db.pragma("foreign_keys = ON");
  const sample = runs[0];
  if (!sample?.events[0] || !sample.nodes[0]) throw new Error("the server stored no complete run to copy");
  const finishColumns = FINISH_COLUMNS.filter((c) => c in sample.run);
  const insertRun = inserter(db, "runs", sample.run);
  const insertEvent = inserter(db, "run_events", sample.events[0]);
  const insertNode = inserter(db, "node_executions", sample.nodes[0]);
  const finishRun = db.prepare(`update runs set ${finishColumns.map((c) => `${c} = ?`).join(", ")} where id = ?`);
  const accept = db.transaction((r: RunRows) => {
    // As createRun writes it (store/queries/runs.ts newRunRow).
    insertRun({
      ...r.run,
      status: "running",
      outputs: null,
      error: null,
      error_code: null,
      total_tokens: 0,
      total_price: 0,
      currency: "USD",
      total_steps: 0,
      exceptions_count: 0,
      elapsed_ms: 0,
      finished_at: null,
    });
  });
  const finish = db.transaction((r: RunRows) => {
    r.events.forEach(insertEvent);
    r.nodes.forEach(insertNode);
    finishRun.run(...finishColumns.map((c) => r.run[c]), r.run["id"]);
  });
  const whole = db.transaction((r: RunRows) => {
    insertRun(r.run);
    r.events.forEach(insertEvent);
    r.nodes.forEach(insertNode);
  });
  let written = 0;
  let rows = 0;
  const t0 = performance.now();
  for (const r of runs) {
    if (name === "two_tx") {
      accept.immediate(r);
      finish.immediate(r);
    } else {
      whole.immediate(r);
    }
    written++;
    rows += 1 + r.events.length + r.nodes.length;
    if ((written & 63) === 0 && performance.now() - t0 > options.maxMs) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  db.close();
  return { seconds, runs: written, rows };
}

const two = variant("two_tx");
const one = variant("one_tx");
sendToParent({
  type: "result",
  figures: {
    two_tx_runs: two.runs,
    two_tx_seconds: two.seconds,
    one_tx_runs: one.runs,
    one_tx_seconds: one.seconds,
    rows_per_run: two.rows / two.runs,
  },
});
process.disconnect?.();
