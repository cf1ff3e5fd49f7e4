#!/usr/bin/env node
// Runs the TypeScript CLI without a build step: tsx's ESM loader compiles .ts files on import.
import { register } from "tsx/esm/api";

register();
const { main, isServing } = await import("../src/main.ts");
const code = await main(process.argv);
process.exitCode = code;
// A client command is done: exit once stdout/stderr are flushed, instead of waiting for idle
// keep-alive sockets to time out. `serve` keeps running until it is signalled.
if (!isServing()) {
  process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
}
