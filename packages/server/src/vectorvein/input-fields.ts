/**
 * VectorVein addresses run inputs as `{node_id, field_name, value}`. In Tributary such a field
 * is either a start variable — one the VectorVein importer made from a shown port (it records
 * the port's node id and name), or, for native workflows, the start node's id and the variable
 * name — or any other node's static field (a key of the node's data, or a dotted path into
 * it), which is overridden for that run only.
 */
import { type DslDocument, type NodeRegistry, parseDsl, validateWorkflow } from "@tributary/engine";
import type { JsonObject } from "../store/types.js";
import { VvError } from "./envelope.js";
import { uploadIdOf } from "./wire.js";

export interface InputField {
  node_id: string;
  field_name: string;
  value?: unknown;
}

export interface NodeOverride {
  /** Native node id. */
  nodeId: string;
  /** Path into the node's `data`. */
  path: string[];
  value: unknown;
}

export interface ResolvedInputs {
  inputs: Record<string, unknown>;
  overrides: NodeOverride[];
}

type GraphNode = { id?: unknown; parentId?: unknown; data?: Record<string, unknown> };
type StartVar = { variable?: unknown; type?: unknown; label?: unknown; vectorvein?: { node_id?: unknown; field_name?: unknown } };

/** Fields of a node's data that are its identity or wiring, not settings. */
const NOT_OVERRIDABLE = new Set(["type", "vectorvein", "selected", "isInIteration", "isInLoop", "iteration_id", "loop_id"]);

function graphNodes(dsl: JsonObject): GraphNode[] {
  return ((dsl["workflow"] as { graph?: { nodes?: GraphNode[] } } | undefined)?.graph?.nodes ?? []).filter(
    (n): n is GraphNode => typeof n === "object" && n !== null,
  );
}

function startOf(nodes: GraphNode[]): { node: GraphNode | undefined; variables: StartVar[] } {
  const node = nodes.find((n) => n.data?.["type"] === "start" && !n.parentId);
  const variables = ((node?.data?.["variables"] as StartVar[] | undefined) ?? []).filter(
    (v): v is StartVar => typeof v === "object" && v !== null && typeof v.variable === "string",
  );
  return { node, variables };
}

/** How a workflow's inputs are addressed, for error messages and the VApp form. */
export function describeInputs(dsl: JsonObject): Array<{ node_id: string; field_name: string; variable: string }> {
  const { node, variables } = startOf(graphNodes(dsl));
  return variables.map((v) => ({
    node_id: typeof v.vectorvein?.node_id === "string" ? v.vectorvein.node_id : String(node?.id ?? "start"),
    field_name: typeof v.vectorvein?.field_name === "string" ? v.vectorvein.field_name : String(v.variable),
    variable: String(v.variable),
  }));
}

/** A file given the VectorVein way (an `oss_path` or a URL) as a Dify file reference. */
function fileRef(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const id = uploadIdOf(value);
  if (id) return { type: "custom", transfer_method: "local_file", upload_file_id: id };
  if (/^https?:\/\//i.test(value.trim())) return { type: "custom", transfer_method: "remote_url", url: value.trim() };
  return value;
}

function inputValue(variable: StartVar, value: unknown): unknown {
  if (variable.type === "file") return Array.isArray(value) ? value.map(fileRef) : fileRef(value);
  if (variable.type === "file-list") {
    if (value === null || value === undefined || value === "") return value;
    return (Array.isArray(value) ? value : [value]).map(fileRef);
  }
  return value;
}

function hasPath(data: Record<string, unknown>, path: string[]): boolean {
  let cursor: unknown = data;
  for (const segment of path) {
    if (typeof cursor !== "object" || cursor === null || !(segment in (cursor as object))) return false;
    cursor = (cursor as Record<string, unknown>)[segment];
  }
  return true;
}

/** Maps `input_fields` onto start inputs and node overrides; every unknown field is reported at once. */
export function resolveInputFields(dsl: JsonObject, fields: readonly InputField[]): ResolvedInputs {
  const nodes = graphNodes(dsl);
  const { node: start, variables } = startOf(nodes);
  const inputs: Record<string, unknown> = {};
  const overrides: NodeOverride[] = [];
  const unknown: string[] = [];
  fields.forEach((field, i) => {
    const byVectorVein = variables.find(
      (v) => v.vectorvein?.node_id === field.node_id && v.vectorvein?.field_name === field.field_name,
    );
    const byStart =
      start && String(start.id) === field.node_id ? variables.find((v) => v.variable === field.field_name) : undefined;
    const variable = byVectorVein ?? byStart;
    if (variable) {
      inputs[String(variable.variable)] = inputValue(variable, field.value);
      return;
    }
    const path = field.field_name.split(".");
    const targets = nodes.filter(
      (n) =>
        n !== start &&
        n.data !== undefined &&
        (String(n.id) === field.node_id ||
          (n.data["vectorvein"] as { node_id?: unknown } | undefined)?.node_id === field.node_id),
    );
    const target = targets.find((n) => n.data && hasPath(n.data, path));
    if (target && !NOT_OVERRIDABLE.has(path[0] ?? "")) {
      overrides.push({ nodeId: String(target.id), path, value: field.value });
      return;
    }
    unknown.push(`input_fields[${i}] (node_id "${field.node_id}", field_name "${field.field_name}")`);
  });
  if (unknown.length > 0) {
    const known = describeInputs(dsl)
      .map((k) => `${k.node_id} / ${k.field_name}`)
      .join(", ");
    throw new VvError(
      400,
      `Unknown input field${unknown.length === 1 ? "" : "s"}: ${unknown.join("; ")}. Address a workflow input by node_id and field_name ` +
        `(this workflow's inputs: ${known || "none"}), or a node's own field by its node id and the field's name in the node's data.`,
    );
  }
  return { inputs, overrides };
}

/** The DSL with the overrides applied, validated; invalid results are refused with every problem. */
export function applyOverrides(dsl: JsonObject, overrides: readonly NodeOverride[], registry?: NodeRegistry): DslDocument {
  const copy = structuredClone(dsl);
  for (const o of overrides) {
    const node = graphNodes(copy).find((n) => String(n.id) === o.nodeId);
    let cursor: Record<string, unknown> | undefined = node?.data;
    o.path.forEach((segment, i) => {
      if (!cursor) return;
      if (i === o.path.length - 1) cursor[segment] = o.value;
      else cursor = cursor[segment] as Record<string, unknown> | undefined;
    });
  }
  const problems = validateWorkflow(copy, registry ? { registry } : {});
  if (problems.length > 0) {
    throw new VvError(
      400,
      `The input fields make the workflow invalid: ${problems.map((p) => (p.nodeId ? `node ${p.nodeId}: ${p.message}` : p.message)).join("; ")}. Send values of the type those fields expect.`,
      { data: { problems: problems.map((p) => ({ node_id: p.nodeId, message: p.message })) } },
    );
  }
  return parseDsl(copy);
}

/** Canonical JSON (sorted keys): equal overrides give equal text, so their version is reused. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
