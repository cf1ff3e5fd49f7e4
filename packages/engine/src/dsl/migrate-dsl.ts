/**
 * Brings a Dify DSL file of any version 0.1.0–0.6.0 to today's shape (0.6.0) before the
 * schema reads it. Dify itself never rewrote old files: its node entities accepted the old
 * layouts and its web editor converted them when a workflow was opened. Tributary converts
 * once, on import, so the engine, the exporter and the server only ever see one layout.
 *
 * Every rule looks at the shape, not at the version number: exports were often edited by
 * hand, and a 0.1.5 file can still hold a node copied from a 0.1.0 one. The rules are
 * idempotent, so migrating a migrated document changes nothing and says nothing.
 *
 * Everything the migration changed or ignores is described in `notes`, with the node id
 * when there is one, so an import can tell the user what happened to their file.
 */
import { keyValueLines } from "../nodes/http-request.js";

export const CURRENT_DSL_VERSION = "0.6.0";
/** The oldest version Dify ever exported; files without a version are read as this, as Dify does. */
export const OLDEST_DSL_VERSION = "0.1.0";

export interface MigrationNote {
  nodeId: string | null;
  message: string;
}

export interface MigrationResult {
  /** The migrated document (a copy; the input is never modified). Not yet schema-checked. */
  document: unknown;
  notes: MigrationNote[];
  /** The version the file declared (or "0.1.0" when it declared none); null when it is no DSL object at all. */
  sourceVersion: string | null;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** Start-variable type spellings seen in hand-written and very old files, by today's name. */
const START_TYPE_ALIASES: Record<string, string> = {
  text: "text-input",
  "text-input": "text-input",
  text_input: "text-input",
  textinput: "text-input",
  string: "text-input",
  input: "text-input",
  "short-text": "text-input",
  paragraph: "paragraph",
  textarea: "paragraph",
  "text-area": "paragraph",
  "long-text": "paragraph",
  long_text: "paragraph",
  select: "select",
  dropdown: "select",
  number: "number",
  integer: "number",
  float: "number",
  file: "file",
  "file-list": "file-list",
  file_list: "file-list",
  files: "file-list",
  checkbox: "checkbox",
  boolean: "checkbox",
  bool: "checkbox",
  json_object: "json_object",
  "json-object": "json_object",
  json: "json_object",
  object: "json_object",
};

const CODE_LANGUAGE_ALIASES: Record<string, string> = {
  python3: "python3",
  python: "python3",
  py: "python3",
  py3: "python3",
  javascript: "javascript",
  js: "javascript",
  nodejs: "javascript",
  node: "javascript",
  ecmascript: "javascript",
};

/** Compares dotted versions numerically ("0.1.10" > "0.1.5"); non-numeric parts count as 0. */
export function compareDslVersions(a: string, b: string): number {
  const pa = a.split(".").map((p) => Number.parseInt(p, 10) || 0);
  const pb = b.split(".").map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function migrateDsl(raw: unknown): MigrationResult {
  if (!isObj(raw)) return { document: raw, notes: [], sourceVersion: null };
  const doc = structuredClone(raw) as Obj;
  const notes: MigrationNote[] = [];
  const note = (nodeId: string | null, message: string) => notes.push({ nodeId, message });

  const sourceVersion = migrateHeader(doc, note);
  const workflow = doc.workflow;
  if (!isObj(workflow)) return { document: doc, notes, sourceVersion };

  migrateEnvironment(workflow, note);
  if (workflow.features !== undefined && !isObj(workflow.features)) {
    note(null, "workflow.features is not a mapping; it was replaced by an empty one");
    workflow.features = {};
  }
  const graph = workflow.graph;
  if (isObj(graph) && Array.isArray(graph.nodes)) migrateGraph(graph, note);
  return { document: doc, notes, sourceVersion };
}

// ---- header -----------------------------------------------------------------------------

function migrateHeader(doc: Obj, note: (nodeId: string | null, message: string) => void): string {
  let version: string;
  if (doc.version === undefined || doc.version === null || doc.version === "") {
    // A pasted bare graph (no app section) is today's shape; a whole export without a version is Dify's oldest.
    version = "app" in doc ? OLDEST_DSL_VERSION : CURRENT_DSL_VERSION;
    if ("app" in doc) note(null, `the file names no DSL version; it was read as ${OLDEST_DSL_VERSION}, as Dify does`);
  } else if (typeof doc.version === "number") {
    // YAML reads `version: 0.1` as a number; Dify would refuse it, but the intent is clear.
    version = String(doc.version);
    note(null, `the DSL version ${version} was written as a number; it was read as the text "${version}"`);
  } else {
    version = String(doc.version);
  }
  if (compareDslVersions(version, CURRENT_DSL_VERSION) > 0) {
    note(
      null,
      `DSL ${version} is newer than ${CURRENT_DSL_VERSION}, the newest Tributary knows; unknown fields are kept as they are`,
    );
  } else if (compareDslVersions(version, CURRENT_DSL_VERSION) < 0) {
    note(null, `migrated from DSL ${version} to ${CURRENT_DSL_VERSION}`);
    doc.version = CURRENT_DSL_VERSION;
  } else {
    doc.version = CURRENT_DSL_VERSION;
  }
  if (doc.kind !== undefined && doc.kind !== "app") note(null, `kind "${String(doc.kind)}" was read as "app"`);
  doc.kind = "app";

  const deps = doc.dependencies;
  if (Array.isArray(deps) && deps.length > 0) {
    const names = deps.map(dependencyName).filter((n): n is string => !!n);
    const listed = names.length > 0 ? ` (${[...new Set(names)].join(", ")})` : "";
    note(
      null,
      `${deps.length} plugin ${deps.length === 1 ? "dependency is" : "dependencies are"} ignored${listed}: ` +
        "Tributary calls model providers itself and installs no Dify plugins; the list is kept for export",
    );
  }
  return version;
}

function dependencyName(dep: unknown): string | undefined {
  if (!isObj(dep)) return undefined;
  const value = dep.value;
  if (isObj(value)) {
    const id = str(value.plugin_unique_identifier) ?? str(value.marketplace_plugin_unique_identifier) ?? str(value.repo);
    if (id) return id.split(/[:@]/)[0];
  }
  return str(dep.name);
}

// ---- environment ------------------------------------------------------------------------

function migrateEnvironment(workflow: Obj, note: (nodeId: string | null, message: string) => void): void {
  const env = workflow.environment_variables;
  if (env === undefined || env === null) return;
  if (!Array.isArray(env)) {
    note(null, "workflow.environment_variables is not a list; it was ignored");
    workflow.environment_variables = [];
    return;
  }
  for (const v of env) {
    if (!isObj(v)) continue;
    const name = str(v.name) ?? "";
    const type = str(v.value_type);
    if (type === undefined) v.value_type = typeof v.value === "number" ? "number" : "string";
    else if (type === "str" || type === "text") v.value_type = "string";
    else if (type === "int" || type === "float" || type === "integer") v.value_type = "number";
    if (v.value === null || v.value === undefined) v.value = "";
    if (v.value_type === "secret" && v.value === "") {
      note(
        null,
        `secret environment variable "${name}" has no value (exports leave secrets blank); set it on the server before running`,
      );
    }
  }
}

// ---- graph ------------------------------------------------------------------------------

interface GraphContext {
  note: (nodeId: string | null, message: string) => void;
  /** The node objects (entries that are not objects stay in the file for the schema to report). */
  nodes: Obj[];
  edges: Obj[];
  byId: Map<string, Obj>;
  /** Adds a node / an edge to both the file and the working lists. */
  addNode(node: Obj): void;
  addEdge(edge: Obj): void;
}

function nodeData(node: Obj): Obj {
  if (!isObj(node.data)) node.data = {};
  return node.data as Obj;
}

function migrateGraph(graph: Obj, note: (nodeId: string | null, message: string) => void): void {
  const allNodes = graph.nodes as unknown[];
  const nodes = allNodes.filter(isObj);
  if (graph.edges === undefined || graph.edges === null) graph.edges = [];
  const allEdges: unknown[] = Array.isArray(graph.edges) ? graph.edges : [];
  const edges = allEdges.filter(isObj);
  const byId = new Map<string, Obj>();
  for (const n of nodes) if (typeof n.id === "string") byId.set(n.id, n);
  const ctx: GraphContext = {
    note,
    nodes,
    edges,
    byId,
    addNode(node) {
      allNodes.push(node);
      nodes.push(node);
      if (typeof node.id === "string") byId.set(node.id, node);
    },
    addEdge(edge) {
      allEdges.push(edge);
      edges.push(edge);
    },
  };

  for (const node of nodes) {
    const data = nodeData(node);
    const id = str(node.id) ?? null;
    // Note nodes (UI type custom-note, empty data.type) are kept exactly as they are.
    if (node.type === "custom-note" || !str(data.type)) continue;
    if (node.type === undefined) node.type = "custom";
    switch (data.type) {
      case "variable-assigner":
        migrateLegacyAggregator(data, id, note);
        break;
      case "start":
        migrateStart(data, id, note);
        break;
      case "if-else":
        migrateIfElse(data, id, note);
        break;
      case "http-request":
        migrateHttpRequest(data, id, note);
        break;
      case "code":
        migrateCode(data, id, note);
        break;
      case "llm":
        migrateLlm(data, id, note);
        break;
      default:
        break;
    }
  }
  migrateContainerMembership(ctx);
  for (const node of [...nodes]) {
    const type = str(nodeData(node).type);
    if (type === "iteration" || type === "loop") addContainerStart(node, type, ctx);
  }

  for (const edge of edges) {
    if (edge.sourceHandle === undefined || edge.sourceHandle === null) edge.sourceHandle = "source";
    if (edge.targetHandle === undefined || edge.targetHandle === null) edge.targetHandle = "target";
    if (edge.id === undefined || edge.id === null || edge.id === "") {
      edge.id = `${String(edge.source)}-${String(edge.sourceHandle)}-${String(edge.target)}-${String(edge.targetHandle)}`;
    }
  }
}

/**
 * Before Dify 0.7 the variable aggregator was called `variable-assigner`; Dify still reads
 * that type as the legacy aggregator (the conversation-variable assigner is `assigner`).
 */
function migrateLegacyAggregator(data: Obj, id: string | null, note: GraphContext["note"]): void {
  data.type = "variable-aggregator";
  if (!Array.isArray(data.variables)) data.variables = [];
  note(id, 'the legacy "variable-assigner" aggregator became a variable-aggregator node (same behaviour)');
}

function migrateStart(data: Obj, id: string | null, note: GraphContext["note"]): void {
  if (!Array.isArray(data.variables)) return;
  for (const v of data.variables) {
    if (!isObj(v)) continue;
    const name = str(v.variable) ?? "";
    const type = str(v.type);
    if (type !== undefined) {
      const canonical = START_TYPE_ALIASES[type.toLowerCase()];
      if (canonical && canonical !== type) {
        v.type = canonical;
        note(id, `input "${name}": type "${type}" was read as "${canonical}"`);
      }
    }
    if (typeof v.max_length === "string" && /^\s*\d+\s*$/.test(v.max_length)) v.max_length = Number(v.max_length);
    if (v.label === undefined || v.label === null) v.label = name;
    if (typeof v.required === "string") v.required = v.required === "true";
  }
}

/** Before Dify 0.8 an if-else node had one condition list (handles "true"/"false"), not `cases`. */
function migrateIfElse(data: Obj, id: string | null, note: GraphContext["note"]): void {
  if (Array.isArray(data.cases)) return;
  const conditions = Array.isArray(data.conditions) ? data.conditions : [];
  const logical = data.logical_operator === "or" ? "or" : "and";
  data.cases = [{ id: "true", case_id: "true", logical_operator: logical, conditions }];
  delete data.conditions;
  delete data.logical_operator;
  note(id, 'the old single condition list became case "true" (its edges keep the "true"/"false" handles)');
}

/**
 * Before Dify 0.8 the body was one string (form bodies as "key:value" lines); today it is
 * a list of items. The old executor also accepted a missing authorization as "no auth".
 */
function migrateHttpRequest(data: Obj, id: string | null, note: GraphContext["note"]): void {
  if (data.authorization === undefined || data.authorization === null) {
    data.authorization = { type: "no-auth", config: null };
  } else if (isObj(data.authorization)) {
    const auth = data.authorization;
    if (auth.type === "no-auth" && auth.config !== null && auth.config !== undefined) auth.config = null;
    if (auth.type === "api-key" && isObj(auth.config) && (auth.config.type === undefined || auth.config.type === null)) {
      // The old executor sent no header for an API key without a type; say so rather than guess one.
      note(id, "the API-key authorization has no type (basic, bearer or custom), so no credential header is sent");
    }
  }
  if (data.headers === undefined || data.headers === null) data.headers = "";
  if (data.params === undefined || data.params === null) data.params = "";
  if (data.body === undefined || data.body === null) {
    data.body = { type: "none", data: [] };
    return;
  }
  if (!isObj(data.body)) return;
  const body = data.body;
  if (body.data === undefined || body.data === null) {
    body.data = [];
    return;
  }
  if (typeof body.data !== "string") return;
  const text = body.data;
  if (body.type === "form-data" || body.type === "x-www-form-urlencoded") {
    body.data = keyValueLines(text).map(([key, value]) => ({ key, type: "text", value }));
    note(id, `the old "key:value" ${String(body.type)} body became ${(body.data as unknown[]).length} body item(s)`);
  } else {
    body.data = text === "" ? [] : [{ key: "", type: "text", value: text }];
    note(id, `the old text body (${String(body.type)}) became one body item`);
  }
}

function migrateCode(data: Obj, id: string | null, note: GraphContext["note"]): void {
  const lang = str(data.code_language);
  if (lang !== undefined) {
    const canonical = CODE_LANGUAGE_ALIASES[lang.trim().toLowerCase()];
    if (canonical && canonical !== lang) {
      data.code_language = canonical;
      note(id, `code_language "${lang}" was read as "${canonical}"`);
    }
  }
  if (data.variables === undefined || data.variables === null) data.variables = [];
}

function migrateLlm(data: Obj, id: string | null, note: GraphContext["note"]): void {
  if (typeof data.prompt_template === "string") {
    data.prompt_template = { text: data.prompt_template };
    note(id, "the prompt written as plain text became a completion prompt template");
  }
  const template = data.prompt_template;
  const messages = Array.isArray(template) ? template.filter(isObj) : isObj(template) ? [template] : [];
  for (const m of messages) {
    if (Array.isArray(template)) {
      const role = str(m.role);
      if (role === undefined) m.role = "user";
      else if (role !== role.toLowerCase()) m.role = role.toLowerCase();
    }
    if ((m.edition_type === undefined || m.edition_type === null) && typeof m.jinja2_text === "string" && !m.text) {
      m.edition_type = "jinja2";
    }
  }
  if (isObj(data.model) && (data.model.mode === undefined || data.model.mode === null)) {
    data.model.mode = Array.isArray(template) ? "chat" : "completion";
  }
  // Early Jinja2 prompts kept their variables on the node itself.
  const usesJinja = messages.some((m) => m.edition_type === "jinja2");
  const config = isObj(data.prompt_config) ? data.prompt_config : undefined;
  if (usesJinja && !Array.isArray(config?.jinja2_variables) && Array.isArray(data.variables) && data.variables.length > 0) {
    data.prompt_config = { ...(config ?? {}), jinja2_variables: data.variables };
    note(id, "the node-level prompt variables became prompt_config.jinja2_variables");
  }
}

// ---- containers -------------------------------------------------------------------------

/**
 * Children of an iteration or loop are marked three ways across versions: `parentId` on the
 * node (today), `data.isInIteration` + `data.iteration_id` (older, the only marker before
 * Dify 0.8), and `isInLoop` + `loop_id`. Every child gets all of them, consistently.
 */
function migrateContainerMembership(ctx: GraphContext): void {
  let fixed = 0;
  for (const node of ctx.nodes) {
    const data = nodeData(node);
    if (node.type === "custom-note" || !str(data.type)) continue;
    let parentId = str(node.parentId);
    if (!parentId) {
      if (data.isInIteration === true && str(data.iteration_id)) parentId = str(data.iteration_id);
      else if (data.isInLoop === true && str(data.loop_id)) parentId = str(data.loop_id);
      else if (str(data.iteration_id) && containerType(ctx, str(data.iteration_id)) === "iteration")
        parentId = str(data.iteration_id);
      else if (str(data.loop_id) && containerType(ctx, str(data.loop_id)) === "loop") parentId = str(data.loop_id);
    }
    if (!parentId) continue;
    const kind = containerType(ctx, parentId);
    if (!kind) continue;
    let changed = false;
    if (node.parentId !== parentId) {
      node.parentId = parentId;
      changed = true;
    }
    if (kind === "iteration" && (data.isInIteration !== true || data.iteration_id !== parentId)) {
      data.isInIteration = true;
      data.iteration_id = parentId;
      changed = true;
    }
    if (kind === "loop" && (data.isInLoop !== true || data.loop_id !== parentId)) {
      data.isInLoop = true;
      data.loop_id = parentId;
      changed = true;
    }
    if (changed) fixed++;
  }
  if (fixed > 0) {
    ctx.note(
      null,
      `${fixed} node${fixed === 1 ? "'s" : "s'"} iteration/loop membership was written in today's form (parentId and data flags)`,
    );
  }
}

function containerType(ctx: GraphContext, id: string | undefined): "iteration" | "loop" | null {
  if (!id) return null;
  const t = str(nodeData(ctx.byId.get(id) ?? {}).type);
  return t === "iteration" || t === "loop" ? t : null;
}

/**
 * Before Dify 0.8 an iteration's `start_node_id` named its first real child; since then it
 * names an `iteration-start` node (UI type `custom-iteration-start`) that leads to it.
 * Loops always had `loop-start`, but hand-made files omit it too.
 */
function addContainerStart(container: Obj, kind: "iteration" | "loop", ctx: GraphContext): void {
  const data = nodeData(container);
  const containerId = str(container.id);
  if (!containerId) return;
  const startType = `${kind}-start`;
  const children = ctx.nodes.filter((n) => n.parentId === containerId);
  const named = str(data.start_node_id);
  const current = named ? ctx.byId.get(named) : undefined;
  if (current && str(nodeData(current).type) === startType) return;
  const existing = children.find((c) => str(nodeData(c).type) === startType);
  if (existing) {
    data.start_node_id = existing.id;
    return;
  }
  // The first child: the one start_node_id names, or the one marked as start, or the only one nothing leads to.
  const childIds = new Set(children.map((c) => c.id));
  const first =
    (current && current.parentId === containerId ? current : undefined) ??
    children.find((c) => nodeData(c).isIterationStart === true || nodeData(c).isLoopStart === true) ??
    onlyRoot(children, childIds, ctx.edges);
  if (!first) return; // Validation reports the missing start; nothing sensible to add.
  const firstId = String(first.id);

  let startId = `${containerId}start`;
  for (let i = 2; ctx.byId.has(startId); i++) startId = `${containerId}start${i}`;
  const flags =
    kind === "iteration" ? { isInIteration: true, iteration_id: containerId } : { isInLoop: true, loop_id: containerId };
  const startNode: Obj = {
    id: startId,
    type: `custom-${kind}-start`,
    parentId: containerId,
    position: { x: 24, y: 68 },
    draggable: false,
    selectable: false,
    width: 44,
    height: 48,
    zIndex: 1002,
    data: { type: startType, title: "", desc: "", selected: false, ...flags },
  };
  ctx.addNode(startNode);
  ctx.addEdge({
    id: `${startId}-source-${firstId}-target`,
    source: startId,
    sourceHandle: "source",
    target: firstId,
    targetHandle: "target",
    type: "custom",
    zIndex: 1002,
    data: { sourceType: startType, targetType: str(nodeData(first).type) ?? "", ...flags },
  });
  data.start_node_id = startId;
  ctx.note(containerId, `added the ${startType} node "${startId}" in front of "${firstId}", the ${kind}'s first step`);
}

function onlyRoot(children: Obj[], childIds: Set<unknown>, edges: Obj[]): Obj | undefined {
  const targets = new Set(edges.filter((e) => childIds.has(e.source) && childIds.has(e.target)).map((e) => e.target));
  const roots = children.filter((c) => !targets.has(c.id));
  return roots.length === 1 ? roots[0] : undefined;
}
