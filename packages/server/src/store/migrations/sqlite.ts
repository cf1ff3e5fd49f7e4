import type { Migration } from "kysely";
import { createInitialSchema, dropInitialSchema } from "./initial-schema.js";
import { createOpenApiSchema, dropOpenApiSchema } from "./open-api-schema.js";

/**
 * SQLite migrations, applied in name order at open. Never edit a shipped entry: add a new one
 * (e.g. `0002_open_api_keys` for VectorVein open API keys and VApp access keys).
 */
export const sqliteMigrations: Record<string, Migration> = {
  "0001_initial": {
    up: (db) => createInitialSchema(db, { bigint: "integer", int: "integer", float: "real", inlineCircularForeignKey: true }),
    down: (db) => dropInitialSchema(db),
  },
  "0002_open_api_keys": {
    up: (db) => createOpenApiSchema(db, { bigint: "integer", int: "integer", float: "real", inlineCircularForeignKey: true }),
    down: (db) => dropOpenApiSchema(db),
  },
};
