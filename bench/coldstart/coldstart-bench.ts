/**
 * Cold start: `tributary serve` (the CLI as installed: packages/cli/bin/tributary.js, TypeScript
 * through tsx) from process start to the first 200 on /healthz, and to the first completed run
 * (the example app the start-up banner offers, run blocking with its sample inputs). Fresh data
 * directories (first start: migrations, secret key, example import) and restarts over existing
 * data. Baselines in the same run: a bare node:http server answering /healthz, started with
 * plain node and with the same tsx loader the CLI uses.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { BARE_CHILD } from "../support/children.js";
import { median, printResult, round, sleep } from "../support/stats.js";
import { tempDataDir } from "../support/stored.js";

const CLI = fileURLToPath(new URL("../../packages/cli/bin/tributary.js", import.meta.url));
const FRESH_STARTS = 5;
const RESTARTS = 3;
const BARE_STARTS = 5;
const TARGET_HEALTHY_S = 0.5;
const POLL_MS = 2;
const START_TIMEOUT_MS = 30_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Polls until `url` answers 200; ms since `t0`. */
async function firstOk(url: string, t0: number, child: ChildProcess, output: () => string): Promise<number> {
  const deadline = t0 + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the process exited with ${child.exitCode}:\n${output()}`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === 200) return performance.now() - t0;
    } catch {
      // Not listening yet.
    }
    if (performance.now() > deadline) throw new Error(`${url} did not answer within ${START_TIMEOUT_MS} ms:\n${output()}`);
    await sleep(POLL_MS);
  }
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

interface ServeStart {
  healthyMs: number;
  firstRunMs: number;
  /** The example app's key and request, for restarts (the banner offers them only on a fresh start). */
  example: { key: string; body: string };
}

/** One `tributary serve` start over `dataDir`; the first run is the banner's example curl (or `example`). */
async function startServe(dataDir: string, example?: ServeStart["example"]): Promise<ServeStart> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, "serve", "--port", String(port), "--host", "127.0.0.1", "--data-dir", dataDir], {
    env: { ...process.env, TRIBUTARY_LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  try {
    const base = `http://127.0.0.1:${port}`;
    const healthyMs = await firstOk(`${base}/healthz`, t0, child, () => output);
    // The banner (printed once the examples are imported) carries a ready-to-run curl.
    const fromBanner = () => /Bearer (app-[\w-]+)"[\s\S]*?-d '([^']*)'/.exec(output);
    while (!example && !fromBanner()) {
      if (performance.now() - t0 > START_TIMEOUT_MS) throw new Error(`no example curl in the banner:\n${output}`);
      await sleep(POLL_MS);
    }
    const curl = example ? null : fromBanner();
    const { key, body } = example ?? { key: curl?.[1] ?? "", body: curl?.[2] ?? "" };
    const res = await fetch(`${base}/v1/workflows/run`, {
      method: "POST",
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
      body,
    });
    const answer = (await res.json()) as { data?: { status?: string } };
    if (res.status !== 200 || answer.data?.status !== "succeeded") {
      throw new Error(`the first run did not succeed: ${res.status} ${JSON.stringify(answer)}`);
    }
    return { healthyMs, firstRunMs: performance.now() - t0, example: { key, body } };
  } finally {
    await stop(child);
  }
}

/** The bare baseline: how soon a Node process can answer /healthz at all. */
async function startBare(withTsx: boolean): Promise<number> {
  const port = await freePort();
  const script = `require("node:http").createServer((q, s) => s.writeHead(200, {"content-type": "application/json"}).end('{"status":"ok"}')).listen(${port}, "127.0.0.1")`;
  const args = withTsx ? ["--import", "tsx", BARE_CHILD] : ["-e", script];
  const t0 = performance.now();
  const child = spawn(process.execPath, args, {
    env: { ...process.env, BENCH_BARE: JSON.stringify({ mode: "json", port }) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let output = "";
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  try {
    return await firstOk(`http://127.0.0.1:${port}/healthz`, t0, child, () => output);
  } finally {
    await stop(child);
  }
}

export default async function main(): Promise<void> {
  // tsx compiles each source file once into its cache; the first start pays for that, later ones do not.
  const primer = tempDataDir("coldstart-primer");
  try {
    const first = await startServe(primer.dir);
    console.log(`priming start (tsx cache may be cold): healthy after ${round(first.healthyMs, 0)} ms`);
  } finally {
    primer.cleanup();
  }

  const fresh: ServeStart[] = [];
  const restarts: ServeStart[] = [];
  const bare: number[] = [];
  const bareTsx: number[] = [];
  const kept = tempDataDir("coldstart-restart");
  try {
    for (let i = 0; i < FRESH_STARTS; i++) {
      // Interleaved with the baselines, so they share the machine's mood of the moment.
      const data = tempDataDir("coldstart");
      try {
        fresh.push(await startServe(data.dir));
      } finally {
        data.cleanup();
      }
      if (i < BARE_STARTS) {
        bare.push(await startBare(false));
        bareTsx.push(await startBare(true));
      }
      const last = fresh[fresh.length - 1] as ServeStart;
      console.log(
        `fresh start ${i + 1}: healthy ${round(last.healthyMs, 0)} ms, first run ${round(last.firstRunMs, 0)} ms;` +
          ` bare node ${round(bare[bare.length - 1] ?? Number.NaN, 0)} ms, bare node + tsx ${round(bareTsx[bareTsx.length - 1] ?? Number.NaN, 0)} ms`,
      );
    }
    const { example } = await startServe(kept.dir);
    for (let i = 0; i < RESTARTS; i++) {
      restarts.push(await startServe(kept.dir, example));
      const last = restarts[restarts.length - 1] as ServeStart;
      console.log(`restart ${i + 1}: healthy ${round(last.healthyMs, 0)} ms, first run ${round(last.firstRunMs, 0)} ms`);
    }
  } finally {
    kept.cleanup();
  }

  const ms = (xs: number[]) => round(median(xs), 0);
  const healthy = median(fresh.map((s) => s.healthyMs));
  const figures: Record<string, number> = {
    healthy_ms_median: ms(fresh.map((s) => s.healthyMs)),
    healthy_ms_max: round(Math.max(...fresh.map((s) => s.healthyMs)), 0),
    first_run_ms_median: ms(fresh.map((s) => s.firstRunMs)),
    restart_healthy_ms_median: ms(restarts.map((s) => s.healthyMs)),
    restart_first_run_ms_median: ms(restarts.map((s) => s.firstRunMs)),
    bare_node_healthy_ms_median: ms(bare),
    bare_node_tsx_healthy_ms_median: ms(bareTsx),
    healthy_ratio_vs_bare_node: round(healthy / median(bare), 2),
    healthy_ratio_vs_bare_node_tsx: round(healthy / median(bareTsx), 2),
  };
  console.log(
    `median: healthy ${figures["healthy_ms_median"]} ms (restart ${figures["restart_healthy_ms_median"]} ms), first run ${figures["first_run_ms_median"]} ms;` +
      ` bare node ${figures["bare_node_healthy_ms_median"]} ms, with tsx ${figures["bare_node_tsx_healthy_ms_median"]} ms`,
  );
  printResult("coldstart", figures, {
    metric: "seconds_to_healthy",
    value: round(healthy / 1000, 3),
    target: TARGET_HEALTHY_S,
    better: "lower",
  });
}
