/**
 * The `data` of `workflow/create` and `workflow/update`, as a native workflow: a Dify DSL
 * graph (`{nodes, edges}` whose nodes carry `data.type`, or a whole DSL export) is validated as
 * it is; a VectorVein workflow JSON (nodes with `data.template`) goes through the engine's
 * importer, and anything Tributary cannot run is refused naming the node. An empty graph (the
 * SDK's default) is an app without a workflow yet.
 */
import { type DslDocument, importVectorVeinWorkflow, type NodeRegistry, parseDsl, validateWorkflow } from "@tributary/engine";
import { VvError } from "./envelope.js";

export type WorkflowSource =
  | { kind: "empty" }
  | {
      kind: "dify" | "vectorvein";
      dsl: DslDocument;
      sourceText: string;
      sourceFormat: "dify-json" | "vectorvein-json";
      /** What the VectorVein import changed or approximated (the workflow runs). */
      notes: Array<{ node_id: string | null; message: string }>;
    };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Dify nodes name their kind in `data.type`; VectorVein nodes name it in `type` (a class name)
 * and keep their ports in `data.template`, an object (a Dify template node's is a string).
 */
function looksVectorVein(nodes: unknown[]): boolean {
  return nodes.some((n) => {
    if (!isObj(n) || !isObj(n["data"])) return false;
    const data = n["data"];
    return typeof data["type"] !== "string" && (isObj(data["template"]) || typeof data["task_name"] === "string");
  });
}

function problemsError(intro: string, problems: ReadonlyArray<{ nodeId: string | null; message: string }>): VvError {
  const listed = problems.map((p) => (p.nodeId ? `node ${p.nodeId}: ${p.message}` : p.message));
  return new VvError(400, `${intro}: ${listed.join("; ")}`, {
    data: { problems: problems.map((p) => ({ node_id: p.nodeId, message: p.message })) },
  });
}

export function workflowFromData(data: unknown, meta: { title: string; brief: string }, registry?: NodeRegistry): WorkflowSource {
  if (!isObj(data)) {
    throw new VvError(400, "data must be a JSON object: a VectorVein workflow {nodes, edges} or a Dify DSL graph / export.");
  }
  // A whole Dify export ({app, workflow: {graph}}) or its graph ({nodes, edges} with data.type).
  const graph = isObj(data["workflow"]) ? (data["workflow"] as Obj)["graph"] : isObj(data["graph"]) ? data["graph"] : data;
  const nodes = isObj(graph) && Array.isArray(graph["nodes"]) ? (graph["nodes"] as unknown[]) : undefined;
  if (!nodes) {
    throw new VvError(400, "data has no nodes: send {nodes: [...], edges: [...]} (a VectorVein workflow or a Dify DSL graph).");
  }
  if (nodes.length === 0) return { kind: "empty" };

  if (graph === data && looksVectorVein(nodes)) {
    const imported = importVectorVeinWorkflow(data, {
      name: meta.title,
      description: meta.brief,
      ...(registry ? { registry } : {}),
    });
    if (imported.problems.length > 0) throw problemsError("The VectorVein workflow cannot run in Tributary", imported.problems);
    return {
      kind: "vectorvein",
      dsl: imported.document,
      sourceText: JSON.stringify(data),
      sourceFormat: "vectorvein-json",
      notes: imported.notes.map((n) => ({ node_id: n.nodeId, message: n.message })),
    };
  }

  const app = isObj(data["app"]) ? (data["app"] as Obj) : {};
  const document = {
    ...(graph === data ? { kind: "app", version: "0.6.0" } : data),
    app: { mode: "workflow", ...app, name: meta.title, description: meta.brief },
    workflow: { ...(isObj(data["workflow"]) ? (data["workflow"] as Obj) : {}), graph },
  };
  const problems = validateWorkflow(document, registry ? { registry } : {});
  if (problems.length > 0) throw problemsError("The workflow is invalid", problems);
  // The whole document is kept as the source, so an export gives back a complete DSL file.
  return { kind: "dify", dsl: parseDsl(document), sourceText: JSON.stringify(document), sourceFormat: "dify-json", notes: [] };
}
