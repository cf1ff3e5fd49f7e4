import { writeHeapSnapshot } from "node:v8";

/**
 * The IPC protocol between a benchmark and the server processes it starts: `ready` once
 * listening, and `memory` on request (RSS and heap after forced garbage collection), or a heap
 * snapshot written to a file (for finding where that memory goes).
 */

export type ChildMessage =
  | { type: "ready"; url: string; adminToken?: string }
  | { type: "memory"; rss: number; heapUsed: number; external: number; arrayBuffers: number }
  /** A measuring child's figures (e.g. the raw SQLite baseline). */
  | { type: "result"; figures: Record<string, number> }
  | { type: "heap-snapshot"; file: string };

export type ParentMessage = { type: "memory" } | { type: "heap-snapshot"; file: string };

export function sendToParent(message: ChildMessage): void {
  process.send?.(message);
}

/** Several passes: one GC can leave garbage that only becomes collectable after finalisers ran. */
async function collect(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("start the child with --expose-gc to measure memory");
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function handleParentMessages(): void {
  process.on("message", (message: ParentMessage) => {
    if (message.type === "heap-snapshot") {
      void collect().then(() => sendToParent({ type: "heap-snapshot", file: writeHeapSnapshot(message.file) }));
    }
    if (message.type === "memory") {
      void collect().then(() => {
        const m = process.memoryUsage();
        sendToParent({ type: "memory", rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers });
      });
    }
  });
  // The parent going away (a crashed benchmark) must not leave a server behind.
  process.on("disconnect", () => process.exit(0));
}
