import type { Expression, Kysely, RawBuilder } from "kysely";
import type { CredentialsCipher } from "../credentials-cipher.js";
import type { Database } from "../db-schema.js";
import type { PageRequest, Store } from "../types.js";

/** Where the two databases genuinely differ; everything else is one set of Kysely queries. */
export interface DialectHooks {
  readonly dialect: Store["dialect"];
  /**
   * Serialises `createRunIdempotent` for one (app, key) until `trx` ends. SQLite needs nothing
   * (its write transactions are already exclusive); PostgreSQL takes an advisory lock.
   */
  lockIdempotencyKey(trx: Kysely<Database>, appId: string, key: string): Promise<void>;
  /** Lower-cases text the same way in both dialects (SQLite's built-in lower() is ASCII-only). */
  lower(value: Expression<string | null>): RawBuilder<string | null>;
}

/** What every query function gets: the database and the few things queries need besides. */
export interface StoreContext {
  readonly db: Kysely<Database>;
  readonly hooks: DialectHooks;
  readonly cipher: CredentialsCipher;
  readonly now: () => number;
}

const DEFAULT_PAGE_LIMIT = 20;
const MAX_PAGE_LIMIT = 1000;

export function pageOf(request: PageRequest): { page: number; limit: number; offset: number } {
  const page = Math.max(1, Math.floor(request.page ?? 1));
  const limit = Math.min(MAX_PAGE_LIMIT, Math.max(1, Math.floor(request.limit ?? DEFAULT_PAGE_LIMIT)));
  return { page, limit, offset: (page - 1) * limit };
}

/** A case-insensitive "contains" pattern for `LIKE … ESCAPE '\'`, with the needle's own % and _ literal. */
export function likePattern(needle: string): string {
  return `%${needle.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
