/**
 * What the corpus test needs around the engine: the sidecar case format, a local HTTP API
 * the http-request nodes call (on 127.0.0.1, allowed through the HTTP client's allow list),
 * an in-memory files capability, and the registry the corpus runs with.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import {
  coreNodes,
  createNodeRegistry,
  defaultNodeRegistry,
  FILE_IDENTITY,
  type FileCapability,
  type FileValue,
  fileTypeForExtension,
  type NodeRegistry,
} from "../../packages/engine/src/index.js";
import { codeNode } from "../../packages/engine/src/nodes/code.js";

export const CORPUS_DIR = dirname(fileURLToPath(import.meta.url));

/** Every DSL file of the corpus, sorted. */
export function corpusFiles(): string[] {
  return readdirSync(CORPUS_DIR)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
}

/**
 * The registry the corpus runs with: the default one, plus the code node while it is not
 * registered by default yet (the sandbox it needs is ready). Every other node type counts as
 * landed only once the default registry has it.
 */
export const corpusRegistry: NodeRegistry = defaultNodeRegistry.has("code")
  ? defaultNodeRegistry
  : createNodeRegistry([...coreNodes, codeNode, ...defaultNodeRegistry.values()]);

const scriptedResponseSchema = z.union([
  z.looseObject({ error: z.looseObject({ status: z.number() }) }),
  z.looseObject({
    text: z.string().optional(),
    chunks: z.array(z.string()).optional(),
    reasoning: z.union([z.string(), z.array(z.string())]).optional(),
    toolCalls: z
      .array(z.object({ name: z.string(), arguments: z.union([z.string(), z.record(z.string(), z.unknown())]) }))
      .optional(),
  }),
]);

const runSchema = z.object({
  name: z.string(),
  inputs: z.record(z.string(), z.unknown()).default({}),
  /** `sys.files` references. */
  files: z.array(z.unknown()).default([]),
  /** Replies the OpenAI-compatible test server gives, in request order (then it falls back to the model's behaviour). */
  llm: z.array(scriptedResponseSchema).default([]),
  /** Environment overrides (secrets are blank in exported files). API_BASE is always pointed at the local API. */
  environment: z.record(z.string(), z.union([z.string(), z.number()])).default({}),
  expect: z.object({
    status: z.enum(["succeeded", "failed", "partial-succeeded", "stopped"]).default("succeeded"),
    /** Exact outputs. */
    outputs: z.record(z.string(), z.unknown()).optional(),
    /** Outputs that must match a regular expression (for text with run-dependent parts). */
    outputsMatch: z.record(z.string(), z.string()).optional(),
    /** How many times each node finished (any status), e.g. loop bodies. */
    nodeRuns: z.record(z.string(), z.number()).optional(),
    /** Final status of nodes: succeeded, failed, exception, skipped (skipped = never finished). */
    nodeStatus: z.record(z.string(), z.string()).optional(),
    /** Number of model requests the run made. */
    llmRequests: z.number().optional(),
    /** Text every model request of the run must, together, contain. */
    llmPromptIncludes: z.array(z.string()).optional(),
    /** Requests the local API received during the run, as "METHOD /path". */
    httpRequests: z.array(z.string()).optional(),
    error: z.string().optional(),
  }),
});
export type CorpusRun = z.infer<typeof runSchema>;

export const caseSchema = z.object({
  description: z.string(),
  /** The DSL version the file declares. */
  version: z.string(),
  /** Node types the file covers (documentation; checked against the file). */
  covers: z.array(z.string()),
  /** Substrings of migration notes the import must produce (older versions). */
  migrationNotes: z.array(z.string()).default([]),
  runs: z.array(runSchema).min(1),
});
export type CorpusCase = z.infer<typeof caseSchema>;

export function loadCase(file: string): CorpusCase {
  const path = join(CORPUS_DIR, file.replace(/\.ya?ml$/, ".case.json"));
  return caseSchema.parse(JSON.parse(readFileSync(path, "utf8")));
}

export function readCorpusFile(file: string): string {
  return readFileSync(join(CORPUS_DIR, file), "utf8");
}

// ---- the local API ------------------------------------------------------------------------

export interface LocalApi {
  /** e.g. "http://127.0.0.1:40123" */
  base: string;
  /** "METHOD /path" of every request, in order. */
  log: string[];
  close(): Promise<void>;
}

const ORDERS = [
  { id: 101, customer: "Ada", status: "open", total: 42.5 },
  { id: 102, customer: "Grace", status: "shipped", total: 18 },
  { id: 103, customer: "Linus", status: "open", total: 7.25 },
];

const DOCUMENTS: Record<string, { type: string; body: string }> = {
  "meeting-notes.txt": {
    type: "text/plain; charset=utf-8",
    body: "Meeting notes\nDecision: ship version 2 on Friday.\nOwner: Grace\n",
  },
  "prices.csv": { type: "text/csv", body: "item,price\ntea,3.5\ncake,4\n" },
  "readme.md": { type: "text/markdown", body: "# Tributary\n\nRuns **Dify** workflows.\n" },
};

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on("data", (b: Buffer) => parts.push(b));
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    req.on("error", reject);
  });
}

/**
 * A small API for the http-request nodes:
 * - `GET /api/orders?status=…` → `{orders}` (needs `X-Client: tributary-corpus`, else 401)
 * - `ANY /api/echo` → what was received: method, query, content type, authorization, X-Api-Key, X-Trace, body
 * - `GET /api/unavailable` → 503 always
 * - `GET /files/<name>` → a document (`meeting-notes.txt`, `prices.csv`, `readme.md`)
 */
export async function startLocalApi(): Promise<LocalApi> {
  const log: string[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      log.push(`${req.method} ${url.pathname}`);
      const body = await readBody(req);
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(value));
      };
      if (url.pathname === "/api/orders" && req.method === "GET") {
        if (req.headers["x-client"] !== "tributary-corpus") return json(401, { error: "missing X-Client header" });
        const status = url.searchParams.get("status");
        return json(200, { orders: ORDERS.filter((o) => !status || o.status === status) });
      }
      if (url.pathname === "/api/echo") {
        return json(200, {
          method: req.method,
          query: Object.fromEntries(url.searchParams),
          content_type: req.headers["content-type"] ?? null,
          authorization: req.headers.authorization ?? null,
          api_key: req.headers["x-api-key"] ?? null,
          trace: req.headers["x-trace"] ?? null,
          body,
        });
      }
      if (url.pathname === "/api/unavailable") return json(503, { error: "try again later" });
      const doc = url.pathname.startsWith("/files/") ? DOCUMENTS[url.pathname.slice(7)] : undefined;
      if (doc) {
        res.writeHead(200, { "content-type": doc.type });
        return res.end(doc.body);
      }
      json(404, { error: `no route ${req.method} ${url.pathname}` });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// ---- files ------------------------------------------------------------------------------

const MIME: Record<string, string> = { txt: "text/plain", csv: "text/csv", md: "text/markdown", json: "application/json" };

/** Remote-URL files only (the corpus has no upload store); bytes are fetched when read. */
export function corpusFileCapability(): FileCapability {
  const saved = new Map<string, Uint8Array>();
  const toValue = (url: string | null, filename: string, size: number, id: string | null): FileValue => {
    const extension = filename.includes(".") ? (filename.split(".").pop() ?? "") : "";
    return {
      dify_model_identity: FILE_IDENTITY,
      id,
      type: fileTypeForExtension(extension),
      transfer_method: url ? "remote_url" : "tool_file",
      remote_url: url,
      related_id: id,
      filename,
      extension: extension ? `.${extension}` : "",
      mime_type: MIME[extension] ?? "application/octet-stream",
      size,
      url,
    };
  };
  return {
    async resolve(ref) {
      if (ref.transfer_method !== "remote_url" || !ref.url) throw new Error("the corpus only uses remote_url files");
      return toValue(ref.url, decodeURIComponent(new URL(ref.url).pathname.split("/").pop() ?? "file"), -1, null);
    },
    async read(file, signal) {
      if (file.related_id && saved.has(file.related_id)) return saved.get(file.related_id) as Uint8Array;
      if (!file.remote_url) throw new Error(`file ${file.filename} has no URL`);
      const res = await fetch(file.remote_url, { signal });
      return new Uint8Array(await res.arrayBuffer());
    },
    async save(bytes, meta) {
      const id = `saved-${saved.size + 1}`;
      saved.set(id, bytes);
      return toValue(null, meta.filename, bytes.byteLength, id);
    },
  };
}
