import type { Store } from "../store/types.js";

export const ORPHAN_MESSAGE = "The server stopped while this run was in progress (process crashed or was killed).";

/**
 * Embedded mode, at server start: every run still `running` belonged to a process that is
 * gone, so it is failed (with its running node executions). Returns how many were failed.
 */
export function recoverOrphans(store: Store): Promise<number> {
  return store.failOrphanedRuns({}, ORPHAN_MESSAGE);
}
