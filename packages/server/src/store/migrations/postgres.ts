import type { Migration } from "kysely";
import { createInitialSchema, dropInitialSchema } from "./initial-schema.js";
import { createOpenApiSchema, dropOpenApiSchema } from "./open-api-schema.js";

/**
 * PostgreSQL migrations, applied in name order at open. Never edit a shipped entry: add a new
 * one (e.g. `0002_open_api_keys` for VectorVein open API keys and VApp access keys).
 */
export const postgresMigrations: Record<string, Migration> = {
  "0001_initial": {
    up: (db) =>
      createInitialSchema(db, { bigint: "bigint", int: "integer", float: "double precision", inlineCircularForeignKey: false }),
    down: (db) => dropInitialSchema(db),
  },
  "0002_open_api_keys": {
    up: (db) =>
      createOpenApiSchema(db, { bigint: "bigint", int: "integer", float: "double precision", inlineCircularForeignKey: false }),
    down: (db) => dropOpenApiSchema(db),
  },
};
