/**
 * Messages between the pool and a sandbox worker (worker/entry.mjs). The worker runs
 * untrusted code, so everything it sends is parsed here before the pool acts on it.
 */
import { z } from "zod";
import type { CodeLanguage } from "../capabilities/types.js";

export interface WorkerData {
  interruptBuffer: SharedArrayBuffer;
  wasmMemoryLimitBytes: number;
  jsMemoryLimitBytes: number;
  jsStackLimitBytes: number;
  fileSystemLimitBytes: number;
  maxResultChars: number;
}

export interface RunMessage {
  type: "run";
  id: number;
  language: CodeLanguage;
  code: string;
  inputsJson: string;
  /** Epoch ms; QuickJS's interrupt handler checks it itself. */
  deadline: number;
}

export interface DiagnosticsRequest {
  type: "diagnostics";
}

export type MessageToWorker = RunMessage | DiagnosticsRequest;

/**
 * ok: payload is main()'s result as JSON. error: payload is the message, detail the
 * traceback or stack. memory: the run hit a memory limit. interrupted: the run stopped at
 * the pool's interrupt. fatal: the interpreter broke and the worker must be replaced.
 */
export const runStatusSchema = z.enum(["ok", "error", "memory", "interrupted", "fatal"]);
export type RunStatus = z.infer<typeof runStatusSchema>;

const readyMessage = z.object({ type: z.literal("ready"), startupMs: z.number(), networkAttempts: z.number() });
const startupFailedMessage = z.object({ type: z.literal("startup-failed"), message: z.string() });
/** The worker can no longer run code (its Python state reset failed); replace it. */
const brokenMessage = z.object({ type: z.literal("broken"), message: z.string() });
const resultMessage = z.object({
  type: z.literal("result"),
  id: z.number(),
  status: runStatusSchema,
  payload: z.string(),
  detail: z.string(),
  memoryBytes: z.number(),
});
const diagnosticsMessage = z.object({
  type: z.literal("diagnostics"),
  leakedGlobals: z.array(z.string()),
  pythonJsReferences: z.array(z.string()),
  networkAttempts: z.number(),
  memoryBytes: z.number(),
  /** Bytes in Pyodide's in-memory file system. */
  fileBytes: z.number(),
});

export const workerMessageSchema = z.discriminatedUnion("type", [
  readyMessage,
  startupFailedMessage,
  brokenMessage,
  resultMessage,
  diagnosticsMessage,
]);

export type WorkerMessage = z.infer<typeof workerMessageSchema>;
export type RunResultMessage = z.infer<typeof resultMessage>;
/** What a worker reports about its own realm: the escape tests assert on it. */
export type WorkerDiagnostics = Omit<z.infer<typeof diagnosticsMessage>, "type">;
