/** Server store: PostgreSQL through a `pg` pool, same queries as SQLite (see `kysely-store.ts`). */
import { Kysely, Migrator, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { CredentialsCipher } from "./credentials-cipher.js";
import type { Database as Schema } from "./db-schema.js";
import { KyselyStore } from "./kysely-store.js";
import { postgresMigrations } from "./migrations/postgres.js";
import type { Store } from "./types.js";

export interface PostgresStoreOptions {
  connectionString: string;
  /** Schema holding Tributary's tables; created if missing. Default `public`. */
  schema?: string;
  /** 32 bytes for provider-credential encryption; every instance sharing the database needs the same key. */
  secretKey: Uint8Array;
  /** Pool size. Default 10. */
  maxConnections?: number;
  now?: () => number;
}

const INT8_OID = 20;

/**
 * BIGINT columns hold epoch ms and counters, all far below 2^53. pg returns int8 as strings by
 * default; parse them as numbers on this pool only, leaving the process-global parsers alone
 * for any other pg user in the same process.
 */
const poolTypes = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID && format !== "binary"
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

function assertSchemaName(schema: string): void {
  // The name goes into `search_path` and DDL, where it cannot be a bound parameter.
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new Error(
      `Invalid PostgreSQL schema name "${schema}": use letters, digits and underscores, not starting with a digit.`,
    );
  }
}

export async function createPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const cipher = new CredentialsCipher(options.secretKey);
  const schema = options.schema ?? "public";
  assertSchemaName(schema);
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    types: poolTypes,
    // Every connection resolves unqualified table names in our schema, so one set of queries
    // (and migrations) serves any schema.
    options: `-c search_path=${schema}`,
  });
  // An idle client that loses its connection emits 'error' on the pool; without a listener
  // Node would crash the process. The pool already discards that client; the next query
  // gets a fresh one or a real error.
  pool.on("error", () => {});
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  try {
    await sql`create schema if not exists ${sql.id(schema)}`.execute(db);
    await migrate(db, schema, options.connectionString);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return new KyselyStore(
    db,
    {
      dialect: "postgres",
      lockIdempotencyKey: async (trx, appId, key) => {
        await sql`select pg_advisory_xact_lock(hashtextextended(${`tributary-idempotency:${appId}:${key}`}, 0))`.execute(trx);
      },
      lower: (value) => sql<string | null>`lower(${value})`,
    },
    { cipher, ...(options.now ? { now: options.now } : {}) },
  );
}

function redact(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "(unparseable connection string)";
  }
}

async function migrate(db: Kysely<Schema>, schema: string, connectionString: string): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => postgresMigrations },
    // Kysely looks for its bookkeeping table across all schemas unless told which one.
    migrationTableSchema: schema,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "(before any migration ran)";
    throw new Error(
      `Migrating PostgreSQL ${redact(connectionString)} (schema ${schema}) failed at ${failed}: ` +
        `${(error as Error).message ?? String(error)}. Check that the server is reachable and the user may create ` +
        "tables in that schema.",
      { cause: error },
    );
  }
}
