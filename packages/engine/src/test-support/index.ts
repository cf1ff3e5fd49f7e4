/** Test helpers shared with the server and SDK suites (`@tributary/engine/test-support`). */
export * from "./graph-builder.js";
export * from "./node-context.js";
export * from "./openai-test-server.js";
export * from "./test-nodes.js";
