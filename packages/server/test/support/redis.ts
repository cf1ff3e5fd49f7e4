/**
 * Redis for the distributed suites: the real server at 127.0.0.1:6379 (TRIBUTARY_TEST_REDIS_URL),
 * a key prefix per test run (deleted afterwards), and a cross-process lock so the one suite
 * that restarts redis-server never does it under another suite's feet: suites using Redis hold
 * it shared, the restart holds it exclusively. The lock is a PostgreSQL advisory lock, because
 * vitest runs test files in separate processes.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";

// Read here rather than imported from harness.ts, which imports this module.
const PG_ADMIN_URL = process.env["TRIBUTARY_TEST_PG_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";

export const REDIS_URL = process.env["TRIBUTARY_TEST_REDIS_URL"] ?? "redis://127.0.0.1:6379";
/** Distributed-mode suites run unless TRIBUTARY_TEST_REDIS_URL=skip (or PostgreSQL is skipped). */
export const redisAvailable = REDIS_URL !== "skip" && process.env["TRIBUTARY_TEST_PG_URL"] !== "skip";

const LOCK_KEY = 74_011_017;

/** Holds the Redis lock until the returned function is called. */
export async function holdRedis(mode: "shared" | "exclusive"): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(mode === "shared" ? "select pg_advisory_lock_shared($1)" : "select pg_advisory_lock($1)", [LOCK_KEY]);
  } catch (error) {
    await client.end();
    throw error;
  }
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    // Ending the session releases the lock.
    await client.end().catch(() => {});
  };
}

export function testPrefix(): string {
  return `tributary-test-${randomBytes(5).toString("hex")}`;
}

/** Deletes every key under `prefix`. */
export async function dropPrefix(prefix: string): Promise<void> {
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

const REDIS_PORT = Number(new URL(REDIS_URL === "skip" ? "redis://127.0.0.1:6379" : REDIS_URL).port || 6379);

/** PONG from the server at REDIS_URL? */
export function redisUp(): boolean {
  try {
    return (
      execFileSync("redis-cli", ["-p", String(REDIS_PORT), "ping"], { timeout: 2000, stdio: ["ignore", "pipe", "ignore"] })
        .toString()
        .trim() === "PONG"
    );
  } catch {
    return false;
  }
}

/** Starts redis-server the way this machine runs it (no persistence), unless it is up already. */
export async function ensureRedisUp(): Promise<void> {
  if (redisUp()) return;
  execFileSync("redis-server", [
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "--port",
    String(REDIS_PORT),
    "--save",
    "",
    "--appendonly",
    "no",
  ]);
  const deadline = Date.now() + 10_000;
  while (!redisUp()) {
    if (Date.now() > deadline) throw new Error("redis-server did not come back within 10 s");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Stops redis-server without saving (everything in it is lost), then starts it again. */
export async function restartRedis(): Promise<void> {
  try {
    execFileSync("redis-cli", ["-p", String(REDIS_PORT), "shutdown", "nosave"], { timeout: 5000, stdio: "ignore" });
  } catch {
    // `shutdown` drops the connection it came on, which redis-cli may report as an error.
  }
  const deadline = Date.now() + 10_000;
  while (redisUp()) {
    if (Date.now() > deadline) throw new Error("redis-server did not stop within 10 s");
    await new Promise((r) => setTimeout(r, 20));
  }
  await ensureRedisUp();
}
