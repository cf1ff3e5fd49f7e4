import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { compileWorkflow } from "../graph/compile-workflow.js";
import type { CompiledNode, CompiledWorkflow, GraphLevel } from "../graph/compiled-workflow.js";
import { codeNode } from "../nodes/code.js";
import { createNodeRegistry, defaultNodeRegistry } from "../nodes/registry.js";
import type { DslDocument } from "./dsl-schema.js";
import { exportDsl } from "./export-dsl.js";
import { importDsl } from "./import-dsl.js";
import { parseDsl } from "./parse-dsl.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../../..");
const EXAMPLE_DIRS = [join(ROOT, "examples"), join(ROOT, "examples/dify")];
const files = EXAMPLE_DIRS.flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(dir, f)),
);
// The code node may not be in the default registry yet; the examples use it.
const registry = createNodeRegistry([...defaultNodeRegistry.values(), codeNode]);

/** Everything about a compiled workflow except the node definitions (functions) and the source document. */
function snapshot(c: CompiledWorkflow) {
  const node = (n: CompiledNode) => ({
    id: n.id,
    type: n.type,
    title: n.title,
    data: n.data,
    parentId: n.parentId,
    outEdges: n.outEdges,
    inEdges: n.inEdges,
    errorStrategy: n.errorStrategy,
    defaultValues: n.defaultValues,
    retry: n.retry,
  });
  const level = (l: GraphLevel) => ({ containerId: l.containerId, rootId: l.rootId, nodes: [...l.nodes.keys()].sort() });
  return {
    nodes: [...c.nodes.values()].map(node),
    root: level(c.root),
    containers: [...c.containers].map(([id, l]) => [id, level(l)]),
    startNodeId: c.startNodeId,
    startVariables: c.startVariables,
    environment: c.environment,
    secrets: [...c.secretEnvironmentNames].sort(),
    streamed: [...c.streamedSelectors].sort(),
  };
}

describe("import → export → import over every example and corpus file", () => {
  expect(files.length).toBeGreaterThan(30);
  for (const file of files) {
    const name = relative(ROOT, file);
    it(name, () => {
      const first = importDsl(readFileSync(file, "utf8")).document;
      const yamlText = exportDsl(first, { includeSecrets: true });
      const jsonText = exportDsl(first, { format: "json", includeSecrets: true });
      const second = parseDsl(yamlText);
      // Lossless: the whole document (UI fields, note nodes, features, unknown keys) comes back.
      expect(second).toEqual(first);
      expect(parseDsl(jsonText)).toEqual(first);
      // Stable: exporting the re-imported document gives the same text.
      expect(exportDsl(second, { includeSecrets: true })).toBe(yamlText);
      // Always written as DSL 0.6.0 in today's layout.
      const raw = parseYaml(yamlText) as { version: string; kind: string };
      expect(raw.version).toBe("0.6.0");
      expect(raw.kind).toBe("app");
      // The compiled graphs and the node data are equal.
      expect(snapshot(compileWorkflow(second, { registry }))).toEqual(snapshot(compileWorkflow(first, { registry })));
    });
  }
});

describe("exportDsl", () => {
  const doc = (): DslDocument =>
    parseDsl({
      app: { name: "Secrets", mode: "workflow", description: "", icon: "🔑", icon_background: "#FFEAD5" },
      kind: "app",
      version: "0.6.0",
      workflow: {
        environment_variables: [
          { id: "a", name: "TOKEN", value_type: "secret", value: "sk-live-123", description: "" },
          { id: "b", name: "REGION", value_type: "string", value: "eu" },
          { id: "c", name: "LIMIT", value_type: "number", value: 3 },
        ],
        conversation_variables: [],
        features: { opening_statement: "", file_upload: { enabled: false } },
        graph: {
          nodes: [
            { id: "s", type: "custom", position: { x: 1, y: 2 }, data: { type: "start", title: "Start", variables: [] } },
            {
              id: "e",
              type: "custom",
              position: { x: 300, y: 2 },
              data: { type: "end", title: "End", outputs: [{ variable: "r", value_selector: ["env", "REGION"] }] },
            },
          ],
          edges: [{ id: "s-e", source: "s", sourceHandle: "source", target: "e", targetHandle: "target", type: "custom" }],
          viewport: { x: 5, y: 6, zoom: 0.7 },
        },
      },
    });

  it("blanks secret values unless asked, and never touches the document", () => {
    const d = doc();
    const blanked = parseDsl(exportDsl(d));
    expect(blanked.workflow.environment_variables.map((v) => v.value)).toEqual(["", "eu", 3]);
    expect(d.workflow.environment_variables[0]?.value).toBe("sk-live-123");
    const kept = parseDsl(exportDsl(d, { includeSecrets: true }));
    expect(kept.workflow.environment_variables[0]?.value).toBe("sk-live-123");
    expect(exportDsl(d, { format: "json" })).not.toContain("sk-live-123");
    expect(exportDsl(d)).not.toContain("sk-live-123");
  });

  it("writes Dify's section order and keeps UI fields", () => {
    const text = exportDsl(doc());
    expect(text.split("\n").filter((l) => /^\S/.test(l))).toEqual(["app:", "kind: app", "version: 0.6.0", "workflow:"]);
    const back = parseDsl(text);
    expect(back.workflow.graph.nodes[0]?.position).toEqual({ x: 1, y: 2 });
    expect((back.workflow.graph as Record<string, unknown>).viewport).toEqual({ x: 5, y: 6, zoom: 0.7 });
    expect(back.workflow.graph.edges[0]).toMatchObject({ id: "s-e", type: "custom" });
  });

  it("writes an old file in today's layout, keeping its ignored dependencies", () => {
    const old = importDsl(readFileSync(join(ROOT, "examples/dify/v0.1.0-legacy-router.yml"), "utf8"));
    const raw = parseYaml(exportDsl(old.document)) as {
      version: string;
      workflow: { graph: { nodes: Array<{ id: string; data: Record<string, unknown> }> } };
    };
    expect(raw.version).toBe("0.6.0");
    const ifElse = raw.workflow.graph.nodes.find((n) => n.id === "1716187300002");
    expect(ifElse?.data.cases).toHaveLength(1);
    expect(ifElse?.data).not.toHaveProperty("conditions");
    expect(raw.workflow.graph.nodes.find((n) => n.id === "1716187300005")?.data.type).toBe("variable-aggregator");

    const plugins = importDsl(readFileSync(join(ROOT, "examples/dify/v0.2.0-plugin-triage.yml"), "utf8"));
    expect((parseYaml(exportDsl(plugins.document)) as { dependencies: unknown[] }).dependencies).toHaveLength(2);
  });

  it("quotes strings YAML 1.1 readers (Dify's PyYAML) would misread", () => {
    const d = doc();
    (d.workflow.environment_variables[1] as { value: string }).value = "yes";
    const text = exportDsl(d);
    expect(text).toMatch(/value: "yes"/);
    expect(parseYaml(text, { version: "1.1" }).workflow.environment_variables[1].value).toBe("yes");
  });
});
