import { fileAttribute, isFileValue } from "./file-value.js";
import type { VariableSelector } from "./selector.js";
import { replaceReferences } from "./selector.js";
import { valueToText } from "./text.js";

/**
 * Values produced during a run, keyed by node id then variable name. `sys` and `env` are
 * pseudo nodes. A forked pool (one per iteration round or loop body) reads through to its
 * parent and writes locally, so parallel iteration rounds never see each other's values.
 */
export class VariablePool {
  private readonly vars = new Map<string, Map<string, unknown>>();
  private readonly parent: VariablePool | null;

  constructor(parent: VariablePool | null = null) {
    this.parent = parent;
  }

  fork(): VariablePool {
    return new VariablePool(this);
  }

  set(nodeId: string, name: string, value: unknown): void {
    let node = this.vars.get(nodeId);
    if (!node) {
      node = new Map();
      this.vars.set(nodeId, node);
    }
    node.set(name, value);
  }

  setAll(nodeId: string, values: Record<string, unknown>): void {
    for (const name in values) this.set(nodeId, name, values[name]);
  }

  /** Writes into the pool that owns `nodeId`'s variable (used by loop variables and the assigner). */
  assign(nodeId: string, name: string, value: unknown): void {
    let pool: VariablePool | null = this;
    while (pool) {
      if (pool.vars.get(nodeId)?.has(name)) {
        pool.vars.get(nodeId)?.set(name, value);
        return;
      }
      pool = pool.parent;
    }
    this.set(nodeId, name, value);
  }

  private lookup(nodeId: string, name: string): { found: boolean; value: unknown } {
    let pool: VariablePool | null = this;
    while (pool) {
      const node = pool.vars.get(nodeId);
      if (node?.has(name)) return { found: true, value: node.get(name) };
      pool = pool.parent;
    }
    return { found: false, value: undefined };
  }

  /** The value at `[node_id, var, ...path]`, or undefined when any part is missing. */
  get(selector: VariableSelector): unknown {
    const nodeId = selector[0];
    const name = selector[1];
    if (nodeId === undefined || name === undefined) return undefined;
    let value = this.lookup(nodeId, name).value;
    for (let i = 2; i < selector.length && value !== undefined; i++) {
      value = step(value, selector[i] as string);
    }
    return value;
  }

  has(selector: VariableSelector): boolean {
    return this.get(selector) !== undefined;
  }

  /** All variables of one node (own and inherited), for node_finished inputs and debugging. */
  nodeValues(nodeId: string): Record<string, unknown> {
    const chain: VariablePool[] = [];
    for (let p: VariablePool | null = this; p; p = p.parent) chain.unshift(p);
    const out: Record<string, unknown> = {};
    for (const p of chain) {
      const node = p.vars.get(nodeId);
      if (node) for (const [k, v] of node) out[k] = v;
    }
    return out;
  }

  /** Substitutes `{{#node.var#}}` references with their text. */
  renderText(text: string): string {
    return replaceReferences(text, (sel) => valueToText(this.get(sel)));
  }
}

function step(value: unknown, key: string): unknown {
  if (value === null || typeof value !== "object") return undefined;
  if (isFileValue(value)) return fileAttribute(value, key);
  if (Array.isArray(value)) {
    if (/^\d+$/.test(key)) return value[Number(key)];
    // `[node, files, "name"]` on a file list yields each file's attribute.
    return value.map((v) => step(v, key));
  }
  return Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
}
