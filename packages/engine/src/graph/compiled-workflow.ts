import type { DslDocument } from "../dsl/dsl-schema.js";
import type { AnyNodeDefinition } from "../nodes/node-definition.js";
import type { StartVariable } from "../nodes/start.js";

export interface CompiledEdge {
  id: string;
  source: string;
  target: string;
  /** "source" for plain edges; a case id / class id / "fail-branch" for branch edges. */
  sourceHandle: string;
}

export interface RetryPolicy {
  maxRetries: number;
  intervalMs: number;
}

export interface DefaultValue {
  key: string;
  type?: string | undefined;
  value: unknown;
}

export interface CompiledNode {
  id: string;
  type: string;
  title: string;
  /** `data` parsed by the node type's schema (unknown fields kept). */
  data: unknown;
  def: AnyNodeDefinition;
  /** The iteration/loop container this node belongs to; null at the top level. */
  parentId: string | null;
  outEdges: CompiledEdge[];
  inEdges: CompiledEdge[];
  errorStrategy: "fail-branch" | "default-value" | null;
  defaultValues: DefaultValue[];
  retry: RetryPolicy | null;
}

/** One graph level: the top level, or the body of one container. */
export interface GraphLevel {
  containerId: string | null;
  /** Where execution of this level begins (start node, iteration-start, loop-start). */
  rootId: string;
  nodes: ReadonlyMap<string, CompiledNode>;
}

export interface CompiledWorkflow {
  dsl: DslDocument;
  root: GraphLevel;
  /** Body of each container, by container node id. */
  containers: ReadonlyMap<string, GraphLevel>;
  nodes: ReadonlyMap<string, CompiledNode>;
  startNodeId: string;
  startVariables: readonly StartVariable[];
  environment: Readonly<Record<string, string | number>>;
  secretEnvironmentNames: ReadonlySet<string>;
  /** `node.var` keys whose streamed text reaches the run's outputs (text_chunk is sent for them). */
  streamedSelectors: ReadonlySet<string>;
}
