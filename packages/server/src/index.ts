export * from "./config.js";
export * from "./files/index.js";
export { type AppDeps, type AppEnv, createApp } from "./http/app.js";
export { ApiError } from "./http/errors.js";
export { type RunningServer, type StartServerOptions, startServer } from "./http/server.js";
export { createLogger, type Logger } from "./logger.js";
export * from "./runs/index.js";
export * from "./serve.js";
export * from "./store/index.js";
