/**
 * Child-process entry: the bare baselines, a plain `node:http` server doing the least the real
 * one must do for the same request. BENCH_BARE (JSON) picks the mode:
 * - `json`: reads the request body, answers a small JSON (the blocking-run baseline);
 * - `sse`: reads the body, answers `text/event-stream` with the given frames and closes (the
 *   streaming baseline: the same bytes the real server sends, with nothing to compute);
 * - `sse-hold`: like `sse` but sends only `frames` and keeps the stream open (the open-stream
 *   memory baseline), answering `GET /release` by ending every held stream.
 * It also serves `GET /healthz`, and reports over IPC like serve-child.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { handleParentMessages, sendToParent } from "./child-ipc.js";

interface BareOptions {
  mode: "json" | "sse" | "sse-hold";
  frames?: string[];
  /** Default 0 (any free port, reported over IPC). */
  port?: number;
}

const options = JSON.parse(process.env["BENCH_BARE"] ?? '{"mode":"json"}') as BareOptions;
const frames = options.frames ?? [];
const SSE_HEADERS = {
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-cache",
  "X-Accel-Buffering": "no",
};
const held = new Set<ServerResponse>();

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.url === "/healthz") {
    res.writeHead(200, { "Content-Type": "application/json" }).end('{"status":"ok"}');
    return;
  }
  if (req.url === "/release") {
    for (const r of held) r.end();
    held.clear();
    res.writeHead(200, { "Content-Type": "application/json" }).end('{"released":true}');
    return;
  }
  // Parsed like the real server parses it, so the baseline does not skip the request's cost.
  const body = JSON.parse((await readBody(req)) || "{}") as Record<string, unknown>;
  if (options.mode === "json") {
    const json = JSON.stringify({ ok: true, user: body["user"] ?? null });
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(json) }).end(json);
    return;
  }
  res.writeHead(200, SSE_HEADERS);
  res.write("event: ping\n\n");
  for (const frame of frames) res.write(frame);
  if (options.mode === "sse") {
    res.end();
    return;
  }
  held.add(res);
  res.on("close", () => held.delete(res));
}

const server = createServer((req, res) => {
  handle(req, res).catch(() => {
    if (!res.headersSent) res.writeHead(400);
    res.end();
  });
});
server.listen(options.port ?? 0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  handleParentMessages();
  sendToParent({ type: "ready", url: `http://127.0.0.1:${port}` });
});
