/** Serving the Hono app on Node's HTTP server, and closing it without cutting live answers short. */

import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";

export interface StartServerOptions {
  fetch: (request: Request, env?: unknown) => Response | Promise<Response>;
  port: number;
  host: string;
}

export interface RunningServer {
  server: Server;
  /** The port actually bound (differs from the requested one when that was 0). */
  port: number;
  host: string;
  /** Stops accepting connections and resolves when open ones are done (or cut after `forceAfterMs`). */
  close(options?: { forceAfterMs?: number }): Promise<void>;
}

export function startServer(options: StartServerOptions): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    let server: Server;
    const onError = (error: NodeJS.ErrnoException) => {
      const hint =
        error.code === "EADDRINUSE"
          ? `Port ${options.port} on ${options.host} is already in use: stop the other process or choose another port (--port / TRIBUTARY_PORT).`
          : error.code === "EACCES"
            ? `Not allowed to listen on ${options.host}:${options.port}: use a port above 1023 or run with the needed privileges.`
            : `Cannot listen on ${options.host}:${options.port}: ${error.message}`;
      reject(new Error(hint, { cause: error }));
    };
    server = serve({ fetch: options.fetch, port: options.port, hostname: options.host }, (info: AddressInfo) => {
      server.off("error", onError);
      let closing: Promise<void> | undefined;
      resolve({
        server,
        port: info.port,
        host: options.host,
        close(closeOptions = {}) {
          closing ??= new Promise<void>((done) => {
            const force = setTimeout(() => server.closeAllConnections(), closeOptions.forceAfterMs ?? 5_000);
            force.unref();
            server.close(() => {
              clearTimeout(force);
              done();
            });
            // Keep-alive connections with no request in flight would hold close() open.
            server.closeIdleConnections();
          });
          return closing;
        },
      });
    }) as Server;
    server.once("error", onError);
  });
}
