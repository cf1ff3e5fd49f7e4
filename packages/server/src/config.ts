/**
 * Server configuration: environment variables (TRIBUTARY_*) plus programmatic overrides,
 * parsed once with zod. Every bad value is reported together, naming the variable, what it
 * got and what it accepts, so an operator fixes the whole environment in one go.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { z } from "zod";

const MB = 1024 * 1024;

export const ADMIN_TOKEN_FILE = "admin-token";

export interface UploadLimits {
  /** Bytes, per file type (Dify defaults: image 10 MB, audio 50 MB, video 100 MB, other 15 MB). */
  imageBytes: number;
  audioBytes: number;
  videoBytes: number;
  fileBytes: number;
  /** Dify `workflow_file_upload_limit`: files per workflow input list. */
  workflowFileUploadLimit: number;
  /** Extensions refused with 415 (lower case, no dot). */
  blockedExtensions: string[];
}

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface Config {
  port: number;
  host: string;
  /** Absolute path. */
  dataDir: string;
  /** Empty: SQLite in the data dir. */
  databaseUrl: string | undefined;
  adminToken: string;
  /** Where the admin token came from; `generated` means it was just written to the data dir. */
  adminTokenSource: "env" | "file" | "generated";
  /** Absolute path. */
  filesDir: string;
  /** Hosts/CIDRs the HTTP capability may reach although they are private (SSRF guard exceptions). */
  httpAllowList: string[];
  /** Largest accepted request body for JSON endpoints (uploads have their own limits). */
  maxBodyBytes: number;
  uploads: UploadLimits;
  /** Default max concurrently running runs per app; null = unlimited. */
  appConcurrency: number | null;
  /** Base URL clients reach this server at (for file URLs); null = derived from host and port. */
  publicUrl: string | null;
  /** Seconds a signed file URL stays valid (Dify FILES_ACCESS_TIMEOUT). */
  filesAccessTimeoutSec: number;
  /** How long shutdown waits for running runs before stopping them. */
  shutdownGraceMs: number;
  logLevel: LogLevel;
  /** Distributed mode (with a PostgreSQL database): Redis for dispatch, events and commands. */
  redisUrl: string | undefined;
  /** Prefix of every Redis key and queue, so deployments (or test runs) can share one Redis. */
  redisPrefix: string;
  /** Runs this process executes at once from the queue (distributed mode); undefined = the command's default. */
  workers: number | undefined;
  /** Runs in progress at once across the server (the cluster, in distributed mode) before 429; null = unlimited. */
  maxConcurrentRuns: number | null;
  /** Lease of a worker on a run it executes: a dead worker's run is detected within lock + stalled check interval. */
  workerLockMs: number;
  /** How often workers look for runs whose worker stopped renewing its lease. */
  stalledCheckMs: number;
  /** Times a run may be retried from the start after its worker died, for apps that allow it. */
  maxRunRetries: number;
  /** How long a finished run's Redis event stream is kept for resuming before the store serves it alone. */
  eventStreamTtlSec: number;
  /** `tributary worker`: port of its /metrics and /healthz endpoint; null = none. */
  metricsPort: number | null;
  /** Start the code sandbox's interpreters at start-up (false: on the first code run). */
  sandboxWarm: boolean;
}

export type ConfigOverrides = Partial<Omit<Config, "uploads" | "adminTokenSource">> & {
  uploads?: Partial<UploadLimits>;
};

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n- ${problems.join("\n- ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

const DEFAULT_BLOCKED_EXTENSIONS = ["exe", "dll", "bat", "cmd", "com", "scr", "msi", "vbs", "ps1", "jar", "app", "deb", "rpm"];

/** Environment variable → what it parses to. Unset and empty variables fall back to defaults. */
const intText = (min: number, max: number, what: string) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, `must be a whole number (${what})`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min} (${what})`).max(max, `must be at most ${max} (${what})`));

const envSchema = z.object({
  TRIBUTARY_PORT: intText(0, 65535, "a TCP port; 0 picks a free one").optional(),
  TRIBUTARY_HOST: z.string().trim().min(1).optional(),
  TRIBUTARY_DATA_DIR: z.string().trim().min(1).optional(),
  TRIBUTARY_DATABASE_URL: z.string().trim().optional(),
  TRIBUTARY_ADMIN_TOKEN: z
    .string()
    .trim()
    .min(16, "must be at least 16 characters (a random secret; leave it unset to have one generated)")
    .optional(),
  TRIBUTARY_FILES_DIR: z.string().trim().min(1).optional(),
  TRIBUTARY_HTTP_ALLOW_LIST: z.string().optional(),
  TRIBUTARY_MAX_BODY_BYTES: intText(1024, 1024 * MB, "bytes").optional(),
  TRIBUTARY_UPLOAD_FILE_SIZE_LIMIT: intText(1, 100 * 1024, "megabytes").optional(),
  TRIBUTARY_UPLOAD_IMAGE_FILE_SIZE_LIMIT: intText(1, 100 * 1024, "megabytes").optional(),
  TRIBUTARY_UPLOAD_AUDIO_FILE_SIZE_LIMIT: intText(1, 100 * 1024, "megabytes").optional(),
  TRIBUTARY_UPLOAD_VIDEO_FILE_SIZE_LIMIT: intText(1, 100 * 1024, "megabytes").optional(),
  TRIBUTARY_WORKFLOW_FILE_UPLOAD_LIMIT: intText(1, 1000, "files").optional(),
  TRIBUTARY_UPLOAD_BLOCKED_EXTENSIONS: z.string().optional(),
  TRIBUTARY_APP_CONCURRENCY: intText(0, 100_000, "runs; 0 means unlimited").optional(),
  TRIBUTARY_PUBLIC_URL: z.string().trim().optional(),
  TRIBUTARY_FILES_ACCESS_TIMEOUT: intText(1, 7 * 24 * 3600, "seconds").optional(),
  TRIBUTARY_SHUTDOWN_GRACE_MS: intText(0, 600_000, "milliseconds").optional(),
  TRIBUTARY_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).optional(),
  TRIBUTARY_REDIS_URL: z.string().trim().optional(),
  TRIBUTARY_REDIS_PREFIX: z.string().trim().optional(),
  TRIBUTARY_WORKERS: intText(0, 10_000, "runs executed at once by this process").optional(),
  TRIBUTARY_MAX_CONCURRENT_RUNS: intText(0, 10_000_000, "runs; 0 means unlimited").optional(),
  TRIBUTARY_WORKER_LOCK_MS: intText(1000, 3_600_000, "milliseconds").optional(),
  TRIBUTARY_STALLED_CHECK_MS: intText(100, 3_600_000, "milliseconds").optional(),
  TRIBUTARY_MAX_RUN_RETRIES: intText(0, 100, "retries").optional(),
  TRIBUTARY_EVENT_STREAM_TTL: intText(1, 7 * 24 * 3600, "seconds").optional(),
  TRIBUTARY_METRICS_PORT: intText(0, 65535, "a TCP port; 0 picks a free one").optional(),
  TRIBUTARY_SANDBOX_WARM: z.enum(["true", "false", "1", "0"], "must be true or false").optional(),
});

const configSchema = z.object({
  port: z.number().int().min(0).max(65535),
  host: z.string().min(1),
  dataDir: z.string().min(1),
  databaseUrl: z
    .string()
    .refine((v) => v === "" || /^postgres(ql)?:\/\//i.test(v), {
      message: "must be empty (SQLite in the data dir) or a postgres:// / postgresql:// URL",
    })
    .optional(),
  adminToken: z.string().min(16).optional(),
  filesDir: z.string().min(1).optional(),
  httpAllowList: z.array(z.string().min(1)),
  maxBodyBytes: z.number().int().min(1024),
  uploads: z.object({
    imageBytes: z.number().int().positive(),
    audioBytes: z.number().int().positive(),
    videoBytes: z.number().int().positive(),
    fileBytes: z.number().int().positive(),
    workflowFileUploadLimit: z.number().int().positive(),
    blockedExtensions: z.array(z.string()),
  }),
  appConcurrency: z.number().int().positive().nullable(),
  publicUrl: z
    .string()
    .url("must be an absolute http(s) URL such as https://tributary.example.com")
    .refine((v) => /^https?:\/\//i.test(v), "must start with http:// or https://")
    .nullable(),
  filesAccessTimeoutSec: z.number().int().positive(),
  shutdownGraceMs: z.number().int().min(0),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
  redisUrl: z
    .string()
    .refine((v) => v === "" || /^rediss?:\/\//i.test(v), {
      message: "must be empty (embedded mode) or a redis:// / rediss:// URL",
    })
    .optional(),
  redisPrefix: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be 1 to 64 letters, digits, '_', '.' or '-' (it starts every Redis key)"),
  workers: z.number().int().min(0).max(10_000).optional(),
  maxConcurrentRuns: z.number().int().positive().nullable(),
  workerLockMs: z.number().int().min(1000),
  stalledCheckMs: z.number().int().min(100),
  maxRunRetries: z.number().int().min(0).max(100),
  eventStreamTtlSec: z.number().int().positive(),
  metricsPort: z.number().int().min(0).max(65535).nullable(),
  sandboxWarm: z.boolean(),
});

function splitList(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  return text
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function formatIssue(prefix: string, issue: z.core.$ZodIssue, raw: unknown): string {
  const path = [prefix, ...issue.path.map(String)].filter((s) => s !== "").join(".");
  const shown = raw === undefined ? "" : ` (got ${JSON.stringify(raw)})`;
  return `${path}: ${issue.message}${shown}`;
}

/**
 * Reads TRIBUTARY_* variables from `env`, applies `overrides` on top, validates everything and
 * resolves the admin token (creating `<dataDir>/admin-token` with mode 0600 on first start).
 * @throws ConfigError listing every invalid value.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env, overrides: ConfigOverrides = {}): Config {
  // Empty variables behave as unset: `FOO= tributary serve` should not fail on FOO.
  const present: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith("TRIBUTARY_") && v !== undefined && v.trim() !== "") present[k] = v;

  const envResult = envSchema.safeParse(present);
  const problems: string[] = [];
  if (!envResult.success) {
    for (const issue of envResult.error.issues) {
      const key = String(issue.path[0] ?? "");
      problems.push(`${key}: ${issue.message}${key in present ? ` (got ${JSON.stringify(present[key])})` : ""}`);
    }
  }
  const e = envResult.success ? envResult.data : {};

  const concurrencyFromEnv = e.TRIBUTARY_APP_CONCURRENCY === undefined ? null : e.TRIBUTARY_APP_CONCURRENCY || null;
  const candidate = {
    port: overrides.port ?? e.TRIBUTARY_PORT ?? 8080,
    host: overrides.host ?? e.TRIBUTARY_HOST ?? "127.0.0.1",
    dataDir: overrides.dataDir ?? e.TRIBUTARY_DATA_DIR ?? "./data",
    databaseUrl: overrides.databaseUrl ?? e.TRIBUTARY_DATABASE_URL,
    adminToken: overrides.adminToken ?? e.TRIBUTARY_ADMIN_TOKEN,
    filesDir: overrides.filesDir ?? e.TRIBUTARY_FILES_DIR,
    httpAllowList: overrides.httpAllowList ?? splitList(e.TRIBUTARY_HTTP_ALLOW_LIST) ?? [],
    maxBodyBytes: overrides.maxBodyBytes ?? e.TRIBUTARY_MAX_BODY_BYTES ?? 10 * MB,
    uploads: {
      imageBytes: overrides.uploads?.imageBytes ?? (e.TRIBUTARY_UPLOAD_IMAGE_FILE_SIZE_LIMIT ?? 10) * MB,
      audioBytes: overrides.uploads?.audioBytes ?? (e.TRIBUTARY_UPLOAD_AUDIO_FILE_SIZE_LIMIT ?? 50) * MB,
      videoBytes: overrides.uploads?.videoBytes ?? (e.TRIBUTARY_UPLOAD_VIDEO_FILE_SIZE_LIMIT ?? 100) * MB,
      fileBytes: overrides.uploads?.fileBytes ?? (e.TRIBUTARY_UPLOAD_FILE_SIZE_LIMIT ?? 15) * MB,
      workflowFileUploadLimit: overrides.uploads?.workflowFileUploadLimit ?? e.TRIBUTARY_WORKFLOW_FILE_UPLOAD_LIMIT ?? 10,
      blockedExtensions: (
        overrides.uploads?.blockedExtensions ??
        splitList(e.TRIBUTARY_UPLOAD_BLOCKED_EXTENSIONS) ??
        DEFAULT_BLOCKED_EXTENSIONS
      ).map((x) => x.toLowerCase().replace(/^\./, "")),
    },
    appConcurrency: overrides.appConcurrency !== undefined ? overrides.appConcurrency : concurrencyFromEnv,
    publicUrl: overrides.publicUrl !== undefined ? overrides.publicUrl : (e.TRIBUTARY_PUBLIC_URL ?? null),
    filesAccessTimeoutSec: overrides.filesAccessTimeoutSec ?? e.TRIBUTARY_FILES_ACCESS_TIMEOUT ?? 300,
    shutdownGraceMs: overrides.shutdownGraceMs ?? e.TRIBUTARY_SHUTDOWN_GRACE_MS ?? 10_000,
    logLevel: overrides.logLevel ?? e.TRIBUTARY_LOG_LEVEL ?? "info",
    redisUrl: overrides.redisUrl ?? e.TRIBUTARY_REDIS_URL,
    redisPrefix: overrides.redisPrefix ?? e.TRIBUTARY_REDIS_PREFIX ?? "tributary",
    workers: overrides.workers ?? e.TRIBUTARY_WORKERS,
    maxConcurrentRuns:
      overrides.maxConcurrentRuns !== undefined
        ? overrides.maxConcurrentRuns
        : e.TRIBUTARY_MAX_CONCURRENT_RUNS === undefined
          ? null
          : e.TRIBUTARY_MAX_CONCURRENT_RUNS || null,
    workerLockMs: overrides.workerLockMs ?? e.TRIBUTARY_WORKER_LOCK_MS ?? 30_000,
    stalledCheckMs: overrides.stalledCheckMs ?? e.TRIBUTARY_STALLED_CHECK_MS ?? 15_000,
    maxRunRetries: overrides.maxRunRetries ?? e.TRIBUTARY_MAX_RUN_RETRIES ?? 1,
    eventStreamTtlSec: overrides.eventStreamTtlSec ?? e.TRIBUTARY_EVENT_STREAM_TTL ?? 60,
    metricsPort: overrides.metricsPort !== undefined ? overrides.metricsPort : (e.TRIBUTARY_METRICS_PORT ?? null),
    sandboxWarm:
      overrides.sandboxWarm ?? (e.TRIBUTARY_SANDBOX_WARM === undefined ? true : ["true", "1"].includes(e.TRIBUTARY_SANDBOX_WARM)),
  };

  const parsed = configSchema.safeParse(candidate);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      let raw: unknown = candidate;
      for (const k of issue.path) raw = raw && typeof raw === "object" ? (raw as Record<PropertyKey, unknown>)[k] : undefined;
      problems.push(formatIssue("", issue, raw));
    }
  }
  if (parsed.success && parsed.data.redisUrl && !parsed.data.databaseUrl) {
    problems.push(
      "TRIBUTARY_REDIS_URL: distributed mode needs PostgreSQL as well (SQLite belongs to one process): set TRIBUTARY_DATABASE_URL=postgres://…, or unset TRIBUTARY_REDIS_URL for embedded mode",
    );
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);

  const c = parsed.data;
  const dataDir = resolve(c.dataDir);
  const filesDir = c.filesDir ? (isAbsolute(c.filesDir) ? c.filesDir : resolve(c.filesDir)) : join(dataDir, "files");
  const admin = c.adminToken ? { token: c.adminToken, source: "env" as const } : loadOrCreateAdminToken(dataDir);
  return {
    port: c.port,
    host: c.host,
    dataDir,
    databaseUrl: c.databaseUrl === "" ? undefined : c.databaseUrl,
    adminToken: admin.token,
    adminTokenSource: admin.source,
    filesDir,
    httpAllowList: c.httpAllowList,
    maxBodyBytes: c.maxBodyBytes,
    uploads: c.uploads,
    appConcurrency: c.appConcurrency,
    publicUrl: c.publicUrl ? c.publicUrl.replace(/\/+$/, "") : null,
    filesAccessTimeoutSec: c.filesAccessTimeoutSec,
    shutdownGraceMs: c.shutdownGraceMs,
    logLevel: c.logLevel,
    redisUrl: c.redisUrl === "" ? undefined : c.redisUrl,
    redisPrefix: c.redisPrefix,
    workers: c.workers,
    maxConcurrentRuns: c.maxConcurrentRuns,
    workerLockMs: c.workerLockMs,
    stalledCheckMs: c.stalledCheckMs,
    maxRunRetries: c.maxRunRetries,
    eventStreamTtlSec: c.eventStreamTtlSec,
    metricsPort: c.metricsPort,
    sandboxWarm: c.sandboxWarm,
  };
}

/**
 * The admin token from `<dataDir>/admin-token`, generated on first use. Written to a private
 * temp file and linked into place, so two processes starting at once agree on one token and
 * nobody reads a half-written file.
 */
export function loadOrCreateAdminToken(dataDir: string): { token: string; source: "file" | "generated" } {
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  const existing = readTokenFile(file);
  if (existing !== undefined) return { token: existing, source: "file" };
  mkdirSync(dataDir, { recursive: true });
  const token = `tka-${randomBytes(24).toString("base64url")}`;
  const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(temp, `${token}\n`, { mode: 0o600, flag: "wx" });
  try {
    chmodSync(temp, 0o600);
    linkSync(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") {
      const winner = readTokenFile(file);
      if (winner !== undefined) return { token: winner, source: "file" };
    }
    throw error;
  } finally {
    rmSync(temp, { force: true });
  }
  return { token, source: "generated" };
}

function readTokenFile(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const token = text.trim();
  if (token.length < 16) {
    throw new ConfigError([
      `${file}: holds no usable admin token (it must be at least 16 characters). Delete the file to have a new one generated, or set TRIBUTARY_ADMIN_TOKEN.`,
    ]);
  }
  return token;
}

/** The URL clients use to reach this server (no trailing slash). */
export function publicBaseUrl(config: Pick<Config, "publicUrl" | "host">, port: number): string {
  if (config.publicUrl) return config.publicUrl;
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}
