/**
 * Workflows the end-to-end suites publish, built only from core engine nodes. Each is a Dify
 * DSL document; `yamlOf`/`jsonOf` give the text an admin would upload.
 */

type NodeSpec = { id: string; type: string; parentId?: string; [field: string]: unknown };

function node({ id, type, parentId, ...data }: NodeSpec) {
  return { id, type: "custom", ...(parentId ? { parentId } : {}), position: { x: 0, y: 0 }, data: { type, title: id, ...data } };
}

function edge(source: string, target: string, sourceHandle = "source") {
  return { id: `${source}-${sourceHandle}-${target}`, source, sourceHandle, target, targetHandle: "target" };
}

export function workflow(
  name: string,
  nodes: NodeSpec[],
  edges: ReturnType<typeof edge>[],
  features: Record<string, unknown> = {},
) {
  return {
    app: { name, mode: "workflow", icon: "🤖", icon_background: "#FFEAD5", description: `${name} (test workflow)` },
    kind: "app",
    version: "0.6.0",
    workflow: { environment_variables: [], conversation_variables: [], features, graph: { nodes: nodes.map(node), edges } },
  };
}

/**
 * Branches on `lang`: "fr" ends at `end_fr`, anything else at `end_en`. Declares every
 * scalar input type plus an optional document file, so it also serves the parameters test.
 */
export function branchWorkflow(name = "Branch") {
  return workflow(
    name,
    [
      {
        id: "start",
        type: "start",
        variables: [
          { variable: "query", label: "Query", type: "text-input", required: true, max_length: 100 },
          { variable: "lang", label: "Language", type: "select", required: false, options: ["en", "fr"] },
          { variable: "count", label: "Count", type: "number", required: false },
          {
            variable: "doc",
            label: "Document",
            type: "file",
            required: false,
            allowed_file_types: ["document"],
            allowed_file_upload_methods: ["local_file", "remote_url"],
          },
        ],
      },
      {
        id: "branch",
        type: "if-else",
        cases: [
          {
            case_id: "fr",
            logical_operator: "and",
            conditions: [{ variable_selector: ["start", "lang"], comparison_operator: "is", value: "fr" }],
          },
        ],
      },
      {
        id: "end_fr",
        type: "end",
        outputs: [
          { variable: "greeting", value_selector: ["start", "query"] },
          { variable: "lang", value_selector: ["start", "lang"] },
        ],
      },
      {
        id: "end_en",
        type: "end",
        outputs: [
          { variable: "text", value_selector: ["start", "query"] },
          { variable: "count", value_selector: ["start", "count"] },
          { variable: "doc", value_selector: ["start", "doc"] },
        ],
      },
    ],
    [edge("start", "branch"), edge("branch", "end_fr", "fr"), edge("branch", "end_en", "false")],
  );
}

/** A loop of three rounds and an iteration over uploaded files: container events in the stream. */
export function containerWorkflow(name = "Containers") {
  return workflow(
    name,
    [
      {
        id: "start",
        type: "start",
        variables: [{ variable: "docs", label: "Docs", type: "file-list", required: false, allowed_file_types: ["document"] }],
      },
      { id: "loop", type: "loop", start_node_id: "loop_start", loop_count: 3, break_conditions: [], loop_variables: [] },
      { id: "loop_start", type: "loop-start", parentId: "loop" },
      {
        id: "iter",
        type: "iteration",
        start_node_id: "iter_start",
        iterator_selector: ["start", "docs"],
        output_selector: ["pick", "output"],
      },
      { id: "iter_start", type: "iteration-start", parentId: "iter" },
      { id: "pick", type: "variable-aggregator", parentId: "iter", variables: [["iter", "item"]] },
      { id: "end", type: "end", outputs: [{ variable: "files", value_selector: ["iter", "output"] }] },
    ],
    [edge("start", "loop"), edge("loop", "iter"), edge("iter_start", "pick"), edge("iter", "end")],
  );
}

/** Publishable text: JSON (the admin API takes YAML or JSON). */
export const jsonOf = (doc: unknown): string => JSON.stringify(doc, null, 2);

/**
 * start → http-request (GET `<gate>/hold/{{#start.name#}}`) → end. The run waits in the HTTP
 * node until the test releases the gate, so it can be stopped or watched mid-run.
 */
export function gatedWorkflow(gateUrl: string, name = "Gated") {
  return workflow(
    name,
    [
      { id: "start", type: "start", variables: [{ variable: "name", label: "Name", type: "text-input", required: true }] },
      {
        id: "call",
        type: "http-request",
        method: "get",
        url: `${gateUrl}/hold/{{#start.name#}}`,
        authorization: { type: "no-auth", config: null },
        headers: "",
        params: "",
        body: { type: "none", data: [] },
        timeout: { connect: 5, read: 60, write: 5 },
      },
      {
        id: "end",
        type: "end",
        outputs: [
          { variable: "status", value_selector: ["call", "status_code"] },
          { variable: "body", value_selector: ["call", "body"] },
        ],
      },
    ],
    [edge("start", "call"), edge("call", "end")],
  );
}

/** start → llm (OpenAI provider, model chosen by the caller) → end: streamed text and token usage. */
export function llmWorkflow(model: string, name = "LLM") {
  return workflow(
    name,
    [
      { id: "start", type: "start", variables: [{ variable: "text", label: "Text", type: "paragraph", required: true }] },
      {
        id: "llm",
        type: "llm",
        model: { provider: "langgenius/openai/openai", name: model, mode: "chat", completion_params: { temperature: 0 } },
        prompt_template: [{ role: "user", text: "{{#start.text#}}" }],
        context: { enabled: false, variable_selector: [] },
        vision: { enabled: false },
      },
      { id: "end", type: "end", outputs: [{ variable: "answer", value_selector: ["llm", "text"] }] },
    ],
    [edge("start", "llm"), edge("llm", "end")],
  );
}

/** start (one file) → document-extractor → end: the file's bytes read back through the files capability. */
export function extractWorkflow(name = "Extract") {
  return workflow(
    name,
    [
      { id: "start", type: "start", variables: [{ variable: "doc", label: "Doc", type: "file", required: true }] },
      { id: "extract", type: "document-extractor", variable_selector: ["start", "doc"], is_array_file: false },
      { id: "end", type: "end", outputs: [{ variable: "text", value_selector: ["extract", "text"] }] },
    ],
    [edge("start", "extract"), edge("extract", "end")],
  );
}
