/**
 * A local HTTP(S) server on 127.0.0.1 for tests of the HTTP capability and the http-request
 * node. Routes cover echoing requests, large / compressed / stalled bodies, redirects and
 * file downloads.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { gzipSync } from "node:zlib";

/** A self-signed certificate for 127.0.0.1 / localhost, valid until 2126. Test fixture only. */
export const TEST_TLS = {
  key: `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgaZtPCyBQxiKehmXh
ynPwCeC1uFFVtO7YrK7x/JaA3PShRANCAASo/87dr8QWuyoOylAavLjV/8nW1XUI
qZgDlunKc8o3QoNpvo1gB5C7L4he+W7XGbVnKmd9wj2pKJ7DJ1BZpyQ3
-----END PRIVATE KEY-----
`,
  cert: `-----BEGIN CERTIFICATE-----
MIIBpTCCAUugAwIBAgIUYFJ9IbKlnNdKiVBWjHZ6ZGxPlC8wCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOdHJpYnV0YXJ5LXRlc3QwIBcNMjYxMTIxMDEyMDAyWhgPMjEy
NjEwMjgwMTIwMDJaMBkxFzAVBgNVBAMMDnRyaWJ1dGFyeS10ZXN0MFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAEqP/O3a/EFrsqDspQGry41f/J1tV1CKmYA5bpynPK
N0KDab6NYAeQuy+IXvlu1xm1ZypnfcI9qSiewydQWackN6NvMG0wHQYDVR0OBBYE
FCK5jN3fSviOBJpTSh3QksGLz1OlMB8GA1UdIwQYMBaAFCK5jN3fSviOBJpTSh3Q
ksGLz1OlMA8GA1UdEwEB/wQFMAMBAf8wGgYDVR0RBBMwEYcEfwAAAYIJbG9jYWxo
b3N0MAoGCCqGSM49BAMCA0gAMEUCIBIrEX9ZOIY3cyBYTGThZmcCEAaTDoqrpfnM
IRsIseCiAiEAr5nLKFA+yZthJgI0ORI7v9t4kmzek1oAoT2R+a03VCI=
-----END CERTIFICATE-----
`,
};

export interface EchoedRequest {
  method: string;
  /** Path and query as received. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  bodyBase64: string;
}

export interface TestServer {
  /** `http://127.0.0.1:<port>` (or https). */
  origin: string;
  port: number;
  /** Requests seen, newest last. */
  requests: EchoedRequest[];
  close(): Promise<void>;
}

export const PDF_BYTES = Buffer.from("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "latin1");
export const PNG_BYTES = Buffer.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0xff, 0xfe,
]);

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function handler(requests: EchoedRequest[]) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://test");
    const body = await readAll(req);
    const seen: EchoedRequest = {
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      body: body.toString("utf8"),
      bodyBase64: body.toString("base64"),
    };
    requests.push(seen);
    const n = Number(url.searchParams.get("bytes") ?? "0");
    switch (url.pathname) {
      case "/echo":
        res.writeHead(200, { "content-type": "application/json; charset=utf-8", "x-echo": "1" });
        res.end(JSON.stringify(seen));
        return;
      case "/text": {
        // Chunked: no Content-Length, so only the streaming cap can stop it.
        res.writeHead(200, { "content-type": url.searchParams.get("type") ?? "text/plain; charset=utf-8" });
        const chunk = Buffer.alloc(64 * 1024, url.searchParams.get("fill") ?? "a");
        let left = n;
        const pump = (): void => {
          while (left > 0) {
            const part = chunk.subarray(0, Math.min(chunk.length, left));
            left -= part.length;
            if (!res.write(part)) {
              res.once("drain", pump);
              return;
            }
          }
          res.end();
        };
        res.on("close", () => {
          left = 0;
        });
        pump();
        return;
      }
      case "/declared":
        res.writeHead(200, { "content-type": "text/plain", "content-length": String(n) });
        res.end(Buffer.alloc(n, "b"));
        return;
      case "/image":
        res.writeHead(200, { "content-type": "image/png" });
        res.end(n > 0 ? Buffer.alloc(n, 1) : PNG_BYTES);
        return;
      case "/octet": {
        res.writeHead(200, { "content-type": "application/octet-stream" });
        const json = url.searchParams.get("kind") === "json";
        res.end(json ? Buffer.from(`{"a":"${"x".repeat(Math.max(0, n - 8))}"}`) : Buffer.alloc(n, 0xff));
        return;
      }
      case "/gzip-bomb":
        res.writeHead(200, { "content-type": "text/plain", "content-encoding": "gzip" });
        res.end(gzipSync(Buffer.alloc(Number(url.searchParams.get("mb") ?? "20") * 1024 * 1024, 0)));
        return;
      case "/gzip":
        res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
        res.end(gzipSync(Buffer.from('{"ok":true,"text":"héllo"}')));
        return;
      case "/redirect":
        res.writeHead(Number(url.searchParams.get("status") ?? "302"), { location: url.searchParams.get("to") ?? "/echo" });
        res.end("redirecting");
        return;
      case "/loop":
        res.writeHead(302, { location: "/loop" });
        res.end();
        return;
      case "/hang":
        return; // never answers
      case "/stall":
        res.writeHead(200, { "content-type": "text/plain" });
        res.write("partial");
        return; // never ends
      case "/attachment":
        res.writeHead(200, {
          "content-type": "application/pdf",
          "content-disposition": url.searchParams.get("disposition") ?? 'attachment; filename="report.pdf"',
        });
        res.end(PDF_BYTES);
        return;
      case "/status":
        res.writeHead(Number(url.searchParams.get("code") ?? "500"), { "content-type": "text/plain" });
        res.end(`status ${url.searchParams.get("code")}`);
        return;
      case "/cookies":
        res.writeHead(200, { "content-type": "text/plain", "set-cookie": ["a=1", "b=2"] });
        res.end("ok");
        return;
      case "/charset":
        res.writeHead(200, { "content-type": "text/plain; charset=gbk" });
        res.end(Buffer.from([0xc4, 0xe3, 0xba, 0xc3])); // 你好 in GBK
        return;
      default:
        res.writeHead(404, { "content-type": "text/plain" });
        res.end("not found");
    }
  };
}

export async function startTestServer(options: { tls?: boolean } = {}): Promise<TestServer> {
  const requests: EchoedRequest[] = [];
  const h = handler(requests);
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    h(req, res).catch(() => res.destroy());
  };
  const server: Server = options.tls ? createHttpsServer(TEST_TLS, onRequest) : createHttpServer(onRequest);
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `${options.tls ? "https" : "http"}://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
