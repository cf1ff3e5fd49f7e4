import { z } from "zod";
import { defineNode } from "./node-definition.js";

/**
 * Node types from Dify that Tributary cannot execute honestly. Validation names each such
 * node with what it would need, so a user sees every blocker of an imported file at once.
 */
const REASONS: Record<string, string> = {
  "knowledge-retrieval": "needs a Dify knowledge base (datasets and a vector index), which Tributary does not host",
  tool: "calls a Dify marketplace/plugin tool, which needs Dify's plugin daemon; replace it with an HTTP request or code node",
  agent: "runs a Dify agent strategy plugin, which needs Dify's plugin daemon; replace it with LLM and code nodes",
  datasource: "reads from a Dify RAG pipeline data source, which Tributary does not host",
  "knowledge-index": "writes into a Dify knowledge base, which Tributary does not host",
  "human-input": "pauses for a human in Dify's console, which Tributary's API apps do not have",
  "trigger-webhook": "is a Dify trigger; in Tributary a workflow starts from its start node over the API",
  "trigger-schedule": "is a Dify trigger; schedule runs with an external scheduler calling the API",
  "trigger-plugin": "is a Dify plugin trigger, which needs Dify's plugin daemon",
};

export const unsupportedNodes = Object.entries(REASONS).map(([type, reason]) =>
  defineNode({
    type,
    schema: z.looseObject({ type: z.literal(type) }),
    references: () => [],
    unsupported: reason,
    run: () => {
      throw new Error(`node type "${type}" cannot run in Tributary: it ${reason}`);
    },
  }),
);
