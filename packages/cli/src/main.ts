/**
 * The `tributary` command line. `serve` starts the server; flags override TRIBUTARY_*
 * variables, which override defaults.
 */
import { pathToFileURL } from "node:url";
import { ConfigError, type ServeOptions, serve } from "@tributary/server";
import { Command, InvalidArgumentError } from "commander";

function port(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) {
    throw new InvalidArgumentError("must be a TCP port from 0 to 65535 (0 picks a free one).");
  }
  return Number(value);
}

export function buildProgram(run: (options: ServeOptions) => Promise<unknown> = serve): Command {
  const program = new Command("tributary")
    .description("Self-hostable AI workflow engine speaking Dify's Workflow App API")
    .showHelpAfterError()
    .exitOverride();

  program
    .command("serve")
    .description("Start the HTTP server (imports the examples into an empty data directory)")
    .option("-p, --port <port>", "port to listen on (env TRIBUTARY_PORT, default 8080)", port)
    .option("-H, --host <host>", "address to listen on (env TRIBUTARY_HOST, default 127.0.0.1)")
    .option("-d, --data-dir <dir>", "data directory (env TRIBUTARY_DATA_DIR, default ./data)")
    .option("--database-url <url>", "postgres:// URL (env TRIBUTARY_DATABASE_URL, default SQLite in the data dir)")
    .option("--no-examples", "do not import the examples into an empty data directory")
    .action(async (flags: { port?: number; host?: string; dataDir?: string; databaseUrl?: string; examples: boolean }) => {
      await run({
        ...(flags.port !== undefined ? { port: flags.port } : {}),
        ...(flags.host !== undefined ? { host: flags.host } : {}),
        ...(flags.dataDir !== undefined ? { dataDir: flags.dataDir } : {}),
        ...(flags.databaseUrl !== undefined ? { databaseUrl: flags.databaseUrl } : {}),
        importExamples: flags.examples,
      });
    });
  return program;
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    // Commander already printed help or the usage error.
    if (typeof code === "string" && code.startsWith("commander.")) {
      process.exitCode = (error as { exitCode?: number }).exitCode ?? 1;
      return;
    }
    const message = error instanceof ConfigError || error instanceof Error ? error.message : String(error);
    process.stderr.write(`tributary: ${message}\n`);
    process.exitCode = 1;
  }
}

// Run when executed directly (`tsx packages/cli/src/main.ts serve`); bin/tributary.js calls main() itself.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
