export { STORE_FAILURE_CODE } from "./active-run.js";
export * from "./errors.js";
export * from "./local-run-service.js";
export * from "./recover-orphans.js";
export type { RunServiceLogger } from "./run-logger.js";
export type * from "./types.js";
