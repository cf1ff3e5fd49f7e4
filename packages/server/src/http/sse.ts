/**
 * Server-Sent Events framed the way Dify frames them: each event is `data: <json>\n\n`, a bare
 * `event: ping\n\n` goes out first and again whenever the stream has been idle for the ping
 * interval. Frames are pulled one at a time, so a slow client applies backpressure instead of
 * piling frames up in memory; a client that goes away only cancels the reading, never the run.
 */

export const SSE_HEADERS: Readonly<Record<string, string>> = {
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-cache",
  // Proxies such as nginx would otherwise buffer the stream and defeat streaming.
  "X-Accel-Buffering": "no",
};

const PING = "event: ping\n\n";

/** One SSE frame; `id` lets a client resume with Last-Event-ID. */
export function sseFrame(data: unknown, id?: number | string): string {
  const json = JSON.stringify(data);
  return id === undefined ? `data: ${json}\n\n` : `id: ${id}\ndata: ${json}\n\n`;
}

export interface SseBodyOptions {
  pingIntervalMs: number;
  /** Called once when the client goes away (or the server closes the stream early). */
  onCancel?: () => void;
}

/** A byte stream of `frames` (already-encoded SSE text), with a leading ping and idle pings. */
export function sseBody(frames: AsyncIterator<string>, options: SseBodyOptions): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let pending: Promise<IteratorResult<string>> | undefined;
  let greeted = false;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    options.onCancel?.();
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!greeted) {
          greeted = true;
          controller.enqueue(encoder.encode(PING));
          return;
        }
        pending ??= frames.next();
        let timer: NodeJS.Timeout | undefined;
        const idle = new Promise<"ping">((resolve) => {
          timer = setTimeout(() => resolve("ping"), options.pingIntervalMs);
        });
        try {
          const result = await Promise.race([pending, idle]);
          if (result === "ping") {
            controller.enqueue(encoder.encode(PING));
            return;
          }
          pending = undefined;
          if (result.done) {
            finished = true;
            controller.close();
            return;
          }
          controller.enqueue(encoder.encode(result.value));
        } finally {
          clearTimeout(timer);
        }
      },
      cancel() {
        finish();
        void frames.return?.(undefined)?.catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
}
