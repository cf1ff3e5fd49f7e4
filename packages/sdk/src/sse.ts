/**
 * Server-Sent Events off a fetch body, parsed by eventsource-parser, with an idle limit: the
 * server pings while a run is quiet (every 10 s), so a connection silent for much longer than
 * that is dead even if no error reached us.
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";

/** Thrown by `readSse` when nothing (not even a ping) arrived for `idleTimeoutMs`. */
export class SseIdleTimeout extends Error {
  constructor(readonly idleTimeoutMs: number) {
    super(`The event stream was silent for ${idleTimeoutMs} ms (the server pings every 10 s).`);
    this.name = "SseIdleTimeout";
  }
}

export async function* readSse(
  body: ReadableStream<Uint8Array>,
  options: { idleTimeoutMs: number },
): AsyncGenerator<EventSourceMessage, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const queue: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (message) => queue.push(message) });
  let finished = false;
  try {
    for (;;) {
      while (queue.length > 0) yield queue.shift() as EventSourceMessage;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new SseIdleTimeout(options.idleTimeoutMs)), options.idleTimeoutMs);
      });
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await Promise.race([reader.read(), idle]);
      } finally {
        clearTimeout(timer);
      }
      if (chunk.done) {
        // An unterminated last frame is discarded, as the SSE spec (and EventSource) does.
        parser.feed(decoder.decode());
        while (queue.length > 0) yield queue.shift() as EventSourceMessage;
        finished = true;
        return;
      }
      parser.feed(decoder.decode(chunk.value, { stream: true }));
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
