import { parse as parseYaml } from "yaml";
import type { DslDocument } from "./dsl-schema.js";
import { type MigrationNote, migrateDsl } from "./migrate-dsl.js";
import { parseDsl } from "./parse-dsl.js";

export interface ImportedDsl {
  document: DslDocument;
  /** What the migration from an older DSL version changed or ignores; empty for a current file. */
  notes: MigrationNote[];
  /** The version the file declared ("0.1.0" when an export declared none). */
  sourceVersion: string | null;
}

/**
 * `parseDsl` plus the migration notes, for imports that tell the user what happened to
 * their file. Throws the same WorkflowValidationError as `parseDsl` for a broken file.
 */
export function importDsl(source: string | unknown): ImportedDsl {
  let raw: unknown = source;
  if (typeof source === "string") {
    try {
      raw = parseYaml(source, { maxAliasCount: 100 });
    } catch {
      // parseDsl reports the YAML error with its line number.
      return { document: parseDsl(source), notes: [], sourceVersion: null };
    }
  }
  // The same shapes parseDsl accepts: a whole export, `{graph}` or a bare `{nodes, edges}`.
  if (raw && typeof raw === "object" && !("workflow" in raw)) {
    const r = raw as Record<string, unknown>;
    if ("graph" in r) raw = { ...r, workflow: { graph: r.graph } };
    else if ("nodes" in r) raw = { workflow: { graph: r } };
  }
  const migrated = migrateDsl(raw);
  return { document: parseDsl(migrated.document), notes: migrated.notes, sourceVersion: migrated.sourceVersion };
}
