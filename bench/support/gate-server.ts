/**
 * An upstream for workflows to wait on: `GET /hold/<name>` is answered only on `releaseAll()`
 * while holding, at once otherwise. Lives in the benchmark process, on 127.0.0.1.
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface GateServer {
  url: string;
  /** Requests that arrived while holding (a run reached its HTTP node). */
  readonly arrived: number;
  hold(on: boolean): void;
  releaseAll(): void;
  close(): Promise<void>;
}

export async function startGateServer(): Promise<GateServer> {
  const waiting = new Set<ServerResponse>();
  let holding = false;
  let arrived = 0;
  const answer = (res: ServerResponse) => {
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end("released");
  };
  const server = createServer((req, res) => {
    req.resume();
    if (!holding) return answer(res);
    arrived++;
    waiting.add(res);
    res.on("close", () => waiting.delete(res));
  });
  server.maxConnections = 100_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get arrived() {
      return arrived;
    },
    hold(on) {
      holding = on;
      if (on) arrived = 0;
    },
    releaseAll() {
      for (const res of waiting) answer(res);
      waiting.clear();
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
