import type { z } from "zod";
import { type DslDocument, type DslNode, isNoteNode, nodeDataBaseSchema } from "../dsl/dsl-schema.js";
import { parseDsl } from "../dsl/parse-dsl.js";
import { type ValidationProblem, WorkflowValidationError } from "../errors.js";
import type { AnyNodeDefinition } from "../nodes/node-definition.js";
import { defaultNodeRegistry, type NodeRegistry } from "../nodes/registry.js";
import type { StartVariable } from "../nodes/start.js";
import { ENVIRONMENT_NODE_ID, RESERVED_NODE_IDS, type VariableSelector } from "../variables/selector.js";
import type { CompiledEdge, CompiledNode, CompiledWorkflow, GraphLevel } from "./compiled-workflow.js";

export interface CompileOptions {
  registry?: NodeRegistry;
}

/**
 * Parses and validates a workflow, reporting every problem at once. Returns the compiled
 * graph the runtime executes; throws WorkflowValidationError listing all problems.
 */
export function compileWorkflow(source: DslDocument | string | unknown, options: CompileOptions = {}): CompiledWorkflow {
  const result = checkWorkflow(source, options);
  if (result.problems.length > 0 || !result.workflow) throw new WorkflowValidationError(result.problems);
  return result.workflow;
}

/** All validation problems of a workflow; empty when it can run. */
export function validateWorkflow(source: DslDocument | string | unknown, options: CompileOptions = {}): ValidationProblem[] {
  return checkWorkflow(source, options).problems;
}

function checkWorkflow(
  source: unknown,
  options: CompileOptions,
): { problems: ValidationProblem[]; workflow: CompiledWorkflow | null } {
  let dsl: DslDocument;
  try {
    // Always through the schema: compiling is not on the hot path, and an object that merely
    // looks parsed may lack defaulted sections.
    dsl = parseDsl(source);
  } catch (e) {
    if (e instanceof WorkflowValidationError) return { problems: [...e.problems], workflow: null };
    throw e;
  }
  const registry = options.registry ?? defaultNodeRegistry;
  const problems: ValidationProblem[] = [];
  const report = (nodeId: string | null, message: string) => problems.push({ nodeId, message });

  // ---- nodes ----
  const nodes = new Map<string, CompiledNode>();
  const noteIds = new Set<string>();
  for (const raw of dsl.workflow.graph.nodes) {
    if (isNoteNode(raw)) {
      noteIds.add(raw.id);
      continue;
    }
    if (nodes.has(raw.id)) {
      report(raw.id, `duplicate node id "${raw.id}"; every node needs its own id`);
      continue;
    }
    const compiled = compileNode(raw, registry, report);
    if (compiled) nodes.set(raw.id, compiled);
  }

  // ---- edges ----
  const seenEdgeIds = new Set<string>();
  for (const [i, raw] of dsl.workflow.graph.edges.entries()) {
    const id = raw.id ?? `edge-${i}`;
    if (noteIds.has(raw.source) || noteIds.has(raw.target)) continue;
    const source = nodes.get(raw.source);
    const target = nodes.get(raw.target);
    if (!source || !target) {
      const missing = !source ? raw.source : raw.target;
      report(source ? source.id : target ? target.id : null, `edge ${id} connects to node "${missing}", which does not exist`);
      continue;
    }
    if (seenEdgeIds.has(id)) continue;
    seenEdgeIds.add(id);
    if (source.parentId !== target.parentId) {
      report(
        source.id,
        `edge ${id} crosses a container boundary (from "${source.id}" to "${target.id}"); connect nodes inside the same iteration or loop`,
      );
      continue;
    }
    const edge: CompiledEdge = { id, source: source.id, target: target.id, sourceHandle: raw.sourceHandle ?? "source" };
    source.outEdges.push(edge);
    target.inEdges.push(edge);
  }

  // ---- levels ----
  const byParent = new Map<string | null, CompiledNode[]>();
  for (const n of nodes.values()) {
    if (n.parentId !== null && !nodes.has(n.parentId)) {
      report(n.id, `its parentId "${n.parentId}" names no node; it must be an iteration or loop`);
      continue;
    }
    if (n.parentId !== null && !nodes.get(n.parentId)?.def.container) {
      report(n.id, `its parentId "${n.parentId}" is not an iteration or loop node`);
      continue;
    }
    const list = byParent.get(n.parentId) ?? [];
    list.push(n);
    byParent.set(n.parentId, list);
  }

  const topNodes = byParent.get(null) ?? [];
  const starts = topNodes.filter((n) => n.type === "start");
  if (starts.length === 0) report(null, "the workflow has no start node; add one (type: start)");
  if (starts.length > 1) for (const s of starts.slice(1)) report(s.id, "a workflow has exactly one start node; remove this one");
  if (!topNodes.some((n) => n.type === "end" || n.type === "answer"))
    report(null, "the workflow has no end node; add one (type: end) to return outputs");

  const levels = new Map<string | null, GraphLevel>();
  const startNode = starts[0];
  if (startNode) levels.set(null, makeLevel(null, startNode.id, topNodes));
  for (const container of nodes.values()) {
    if (!container.def.container) continue;
    const children = byParent.get(container.id) ?? [];
    const startId = (container.data as { start_node_id?: string }).start_node_id;
    const root = children.find((c) => c.id === startId);
    if (!root) {
      report(
        container.id,
        `its start_node_id "${startId ?? ""}" names no node inside this ${container.type}; add a ${container.type}-start child`,
      );
      continue;
    }
    levels.set(container.id, makeLevel(container.id, root.id, children));
  }

  for (const level of levels.values()) checkLevelShape(level, report);
  checkReferences(nodes, dsl, report);
  checkHandles(nodes, report);

  if (problems.length > 0 || !startNode) return { problems, workflow: null };

  const root = levels.get(null) as GraphLevel;
  const containers = new Map<string, GraphLevel>();
  for (const [id, level] of levels) if (id !== null) containers.set(id, level);

  const environment: Record<string, string | number> = {};
  const secrets = new Set<string>();
  for (const v of dsl.workflow.environment_variables) {
    environment[v.name] = v.value_type === "number" ? Number(v.value) : v.value;
    if (v.value_type === "secret") secrets.add(v.name);
  }
  const streamed = new Set<string>();
  for (const n of topNodes) {
    if (n.type !== "end") continue;
    for (const o of (n.data as { outputs: Array<{ value_selector: string[] }> }).outputs) {
      if (o.value_selector.length === 2) streamed.add(o.value_selector.join("."));
    }
  }
  return {
    problems,
    workflow: {
      dsl,
      root,
      containers,
      nodes,
      startNodeId: startNode.id,
      startVariables: (startNode.data as { variables: StartVariable[] }).variables,
      environment,
      secretEnvironmentNames: secrets,
      streamedSelectors: streamed,
    },
  };
}

function compileNode(
  raw: DslNode,
  registry: NodeRegistry,
  report: (nodeId: string | null, message: string) => void,
): CompiledNode | null {
  const type = raw.data.type as string;
  const title = typeof raw.data.title === "string" && raw.data.title ? raw.data.title : raw.id;
  const def: AnyNodeDefinition | undefined = registry.get(type);
  if (!def) {
    report(raw.id, `unknown node type "${type}" ("${title}"); Tributary runs: ${[...registry.keys()].sort().join(", ")}`);
    return null;
  }
  if (def.unsupported) {
    report(raw.id, `"${title}" is a ${type} node, which Tributary cannot run: it ${def.unsupported}`);
    return null;
  }
  const base = nodeDataBaseSchema.safeParse(raw.data);
  const parsed = def.schema.safeParse(raw.data);
  if (!base.success || !parsed.success) {
    for (const issue of [...(base.success ? [] : base.error.issues), ...(parsed.success ? [] : parsed.error.issues)]) {
      report(raw.id, describeIssue(issue, raw.data));
    }
    return null;
  }
  let ok = true;
  def.validate?.(parsed.data, {
    nodeId: raw.id,
    report: (message) => {
      ok = false;
      report(raw.id, message);
    },
  });
  if (!ok) return null;
  const b = base.data;
  const retry =
    b.retry_config?.retry_enabled && (b.retry_config.max_retries ?? 0) > 0
      ? { maxRetries: b.retry_config.max_retries ?? 0, intervalMs: b.retry_config.retry_interval ?? 1000 }
      : null;
  const strategy = b.error_strategy === "fail-branch" || b.error_strategy === "default-value" ? b.error_strategy : null;
  return {
    id: raw.id,
    type,
    title,
    data: parsed.data,
    def,
    parentId: raw.parentId ?? (b.isInIteration ? (b.iteration_id ?? null) : b.isInLoop ? (b.loop_id ?? null) : null),
    outEdges: [],
    inEdges: [],
    errorStrategy: strategy,
    defaultValues: (b.default_value ?? []).map((d) => ({ key: d.key, type: d.type, value: d.value })),
    retry,
  };
}

function describeIssue(issue: z.core.$ZodIssue, data: unknown): string {
  const path = issue.path.join(".");
  let value: unknown = data;
  for (const k of issue.path) value = value && typeof value === "object" ? (value as Record<PropertyKey, unknown>)[k] : undefined;
  if ((issue.code === "invalid_type" || issue.code === "invalid_union") && value === undefined) {
    return `missing required field "${path}"`;
  }
  if (issue.code === "invalid_value" && "values" in issue) {
    return `field "${path}" must be one of ${(issue.values as unknown[]).map((v) => JSON.stringify(v)).join(", ")}, got ${JSON.stringify(value)}`;
  }
  return `field "${path}": ${issue.message}`;
}

function makeLevel(containerId: string | null, rootId: string, members: CompiledNode[]): GraphLevel {
  return { containerId, rootId, nodes: new Map(members.map((n) => [n.id, n])) };
}

/** Cycles and reachability within one level. */
function checkLevelShape(level: GraphLevel, report: (nodeId: string | null, message: string) => void): void {
  // Kahn's algorithm: whatever never reaches in-degree 0 sits on (or behind) a cycle.
  const indegree = new Map<string, number>();
  for (const n of level.nodes.values()) indegree.set(n.id, n.inEdges.length);
  const queue = [...level.nodes.values()].filter((n) => n.inEdges.length === 0).map((n) => n.id);
  let visited = 0;
  while (queue.length > 0) {
    const id = queue.pop() as string;
    visited++;
    for (const e of level.nodes.get(id)?.outEdges ?? []) {
      const d = (indegree.get(e.target) ?? 0) - 1;
      indegree.set(e.target, d);
      if (d === 0) queue.push(e.target);
    }
  }
  if (visited < level.nodes.size) {
    const cyclic = [...indegree].filter(([, d]) => d > 0).map(([id]) => id);
    const where = level.containerId ? ` inside ${level.containerId}` : "";
    report(cyclic[0] ?? null, `the graph has a cycle${where} through ${cyclic.join(", ")}; use a loop node to repeat steps`);
  }

  const reached = new Set<string>([level.rootId]);
  const stack = [level.rootId];
  while (stack.length > 0) {
    const id = stack.pop() as string;
    for (const e of level.nodes.get(id)?.outEdges ?? []) {
      if (!reached.has(e.target)) {
        reached.add(e.target);
        stack.push(e.target);
      }
    }
  }
  const root = level.nodes.get(level.rootId);
  if (root && root.inEdges.length > 0) report(root.id, "nothing may connect into the start node");
  for (const n of level.nodes.values()) {
    if (!reached.has(n.id)) {
      const from = level.containerId ? `the start of ${level.containerId}` : "the start node";
      report(n.id, `"${n.title}" is not reachable from ${from}; connect it or remove it`);
    }
  }
}

/** Every selector a node reads must name a node that runs before it (or sys/env). */
function checkReferences(
  nodes: ReadonlyMap<string, CompiledNode>,
  dsl: DslDocument,
  report: (nodeId: string | null, message: string) => void,
): void {
  const envNames = new Set(dsl.workflow.environment_variables.map((v) => v.name));
  const ancestorCache = new Map<string, Set<string>>();
  const ancestors = (node: CompiledNode): Set<string> => {
    const cached = ancestorCache.get(node.id);
    if (cached) return cached;
    const set = new Set<string>();
    const stack = node.inEdges.map((e) => e.source);
    while (stack.length > 0) {
      const id = stack.pop() as string;
      if (set.has(id)) continue;
      set.add(id);
      for (const e of nodes.get(id)?.inEdges ?? []) stack.push(e.source);
    }
    // Inside a container: the container itself and everything before it are upstream too.
    if (node.parentId) {
      const parent = nodes.get(node.parentId);
      if (parent) {
        set.add(parent.id);
        for (const a of ancestors(parent)) set.add(a);
      }
    }
    ancestorCache.set(node.id, set);
    return set;
  };

  for (const node of nodes.values()) {
    let selectors: VariableSelector[];
    try {
      selectors = node.def.references(node.data);
    } catch {
      continue;
    }
    const upstream = ancestors(node);
    const reported = new Set<string>();
    for (const sel of selectors) {
      const [ref, name] = sel;
      if (ref === undefined || name === undefined) continue;
      const key = `${ref}.${name}`;
      if (reported.has(key)) continue;
      if (RESERVED_NODE_IDS.has(ref)) {
        if (ref === ENVIRONMENT_NODE_ID && !envNames.has(name)) {
          reported.add(key);
          report(node.id, `reads env.${name}, but the workflow declares no environment variable "${name}"`);
        }
        continue;
      }
      const target = nodes.get(ref);
      if (!target) {
        reported.add(key);
        report(node.id, `reads {{#${sel.join(".")}#}}, but node "${ref}" does not exist`);
        continue;
      }
      // Containers read their own variables (item, loop variables) and their children's outputs.
      if (node.def.container && (ref === node.id || target.parentId === node.id)) continue;
      if (ref === node.id) {
        reported.add(key);
        report(node.id, `reads its own output {{#${sel.join(".")}#}}`);
        continue;
      }
      if (!upstream.has(ref)) {
        reported.add(key);
        report(
          node.id,
          `reads {{#${sel.join(".")}#}}, but "${target.title}" (${ref}) does not run before it; connect it upstream`,
        );
      }
    }
    if (node.type === "iteration") {
      const out = (node.data as { output_selector: string[] }).output_selector[0];
      const target = out === undefined ? undefined : nodes.get(out);
      if (!target || (target.parentId !== node.id && target.id !== node.id)) {
        report(node.id, `its output_selector must name a node inside this iteration, got "${out ?? ""}"`);
      }
    }
  }
}

function checkHandles(nodes: ReadonlyMap<string, CompiledNode>, report: (nodeId: string | null, message: string) => void): void {
  for (const node of nodes.values()) {
    const handles = node.def.branching && node.def.handles ? new Set(node.def.handles(node.data)) : null;
    for (const e of node.outEdges) {
      if (node.errorStrategy === "fail-branch" && (e.sourceHandle === "fail-branch" || e.sourceHandle === "success-branch"))
        continue;
      if (handles && !handles.has(e.sourceHandle)) {
        report(
          node.id,
          `edge ${e.id} leaves from branch "${e.sourceHandle}", which "${node.title}" does not have (it has: ${[...handles].join(", ")})`,
        );
      }
    }
  }
}
