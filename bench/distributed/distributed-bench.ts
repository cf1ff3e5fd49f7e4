/**
 * Distributed mode: the `http` workload (blocking runs of start → template-transform → end,
 * autocannon, 10 and 50 connections) through 2 API processes (`tributary serve`) and 2 workers
 * (`tributary worker`, 8 runs at once each) on PostgreSQL + Redis, against embedded mode in the
 * same run: one `tributary serve` on SQLite, and one on PostgreSQL (to tell the database's
 * share from the queue's). All of them run at once, idle while another is measured, and are
 * measured in turn at each level; nothing is pinned (six processes and the databases share the
 * machine's cores), and every configuration sees the same conditions.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Redis } from "ioredis";
import pg from "pg";
import { publishApp, runBody, runHeaders } from "../support/api.js";
import { type CliProcess, startCli } from "../support/cli-process.js";
import { type CpuGroups, cpuSince, pidsNamed, readCpu } from "../support/cpu-usage.js";
import { type LoadResult, load } from "../support/load.js";
import { printResult, round, sleep } from "../support/stats.js";
import { tempDataDir } from "../support/stored.js";
import { templateWorkflow } from "../support/workflows.js";

const PG_ADMIN_URL = process.env["TRIBUTARY_TEST_PG_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";
const REDIS_URL = process.env["TRIBUTARY_TEST_REDIS_URL"] ?? "redis://127.0.0.1:6379";
/** The test suites' Redis lock (packages/server/test/support/redis.ts): held shared, so no suite restarts Redis meanwhile. */
const REDIS_LOCK_KEY = 74_011_017;
const CONNECTIONS = [10, 50] as const;
const DURATION_SEC = 6;
const WARMUP_SEC = 3;
const WORKER_CONCURRENCY = 8;
const ADMIN_TOKEN = `bench-admin-${randomBytes(12).toString("hex")}`;
const TARGET_RATIO = 1;

type ConfigName = "embedded_sqlite" | "embedded_pg" | "distributed";

interface Deployment {
  name: ConfigName;
  urls: string[];
  key: string;
  /** The processes whose CPU a run of this deployment costs (measured per run). */
  cpu: CpuGroups;
  count(): Promise<{ runs: number; succeeded: number; running: number }>;
}

const pidOf = (p: CliProcess): number[] => (p.child.pid === undefined ? [] : [p.child.pid]);

async function pgAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function createDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `tributary_bench_${randomBytes(6).toString("hex")}`;
  await pgAdmin((c) => c.query(`create database ${name}`));
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => pgAdmin((c) => c.query(`drop database if exists ${name} with (force)`)).then(() => {}),
  };
}

async function pgCounts(url: string): Promise<{ runs: number; succeeded: number; running: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ runs: string; succeeded: string; running: string }>(
      `select count(*) as runs, count(*) filter (where status = 'succeeded') as succeeded,
         count(*) filter (where status = 'running') as running from runs`,
    );
    return {
      runs: Number(rows[0]?.runs ?? 0),
      succeeded: Number(rows[0]?.succeeded ?? 0),
      running: Number(rows[0]?.running ?? 0),
    };
  } finally {
    await client.end();
  }
}

async function dropRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3, lazyConnect: true });
  redis.on("error", () => {});
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

export default async function main(): Promise<void> {
  const data = tempDataDir("distributed");
  const databases: Array<{ url: string; drop(): Promise<void> }> = [];
  const processes: CliProcess[] = [];
  const prefix = `tributary-bench-${randomBytes(5).toString("hex")}`;
  // Shared hold on the suites' Redis lock, so a test restarting redis-server waits for us.
  const lock = new pg.Client({ connectionString: PG_ADMIN_URL });
  await lock.connect();
  try {
    await lock.query("select pg_advisory_lock_shared($1)", [REDIS_LOCK_KEY]);
    const common = {
      TRIBUTARY_ADMIN_TOKEN: ADMIN_TOKEN,
      TRIBUTARY_SECRET_KEY: randomBytes(32).toString("hex"),
      TRIBUTARY_SANDBOX_WARM: "false",
      TRIBUTARY_LOG_LEVEL: "info",
    };
    const listening = /listening on (http:\/\/\S+)/;
    const serve = async (label: string, env: Record<string, string>) => {
      const dir = join(data.dir, label);
      const p = await startCli(
        ["serve", "--port", "0", "--no-examples", "--data-dir", dir],
        { ...common, ...env },
        listening,
        `${dir}.log`,
      );
      processes.push(p);
      return p;
    };

    const sqlite = await serve("embedded-sqlite", {});
    const pgDb = await createDatabase();
    databases.push(pgDb);
    const embeddedPg = await serve("embedded-pg", { TRIBUTARY_DATABASE_URL: pgDb.url });
    const clusterDb = await createDatabase();
    databases.push(clusterDb);
    const clusterEnv = { TRIBUTARY_DATABASE_URL: clusterDb.url, TRIBUTARY_REDIS_URL: REDIS_URL, TRIBUTARY_REDIS_PREFIX: prefix };
    // The first API process creates the tables; the rest start together.
    const api1 = await serve("api-1", clusterEnv);
    const [api2, ...workers] = await Promise.all([
      serve("api-2", clusterEnv),
      ...[1, 2].map(async (i) => {
        const dir = join(data.dir, `worker-${i}`);
        const p = await startCli(
          ["worker", "--data-dir", dir, "--concurrency", String(WORKER_CONCURRENCY), "--metrics-port", "0"],
          { ...common, ...clusterEnv },
          /metrics at (http:\/\/\S+)\/metrics/,
          `${dir}.log`,
        );
        processes.push(p);
        return p;
      }),
    ]);
    console.log(
      `started: embedded SQLite, embedded PostgreSQL, and 2 API processes + ${workers.length} workers (prefix ${prefix})`,
    );

    const deployments: Deployment[] = [];
    const sqliteApp = await publishApp(sqlite.url, ADMIN_TOKEN, templateWorkflow());
    deployments.push({
      name: "embedded_sqlite",
      urls: [sqlite.url],
      key: sqliteApp.key,
      cpu: { serve: () => pidOf(sqlite) },
      count: async () => {
        const db = new Database(join(data.dir, "embedded-sqlite", "tributary.db"), { readonly: true });
        try {
          return db
            .prepare(
              "select count(*) as runs, sum(status = 'succeeded') as succeeded, sum(status = 'running') as running from runs",
            )
            .get() as { runs: number; succeeded: number; running: number };
        } finally {
          db.close();
        }
      },
    });
    const pgApp = await publishApp(embeddedPg.url, ADMIN_TOKEN, templateWorkflow());
    deployments.push({
      name: "embedded_pg",
      urls: [embeddedPg.url],
      key: pgApp.key,
      cpu: { serve: () => pidOf(embeddedPg), postgres: () => pidsNamed("postgres") },
      count: () => pgCounts(pgDb.url),
    });
    const clusterApp = await publishApp(api1.url, ADMIN_TOKEN, templateWorkflow());
    deployments.push({
      name: "distributed",
      urls: [api1.url, (api2 as CliProcess).url],
      key: clusterApp.key,
      cpu: {
        api: () => [api1, api2 as CliProcess].flatMap(pidOf),
        worker: () => workers.flatMap(pidOf),
        postgres: () => pidsNamed("postgres"),
        redis: () => pidsNamed("redis-server"),
      },
      count: () => pgCounts(clusterDb.url),
    });

    const body = runBody({ name: "bench" }, "blocking");
    const run = (d: Deployment, connections: number, durationSec: number) =>
      load({
        url: d.urls.map((u) => `${u}/v1/workflows/run`),
        connections,
        durationSec,
        method: "POST",
        headers: runHeaders(d.key),
        body,
        verifyBody: (b) => b.includes('"status":"succeeded"'),
      });
    for (const d of deployments) await run(d, 10, WARMUP_SEC);

    const figures: Record<string, number> = {};
    const results = new Map<string, LoadResult>();
    for (const connections of CONNECTIONS) {
      for (const d of deployments) {
        const cpuBefore = readCpu(d.cpu);
        const r = await run(d, connections, DURATION_SEC);
        const cpu = cpuSince(d.cpu, cpuBefore);
        const runs = r.rps * DURATION_SEC;
        const cpuText = Object.entries(cpu)
          .map(([name, ms]) => {
            figures[`${d.name}_c${connections}_cpu_ms_per_run_${name}`] = round(ms / runs, 3);
            return `${name} ${round(ms / runs, 2)}`;
          })
          .join(", ");
        results.set(`${d.name}_c${connections}`, r);
        figures[`${d.name}_c${connections}_runs_per_s`] = round(r.rps, 1);
        figures[`${d.name}_c${connections}_p50_ms`] = r.p50Ms;
        figures[`${d.name}_c${connections}_p99_ms`] = r.p99Ms;
        figures[`${d.name}_c${connections}_failures`] = r.failures;
        console.log(
          `${String(connections).padStart(2)} connections, ${d.name.padEnd(15)}: ${round(r.rps, 0)} runs/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, failures ${r.failures}; CPU ms per run: ${cpuText}`,
        );
      }
      const dist = results.get(`distributed_c${connections}`);
      const emb = results.get(`embedded_sqlite_c${connections}`);
      const embPg = results.get(`embedded_pg_c${connections}`);
      if (dist && emb && embPg) {
        figures[`c${connections}_ratio_vs_embedded_sqlite`] = round(dist.rps / emb.rps, 3);
        figures[`c${connections}_p99_ratio_vs_embedded_sqlite`] = round(dist.p99Ms / Math.max(1, emb.p99Ms), 2);
        figures[`c${connections}_ratio_vs_embedded_pg`] = round(dist.rps / embPg.rps, 3);
        figures[`c${connections}_p99_ratio_vs_embedded_pg`] = round(dist.p99Ms / Math.max(1, embPg.p99Ms), 2);
      }
    }
    for (const d of deployments) {
      // Runs whose blocking request was cut off when the load stopped finish in the background.
      let c = await d.count();
      for (let waited = 0; Number(c.running) > 0 && waited < 30_000; waited += 100) {
        await sleep(100);
        c = await d.count();
      }
      figures[`${d.name}_stored_runs`] = Number(c.runs);
      figures[`${d.name}_stored_not_succeeded`] = Number(c.runs) - Number(c.succeeded);
      if (Number(c.runs) !== Number(c.succeeded))
        throw new Error(`${d.name}: ${c.runs - c.succeeded} stored runs did not succeed`);
    }
    console.log(
      `distributed vs embedded SQLite: ${figures["c10_ratio_vs_embedded_sqlite"]}× runs/s at 10 connections, ${figures["c50_ratio_vs_embedded_sqlite"]}× at 50;` +
        ` vs embedded PostgreSQL: ${figures["c10_ratio_vs_embedded_pg"]}× and ${figures["c50_ratio_vs_embedded_pg"]}×`,
    );
    printResult("distributed", figures, {
      metric: "runs_per_s_ratio_vs_embedded_c10",
      value: figures["c10_ratio_vs_embedded_sqlite"] ?? Number.NaN,
      target: TARGET_RATIO,
      better: "higher",
    });
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    for (const db of databases) await db.drop().catch(() => {});
    await dropRedisPrefix(prefix).catch(() => {});
    await lock.end().catch(() => {});
    data.cleanup();
  }
}
