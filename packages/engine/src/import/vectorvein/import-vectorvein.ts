/**
 * Imports a VectorVein workflow (`{nodes, edges}`) as a native workflow (Dify DSL 0.6.0).
 *
 * - Each supported node becomes one or a few native nodes (mappers.ts). Native node ids are
 *   the VectorVein ids made safe for `{{#node.var#}}` references (`-` → `_`); every native
 *   node keeps its origin in `data.vectorvein`.
 * - A port-to-port edge becomes a data binding: the target port reads the source port's
 *   selector. It also becomes an edge of the native graph (execution order). As in
 *   VectorVein, edges from Empty and trigger nodes only order their targets.
 * - An input port that is shown (`show: true`) and not connected becomes a start input. The
 *   returned `inputs` list maps each one to its `node_id` + `field_name`, so VectorVein's
 *   `workflow/run` (`input_fields`) can address it; the stored value is its default.
 * - Output nodes (Text, Table, Html, Mermaid, Echarts, Document, Mindmap) become end outputs,
 *   listed in `outputs` with VectorVein's result type and title.
 * - A node Tributary cannot run is named in `problems` with its id and type, and so is every
 *   port that reads from it; nothing is dropped without a problem or a note.
 */
import { type DslDocument, dslDocumentSchema } from "../../dsl/dsl-schema.js";
import type { ValidationProblem } from "../../errors.js";
import { validateWorkflow } from "../../graph/compile-workflow.js";
import { codeNode } from "../../nodes/code.js";
import { createNodeRegistry, defaultNodeRegistry, type NodeRegistry } from "../../nodes/registry.js";
import type { VariableSelector } from "../../variables/selector.js";
import { GraphBuilder, kindOfConst, type PortValue, type ProblemSink, type ValueKind } from "./builder.js";
import { isLlmType, LLM_MAPPER, MAPPERS, type MappedNode, type NodeContext } from "./mappers.js";
import {
  normalizeCategory,
  unwrapVectorVeinJson,
  type VectorVeinEdge,
  type VectorVeinNode,
  type VectorVeinPort,
  vectorVeinWorkflowSchema,
} from "./schema.js";

export interface VectorVeinInputBinding {
  /** The VectorVein node and port a `workflow/run` input field names. */
  node_id: string;
  field_name: string;
  /** The start variable that receives it. */
  variable: string;
}

export interface VectorVeinOutputBinding {
  node_id: string;
  /** VectorVein's result type: Text, Table, Html, Mermaid, Echarts, Document, Mindmap. */
  type: string;
  title: string;
  /** The end output holding the value. */
  variable: string;
}

export interface VectorVeinImportResult {
  document: DslDocument;
  inputs: VectorVeinInputBinding[];
  outputs: VectorVeinOutputBinding[];
  /** What stops the workflow from running, with the VectorVein node id; empty when it validates. */
  problems: ValidationProblem[];
  /** What was changed or approximated on the way; the workflow runs. */
  notes: ValidationProblem[];
}

export interface VectorVeinImportOptions {
  /** App name; default: the title VectorVein's API gave, else "VectorVein workflow". */
  name?: string;
  description?: string;
  /** Registry the result is validated against (default: Tributary's nodes). */
  registry?: NodeRegistry;
}

type Obj = Record<string, unknown>;

const ORDER_ONLY_TYPES = new Set(["Empty", "ButtonTrigger"]);

/** Why the VectorVein categories Tributary does not run are out of reach. */
const CATEGORY_REASONS: Record<string, string> = {
  fileProcessing: "reads or converts files with VectorVein's file services",
  mediaProcessing: "analyses images, audio or video with VectorVein's media services",
  mediaEditing: "edits media with VectorVein's media services",
  imageGeneration: "generates images through VectorVein's image services",
  videoGeneration: "generates video through VectorVein's video services",
  audioGeneration: "generates audio through VectorVein's audio services",
  webCrawlers: "crawls web pages with VectorVein's crawlers; an HTTP request node can often replace it",
  vectorDb: "searches or writes a VectorVein knowledge base, which Tributary does not host",
  relationalDb: "queries VectorVein's hosted databases",
  cloudStorage: "uses VectorVein's cloud storage",
  tools: "calls a tool hosted by VectorVein",
  controlFlows: "runs other VectorVein workflows or waits for people, which Tributary's API apps cannot",
  outputs: "delivers its result through a VectorVein service",
  triggers: "is a VectorVein trigger; in Tributary a run starts from the API",
};

const START_TYPES: Record<string, string> = {
  textarea: "paragraph",
  input: "text-input",
  text: "text-input",
  number: "number",
  temperature: "number",
  checkbox: "checkbox",
  select: "select",
  radio: "select",
};

export function importVectorVeinWorkflow(json: unknown, options: VectorVeinImportOptions = {}): VectorVeinImportResult {
  const problems: ValidationProblem[] = [];
  const notes: ValidationProblem[] = [];
  const sink: ProblemSink = {
    problem: (nodeId, message) => problems.push({ nodeId, message }),
    note: (nodeId, message) => notes.push({ nodeId, message }),
  };
  const unwrapped = unwrapVectorVeinJson(json);
  const parsed = vectorVeinWorkflowSchema.safeParse(unwrapped.workflow);
  if (!parsed.success) {
    const messages = parsed.error.issues.map((i) => ({
      nodeId: null,
      message: `not a VectorVein workflow: ${i.path.length ? `${i.path.join(".")}: ` : ""}${i.message}`,
    }));
    return { document: emptyDocument(options, unwrapped), inputs: [], outputs: [], problems: messages, notes };
  }
  const workflow = parsed.data;

  // ---- nodes and edges VectorVein would run ----
  const nodes: VectorVeinNode[] = [];
  const byId = new Map<string, VectorVeinNode>();
  for (const node of workflow.nodes) {
    if (byId.has(node.id)) {
      sink.problem(node.id, `two nodes have the id "${node.id}"; every node needs its own id`);
      continue;
    }
    if (node.ignored) {
      sink.note(node.id, `${label(node)} is switched off (ignored) in VectorVein and was left out`);
      continue;
    }
    nodes.push(node);
    byId.set(node.id, node);
  }
  const edges: VectorVeinEdge[] = [];
  for (const edge of workflow.edges) {
    if (edge.ignored) continue;
    if (!byId.has(edge.source) || !byId.has(edge.target)) {
      const missing = byId.has(edge.source) ? edge.target : edge.source;
      if (!workflow.nodes.some((n) => n.id === missing && n.ignored)) {
        sink.problem(
          byId.has(edge.source) ? edge.source : byId.has(edge.target) ? edge.target : null,
          `an edge connects to node "${missing}", which does not exist`,
        );
      }
      continue;
    }
    edges.push(edge);
  }

  const b = new GraphBuilder();
  const startId = "start";
  const endId = "end";
  b.reserve(startId);
  b.reserve(endId);

  // ---- classify ----
  const mappable = new Map<string, NodeContext["node"]>();
  const unsupported = new Set<string>();
  for (const node of nodes) {
    const category = normalizeCategory(node.category, node.data.task_name);
    if (category === "assistedNodes") {
      sink.note(node.id, `${label(node)} is an editor note and was left out`);
      continue;
    }
    if (node.type === "ButtonTrigger") continue; // The start node takes its place; see below.
    if (MAPPERS[node.type] || isLlmType(node.type, category)) {
      mappable.set(node.id, node);
      continue;
    }
    unsupported.add(node.id);
    const reason = CATEGORY_REASONS[category] ?? "is a VectorVein node type Tributary has no equivalent for";
    sink.problem(node.id, `${label(node)} (category ${category || "none"}) cannot run in Tributary: it ${reason}`);
  }

  // ---- map in dependency order, so each node knows its inputs' kinds ----
  const order = topologicalOrder(nodes, edges, sink);
  const mapped = new Map<string, MappedNode>();
  const inputs: VectorVeinInputBinding[] = [];
  const startVariables: Obj[] = [];
  const startVarNames = new Set<string>();
  const reportedReads = new Set<string>();

  for (const node of nodes.filter((n) => n.type === "ButtonTrigger")) {
    mapped.set(node.id, {
      entry: startId,
      exit: startId,
      carriesData: false,
      output: () => null,
    });
    sink.note(node.id, `${label(node)} starts the run; in Tributary that is the start node`);
  }

  for (const node of order) {
    if (!mappable.has(node.id)) continue;
    const category = normalizeCategory(node.category, node.data.task_name);
    const id = b.uniqueId(node.id);
    const used = new Set<string>();
    const noted = new Set<string>();
    const startCache = new Map<string, PortValue>();
    const ctx: NodeContext = {
      node,
      id,
      title: title(node),
      label: label(node),
      b,
      sink,
      at: (dx = 0, dy = 0) => ({
        position: { x: (node.position?.x ?? 0) + dx, y: (node.position?.y ?? 0) + dy },
        origin: { node_id: node.id, type: node.type, category, task_name: node.data.task_name ?? null },
      }),
      has: (port) => port in node.data.template,
      inputPorts: () =>
        Object.entries(node.data.template)
          .filter(([, p]) => !p.is_output)
          .map(([name]) => name),
      input: (port) => {
        used.add(port);
        const cached = startCache.get(port);
        if (cached) return cached;
        const value = resolvePort(node, port);
        if (value.kind === "ref" && value.selector[0] === startId) startCache.set(port, value);
        return value;
      },
      fixed: (portName, fallback) => {
        used.add(portName);
        const port = node.data.template[portName];
        const value = port?.value === undefined ? fallback : port.value;
        const edge = incomingEdge(node.id, portName);
        if ((edge || port?.show) && !noted.has(portName)) {
          noted.add(portName);
          sink.note(
            node.id,
            `port "${portName}" of ${label(node)} is ${edge ? "connected" : "a run-time input"} in VectorVein; Tributary needs it when importing and uses its stored value ${JSON.stringify(value)}`,
          );
        }
        return value;
      },
    };
    const mapper = MAPPERS[node.type] ?? LLM_MAPPER;
    let result: MappedNode | null;
    try {
      result = mapper(ctx);
    } catch (e) {
      sink.problem(node.id, `${label(node)} could not be imported: ${(e as Error).message}`);
      result = null;
    }
    if (!result) {
      unsupported.add(node.id);
      continue;
    }
    mapped.set(node.id, result);
    const seenTargets = new Set<string>();
    for (const e of edges.filter((x) => x.target === node.id)) {
      const handle = e.targetHandle ?? "";
      if (!(handle in node.data.template)) {
        sink.note(node.id, `an edge leads into port "${handle}", which ${label(node)} does not have; it only orders the nodes`);
      } else if (seenTargets.has(handle) && !ORDER_ONLY_TYPES.has(byId.get(e.source)?.type ?? "")) {
        sink.note(
          node.id,
          `port "${handle}" of ${label(node)} has several edges; as in VectorVein the first one gives its value`,
        );
      }
      if (!ORDER_ONLY_TYPES.has(byId.get(e.source)?.type ?? "")) seenTargets.add(handle);
    }
    for (const [name, port] of Object.entries(node.data.template)) {
      if (port.is_output || used.has(name)) continue;
      if (port.show) sink.note(node.id, `port "${name}" of ${label(node)} is shown in VectorVein but has no effect in Tributary`);
      else if (incomingEdge(node.id, name))
        sink.note(node.id, `the edge into port "${name}" of ${label(node)} has no effect in Tributary`);
    }
  }

  // ---- execution order: one native edge per VectorVein edge ----
  const gates = conditionalGates(mapped, edges);
  for (const edge of edges) {
    const source = mapped.get(edge.source);
    const target = mapped.get(edge.target);
    if (!source || !target) continue;
    const from = source.output(edge.sourceHandle ?? "output")?.from ?? source.exit;
    // A node behind a Conditional's branch is skipped with it, whatever else feeds it (VectorVein's
    // mark_branch_skipped). Its other inputs therefore run before the Conditional instead of
    // leading into the node, where one taken edge would make it run.
    const gate = gates.find((g) => g.members.has(edge.target) && !g.members.has(edge.source) && edge.source !== g.conditional);
    if (gate && !gate.downstream.has(edge.source)) {
      const conditional = mapped.get(gate.conditional) as MappedNode;
      b.addEdge(from, conditional.entry);
      continue;
    }
    b.addEdge(from, target.entry);
  }

  // ---- start and end ----
  const topLevel = b.nodes.filter((n) => !n.parentId);
  for (const n of topLevel) {
    const nid = n.id as string;
    if (!b.hasIncoming(nid)) b.addEdge(startId, nid);
  }
  const endOutputs: Obj[] = [];
  const outputs: VectorVeinOutputBinding[] = [];
  const perType = new Map<string, number>();
  for (const node of nodes) {
    const result = mapped.get(node.id)?.result;
    if (!result) continue;
    const n = (perType.get(result.type) ?? 0) + 1;
    perType.set(result.type, n);
    const variable = `${result.type.toLowerCase()}_${n}`;
    endOutputs.push({
      variable,
      value_selector: [...result.selector],
      vectorvein: { node_id: node.id, type: result.type, title: result.title },
    });
    outputs.push({ node_id: node.id, type: result.type, title: result.title, variable });
  }
  if (outputs.length === 0 && problems.length === 0) {
    sink.note(null, "the workflow has no output node (Text, Table, Html, …), so its runs return no outputs");
  }
  for (const n of topLevel) {
    const nid = n.id as string;
    if (!b.hasOutgoing(nid)) b.addEdge(nid, endId);
  }
  if (topLevel.length === 0) b.addEdge(startId, endId);

  const xs = nodes.map((n) => n.position?.x ?? 0);
  const ys = nodes.map((n) => n.position?.y ?? 0);
  const minX = xs.length ? Math.min(...xs) : 0;
  const maxX = xs.length ? Math.max(...xs) : 0;
  const midY = ys.length ? (Math.min(...ys) + Math.max(...ys)) / 2 : 0;
  const startNode = {
    id: startId,
    type: "custom",
    position: { x: minX - 400, y: midY },
    data: { type: "start", title: "Start", desc: "Inputs of the VectorVein workflow", variables: startVariables },
  };
  const endNode = {
    id: endId,
    type: "custom",
    position: { x: maxX + 400, y: midY },
    data: { type: "end", title: "End", desc: "Results of the VectorVein output nodes", outputs: endOutputs },
  };

  const document = dslDocumentSchema.parse({
    app: {
      name: options.name ?? unwrapped.title ?? "VectorVein workflow",
      mode: "workflow",
      description: options.description ?? unwrapped.description ?? "Imported from VectorVein",
      icon: "🔀",
      icon_background: "#E0EAFF",
    },
    kind: "app",
    version: "0.6.0",
    workflow: {
      environment_variables: [],
      conversation_variables: [],
      features: {},
      graph: {
        nodes: [startNode, ...b.nodes, endNode],
        edges: b.edges,
        viewport: workflow.viewport ?? { x: 0, y: 0, zoom: 1 },
      },
    },
  });

  // The import is only done when the result validates; its problems name VectorVein nodes.
  if (problems.length === 0) {
    const registry =
      options.registry ??
      (defaultNodeRegistry.has("code") ? defaultNodeRegistry : createNodeRegistry([...defaultNodeRegistry.values(), codeNode]));
    const origin = new Map(
      document.workflow.graph.nodes.map((n) => [n.id, (n.data.vectorvein as { node_id?: string } | undefined)?.node_id ?? n.id]),
    );
    for (const p of validateWorkflow(document, { registry }))
      problems.push({ nodeId: p.nodeId ? (origin.get(p.nodeId) ?? p.nodeId) : null, message: p.message });
  }
  return { document, inputs, outputs, problems, notes };

  // ---- helpers that need the state above ----

  function incomingEdge(nodeId: string, port: string): VectorVeinEdge | undefined {
    return edges.find(
      (e) => e.target === nodeId && (e.targetHandle ?? "") === port && !ORDER_ONLY_TYPES.has(byId.get(e.source)?.type ?? ""),
    );
  }

  /** VectorVein's get_node_field_value: the first edge into the port, else a run input (shown), else the stored value. */
  function resolvePort(node: VectorVeinNode, portName: string): PortValue {
    const port = node.data.template[portName];
    const stored: PortValue = { kind: "const", value: port?.value ?? null };
    const edge = incomingEdge(node.id, portName);
    if (edge) {
      const source = mapped.get(edge.source);
      const handle = edge.sourceHandle ?? "output";
      const key = `${node.id}\u0000${portName}`;
      if (!source) {
        if (!reportedReads.has(key)) {
          reportedReads.add(key);
          const src = byId.get(edge.source);
          sink.problem(
            node.id,
            `port "${portName}" of ${label(node)} reads "${handle}" of ${src ? label(src) : edge.source}, which Tributary cannot run`,
          );
        }
        return stored;
      }
      const out = source.output(handle);
      if (!out) {
        if (!reportedReads.has(key)) {
          reportedReads.add(key);
          const src = byId.get(edge.source);
          sink.problem(
            node.id,
            `port "${portName}" of ${label(node)} reads "${handle}", a port ${src ? label(src) : edge.source} does not have`,
          );
        }
        return stored;
      }
      return { kind: "ref", selector: out.selector, valueKind: out.kind };
    }
    if (port?.show) return startInput(node, portName, port);
    return stored;
  }

  function startInput(node: VectorVeinNode, portName: string, port: VectorVeinPort): PortValue {
    const fieldType = String(port.field_type ?? "input").toLowerCase();
    let type: string | undefined = START_TYPES[fieldType];
    if (fieldType === "file") type = port.multiple === false ? "file" : "file-list";
    if (node.type === "TextInOut" && portName === "text" && node.data.template.input_type?.value === "number") type = "number";
    if (!type) {
      sink.problem(
        node.id,
        `port "${portName}" of ${label(node)} is a ${fieldType} input; Tributary's start inputs take text, numbers, checkboxes, choices and files`,
      );
      return { kind: "const", value: port.value ?? null };
    }
    const variable = startVariableName(portName, node.type);
    const value = port.value;
    const present = value !== undefined && value !== null && value !== "" && !(Array.isArray(value) && value.length === 0);
    const options =
      type === "select"
        ? (port.options ?? []).map((o) =>
            String(o && typeof o === "object" && "value" in o ? (o as { value: unknown }).value : o),
          )
        : undefined;
    const v: Obj = {
      variable,
      label: port.display_name || portName,
      type,
      required: false,
      ...(options ? { options } : {}),
      ...(type === "text-input" || type === "paragraph" ? { max_length: null } : {}),
      ...(present
        ? {
            default:
              type === "number"
                ? Number(value)
                : type === "select" || type.startsWith("text") || type === "paragraph"
                  ? String(value)
                  : value,
          }
        : type === "text-input" || type === "paragraph"
          ? { default: "" }
          : {}),
      vectorvein: { node_id: node.id, field_name: portName },
    };
    if (type === "file" || type === "file-list") {
      v.allowed_file_upload_methods = ["local_file", "remote_url"];
      v.allowed_file_types = ["image", "document", "audio", "video", "custom"];
    }
    startVariables.push(v);
    inputs.push({ node_id: node.id, field_name: portName, variable });
    const kind: ValueKind =
      type === "number"
        ? "number"
        : type === "checkbox"
          ? "bool"
          : type === "file-list"
            ? "list"
            : type === "file"
              ? "any"
              : "text";
    return {
      kind: "ref",
      selector: [startId, variable] as VariableSelector,
      valueKind: present ? mergeKinds(kind, kindOfConst(value)) : kind,
    };
  }

  function startVariableName(portName: string, nodeType: string): string {
    let base = portName
      .replace(/[^a-zA-Z0-9_]/g, "_")
      .replace(/_+/g, "_")
      .replace(/^_+|_+$/g, "");
    if (!base || /^\d/.test(base))
      base = `${nodeType.replace(/[^a-zA-Z0-9]/g, "").toLowerCase() || "input"}${base ? `_${base}` : ""}`;
    base = base.slice(0, 26);
    let name = base;
    for (let i = 2; startVarNames.has(name); i++) name = `${base}_${i}`;
    startVarNames.add(name);
    return name;
  }
}

interface Gate {
  conditional: string;
  handle: string;
  /** VectorVein nodes skipped when this handle is not taken. */
  members: Set<string>;
  /** Everything after the Conditional, on any handle. */
  downstream: Set<string>;
}

/**
 * For each Conditional branch handle, the nodes VectorVein skips when the branch is not
 * taken: its targets and their descendants, except a node that also has an edge from the
 * Conditional on another handle (and, through it, that node's descendants).
 */
function conditionalGates(mapped: ReadonlyMap<string, MappedNode>, edges: readonly VectorVeinEdge[]): Gate[] {
  const gates: Gate[] = [];
  const children = (id: string) => edges.filter((e) => e.source === id).map((e) => e.target);
  for (const [id, node] of mapped) {
    if (!node.branchHandles) continue;
    const downstream = new Set<string>();
    const stack = children(id);
    while (stack.length > 0) {
      const n = stack.pop() as string;
      if (downstream.has(n)) continue;
      downstream.add(n);
      stack.push(...children(n));
    }
    for (const handle of node.branchHandles) {
      const members = new Set<string>();
      const queue = edges.filter((e) => e.source === id && (e.sourceHandle ?? "output") === handle).map((e) => e.target);
      while (queue.length > 0) {
        const n = queue.shift() as string;
        if (members.has(n)) continue;
        if (edges.some((e) => e.source === id && e.target === n && (e.sourceHandle ?? "output") !== handle)) continue;
        members.add(n);
        queue.push(...children(n));
      }
      gates.push({ conditional: id, handle, members, downstream });
    }
  }
  return gates;
}

function mergeKinds(declared: ValueKind, stored: ValueKind): ValueKind {
  return stored === "list" && declared !== "list" ? "any" : declared;
}

/** The native nodes' title: the description people give a node in VectorVein, else its type. */
function title(node: VectorVeinNode): string {
  return node.data.description?.trim() || node.type;
}

/** How problems and notes name a VectorVein node: type, id and description. */
function label(node: VectorVeinNode): string {
  const d = node.data.description?.trim();
  return `${node.type} node ${node.id}${d ? ` ("${d}")` : ""}`;
}

/** Kahn's order over the VectorVein edges; a cycle is a problem (VectorVein refuses it too). */
function topologicalOrder(nodes: VectorVeinNode[], edges: VectorVeinEdge[], sink: ProblemSink): VectorVeinNode[] {
  const indegree = new Map(nodes.map((n) => [n.id, 0]));
  const next = new Map<string, string[]>();
  for (const e of edges) {
    indegree.set(e.target, (indegree.get(e.target) ?? 0) + 1);
    next.set(e.source, [...(next.get(e.source) ?? []), e.target]);
  }
  const queue = nodes.filter((n) => indegree.get(n.id) === 0).map((n) => n.id);
  const order: string[] = [];
  while (queue.length > 0) {
    const id = queue.shift() as string;
    order.push(id);
    for (const t of next.get(id) ?? []) {
      const d = (indegree.get(t) ?? 0) - 1;
      indegree.set(t, d);
      if (d === 0) queue.push(t);
    }
  }
  if (order.length < nodes.length) {
    const cyclic = nodes.filter((n) => !order.includes(n.id)).map((n) => n.id);
    sink.problem(
      cyclic[0] ?? null,
      `the workflow has a cycle through ${cyclic.join(", ")}; VectorVein workflows must not loop back`,
    );
  }
  const byId = new Map(nodes.map((n) => [n.id, n]));
  return order.map((id) => byId.get(id) as VectorVeinNode);
}

function emptyDocument(options: VectorVeinImportOptions, unwrapped: { title?: string; description?: string }): DslDocument {
  return dslDocumentSchema.parse({
    app: {
      name: options.name ?? unwrapped.title ?? "VectorVein workflow",
      mode: "workflow",
      description: options.description ?? "",
    },
    workflow: { graph: { nodes: [], edges: [] } },
  });
}
