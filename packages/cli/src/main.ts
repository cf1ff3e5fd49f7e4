/**
 * The `tributary` command line: `serve` starts the server; the other commands talk to one
 * (`--server`, TRIBUTARY_SERVER, default http://127.0.0.1:8080) with the admin token, an app
 * key or an Open API key. Flags override TRIBUTARY_* variables, which override defaults.
 *
 * Exit codes: 0 ok, 1 unexpected, 2 usage or invalid workflow, 3 authentication, 4 API error
 * (a failed run included), 5 network, 130 interrupted.
 */
import { pathToFileURL } from "node:url";
import type { ServeOptions } from "@tributary/server";
import { Command, InvalidArgumentError, Option } from "commander";
import { deleteApp, exportApp, importApp, listApps, validateWorkflowFile } from "./commands/app.js";
import {
  createAccessKeys,
  createKey,
  createOpenApiKey,
  listAccessKeys,
  listKeys,
  listOpenApiKeys,
  revokeKey,
  revokeOpenApiKey,
  vappUrl,
} from "./commands/keys.js";
import { runApp } from "./commands/run.js";
import { CliContext, type CliIo, type CommandResult } from "./context.js";
import { type CliError, EXIT, toCliError } from "./errors.js";

type ServeFn = (options: ServeOptions) => Promise<unknown>;

let serving = false;
/** True once `serve` has started: the process must then stay alive after main() returns. */
export function isServing(): boolean {
  return serving;
}

/** The server is large: loaded only by `serve`, so the client commands start fast. */
const lazyServe: ServeFn = async (options) => (await import("@tributary/server/serve")).serve(options);

function port(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) {
    throw new InvalidArgumentError("must be a TCP port from 0 to 65535 (0 picks a free one).");
  }
  return Number(value);
}

function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError("must be a whole number, 1 or more.");
  return Number(value);
}

function count(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("must be a whole number, 0 or more.");
  return Number(value);
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function examples(...lines: string[]): string {
  return `\nExample${lines.length > 1 ? "s" : ""}:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`;
}

/** Every command path, for "did you mean" on a mistyped or misplaced command. */
function commandPaths(program: Command): Map<string, string> {
  const paths = new Map<string, string>();
  const walk = (cmd: Command, prefix: string) => {
    for (const sub of cmd.commands) {
      const path = `${prefix} ${sub.name()}`.trim();
      if (!paths.has(sub.name())) paths.set(sub.name(), path);
      walk(sub, path);
    }
  };
  walk(program, "");
  return paths;
}

const SYNONYMS: Record<string, string> = {
  ls: "list",
  rm: "delete",
  remove: "delete",
  add: "import",
  new: "create",
  keys: "key",
  apps: "app",
  check: "validate",
  start: "serve",
  token: "key",
};

export function buildProgram(io: CliIo, serveFn: ServeFn = lazyServe): Command {
  const program = new Command("tributary")
    .description("Self-hostable AI workflow engine speaking Dify's Workflow App API and VectorVein's Open API")
    .version("0.1.0", "-V, --version")
    .option("--server <url>", "server to talk to (env TRIBUTARY_SERVER, default http://127.0.0.1:8080)")
    .option("--admin-token <token>", "admin token (env TRIBUTARY_ADMIN_TOKEN, else <data dir>/admin-token)")
    .option("-d, --data-dir <dir>", "data directory (env TRIBUTARY_DATA_DIR, default ./data)")
    .addOption(new Option("--format <format>", "output format").choices(["text", "json"]).default("text"))
    .showHelpAfterError("(add --help for usage)")
    .showSuggestionAfterError()
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => {
        const unknown = /unknown command '([^']+)'/.exec(text);
        if (unknown && !/Did you mean/.test(text)) {
          const name = unknown[1] ?? "";
          const path = commandPaths(program).get(SYNONYMS[name] ?? name);
          write(path ? `${text.trimEnd()}\n(Did you mean tributary ${path}?)\n` : text);
          return;
        }
        write(text);
      },
    });

  const context = (cmd: Command) => new CliContext(io, cmd.optsWithGlobals());
  /** Runs a command body and prints its result in the chosen format. */
  const act =
    <A extends unknown[]>(body: (ctx: CliContext, ...args: A) => Promise<CommandResult>) =>
    async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      const ctx = context(cmd);
      const result = await body(ctx, ...(args.slice(0, -1) as A));
      ctx.print(result);
    };

  // ------------------------------------------------------------------------------------------
  program
    .command("serve")
    .description("Start the HTTP server (imports the examples into an empty data directory)")
    .option("-p, --port <port>", "port to listen on (env TRIBUTARY_PORT, default 8080)", port)
    .option("-H, --host <host>", "address to listen on (env TRIBUTARY_HOST, default 127.0.0.1)")
    .option("--database-url <url>", "postgres:// URL (env TRIBUTARY_DATABASE_URL, default SQLite in the data dir)")
    .option("--redis-url <url>", "redis:// URL: distributed mode, runs go to workers (env TRIBUTARY_REDIS_URL)")
    .option(
      "--workers <n>",
      "distributed mode: runs this process also executes at once (env TRIBUTARY_WORKERS, default 0)",
      count,
    )
    .option("--no-examples", "do not import the examples into an empty data directory")
    .addHelpText("after", examples("tributary serve --port 8080 --data-dir ./data", "tributary serve --port 0 --no-examples"))
    .action(
      async (
        flags: { port?: number; host?: string; databaseUrl?: string; redisUrl?: string; workers?: number; examples: boolean },
        cmd: Command,
      ) => {
        const ctx = context(cmd);
        const dataDir = cmd.optsWithGlobals<{ dataDir?: string }>().dataDir;
        const json = ctx.format === "json";
        const handle = (await serveFn({
          ...(flags.port !== undefined ? { port: flags.port } : {}),
          ...(flags.host !== undefined ? { host: flags.host } : {}),
          ...(dataDir !== undefined ? { dataDir } : {}),
          ...(flags.databaseUrl !== undefined ? { databaseUrl: flags.databaseUrl } : {}),
          ...(flags.redisUrl !== undefined ? { redisUrl: flags.redisUrl } : {}),
          ...(flags.workers !== undefined ? { workers: flags.workers } : {}),
          importExamples: flags.examples,
          ...(json ? { print: () => {} } : {}),
        })) as {
          url?: string;
          config?: { dataDir: string; adminToken: string; adminTokenSource?: string };
          examples?: Array<{ name: string; appId: string; apiKey: string }>;
        };
        serving = true;
        if (json && handle?.url) {
          ctx.print({
            json: {
              url: handle.url,
              data_dir: handle.config?.dataDir,
              ...(handle.config?.adminTokenSource === "generated" ? { admin_token: handle.config.adminToken } : {}),
              examples: (handle.examples ?? []).map((e) => ({ name: e.name, app_id: e.appId, api_key: e.apiKey })),
            },
            text: "",
          });
        }
      },
    );

  program
    .command("worker")
    .description("Execute queued runs of a distributed deployment (PostgreSQL + Redis, see docs/scale-out.md)")
    .option("-c, --concurrency <n>", "runs executed at once (env TRIBUTARY_WORKERS, default 8)", positiveInt)
    .option("--database-url <url>", "postgres:// URL, the API processes' database (env TRIBUTARY_DATABASE_URL)")
    .option("--redis-url <url>", "redis:// URL, the API processes' Redis (env TRIBUTARY_REDIS_URL)")
    .option("--metrics-port <port>", "serve /metrics and /healthz on this port (env TRIBUTARY_METRICS_PORT)", port)
    .addHelpText(
      "after",
      examples("TRIBUTARY_DATABASE_URL=postgres://db/tributary TRIBUTARY_REDIS_URL=redis://redis:6379 tributary worker -c 8"),
    )
    .action(
      async (flags: { concurrency?: number; databaseUrl?: string; redisUrl?: string; metricsPort?: number }, cmd: Command) => {
        const dataDir = cmd.optsWithGlobals<{ dataDir?: string }>().dataDir;
        // Loaded here only, like serve: client commands start fast.
        const { startWorker } = await import("@tributary/server/worker");
        await startWorker({
          ...(flags.concurrency !== undefined ? { workers: flags.concurrency } : {}),
          ...(dataDir !== undefined ? { dataDir } : {}),
          ...(flags.databaseUrl !== undefined ? { databaseUrl: flags.databaseUrl } : {}),
          ...(flags.redisUrl !== undefined ? { redisUrl: flags.redisUrl } : {}),
          ...(flags.metricsPort !== undefined ? { metricsPort: flags.metricsPort } : {}),
        });
        serving = true;
      },
    );

  // ------------------------------------------------------------------------------------------
  const app = program.command("app").description("Import, export, list and delete apps (admin API)");
  app
    .command("import")
    .description("Publish a workflow file (Dify DSL, YAML or JSON) as a new app, or as a new version of one")
    .argument("<file>", "the workflow file")
    .option("--name <name>", "app name (default: the DSL's app.name)")
    .option("--app <app_id>", "publish as a new version of this app instead")
    .option("--key", "also create an app API key and print it")
    .addHelpText(
      "after",
      examples("tributary app import examples/hello-template.yml --key", "tributary app import v2.yml --app 3f2a…"),
    )
    .action(act((ctx, file: string, options: { name?: string; app?: string; key?: boolean }) => importApp(ctx, file, options)));
  app
    .command("export")
    .description("Print (or write) an app's workflow as it was uploaded")
    .argument("<app_id>", "the app")
    .option("-o, --output <file>", "write to this file instead of stdout")
    .option("--workflow-version <n>", "a published version number (default: the current one)", positiveInt)
    .addOption(new Option("--as <form>", "source: the uploaded text; json: the normalised DSL").choices(["source", "json"]))
    .addHelpText("after", examples("tributary app export 3f2a… > app.yml", "tributary app export 3f2a… --as json -o app.json"))
    .action(
      act((ctx, appId: string, options: { output?: string; workflowVersion?: number; as?: "source" | "json" }) =>
        exportApp(ctx, appId, {
          ...(options.output !== undefined ? { output: options.output } : {}),
          ...(options.workflowVersion !== undefined ? { version: options.workflowVersion } : {}),
          ...(options.as !== undefined ? { as: options.as } : {}),
        }),
      ),
    );
  app
    .command("list")
    .description("List apps, newest first")
    .option("--search <text>", "only apps whose name contains this")
    .option("--page <n>", "page, from 1", positiveInt)
    .option("--limit <n>", "apps per page (1-100, default 20)", positiveInt)
    .addHelpText("after", examples("tributary app list", "tributary app list --search invoice --format json"))
    .action(act((ctx, options: { search?: string; page?: number; limit?: number }) => listApps(ctx, options)));
  app
    .command("delete")
    .description("Delete an app (its keys stop working; runs in progress finish)")
    .argument("<app_id>", "the app")
    .addHelpText("after", examples("tributary app delete 3f2a…"))
    .action(act((ctx, appId: string) => deleteApp(ctx, appId)));

  // ------------------------------------------------------------------------------------------
  const workflow = program.command("workflow").description("Work with workflow files offline");
  workflow
    .command("validate")
    .description("Check a workflow file; lists every problem with its node id (exit 2 if any)")
    .argument("<file>", "a Dify DSL file (YAML or JSON)")
    .addHelpText("after", examples("tributary workflow validate my-workflow.yml"))
    .action(act((_ctx, file: string) => validateWorkflowFile(file)));

  // ------------------------------------------------------------------------------------------
  program
    .command("run")
    .description("Run an app and print its outputs")
    .argument("<app_id>", "the app")
    .option("-i, --input <name=value>", "an input (repeatable); name=@path uploads a file for a file input", collect, [])
    .option("--input-file <file>", "a JSON object of inputs (--input values override it)")
    .option("--stream", "show node-by-node progress on stderr while it runs", false)
    .option("--user <user>", "end-user id recorded with the run", "tributary-cli")
    .option("--api-key <key>", "app API key (env TRIBUTARY_API_KEY; default: a temporary key made with the admin token)")
    .option("--workflow-id <id>", "run this published version instead of the current one")
    .addHelpText(
      "after",
      examples(
        "tributary run 3f2a… --input name=Ada --stream",
        "tributary run 3f2a… --input-file inputs.json --input doc=@./report.pdf --format json",
      ),
    )
    .action(act((ctx, appId: string, options: Parameters<typeof runApp>[2]) => runApp(ctx, appId, options)));

  // ------------------------------------------------------------------------------------------
  const key = program.command("key").description("App API keys (Dify protocol)");
  key
    .command("create")
    .description("Create an app API key (shown once)")
    .argument("<app_id>", "the app")
    .option("--name <name>", "a label for the key")
    .addHelpText("after", examples("tributary key create 3f2a… --name production"))
    .action(act((ctx, appId: string, options: { name?: string }) => createKey(ctx, appId, options)));
  key
    .command("list")
    .description("List an app's API keys (prefixes only)")
    .argument("<app_id>", "the app")
    .addHelpText("after", examples("tributary key list 3f2a…"))
    .action(act((ctx, appId: string) => listKeys(ctx, appId)));
  key
    .command("revoke")
    .description("Revoke an app API key")
    .argument("<key_id>", "the key's id (from key list)")
    .option("--app <app_id>", "the key's app (found automatically when omitted)")
    .addHelpText("after", examples("tributary key revoke 9c1d…"))
    .action(act((ctx, keyId: string, options: { app?: string }) => revokeKey(ctx, keyId, options)));

  // ------------------------------------------------------------------------------------------
  const openapi = program.command("openapi-key").description("VectorVein Open API keys (admin API)");
  openapi
    .command("create")
    .description("Create an Open API key (32 characters, shown once) and its public key id")
    .option("--name <name>", "a label for the key")
    .option("--owner <owner>", "whose key it is (access keys, runs and uploads are per owner; default admin)")
    .option("--rate-limit <n>", "calls per minute (default 60; 0 = unlimited)", count)
    .addHelpText("after", examples("tributary openapi-key create --name partner-portal --rate-limit 120"))
    .action(act((ctx, options: { name?: string; owner?: string; rateLimit?: number }) => createOpenApiKey(ctx, options)));
  openapi
    .command("list")
    .description("List Open API keys")
    .addHelpText("after", examples("tributary openapi-key list --format json"))
    .action(act((ctx) => listOpenApiKeys(ctx)));
  openapi
    .command("revoke")
    .description("Revoke an Open API key (its VApp links stop working)")
    .argument("<key_id>", "the key id")
    .addHelpText("after", examples("tributary openapi-key revoke kid-…"))
    .action(act((ctx, keyId: string) => revokeOpenApiKey(ctx, keyId)));

  // ------------------------------------------------------------------------------------------
  const openApiKeyOptions = (cmd: Command) => cmd.option("--openapi-key <key>", "Open API key (env TRIBUTARY_OPENAPI_KEY)");
  const access = program.command("access-key").description("VApp access keys (through the Open API)");
  openApiKeyOptions(
    access
      .command("create")
      .description("Create VApp access keys for one or more apps")
      .argument("<app_id...>", "the app(s) the keys open")
      .addOption(
        new Option("--type <type>", "O: one use, M: --max-uses uses, L: until --expires").choices(["O", "M", "L"]).default("O"),
      )
      .option("--count <n>", "how many keys (default 1)", positiveInt)
      .option("--max-uses <n>", "uses of an M key", positiveInt)
      .option("--max-credits <n>", "credit limit", positiveInt)
      .option("--expires <time>", "expiry, ISO 8601 or YYYY-MM-DD HH:MM:SS")
      .option("--description <text>", "a note"),
  )
    .addHelpText("after", examples("tributary access-key create 3f2a… --type M --max-uses 5 --openapi-key $KEY"))
    .action(
      act((ctx, appIds: string[], options: Parameters<typeof createAccessKeys>[2]) => createAccessKeys(ctx, appIds, options)),
    );
  openApiKeyOptions(
    access
      .command("list")
      .description("List access keys")
      .option("--app <app_id>", "only keys of this app")
      .option("--status <status>", "AC, IN, EX or US (repeatable)", collect, [])
      .addOption(new Option("--type <type>", "only this type").choices(["O", "M", "L"]))
      .option("--page <n>", "page, from 1", positiveInt)
      .option("--limit <n>", "keys per page (default 10)", positiveInt),
  )
    .addHelpText("after", examples("tributary access-key list --app 3f2a… --status AC"))
    .action(act((ctx, options: Parameters<typeof listAccessKeys>[1]) => listAccessKeys(ctx, options)));

  // ------------------------------------------------------------------------------------------
  openApiKeyOptions(
    program
      .command("vapp-url")
      .description("Make a signed link to an app's VApp page for an access key (as the VectorVein SDK does)")
      .argument("<app_id>", "the app")
      .requiredOption("--access-key <key>", "the access key the link carries")
      .option("--key-id <id>", "public id of the Open API key (env TRIBUTARY_OPENAPI_KEY_ID)")
      .option("--timeout <seconds>", "how long the link is valid (default 900)", positiveInt)
      .option("--base-url <url>", "where the VApp page is served (default: --server)"),
  )
    .addHelpText("after", examples("tributary vapp-url 3f2a… --access-key 0c4e… --key-id kid-… --openapi-key $KEY"))
    .action(act((ctx, appId: string, options: Parameters<typeof vappUrl>[2]) => vappUrl(ctx, appId, options)));

  return program;
}

function defaultIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}

function reportError(io: CliIo, error: CliError, json: boolean): void {
  if (json) {
    io.stderr.write(
      `${JSON.stringify({
        error: {
          code: error.code,
          message: error.message,
          exit_code: error.exitCode,
          ...(error.requestId ? { request_id: error.requestId } : {}),
          ...error.details,
        },
      })}\n`,
    );
    return;
  }
  const id = error.requestId && error.exitCode !== EXIT.usage ? ` (request ${error.requestId})` : "";
  io.stderr.write(`tributary: ${error.message}${id}\n`);
}

export async function main(argv: readonly string[] = process.argv, io: CliIo = defaultIo()): Promise<number> {
  const program = buildProgram(io);
  let code: number;
  try {
    await program.parseAsync([...argv]);
    code = EXIT.ok;
  } catch (error) {
    const commanderCode = (error as { code?: unknown }).code;
    if (typeof commanderCode === "string" && commanderCode.startsWith("commander.")) {
      // Commander already printed the help or the usage error.
      const ok = commanderCode === "commander.helpDisplayed" || commanderCode === "commander.version";
      code = ok ? EXIT.ok : EXIT.usage;
    } else {
      const globals = program.opts<{ format?: string; server?: string }>();
      const cliError = toCliError(error, globals.server ?? io.env["TRIBUTARY_SERVER"] ?? "http://127.0.0.1:8080");
      const json = globals.format === "json" || argv.includes("--format=json");
      reportError(io, cliError, json);
      code = cliError.exitCode;
    }
  }
  return code;
}

// Run when executed directly (`tsx packages/cli/src/main.ts serve`); bin/tributary.js calls main() itself.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main();
}
