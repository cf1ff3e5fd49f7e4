/**
 * Structured JSON logs (pino). One line per event, machine-readable, so operators can ship them
 * to any log store; secrets are redacted by path in case a caller logs a request or config.
 */
import { type DestinationStream, type Logger, pino } from "pino";
import type { LogLevel } from "./config.js";

export type { Logger };

export interface LoggerOptions {
  level?: LogLevel;
  /** Defaults to stdout. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const config = {
    level: options.level ?? "info",
    base: { service: "tributary" },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        "adminToken",
        "config.adminToken",
        "req.headers.authorization",
        "headers.authorization",
        "api_key",
        "apiKey",
        "*.api_key",
        "*.apiKey",
      ],
      censor: "[redacted]",
    },
  };
  return options.destination ? pino(config, options.destination) : pino(config);
}
