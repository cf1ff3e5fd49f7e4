import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, publicBaseUrl } from "./config.js";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "tributary-config-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("loadConfig", () => {
  it("has Dify's defaults and generates the admin token once, mode 0600", () => {
    const dataDir = tempDir();
    const c = loadConfig({}, { dataDir });
    expect(c).toMatchObject({
      port: 8080,
      host: "127.0.0.1",
      dataDir,
      databaseUrl: undefined,
      filesDir: join(dataDir, "files"),
      httpAllowList: [],
      appConcurrency: null,
      adminTokenSource: "generated",
      uploads: {
        imageBytes: 10 * 1024 * 1024,
        audioBytes: 50 * 1024 * 1024,
        videoBytes: 100 * 1024 * 1024,
        fileBytes: 15 * 1024 * 1024,
      },
    });
    const file = join(dataDir, "admin-token");
    expect(readFileSync(file, "utf8").trim()).toBe(c.adminToken);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = loadConfig({}, { dataDir });
    expect(again.adminToken).toBe(c.adminToken);
    expect(again.adminTokenSource).toBe("file");
  });

  it("reads TRIBUTARY_* variables, and overrides win over them", () => {
    const dataDir = tempDir();
    const env = {
      TRIBUTARY_PORT: "9000",
      TRIBUTARY_HOST: "0.0.0.0",
      TRIBUTARY_DATA_DIR: dataDir,
      TRIBUTARY_DATABASE_URL: "postgres://u@db/tributary",
      TRIBUTARY_ADMIN_TOKEN: "a-long-enough-admin-token",
      TRIBUTARY_HTTP_ALLOW_LIST: "10.0.0.0/8, internal.example.com",
      TRIBUTARY_UPLOAD_IMAGE_FILE_SIZE_LIMIT: "2",
      TRIBUTARY_APP_CONCURRENCY: "4",
      TRIBUTARY_PUBLIC_URL: "https://flows.example.com/",
      TRIBUTARY_LOG_LEVEL: "debug",
      UNRELATED: "x",
    };
    const c = loadConfig(env, { port: 0 });
    expect(c).toMatchObject({
      port: 0,
      host: "0.0.0.0",
      databaseUrl: "postgres://u@db/tributary",
      adminToken: "a-long-enough-admin-token",
      adminTokenSource: "env",
      httpAllowList: ["10.0.0.0/8", "internal.example.com"],
      appConcurrency: 4,
      publicUrl: "https://flows.example.com",
      logLevel: "debug",
    });
    expect(c.uploads.imageBytes).toBe(2 * 1024 * 1024);
    expect(publicBaseUrl(c, 1234)).toBe("https://flows.example.com");
    expect(publicBaseUrl({ publicUrl: null, host: "0.0.0.0" }, 1234)).toBe("http://127.0.0.1:1234");
  });

  it("treats empty variables as unset and 0 concurrency as unlimited", () => {
    const c = loadConfig({ TRIBUTARY_PORT: "", TRIBUTARY_APP_CONCURRENCY: "0" }, { dataDir: tempDir() });
    expect(c.port).toBe(8080);
    expect(c.appConcurrency).toBeNull();
  });

  it("reports every bad value at once, naming the variable and what it got", () => {
    let error: unknown;
    try {
      loadConfig(
        {
          TRIBUTARY_PORT: "70000",
          TRIBUTARY_MAX_BODY_BYTES: "lots",
          TRIBUTARY_ADMIN_TOKEN: "short",
          TRIBUTARY_LOG_LEVEL: "loud",
          TRIBUTARY_DATABASE_URL: "mysql://db",
        },
        { dataDir: tempDir() },
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join("\n");
    expect(problems).toMatch(/TRIBUTARY_PORT: must be at most 65535.*"70000"/);
    expect(problems).toMatch(/TRIBUTARY_MAX_BODY_BYTES: must be a whole number.*"lots"/);
    expect(problems).toMatch(/TRIBUTARY_ADMIN_TOKEN: must be at least 16 characters/);
    expect(problems).toMatch(/TRIBUTARY_LOG_LEVEL/);
    expect(() => loadConfig({ TRIBUTARY_DATABASE_URL: "mysql://db" }, { dataDir: tempDir() })).toThrow(
      /databaseUrl: must be empty .* postgres/,
    );
  });

  it("reads the distributed-mode settings, and needs PostgreSQL with Redis", () => {
    const embedded = loadConfig({}, { dataDir: tempDir() });
    expect(embedded).toMatchObject({
      redisUrl: undefined,
      redisPrefix: "tributary",
      workers: undefined,
      maxConcurrentRuns: null,
      workerLockMs: 30_000,
      stalledCheckMs: 15_000,
      maxRunRetries: 1,
      eventStreamTtlSec: 60,
      metricsPort: null,
      sandboxWarm: true,
    });
    const c = loadConfig(
      {
        TRIBUTARY_DATABASE_URL: "postgres://db/t",
        TRIBUTARY_REDIS_URL: "redis://cache:6379",
        TRIBUTARY_REDIS_PREFIX: "acme-prod",
        TRIBUTARY_WORKERS: "4",
        TRIBUTARY_MAX_CONCURRENT_RUNS: "100",
        TRIBUTARY_WORKER_LOCK_MS: "5000",
        TRIBUTARY_SANDBOX_WARM: "false",
      },
      { dataDir: tempDir() },
    );
    expect(c).toMatchObject({ redisUrl: "redis://cache:6379", redisPrefix: "acme-prod", workers: 4, maxConcurrentRuns: 100 });
    expect(c).toMatchObject({ workerLockMs: 5000, sandboxWarm: false });
    expect(() => loadConfig({ TRIBUTARY_REDIS_URL: "redis://cache" }, { dataDir: tempDir() })).toThrow(
      /distributed mode needs PostgreSQL/,
    );
    expect(() =>
      loadConfig(
        { TRIBUTARY_DATABASE_URL: "postgres://db/t", TRIBUTARY_REDIS_URL: "http://cache", TRIBUTARY_REDIS_PREFIX: "a b" },
        { dataDir: tempDir() },
      ),
    ).toThrow(/redisUrl: must be empty .* redis:\/\/[\s\S]*redisPrefix: must be 1 to 64/);
  });

  it("refuses an unusable admin-token file with what to do", () => {
    const dataDir = tempDir();
    writeFileSync(join(dataDir, "admin-token"), "x\n");
    expect(() => loadConfig({}, { dataDir })).toThrow(/Delete the file to have a new one generated/);
  });
});
