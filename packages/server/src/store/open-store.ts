import { join } from "node:path";
import { loadOrCreateSecretKey } from "./credentials-cipher.js";
import { createPostgresStore } from "./postgres-store.js";
import { createSqliteStore } from "./sqlite-store.js";
import type { Store } from "./types.js";

export interface OpenStoreOptions {
  /** Absent or empty: SQLite file `tributary.db` in `dataDir`. `postgres://` / `postgresql://`: PostgreSQL. */
  databaseUrl?: string | undefined;
  dataDir: string;
  /** Default: `loadOrCreateSecretKey(dataDir, env)`. */
  secretKey?: Uint8Array;
  env?: Record<string, string | undefined>;
  /** PostgreSQL schema. Default `public`. */
  schema?: string;
}

export const SQLITE_FILE_NAME = "tributary.db";

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const url = options.databaseUrl?.trim() ?? "";
  const isPostgres = /^postgres(ql)?:\/\//i.test(url);
  if (url !== "" && !isPostgres) {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1] ?? url;
    throw new Error(
      `Unsupported database URL scheme "${scheme}". Use postgres://user@host:5432/db for PostgreSQL, ` +
        `or leave the database URL empty to use SQLite (${SQLITE_FILE_NAME} in the data directory).`,
    );
  }
  const secretKey = options.secretKey ?? loadOrCreateSecretKey(options.dataDir, options.env ?? process.env);
  if (!isPostgres) return createSqliteStore({ file: join(options.dataDir, SQLITE_FILE_NAME), secretKey });
  return createPostgresStore({
    connectionString: url,
    secretKey,
    ...(options.schema !== undefined ? { schema: options.schema } : {}),
  });
}
