import { parse as parseYaml, YAMLParseError } from "yaml";
import { WorkflowValidationError } from "../errors.js";
import { type DslDocument, dslDocumentSchema } from "./dsl-schema.js";
import { migrateDsl } from "./migrate-dsl.js";

/**
 * Parses a workflow from YAML or JSON text (JSON is YAML) or an already-parsed object.
 * Structural problems are reported all at once as a WorkflowValidationError.
 */
export function parseDsl(source: string | unknown): DslDocument {
  let raw: unknown = source;
  if (typeof source === "string") {
    try {
      raw = parseYaml(source, { maxAliasCount: 100 });
    } catch (e) {
      const where = e instanceof YAMLParseError && e.linePos ? ` at line ${e.linePos[0].line}` : "";
      throw new WorkflowValidationError([
        { nodeId: null, message: `The workflow file is not valid YAML or JSON${where}: ${(e as Error).message.split("\n")[0]}` },
      ]);
    }
  }
  // Accept a bare graph `{nodes, edges}` or `{graph: …}` too, as people paste those.
  if (raw && typeof raw === "object" && !("workflow" in raw)) {
    const r = raw as Record<string, unknown>;
    if ("graph" in r) raw = { ...r, workflow: { graph: r.graph } };
    else if ("nodes" in r) raw = { workflow: { graph: r } };
  }
  // Older DSL versions (0.1.x–0.5.x) are brought to today's layout first; see migrate-dsl.ts.
  raw = migrateDsl(raw).document;
  const parsed = dslDocumentSchema.safeParse(raw);
  if (!parsed.success) {
    throw new WorkflowValidationError(
      parsed.error.issues.map((issue) => ({
        nodeId: nodeIdAt(raw, issue.path),
        message: `${issue.path.length ? `${issue.path.join(".")}: ` : ""}${issue.message}`,
      })),
    );
  }
  return parsed.data;
}

function nodeIdAt(raw: unknown, path: readonly PropertyKey[]): string | null {
  if (path[0] !== "workflow" || path[1] !== "graph" || path[2] !== "nodes" || typeof path[3] !== "number") return null;
  const nodes = (raw as { workflow?: { graph?: { nodes?: Array<{ id?: unknown }> } } }).workflow?.graph?.nodes;
  const id = nodes?.[path[3]]?.id;
  return typeof id === "string" ? id : null;
}
