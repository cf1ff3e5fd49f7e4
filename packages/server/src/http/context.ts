/** What every route module gets: the app's collaborators and the Hono environment type. */
import type { NodeRegistry } from "@tributary/engine";
import type { Config } from "../config.js";
import type { ServerFiles } from "../files/server-files.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics/metrics.js";
import type { RunService } from "../runs/types.js";
import type { AppApiKeyRow, AppRow, Store } from "../store/types.js";

export interface AppDeps {
  config: Config;
  store: Store;
  runs: RunService;
  files: ServerFiles;
  logger: Logger;
  /** Epoch ms; injectable for tests. */
  now?: () => number;
  /** Node types runs may use (must match the run service's); published workflows are validated against it. */
  registry?: NodeRegistry;
  /** SSE idle ping interval. Default 10 s (Dify's). */
  pingIntervalMs?: number;
  /** Served at GET /metrics when present. */
  metrics?: Metrics;
}

export interface AppEnv {
  Variables: {
    /** Set by app-key auth on Dify routes. */
    app: AppRow;
    apiKey: AppApiKeyRow;
    requestId: string;
  };
}
