/**
 * Benchmark runner: `npm run bench -- <name>`. Each benchmark prints progress lines and ends
 * with one JSON line: {"bench", "figures", "headline": {"metric", "value", "target", "better"}}.
 */
const BENCHES: Record<string, () => Promise<{ default: () => Promise<void> }>> = {
  engine: () => import("./engine/engine-bench.js"),
  http: () => import("./http/http-bench.js"),
  sse: () => import("./sse/sse-bench.js"),
  store: () => import("./store/store-bench.js"),
  memory: () => import("./memory/memory-bench.js"),
  coldstart: () => import("./coldstart/coldstart-bench.js"),
  distributed: () => import("./distributed/distributed-bench.js"),
};

const name = process.argv[2];
if (!name || !(name in BENCHES)) {
  console.error(`usage: npm run bench -- <name>\navailable: ${Object.keys(BENCHES).join(", ")}`);
  process.exit(2);
}
const load = BENCHES[name] as () => Promise<{ default: () => Promise<void> }>;
const mod = await load();
await mod.default();
