import { stringify as stringifyYaml } from "yaml";
import type { DslDocument } from "./dsl-schema.js";
import { CURRENT_DSL_VERSION } from "./migrate-dsl.js";

export interface ExportDslOptions {
  format?: "yaml" | "json";
  /** Keep the values of secret environment variables. Default false: they are exported blank, as Dify does. */
  includeSecrets?: boolean;
}

type Obj = Record<string, unknown>;

/**
 * Writes a workflow as a Dify DSL 0.6.0 file. Everything the document holds is written
 * back, UI fields (positions, viewport, note nodes, sizes) and unknown fields included, so
 * `parseDsl(exportDsl(doc))` equals `doc` (apart from blanked secrets). Secret environment
 * variable values are blanked unless `includeSecrets` is set, as in Dify's own export.
 */
export function exportDsl(document: DslDocument, options: ExportDslOptions = {}): string {
  const doc = structuredClone(document) as unknown as Obj;
  const workflow = doc.workflow as Obj;
  const env = (workflow.environment_variables ?? []) as Obj[];
  if (!options.includeSecrets) {
    for (const v of env) if (v.value_type === "secret") v.value = "";
  }

  // Dify's section order, then whatever else the document carries.
  const { app, kind: _kind, version: _version, dependencies, workflow: _workflow, ...otherTop } = doc;
  const { conversation_variables, environment_variables, features, graph, ...otherWorkflow } = workflow;
  const out: Obj = {
    app,
    kind: "app",
    version: CURRENT_DSL_VERSION,
    ...(dependencies !== undefined ? { dependencies } : {}),
    ...otherTop,
    workflow: {
      conversation_variables,
      environment_variables,
      features,
      graph,
      ...otherWorkflow,
    },
  };
  if (options.format === "json") return `${JSON.stringify(out, null, 2)}\n`;
  // YAML 1.1 quoting (yes/no/on/off, leading zeros) keeps the file readable by Dify's PyYAML.
  return stringifyYaml(out, { version: "1.1", lineWidth: 0, aliasDuplicateObjects: false });
}
