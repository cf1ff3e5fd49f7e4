/**
 * Memory per open stream: 1,000 streaming runs of start → http-request → end held open at the
 * HTTP node (its upstream, a gate in this process, answers only when released); the server's
 * RSS growth per run after forced GC, against 1,000 streams held open by a bare node:http
 * server that sent the same frames (captured from the real server). Then everything is
 * released and the runs must all succeed; what the server still holds after that is reported.
 */
import { Agent } from "node:http";
import { join } from "node:path";
import { publishApp, runBody, runHeaders } from "../support/api.js";
import { BARE_CHILD, type Child, pinSelf, SERVE_CHILD, startChild } from "../support/children.js";
import { type GateServer, startGateServer } from "../support/gate-server.js";
import { type StreamTimings, streamRun } from "../support/sse-client.js";
import { printResult, round, sleep, withTimeout } from "../support/stats.js";
import { tempDataDir } from "../support/stored.js";
import { gatedWorkflow } from "../support/workflows.js";

const STREAMS = 1_000;
/** Streams opened at once; a larger storm only measures accept starvation (see the README). */
const OPEN_BATCH = 50;
const TARGET_RATIO = 2;
/** In the node_started frame of the HTTP node: from then on the run waits there. */
const AT_GATE = '"node_id":"call"';
const FINISHED = '"event":"workflow_finished"';
const KB = 1024;

interface Opened {
  /** Each stream's end (after workflow_finished, or the bare server's release). */
  ended: Promise<StreamTimings>[];
}

/** Opens `count` streams, `OPEN_BATCH` at a time, each counted once `marker` arrived. */
async function openStreams(url: string, key: string, count: number, marker: string, agent: Agent): Promise<Opened> {
  const ended: Promise<StreamTimings>[] = [];
  for (let i = 0; i < count; i += OPEN_BATCH) {
    const reached: Promise<void>[] = [];
    for (let j = i; j < Math.min(count, i + OPEN_BATCH); j++) {
      let onMark!: (index: number) => void;
      reached.push(
        new Promise<void>((resolve) => {
          onMark = (index) => {
            if (index === 0) resolve();
          };
        }),
      );
      const stream = streamRun({
        url,
        headers: runHeaders(key),
        body: runBody({ name: `held-${j}` }, "streaming"),
        markers: [marker, FINISHED],
        agent,
        onMark,
      });
      ended.push(stream);
      // A stream that ends or fails early must not leave the batch waiting forever.
      reached.push(Promise.race([reached[reached.length - 1] as Promise<void>, stream.then(() => {})]).catch(() => {}));
    }
    await withTimeout(Promise.all(reached), 30_000, `opening streams ${i + 1}–${i + OPEN_BATCH} of ${count}`);
  }
  return { ended };
}

async function settled(ms = 500): Promise<void> {
  // Batched writes (50 ms window) and socket buffers settle before memory is read.
  await sleep(ms);
}

export default async function main(): Promise<void> {
  pinSelf(1);
  const data = tempDataDir("memory");
  let gate: GateServer | undefined;
  let server: Child | undefined;
  let bare: Child | undefined;
  const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  try {
    gate = await startGateServer();
    server = await startChild(SERVE_CHILD, {
      cpu: 0,
      nodeArgs: ["--expose-gc"],
      env: { BENCH_SERVE: JSON.stringify({ dataDir: data.dir, httpAllowList: ["127.0.0.1"] }) },
    });
    const app = await publishApp(server.url, server.adminToken ?? "", gatedWorkflow(gate.url));
    const runUrl = `${server.url}/v1/workflows/run`;

    // Warm-up: every code path of a held run once, and the capture of its frames.
    gate.hold(true);
    let captured = "";
    const sample = streamRun({
      url: runUrl,
      headers: runHeaders(app.key),
      body: runBody({ name: "sample" }, "streaming"),
      markers: [AT_GATE, FINISHED],
      agent,
      keepBody: true,
    });
    const warm = await openStreams(runUrl, app.key, 100, AT_GATE, agent);
    gate.releaseAll();
    captured = (await sample).body;
    const warmed = await withTimeout(Promise.all(warm.ended), 30_000, "finishing the warm-up runs");
    if (warmed.some((t) => Number.isNaN(t.marks[1]))) throw new Error("warm-up runs did not finish");
    const frames = captured
      .slice(0, captured.indexOf("\n\n", captured.indexOf(AT_GATE)) + 2)
      .split("\n\n")
      .filter((f) => f.includes("data: "))
      .map((f) => `${f}\n\n`);
    console.log(`a held run has sent ${frames.length} frames (${frames.join("").length} bytes) while it waits`);

    // The real server.
    await settled();
    const s0 = await server.memory();
    // BENCH_HEAP_SNAPSHOT=<dir>: what holds the memory (support/heap-summary.ts <after> <before>).
    // The snapshots themselves grow the heap: the figures of such a run are not comparable.
    const snapshotDir = process.env["BENCH_HEAP_SNAPSHOT"];
    if (snapshotDir) await server.heapSnapshot(join(snapshotDir, "server-before.heapsnapshot"));
    console.log(`server warmed up: ${round(s0.rss / KB / KB, 1)} MB RSS; opening ${STREAMS} streams`);
    gate.hold(true);
    const held = await openStreams(runUrl, app.key, STREAMS, AT_GATE, agent);
    await settled();
    if (gate.arrived !== STREAMS) throw new Error(`${gate.arrived} of ${STREAMS} runs reached the gate`);
    const s1 = await server.memory();
    if (snapshotDir) await server.heapSnapshot(join(snapshotDir, `server-${STREAMS}-held.heapsnapshot`));
    console.log(`${STREAMS} runs waiting at the gate: ${round(s1.rss / KB / KB, 1)} MB RSS; releasing them`);
    gate.releaseAll();
    const ends = await withTimeout(Promise.all(held.ended), 60_000, "finishing the held runs");
    const finished = ends.filter((t) => !Number.isNaN(t.marks[1])).length;
    if (finished !== STREAMS) throw new Error(`${STREAMS - finished} held runs did not finish after the release`);
    await settled();
    const s2 = await server.memory();
    // Past undici's 4 s keep-alive: its idle connections to the gate are closed by then.
    await sleep(5_000);
    const s3 = await server.memory();
    await server.stop();
    server = undefined;

    // The bare server holding the same frames.
    bare = await startChild(BARE_CHILD, {
      cpu: 0,
      nodeArgs: ["--expose-gc"],
      env: { BENCH_BARE: JSON.stringify({ mode: "sse-hold", frames }) },
    });
    const bareUrl = `${bare.url}/v1/workflows/run`;
    const bareRelease = () => fetch(`${(bare as Child).url}/release`).then((r) => r.text());
    const bareWarm = await openStreams(bareUrl, app.key, 100, AT_GATE, agent);
    await bareRelease();
    await withTimeout(Promise.all(bareWarm.ended), 30_000, "ending the bare warm-up streams");
    await settled();
    const b0 = await bare.memory();
    const bareHeld = await openStreams(bareUrl, app.key, STREAMS, AT_GATE, agent);
    await settled();
    const b1 = await bare.memory();
    await bareRelease();
    await withTimeout(Promise.all(bareHeld.ended), 30_000, "ending the bare streams");

    const perRun = (a: number, b: number) => (b - a) / STREAMS / KB;
    const figures: Record<string, number> = {
      streams: STREAMS,
      rss_kb_per_run: round(perRun(s0.rss, s1.rss), 1),
      heap_kb_per_run: round(perRun(s0.heapUsed, s1.heapUsed), 1),
      external_kb_per_run: round(perRun(s0.external, s1.external), 1),
      rss_kb_per_run_still_held_after_release: round(perRun(s0.rss, s2.rss), 1),
      heap_kb_per_run_still_held_after_release: round(perRun(s0.heapUsed, s2.heapUsed), 1),
      rss_kb_per_run_still_held_5s_later: round(perRun(s0.rss, s3.rss), 1),
      heap_kb_per_run_still_held_5s_later: round(perRun(s0.heapUsed, s3.heapUsed), 1),
      bare_rss_kb_per_stream: round(perRun(b0.rss, b1.rss), 1),
      bare_heap_kb_per_stream: round(perRun(b0.heapUsed, b1.heapUsed), 1),
      server_rss_mb_before: round(s0.rss / KB / KB, 1),
      bare_rss_mb_before: round(b0.rss / KB / KB, 1),
      ratio_vs_bare: round((s1.rss - s0.rss) / (b1.rss - b0.rss), 2),
      heap_ratio_vs_bare: round((s1.heapUsed - s0.heapUsed) / (b1.heapUsed - b0.heapUsed), 2),
    };
    console.log(
      `server: ${figures["rss_kb_per_run"]} KB RSS per held run (heap ${figures["heap_kb_per_run"]} KB),` +
        ` ${figures["rss_kb_per_run_still_held_after_release"]} KB still held per run after all finished (heap ${figures["heap_kb_per_run_still_held_after_release"]} KB),` +
        ` ${figures["rss_kb_per_run_still_held_5s_later"]} KB 5 s later (heap ${figures["heap_kb_per_run_still_held_5s_later"]} KB)`,
    );
    console.log(
      `bare: ${figures["bare_rss_kb_per_stream"]} KB RSS per held stream (heap ${figures["bare_heap_kb_per_stream"]} KB); ratio ${figures["ratio_vs_bare"]} (heap ${figures["heap_ratio_vs_bare"]})`,
    );
    printResult("memory", figures, {
      metric: "rss_growth_per_stream_ratio_vs_bare",
      value: figures["ratio_vs_bare"] ?? Number.NaN,
      target: TARGET_RATIO,
      better: "lower",
    });
  } finally {
    agent.destroy();
    gate?.releaseAll();
    await server?.stop();
    await bare?.stop();
    await gate?.close();
    data.cleanup();
  }
}
