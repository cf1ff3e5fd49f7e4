/** The slice of a pino logger the run service uses, so the server can pass its own. */
export interface RunServiceLogger {
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

/** One JSON line per entry on stderr, for when no logger is injected. */
export const consoleRunLogger: RunServiceLogger = {
  warn: (details, message) => console.warn(JSON.stringify({ level: "warn", msg: message, ...serialise(details) })),
  error: (details, message) => console.error(JSON.stringify({ level: "error", msg: message, ...serialise(details) })),
};

function serialise(details: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(details)) out[k] = v instanceof Error ? { message: v.message, stack: v.stack } : v;
  return out;
}
