/**
 * Test-only: opens fresh stores for the contract suite. SQLite gets a new file per store;
 * PostgreSQL gets one throwaway database per test run (dropped at the end) and a new schema
 * per store inside it, so every test starts empty without paying for CREATE DATABASE each time.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { createPostgresStore } from "./postgres-store.js";
import { createSqliteStore } from "./sqlite-store.js";
import type { Store } from "./types.js";

export const TEST_PG_URL = process.env["TRIBUTARY_TEST_PG_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";

export interface OpenOptions {
  secretKey?: Uint8Array;
  now?: () => number;
}

/** One database a test can open (and re-open) as a store, and read behind the store's back. */
export interface TestDatabase {
  open(options?: OpenOptions): Promise<Store>;
  /** Raw SQL against the same database (`?` placeholders are rewritten for PostgreSQL). */
  query(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
}

export interface Harness {
  readonly name: "sqlite" | "postgres";
  setup(): Promise<void>;
  /** A new, empty database. */
  fresh(): Promise<TestDatabase>;
  teardown(): Promise<void>;
  /** Connection URL of the throwaway database (PostgreSQL only; valid after setup). */
  url?(): string;
}

export const testKey = (): Buffer => randomBytes(32);

export function sqliteHarness(): Harness {
  let dir = "";
  let counter = 0;
  return {
    name: "sqlite",
    async setup() {
      dir = mkdtempSync(join(tmpdir(), "tributary-store-test-"));
    },
    async fresh() {
      const file = join(dir, `db-${++counter}.sqlite`);
      const key = testKey();
      return {
        open: (o = {}) => createSqliteStore({ file, secretKey: o.secretKey ?? key, ...(o.now ? { now: o.now } : {}) }),
        async query(text, params = []) {
          const raw = new Database(file);
          try {
            const stmt = raw.prepare(text);
            if (stmt.reader) return stmt.all(...params) as Record<string, unknown>[];
            stmt.run(...params);
            return [];
          } finally {
            raw.close();
          }
        },
      };
    },
    async teardown() {
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function postgresHarness(adminUrl = TEST_PG_URL): Harness {
  const dbName = `tributary_test_${randomBytes(6).toString("hex")}`;
  let testUrl = "";
  let counter = 0;
  let pool: pg.Pool | undefined;
  return {
    name: "postgres",
    url: () => testUrl,
    async setup() {
      const admin = new pg.Client({ connectionString: adminUrl });
      try {
        await admin.connect();
      } catch (error) {
        throw new Error(
          `PostgreSQL is not reachable at ${adminUrl} (${(error as Error).message}). Start it with ` +
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, or point " +
            "TRIBUTARY_TEST_PG_URL at another server.",
        );
      }
      try {
        await admin.query(`create database ${dbName}`);
      } finally {
        await admin.end();
      }
      const url = new URL(adminUrl);
      url.pathname = `/${dbName}`;
      testUrl = url.toString();
      pool = new pg.Pool({ connectionString: testUrl, max: 2 });
    },
    async fresh() {
      const schema = `s${++counter}_${randomBytes(3).toString("hex")}`;
      const key = testKey();
      return {
        open: (o = {}) =>
          createPostgresStore({
            connectionString: testUrl,
            schema,
            secretKey: o.secretKey ?? key,
            ...(o.now ? { now: o.now } : {}),
          }),
        async query(text, params = []) {
          if (!pool) throw new Error("postgres harness not set up");
          let i = 0;
          const client = await pool.connect();
          try {
            await client.query(`set search_path to ${schema}`);
            const result = await client.query(
              text.replace(/\?/g, () => `$${++i}`),
              params,
            );
            return result.rows as Record<string, unknown>[];
          } finally {
            client.release();
          }
        },
      };
    },
    async teardown() {
      await pool?.end();
      if (!testUrl) return;
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      try {
        await admin.query(`drop database if exists ${dbName} with (force)`);
      } finally {
        await admin.end();
      }
    },
  };
}

export function harnesses(): Harness[] {
  const list = [sqliteHarness()];
  if (process.env["TRIBUTARY_TEST_PG_URL"] !== "skip") list.push(postgresHarness());
  return list;
}
