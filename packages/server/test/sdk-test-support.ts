/**
 * Real intermediaries on 127.0.0.1 for the SDK and CLI suites: a TCP proxy whose open
 * connections the test can cut (a dropped network), and an HTTP proxy that answers the first
 * requests itself with an error status (an overloaded load balancer). The server behind them
 * is the real one; nothing is mocked.
 */
import { createServer as createHttpServer, request as httpRequest } from "node:http";
import { type AddressInfo, createServer, Socket } from "node:net";

export interface CuttableProxy {
  url: string;
  /** Destroys every open connection (both directions), as a network failure would. */
  cutAll(): void;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startCuttableProxy(target: string): Promise<CuttableProxy> {
  const { hostname, port } = new URL(target);
  const open = new Set<Socket>();
  let connections = 0;
  const server = createServer((client) => {
    connections++;
    const upstream = new Socket();
    upstream.connect(Number(port), hostname);
    open.add(client);
    open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    cutAll() {
      for (const socket of open) socket.destroy();
      open.clear();
    },
    get connections() {
      return connections;
    },
    close() {
      for (const socket of open) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

export interface FlakyProxy {
  url: string;
  /** Requests answered by the proxy itself so far (method and path). */
  readonly refused: string[];
  /** Requests forwarded to the server. */
  readonly forwarded: string[];
  /** The next `count` requests get `status` (with `Retry-After: 0`). */
  failNext(count: number, status?: number): void;
  close(): Promise<void>;
}

export async function startFlakyProxy(target: string): Promise<FlakyProxy> {
  const { hostname, port } = new URL(target);
  const refused: string[] = [];
  const forwarded: string[] = [];
  let failures = 0;
  let failStatus = 503;
  const server = createHttpServer((req, res) => {
    const what = `${req.method} ${req.url}`;
    if (failures > 0) {
      failures--;
      refused.push(what);
      req.resume();
      res.writeHead(failStatus, { "Content-Type": "text/html", "Retry-After": "0" });
      res.end(`<html><body>${failStatus} from the proxy</body></html>`);
      return;
    }
    forwarded.push(what);
    const upstream = httpRequest(
      { host: hostname, port: Number(port), method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    refused,
    forwarded,
    failNext(count, status = 503) {
      failures = count;
      failStatus = status;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
