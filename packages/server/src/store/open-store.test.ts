import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { openStore } from "./open-store.js";
import { postgresHarness } from "./store-test-harness.js";

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tributary-open-test-"));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("openStore", () => {
  it("opens SQLite in the data dir when no URL is given, with durable pragmas", async () => {
    const dir = tempDir();
    const store = await openStore({ dataDir: dir, env: {} });
    try {
      expect(store.dialect).toBe("sqlite");
      expect(existsSync(join(dir, "tributary.db"))).toBe(true);
      expect(existsSync(join(dir, "secret.key"))).toBe(true);
      await store.putCredentials("p", { k: "v" });
    } finally {
      await store.close();
    }
    const raw = new Database(join(dir, "tributary.db"), { readonly: true });
    try {
      expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
    } finally {
      raw.close();
    }
    // Same data dir, same generated key: credentials survive a restart.
    const again = await openStore({ dataDir: dir, databaseUrl: "  ", env: {} });
    try {
      expect(await again.getCredentials("p")).toEqual({ k: "v" });
    } finally {
      await again.close();
    }
  });

  it("enforces foreign keys on the store's connection", async () => {
    const dir = tempDir();
    const { createSqliteStore } = await import("./sqlite-store.js");
    const file = join(dir, "x.db");
    const store = await createSqliteStore({ file, secretKey: randomBytes(32), busyTimeoutMs: 1234 });
    try {
      await expect(
        store.createRun({
          id: "r",
          taskId: "t",
          appId: "missing",
          workflowId: "missing",
          inputs: {},
          responseMode: "blocking",
          triggeredFrom: "app-run",
          createdAt: 1,
        }),
      ).rejects.toThrow(/FOREIGN KEY/);
    } finally {
      await store.close();
    }
  });

  it.skipIf(process.env["TRIBUTARY_TEST_PG_URL"] === "skip")(
    "routes postgres:// and postgresql:// URLs to PostgreSQL",
    async () => {
      const harness = postgresHarness();
      await harness.setup();
      try {
        const base = harness.url?.() ?? "";
        for (const url of [base, base.replace(/^postgres:/, "postgresql:")]) {
          // Default schema `public` first, then a named one.
          const schema = url === base ? undefined : "tributary";
          const store = await openStore({
            dataDir: tempDir(),
            databaseUrl: url,
            secretKey: randomBytes(32),
            ...(schema ? { schema } : {}),
          });
          try {
            expect(store.dialect).toBe("postgres");
            await store.createApp({ name: String(schema) });
            expect((await store.listApps()).total).toBe(1);
          } finally {
            await store.close();
          }
        }
      } finally {
        await harness.teardown();
      }
    },
  );

  it("refuses an unknown URL scheme before touching the data dir", async () => {
    const dir = join(tempDir(), "untouched");
    await expect(openStore({ dataDir: dir, databaseUrl: "mysql://x/y", env: {} })).rejects.toThrow(
      /Unsupported database URL scheme "mysql"/,
    );
    expect(existsSync(dir)).toBe(false);
  });
});
