import { type CompiledWorkflow, compileWorkflow, type NodeRegistry, parseDsl } from "@tributary/engine";
import type { WorkflowVersionRow } from "../store/types.js";

/**
 * Compiled workflows by version id. Versions are immutable, so an entry never goes stale;
 * the bound only keeps memory flat on servers with many apps (least recently used goes first).
 */
export class WorkflowCache {
  readonly #entries = new Map<string, CompiledWorkflow>();
  readonly #max: number;
  readonly #registry: NodeRegistry | undefined;

  constructor(options: { maxEntries?: number; registry?: NodeRegistry | undefined } = {}) {
    this.#max = Math.max(1, options.maxEntries ?? 256);
    this.#registry = options.registry;
  }

  /** Throws WorkflowValidationError when the version cannot run (e.g. a node type this server lacks). */
  get(version: WorkflowVersionRow): CompiledWorkflow {
    const hit = this.#entries.get(version.id);
    if (hit) {
      this.#entries.delete(version.id);
      this.#entries.set(version.id, hit);
      return hit;
    }
    // Parsed here rather than by compileWorkflow: it takes any object that looks parsed as parsed, and a
    // stored DSL from an older import may lack sections parsing defaults (e.g. conversation_variables).
    const compiled = compileWorkflow(parseDsl(version.dsl), this.#registry ? { registry: this.#registry } : {});
    this.#entries.set(version.id, compiled);
    if (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    return compiled;
  }
}
