/**
 * Embedded store: one SQLite file through better-sqlite3, in WAL mode with synchronous=FULL so
 * a committed batch (in particular a run's final state) survives power loss, not just a crash.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  Migrator,
  type SqliteDatabase,
  SqliteDialect,
  SqliteDriver,
  sql,
} from "kysely";
import { CredentialsCipher } from "./credentials-cipher.js";
import type { Database as Schema } from "./db-schema.js";
import { KyselyStore } from "./kysely-store.js";
import { sqliteMigrations } from "./migrations/sqlite.js";
import type { Store } from "./types.js";

export interface SqliteStoreOptions {
  /** Database file; its directory is created if missing. `:memory:` works for throwaway use. */
  file: string;
  /** 32 bytes for provider-credential encryption (see `loadOrCreateSecretKey`). */
  secretKey: Uint8Array;
  /** How long a writer waits for another process's write lock before failing. Default 5000. */
  busyTimeoutMs?: number;
  now?: () => number;
}

/**
 * Kysely opens transactions with a plain (deferred) BEGIN. A deferred transaction that reads
 * and then writes can fail with SQLITE_BUSY without waiting when another process (say the CLI)
 * holds the write lock; BEGIN IMMEDIATE takes the lock up front, so busy_timeout applies.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }
}

const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely's SQLite driver prepares every query anew; preparing costs about as much as running a
 * small insert. The store issues a small, fixed set of SQL texts, so a bounded cache of
 * prepared statements (least recently used out first) removes that cost.
 */
function withStatementCache(db: Database.Database): SqliteDatabase {
  const cache = new Map<string, Database.Statement>();
  return {
    close: () => {
      cache.clear();
      db.close();
    },
    prepare: (text: string) => {
      let stmt = cache.get(text);
      if (stmt) {
        cache.delete(text);
      } else {
        stmt = db.prepare(text);
        if (cache.size >= STATEMENT_CACHE_SIZE) {
          const oldest = cache.keys().next();
          if (!oldest.done) cache.delete(oldest.value);
        }
      }
      cache.set(text, stmt);
      return stmt;
    },
  };
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #db: SqliteDatabase;
  constructor(db: Database.Database) {
    const cached = withStatementCache(db);
    super({ database: cached });
    this.#db = cached;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver({ database: this.#db });
  }
}

export async function createSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const cipher = new CredentialsCipher(options.secretKey);
  if (options.file !== ":memory:") mkdirSync(dirname(options.file), { recursive: true });
  let raw: Database.Database;
  try {
    raw = new Database(options.file);
  } catch (error) {
    throw new Error(
      `Cannot open the SQLite database ${options.file}: ${(error as Error).message}. Check the path and its permissions.`,
      {
        cause: error,
      },
    );
  }
  const db = new Kysely<Schema>({ dialect: new ImmediateSqliteDialect(raw) });
  try {
    raw.pragma("journal_mode = WAL");
    raw.pragma("synchronous = FULL");
    raw.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    raw.pragma("foreign_keys = ON");
    // Unicode-aware, like PostgreSQL's lower(); SQLite's own lower() only folds ASCII.
    raw.function("tributary_lower", { deterministic: true }, (value: unknown) =>
      typeof value === "string" ? value.toLowerCase() : value,
    );
    await migrate(db, options.file);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return new KyselyStore(
    db,
    {
      dialect: "sqlite",
      // Write transactions are BEGIN IMMEDIATE, so they are already serialised.
      lockIdempotencyKey: async () => {},
      lower: (value) => sql<string | null>`tributary_lower(${value})`,
    },
    { cipher, ...(options.now ? { now: options.now } : {}) },
  );
}

async function migrate(db: Kysely<Schema>, file: string): Promise<void> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => sqliteMigrations } });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "(before any migration ran)";
    throw new Error(
      `Migrating the SQLite database ${file} failed at ${failed}: ${(error as Error).message ?? String(error)}. ` +
        "The database was left at its previous version; fix the cause (disk space, permissions, a newer database " +
        "from a later Tributary) and start again.",
      { cause: error },
    );
  }
}
