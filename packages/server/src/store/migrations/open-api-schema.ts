import type { Kysely } from "kysely";
import type { DialectTypes } from "./initial-schema.js";

// Migrations must not depend on the current `Database` interface (see initial-schema.ts).
// biome-ignore lint/suspicious/noExplicitAny: see above
type AnyDb = Kysely<any>;

/**
 * `0002_open_api_keys`: VectorVein's Open API keys, VApp access keys (with their apps and use
 * records), which runs came through that protocol, per-app VectorVein settings and VApp page
 * sessions. Shapes are shared by both dialects; only column types differ (`DialectTypes`).
 */
export async function createOpenApiSchema(db: AnyDb, t: DialectTypes): Promise<void> {
  await db.schema
    .createTable("open_api_keys")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("owner", "text", (c) => c.notNull())
    .addColumn("name", "text")
    .addColumn("prefix", "text", (c) => c.notNull())
    .addColumn("key_hash", "text", (c) => c.notNull())
    .addColumn("ciphertext", "text", (c) => c.notNull())
    .addColumn("cipher_key_id", "text", (c) => c.notNull())
    .addColumn("rate_limit_per_minute", t.int)
    .addColumn("created_at", t.bigint, (c) => c.notNull())
    .addColumn("last_used_at", t.bigint)
    .execute();
  await db.schema.createIndex("open_api_keys_key_hash").unique().on("open_api_keys").column("key_hash").execute();
  await db.schema.createIndex("open_api_keys_owner").on("open_api_keys").columns(["owner", "created_at"]).execute();

  await db.schema
    .createTable("vapp_access_keys")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("access_key", "text", (c) => c.notNull())
    .addColumn("owner", "text", (c) => c.notNull())
    .addColumn("access_key_type", "text", (c) => c.notNull())
    .addColumn("access_scope", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("use_count", t.int, (c) => c.notNull().defaultTo(0))
    .addColumn("max_use_count", t.int)
    .addColumn("max_credits", t.bigint)
    .addColumn("used_credits", t.bigint, (c) => c.notNull().defaultTo(0))
    .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("expire_at", t.bigint)
    .addColumn("expire_time_text", "text")
    .addColumn("created_at", t.bigint, (c) => c.notNull())
    .addColumn("last_use_at", t.bigint)
    .execute();
  await db.schema.createIndex("vapp_access_keys_key").unique().on("vapp_access_keys").column("access_key").execute();
  await db.schema.createIndex("vapp_access_keys_owner").on("vapp_access_keys").columns(["owner", "created_at"]).execute();

  await db.schema
    .createTable("vapp_access_key_apps")
    .addColumn("access_key_id", "text", (c) => c.notNull().references("vapp_access_keys.id").onDelete("cascade"))
    .addColumn("app_id", "text", (c) => c.notNull().references("apps.id").onDelete("cascade"))
    .addColumn("position", t.int, (c) => c.notNull())
    .addPrimaryKeyConstraint("vapp_access_key_apps_pk", ["access_key_id", "app_id"])
    .execute();
  await db.schema.createIndex("vapp_access_key_apps_app").on("vapp_access_key_apps").column("app_id").execute();

  await db.schema
    .createTable("vapp_access_key_records")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("access_key_id", "text", (c) => c.notNull().references("vapp_access_keys.id").onDelete("cascade"))
    .addColumn("run_id", "text", (c) => c.notNull())
    .addColumn("app_id", "text", (c) => c.notNull())
    .addColumn("credits", t.bigint, (c) => c.notNull().defaultTo(0))
    .addColumn("created_at", t.bigint, (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("vapp_access_key_records_key")
    .on("vapp_access_key_records")
    .columns(["access_key_id", "created_at"])
    .execute();

  await db.schema
    .createTable("open_api_runs")
    .addColumn("run_id", "text", (c) => c.primaryKey().references("runs.id").onDelete("cascade"))
    .addColumn("owner", "text", (c) => c.notNull())
    .addColumn("app_id", "text", (c) => c.notNull())
    .addColumn("source", "text", (c) => c.notNull())
    .addColumn("api_key_id", "text")
    .addColumn("access_key_id", "text")
    .addColumn("output_scope", "text", (c) => c.notNull())
    .addColumn("input_fields", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("created_at", t.bigint, (c) => c.notNull())
    .execute();
  await db.schema.createIndex("open_api_runs_owner").on("open_api_runs").columns(["owner", "created_at"]).execute();

  await db.schema
    .createTable("open_api_workflows")
    .addColumn("app_id", "text", (c) => c.primaryKey().references("apps.id").onDelete("cascade"))
    .addColumn("language", "text", (c) => c.notNull())
    .addColumn("tool_call_data", "text", (c) => c.notNull().defaultTo("{}"))
    .addColumn("source_workflow", "text")
    .addColumn("credits_per_run", t.bigint, (c) => c.notNull())
    .addColumn("credits_per_1k_tokens", t.bigint, (c) => c.notNull())
    .addColumn("updated_at", t.bigint, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("vapp_sessions")
    .addColumn("id_hash", "text", (c) => c.primaryKey())
    .addColumn("app_id", "text", (c) => c.notNull().references("apps.id").onDelete("cascade"))
    .addColumn("access_key_id", "text", (c) => c.notNull().references("vapp_access_keys.id").onDelete("cascade"))
    .addColumn("expires_at", t.bigint, (c) => c.notNull())
    .addColumn("created_at", t.bigint, (c) => c.notNull())
    .execute();
  await db.schema.createIndex("vapp_sessions_expires").on("vapp_sessions").column("expires_at").execute();
}

export async function dropOpenApiSchema(db: AnyDb): Promise<void> {
  for (const table of [
    "vapp_sessions",
    "open_api_workflows",
    "open_api_runs",
    "vapp_access_key_records",
    "vapp_access_key_apps",
    "vapp_access_keys",
    "open_api_keys",
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
