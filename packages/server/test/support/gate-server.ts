/**
 * A small upstream HTTP service for workflows to call: `GET /hold/<name>` answers only when the
 * test releases `<name>`, so a run can be caught in the middle and stopped, cut off or resumed.
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface GateServer {
  url: string;
  /** Resolves when a request for `name` has arrived (the run reached the HTTP node). */
  arrived(name: string): Promise<void>;
  release(name: string, body?: string): void;
  close(): Promise<void>;
}

export async function startGateServer(): Promise<GateServer> {
  const waiting = new Map<string, ServerResponse>();
  const released = new Map<string, string>();
  const arrivals = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  const arrival = (name: string) => {
    let entry = arrivals.get(name);
    if (!entry) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      entry = { promise, resolve };
      arrivals.set(name, entry);
    }
    return entry;
  };
  const answer = (res: ServerResponse, body: string) => {
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end(body);
  };
  const server = createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? "").replace(/^\/hold\//, ""));
    arrival(name).resolve();
    const body = released.get(name);
    if (body !== undefined) return answer(res, body);
    waiting.set(name, res);
    res.on("close", () => waiting.delete(name));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    arrived: (name) => arrival(name).promise,
    release(name, body = `released ${name}`) {
      released.set(name, body);
      const res = waiting.get(name);
      if (res) answer(res, body);
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
