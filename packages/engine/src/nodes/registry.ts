import { answerNode } from "./answer.js";
import { assignerNode } from "./assigner.js";
import { codeNode } from "./code.js";
import { documentExtractorNode } from "./document-extractor.js";
import { endNode } from "./end.js";
import { httpRequestNode } from "./http-request.js";
import { ifElseNode } from "./if-else.js";
import { iterationNode, iterationStartNode } from "./iteration.js";
import { listOperatorNode } from "./list-operator.js";
import { llmNode } from "./llm.js";
import { loopEndNode, loopNode, loopStartNode } from "./loop.js";
import type { AnyNodeDefinition } from "./node-definition.js";
import { parameterExtractorNode } from "./parameter-extractor.js";
import { questionClassifierNode } from "./question-classifier.js";
import { startNode } from "./start.js";
import { templateTransformNode } from "./template-transform.js";
import { unsupportedNodes } from "./unsupported.js";
import { legacyVariableAssignerNode, variableAggregatorNode } from "./variable-aggregator.js";

export type NodeRegistry = ReadonlyMap<string, AnyNodeDefinition>;

export function createNodeRegistry(definitions: readonly AnyNodeDefinition[]): NodeRegistry {
  const map = new Map<string, AnyNodeDefinition>();
  for (const d of definitions) map.set(d.type, d);
  return map;
}

export const coreNodes: readonly AnyNodeDefinition[] = [
  startNode,
  endNode,
  answerNode,
  ifElseNode,
  templateTransformNode,
  codeNode,
  httpRequestNode,
  llmNode,
  variableAggregatorNode,
  legacyVariableAssignerNode,
  iterationNode,
  iterationStartNode,
  loopNode,
  loopStartNode,
  loopEndNode,
  parameterExtractorNode,
  questionClassifierNode,
  listOperatorNode,
  documentExtractorNode,
  assignerNode,
  ...unsupportedNodes,
];

export const defaultNodeRegistry: NodeRegistry = createNodeRegistry(coreNodes);
