import type { Kysely } from "kysely";

/**
 * Column types that differ between the dialects. Everything else (names, nullability, keys,
 * indexes) is shared, so both databases hold the same shapes and answer the same queries.
 */
export interface DialectTypes {
  /** Epoch ms and other 64-bit integers. */
  bigint: "integer" | "bigint";
  int: "integer";
  float: "real" | "double precision";
  /**
   * SQLite resolves foreign keys when rows are written, so `apps.current_version_id` can point
   * at a table created later; PostgreSQL needs the constraint added once both tables exist.
   */
  inlineCircularForeignKey: boolean;
}

// Kysely's schema builder is typed against no particular database; migrations must not depend
// on the current `Database` interface, which describes the latest schema, not this one.
// biome-ignore lint/suspicious/noExplicitAny: see above
type AnyDb = Kysely<any>;

export async function createInitialSchema(db: AnyDb, t: DialectTypes): Promise<void> {
  await db.schema
    .createTable("apps")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("tags", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("icon", "text")
    .addColumn("images", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("enabled", t.int, (c) => c.notNull().defaultTo(1))
    .addColumn("max_concurrency", t.int)
    .addColumn("current_version_id", "text", (c) =>
      t.inlineCircularForeignKey ? c.references("workflow_versions.id").onDelete("set null") : c,
    )
    .addColumn("created_at", t.bigint, (c) => c.notNull())
    .addColumn("updated_at", t.bigint, (c) => c.notNull())
    .addColumn("deleted_at", t.bigint)
    .execute();
  await db.schema.createIndex("apps_created_at").on("apps").column("created_at").execute();

  await db.schema
    .createTable("workflow_versions")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("app_id", "text", (c) => c.notNull().references("apps.id").onDelete("cascade"))
    .addColumn("version", t.int, (c) => c.notNull())
    .addColumn("dsl", "text", (c) => c.notNull())
    .addColumn("source_text", "text", (c) => c.notNull())
    .addColumn("source_format", "text", (c) => c.notNull())
    .addColumn("created_at", t.bigint, (c) => c.notNull())
    .addUniqueConstraint("workflow_versions_app_version", ["app_id", "version"])
    .execute();

  if (!t.inlineCircularForeignKey) {
    await db.schema
      .alterTable("apps")
      .addForeignKeyConstraint("apps_current_version_fk", ["current_version_id"], "workflow_versions", ["id"], (c) =>
        c.onDelete("set null"),
      )
      .execute();
  }

  await db.schema
    .createTable("app_api_keys")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("app_id", "text", (c) => c.notNull().references("apps.id").onDelete("cascade"))
    .addColumn("key_hash", "text", (c) => c.notNull())
    .addColumn("prefix", "text", (c) => c.notNull())
    .addColumn("name", "text")
    .addColumn("created_at", t.bigint, (c) => c.notNull())
    .addColumn("last_used_at", t.bigint)
    .execute();
  await db.schema.createIndex("app_api_keys_key_hash").unique().on("app_api_keys").column("key_hash").execute();
  await db.schema.createIndex("app_api_keys_app").on("app_api_keys").column("app_id").execute();

  await db.schema
    .createTable("end_users")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("app_id", "text", (c) => c.notNull().references("apps.id").onDelete("cascade"))
    .addColumn("session_id", "text", (c) => c.notNull())
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("is_anonymous", t.int, (c) => c.notNull().defaultTo(0))
    .addColumn("created_at", t.bigint, (c) => c.notNull())
    .addUniqueConstraint("end_users_app_session", ["app_id", "session_id"])
    .execute();

  await db.schema
    .createTable("runs")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("task_id", "text", (c) => c.notNull())
    .addColumn("app_id", "text", (c) => c.notNull().references("apps.id").onDelete("cascade"))
    .addColumn("workflow_id", "text", (c) => c.notNull().references("workflow_versions.id").onDelete("cascade"))
    .addColumn("end_user_id", "text", (c) => c.references("end_users.id").onDelete("set null"))
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("inputs", "text", (c) => c.notNull())
    .addColumn("outputs", "text")
    .addColumn("error", "text")
    .addColumn("error_code", "text")
    .addColumn("response_mode", "text", (c) => c.notNull())
    .addColumn("triggered_from", "text", (c) => c.notNull())
    .addColumn("owner", "text")
    .addColumn("idempotency_key", "text")
    .addColumn("idempotency_body_hash", "text")
    .addColumn("total_tokens", t.bigint, (c) => c.notNull().defaultTo(0))
    .addColumn("total_price", t.float, (c) => c.notNull().defaultTo(0))
    .addColumn("currency", "text", (c) => c.notNull().defaultTo("USD"))
    .addColumn("total_steps", t.int, (c) => c.notNull().defaultTo(0))
    .addColumn("exceptions_count", t.int, (c) => c.notNull().defaultTo(0))
    .addColumn("elapsed_ms", t.float, (c) => c.notNull().defaultTo(0))
    .addColumn("created_at", t.bigint, (c) => c.notNull())
    .addColumn("finished_at", t.bigint)
    .execute();
  await db.schema.createIndex("runs_task_id").unique().on("runs").column("task_id").execute();
  await db.schema.createIndex("runs_app_created").on("runs").columns(["app_id", "created_at"]).execute();
  await db.schema.createIndex("runs_created").on("runs").column("created_at").execute();
  await db.schema.createIndex("runs_end_user_created").on("runs").columns(["end_user_id", "created_at"]).execute();
  // Concurrency checks and orphan recovery look only at running runs.
  await db.schema.createIndex("runs_app_status").on("runs").columns(["app_id", "status"]).execute();
  await db.schema.createIndex("runs_status_owner").on("runs").columns(["status", "owner"]).execute();
  // Not unique: a key may be reused once its window has passed.
  await db.schema
    .createIndex("runs_app_idempotency")
    .on("runs")
    .columns(["app_id", "idempotency_key", "created_at"])
    .where("idempotency_key", "is not", null)
    .execute();

  await db.schema
    .createTable("run_events")
    .addColumn("run_id", "text", (c) => c.notNull().references("runs.id").onDelete("cascade"))
    .addColumn("seq", t.bigint, (c) => c.notNull())
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("payload", "text", (c) => c.notNull())
    .addColumn("created_at", t.bigint, (c) => c.notNull())
    .addPrimaryKeyConstraint("run_events_pk", ["run_id", "seq"])
    .execute();

  await db.schema
    .createTable("node_executions")
    .addColumn("run_id", "text", (c) => c.notNull().references("runs.id").onDelete("cascade"))
    .addColumn("id", "text", (c) => c.notNull())
    .addColumn("node_id", "text", (c) => c.notNull())
    .addColumn("node_type", "text", (c) => c.notNull())
    .addColumn("title", "text", (c) => c.notNull())
    .addColumn("execution_index", t.int, (c) => c.notNull())
    .addColumn("predecessor_node_id", "text")
    .addColumn("iteration_id", "text")
    .addColumn("iteration_index", t.int)
    .addColumn("loop_id", "text")
    .addColumn("loop_index", t.int)
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("inputs", "text")
    .addColumn("process_data", "text")
    .addColumn("outputs", "text")
    .addColumn("error", "text")
    .addColumn("error_type", "text")
    .addColumn("retry_count", t.int, (c) => c.notNull().defaultTo(0))
    .addColumn("elapsed_ms", t.float)
    .addColumn("metadata", "text")
    .addColumn("created_at", t.bigint, (c) => c.notNull())
    .addColumn("finished_at", t.bigint)
    // Keyed by run too: the engine promises execution ids unique within a run, not globally.
    .addPrimaryKeyConstraint("node_executions_pk", ["run_id", "id"])
    .execute();

  await db.schema
    .createTable("uploaded_files")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("app_id", "text", (c) => c.references("apps.id").onDelete("cascade"))
    .addColumn("end_user_id", "text", (c) => c.references("end_users.id").onDelete("set null"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("size", t.bigint, (c) => c.notNull())
    .addColumn("extension", "text", (c) => c.notNull())
    .addColumn("mime_type", "text", (c) => c.notNull())
    .addColumn("storage_key", "text", (c) => c.notNull())
    .addColumn("created_at", t.bigint, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("provider_credentials")
    .addColumn("provider", "text", (c) => c.primaryKey())
    .addColumn("ciphertext", "text", (c) => c.notNull())
    .addColumn("key_id", "text", (c) => c.notNull())
    .addColumn("created_at", t.bigint, (c) => c.notNull())
    .addColumn("updated_at", t.bigint, (c) => c.notNull())
    .execute();
}

export async function dropInitialSchema(db: AnyDb): Promise<void> {
  for (const table of [
    "provider_credentials",
    "uploaded_files",
    "node_executions",
    "run_events",
    "runs",
    "end_users",
    "app_api_keys",
  ]) {
    await db.schema.dropTable(table).execute();
  }
  // apps <-> workflow_versions reference each other; break the cycle first.
  await db.updateTable("apps").set({ current_version_id: null }).execute();
  await db.schema.dropTable("workflow_versions").execute();
  await db.schema.dropTable("apps").execute();
}
