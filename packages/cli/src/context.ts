/**
 * What every command shares: where the server is, the admin token, the output format, and
 * the streams to write to. Flags win over TRIBUTARY_* variables, which win over defaults;
 * the admin token falls back to the file `tributary serve` keeps in its data directory.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import { AdminClient } from "./admin-client.js";
import { CliError, EXIT, usageError } from "./errors.js";

export const DEFAULT_SERVER = "http://127.0.0.1:8080";
/** The file `tributary serve` writes its generated admin token to (the server's ADMIN_TOKEN_FILE). */
const ADMIN_TOKEN_FILE = "admin-token";

export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  env: Record<string, string | undefined>;
}

export const globalOptionsSchema = z.object({
  server: z
    .string()
    .trim()
    .url("--server must be a URL such as http://127.0.0.1:8080.")
    .refine((u) => /^https?:\/\//i.test(u), "--server must be an http:// or https:// URL.")
    .optional(),
  adminToken: z.string().trim().min(1, "--admin-token must not be empty.").optional(),
  dataDir: z.string().trim().min(1).optional(),
  format: z.enum(["text", "json"], { error: '--format must be "text" or "json".' }).default("text"),
});
export type GlobalOptions = z.infer<typeof globalOptionsSchema>;

/** A command's outcome: the object JSON mode prints, and the lines text mode prints. */
export interface CommandResult {
  json: unknown;
  text: string | string[];
}

export class CliContext {
  readonly io: CliIo;
  readonly format: "text" | "json";
  readonly server: string;
  readonly #options: GlobalOptions;
  #adminToken: string | undefined;

  constructor(io: CliIo, raw: Record<string, unknown>) {
    const parsed = globalOptionsSchema.safeParse(raw);
    if (!parsed.success) throw usageError(parsed.error.issues.map((i) => i.message).join(" "));
    this.io = io;
    this.#options = parsed.data;
    this.format = parsed.data.format;
    const server = parsed.data.server ?? io.env["TRIBUTARY_SERVER"] ?? DEFAULT_SERVER;
    if (!/^https?:\/\/[^/]/i.test(server)) {
      throw usageError(`TRIBUTARY_SERVER must be an http:// or https:// URL (got "${server}").`);
    }
    this.server = server.replace(/\/+$/, "");
  }

  get dataDir(): string {
    return resolve(this.#options.dataDir ?? this.io.env["TRIBUTARY_DATA_DIR"] ?? "./data");
  }

  /** The admin token: --admin-token, TRIBUTARY_ADMIN_TOKEN, or <data dir>/admin-token. */
  adminToken(): string {
    if (this.#adminToken !== undefined) return this.#adminToken;
    const fromFlag = this.#options.adminToken ?? this.io.env["TRIBUTARY_ADMIN_TOKEN"]?.trim();
    if (fromFlag) {
      this.#adminToken = fromFlag;
      return fromFlag;
    }
    const file = join(this.dataDir, ADMIN_TOKEN_FILE);
    let token = "";
    try {
      token = readFileSync(file, "utf8").trim();
    } catch {
      token = "";
    }
    if (!token) {
      throw new CliError(
        EXIT.auth,
        "no_admin_token",
        `No admin token: pass --admin-token, set TRIBUTARY_ADMIN_TOKEN, or run where \`tributary serve\` keeps its data (${file} was not found; --data-dir / TRIBUTARY_DATA_DIR point elsewhere).`,
      );
    }
    this.#adminToken = token;
    return token;
  }

  admin(): AdminClient {
    return new AdminClient(this.server, this.adminToken());
  }

  /** Prints a command's result: one JSON object, or its text lines. */
  print(result: CommandResult): void {
    if (this.format === "json") {
      this.io.stdout.write(`${JSON.stringify(result.json, null, 2)}\n`);
      return;
    }
    const lines = Array.isArray(result.text) ? result.text : [result.text];
    if (lines.length > 0) this.io.stdout.write(`${lines.join("\n")}\n`);
  }

  /** A progress or notice line on stderr (never on stdout, which carries the result). */
  note(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }
}

/** Fixed-width columns for text tables. */
export function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

export function isoTime(unixSeconds: number | null | undefined): string {
  return typeof unixSeconds === "number" ? new Date(unixSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z") : "-";
}
