/**
 * Starts the real server (`serve`) on a random port over a fresh data directory, against
 * SQLite or a throwaway PostgreSQL database — or in distributed mode (PostgreSQL + Redis under
 * a key prefix of its own, runs executed by a queue worker) — and talks to it over HTTP with fetch.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { type ServeHandle, type ServeOptions, serve } from "../../src/serve.js";
import { dropPrefix, holdRedis, REDIS_URL, redisAvailable, testPrefix } from "./redis.js";

export type Dialect = "sqlite" | "postgres";

export const PG_ADMIN_URL = process.env["TRIBUTARY_TEST_PG_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** Suites run for SQLite always, and for PostgreSQL unless TRIBUTARY_TEST_PG_URL=skip. */
export const dialects: Dialect[] = process.env["TRIBUTARY_TEST_PG_URL"] === "skip" ? ["sqlite"] : ["sqlite", "postgres"];

/** How a suite's server runs: embedded on either database, or distributed (API + queue worker over Redis). */
export type Mode = Dialect | "distributed";

/** The end-to-end suites run in every mode: both embedded dialects, and distributed unless Redis is skipped. */
export const modes: Mode[] = [...dialects, ...(redisAvailable && dialects.includes("postgres") ? ["distributed" as const] : [])];

export interface TestServer {
  mode: Mode;
  url: string;
  adminToken: string;
  handle: ServeHandle;
  dataDir: string;
  /** Admin API call with the admin token. */
  admin(path: string, init?: RequestInit): Promise<Response>;
  /** Creates an app from a DSL document and an API key for it. */
  createApp(dsl: unknown): Promise<{ appId: string; workflowId: string; key: string }>;
  /** Service API call with an app key. */
  api(key: string, path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

export async function createDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `tributary_server_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${PG_ADMIN_URL} (${(error as Error).message}). Start it, point TRIBUTARY_TEST_PG_URL at another server, or set TRIBUTARY_TEST_PG_URL=skip.`,
    );
  }
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: PG_ADMIN_URL });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

export async function startTestServer(mode: Mode, options: ServeOptions = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "tributary-server-test-"));
  const database = mode === "sqlite" ? undefined : await createDatabase();
  const prefix = mode === "distributed" ? testPrefix() : undefined;
  // Held while this server uses Redis, so the Redis restart test waits for it.
  const releaseRedis = prefix ? await holdRedis("shared") : undefined;
  const distributed: ServeOptions = prefix
    ? { redisUrl: REDIS_URL, redisPrefix: prefix, workers: 8, workerLockMs: 5000, stalledCheckMs: 1000 }
    : {};
  const cleanUp = async () => {
    await database?.drop();
    if (prefix) await dropPrefix(prefix);
    await releaseRedis?.();
    rmSync(dataDir, { recursive: true, force: true });
  };
  let handle: ServeHandle;
  try {
    handle = await serve({
      env: {},
      port: 0,
      host: "127.0.0.1",
      dataDir,
      logLevel: "silent",
      importExamples: false,
      handleSignals: false,
      print: () => {},
      shutdownGraceMs: 2_000,
      // Workflows call upstreams the tests start on loopback; code nodes start workers on first use.
      httpAllowList: ["127.0.0.1"],
      sandbox: { warm: false },
      ...(database ? { databaseUrl: database.url } : {}),
      ...distributed,
      ...options,
    });
  } catch (error) {
    await cleanUp();
    throw error;
  }
  const url = handle.url;
  const adminToken = handle.config.adminToken;
  const admin = (path: string, init: RequestInit = {}) =>
    fetch(`${url}${path}`, { ...init, headers: { Authorization: `Bearer ${adminToken}`, ...(init.headers ?? {}) } });
  return {
    mode,
    url,
    adminToken,
    handle,
    dataDir,
    admin,
    async createApp(dsl) {
      const created = await admin("/api/admin/apps", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(dsl),
      });
      if (created.status !== 201) throw new Error(`creating the app failed: ${created.status} ${await created.text()}`);
      const { app_id, workflow_id } = (await created.json()) as { app_id: string; workflow_id: string };
      const keyRes = await admin(`/api/admin/apps/${app_id}/api-keys`, { method: "POST" });
      if (keyRes.status !== 201) throw new Error(`creating the key failed: ${keyRes.status} ${await keyRes.text()}`);
      const { key } = (await keyRes.json()) as { key: string };
      return { appId: app_id, workflowId: workflow_id, key };
    },
    api(key, path, init = {}) {
      const { json, ...rest } = init;
      const headers: Record<string, string> = {
        Authorization: `Bearer ${key}`,
        ...(rest.headers as Record<string, string> | undefined),
      };
      if (json !== undefined) headers["Content-Type"] = "application/json";
      return fetch(`${url}${path}`, { ...rest, headers, ...(json !== undefined ? { body: JSON.stringify(json) } : {}) });
    },
    async close() {
      try {
        await handle.close();
      } finally {
        await cleanUp();
      }
    },
  };
}

export interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
}

/** Reads an SSE body into events (`event: ping` frames included), optionally stopping early. */
export async function readSse(
  response: Response,
  options: { until?: (event: SseEvent, all: SseEvent[]) => boolean; onEvent?: (event: SseEvent) => void } = {},
): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  if (!response.body) return events;
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let boundary = buffer.indexOf("\n\n");
      while (boundary >= 0) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        const event: SseEvent = {};
        for (const line of block.split("\n")) {
          const colon = line.indexOf(":");
          const field = colon >= 0 ? line.slice(0, colon) : line;
          const value = colon >= 0 ? line.slice(colon + 1).replace(/^ /, "") : "";
          if (field === "id" || field === "event" || field === "data") event[field] = value;
        }
        events.push(event);
        options.onEvent?.(event);
        if (options.until?.(event, events)) {
          await reader.cancel();
          return events;
        }
        boundary = buffer.indexOf("\n\n");
      }
    }
  } finally {
    reader.releaseLock();
  }
  return events;
}

/** The JSON payloads of the data frames. */
export function dataFrames(events: SseEvent[]): Array<Record<string, unknown> & { event: string }> {
  return events.filter((e) => e.data !== undefined).map((e) => JSON.parse(e.data as string));
}

export async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
  const text = await response.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`expected JSON, got ${response.status}: ${text.slice(0, 300)}`);
  }
}

export async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 5_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
