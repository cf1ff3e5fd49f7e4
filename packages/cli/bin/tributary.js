#!/usr/bin/env node
// Runs the TypeScript CLI without a build step: tsx's ESM loader compiles .ts files on import.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/main.ts");
await main(process.argv);
