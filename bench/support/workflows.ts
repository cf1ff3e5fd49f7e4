/** The workflows the server benchmarks run, as Dify DSL documents published through the admin API. */

type NodeSpec = { id: string; type: string; [field: string]: unknown };

function node({ id, type, ...data }: NodeSpec) {
  return { id, type: "custom", position: { x: 0, y: 0 }, data: { type, title: id, ...data } };
}

function edge(source: string, target: string) {
  return { id: `${source}-${target}`, source, sourceHandle: "source", target, targetHandle: "target" };
}

function workflow(name: string, nodes: NodeSpec[], edges: ReturnType<typeof edge>[]) {
  return {
    app: { name, mode: "workflow", icon: "🤖", icon_background: "#FFEAD5", description: `${name} (benchmark)` },
    kind: "app",
    version: "0.6.0",
    workflow: { environment_variables: [], conversation_variables: [], features: {}, graph: { nodes: nodes.map(node), edges } },
  };
}

/** start → template-transform (Jinja2) → end: the "2-node workflow" for runs over HTTP. */
export function templateWorkflow(name = "Bench template") {
  return workflow(
    name,
    [
      { id: "start", type: "start", variables: [{ variable: "name", label: "Name", type: "text-input", required: true }] },
      {
        id: "greet",
        type: "template-transform",
        variables: [{ variable: "name", value_selector: ["start", "name"] }],
        template: "Hello, {{ name }}!",
      },
      { id: "end", type: "end", outputs: [{ variable: "greeting", value_selector: ["greet", "output"] }] },
    ],
    [edge("start", "greet"), edge("greet", "end")],
  );
}

/** start → http-request GET `<gate>/hold/{{name}}` → end: the run waits in the HTTP node until the gate answers. */
export function gatedWorkflow(gateUrl: string, name = "Bench gated") {
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
        timeout: { connect: 10, read: 600, write: 10 },
      },
      { id: "end", type: "end", outputs: [{ variable: "status", value_selector: ["call", "status_code"] }] },
    ],
    [edge("start", "call"), edge("call", "end")],
  );
}
