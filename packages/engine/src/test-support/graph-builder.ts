/** Compact builders for DSL graphs in tests. */
import type { DslDocument } from "../dsl/dsl-schema.js";
import { parseDsl } from "../dsl/parse-dsl.js";

export interface NodeSpec {
  id: string;
  type: string;
  parentId?: string;
  [field: string]: unknown;
}

export function n(id: string, type: string, data: Record<string, unknown> = {}, parentId?: string): NodeSpec {
  return { id, type, ...data, ...(parentId ? { parentId } : {}) };
}

export function e(
  source: string,
  target: string,
  sourceHandle = "source",
): { source: string; target: string; sourceHandle: string } {
  return { source, target, sourceHandle };
}

export function dsl(
  nodes: NodeSpec[],
  edges: Array<{ source: string; target: string; sourceHandle?: string }>,
  extra: { environment_variables?: unknown[] } = {},
): DslDocument {
  return parseDsl({
    app: { name: "test", mode: "workflow" },
    kind: "app",
    version: "0.6.0",
    workflow: {
      environment_variables: extra.environment_variables ?? [],
      graph: {
        nodes: nodes.map(({ id, type, parentId, ...data }) => ({
          id,
          type: "custom",
          ...(parentId ? { parentId } : {}),
          data: { type, title: id, ...data },
        })),
        edges: edges.map((ed, i) => ({ id: `e${i}`, targetHandle: "target", ...ed })),
      },
    },
  });
}

/** A start node with text inputs named `names`. */
export function start(id = "start", names: string[] = []): NodeSpec {
  return n(id, "start", { variables: names.map((v) => ({ variable: v, label: v, type: "text-input", required: false })) });
}

export function end(id: string, outputs: Record<string, string[]>): NodeSpec {
  return n(id, "end", { outputs: Object.entries(outputs).map(([variable, value_selector]) => ({ variable, value_selector })) });
}
