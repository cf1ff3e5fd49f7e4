/**
 * Prometheus metrics of one process (`GET /metrics` on API processes, `--metrics-port` on
 * workers), on a registry of its own so several servers in one process (tests) do not clash.
 * Counters are per process, as Prometheus expects; the queue depth is the cluster's, read from
 * BullMQ at scrape time.
 */
import type { NodeFinishedEvent, WorkflowFinishedEvent } from "@tributary/engine";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { RunServiceMetrics } from "../runs/run-metrics.js";
import type { ResponseMode } from "../store/types.js";

export interface Metrics extends RunServiceMetrics {
  readonly registry: Registry;
  /** Reports queue depth by state at each scrape (distributed mode). */
  setQueueDepthSource(source: () => Promise<Record<string, number>>): void;
  /** Reports the runs executing in this process at each scrape. */
  setActiveRunsSource(source: () => number): void;
  /** The exposition text and its content type. */
  render(): Promise<{ contentType: string; body: string }>;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const started = new Counter({
    name: "tributary_runs_started_total",
    help: "Runs admitted by this process (row created, then executed here or queued), by response mode.",
    labelNames: ["response_mode"],
    registers: [registry],
  });
  const finished = new Counter({
    name: "tributary_runs_finished_total",
    help: "Runs whose outcome this process committed, by final status.",
    labelNames: ["status"],
    registers: [registry],
  });
  const nodeDuration = new Histogram({
    name: "tributary_node_duration_seconds",
    help: "Node execution time, by node type and status.",
    labelNames: ["node_type", "status"],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const streams = new Gauge({
    name: "tributary_active_streams",
    help: "Clients reading a run's event stream from this process right now.",
    registers: [registry],
  });
  let depthSource: (() => Promise<Record<string, number>>) | undefined;
  new Gauge({
    name: "tributary_queue_depth",
    help: "Runs in the cluster's queue, by state (waiting: not yet taken by a worker; active: executing).",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      this.reset();
      if (!depthSource) return;
      try {
        for (const [state, count] of Object.entries(await depthSource())) this.set({ state }, count);
      } catch {
        // Redis unreachable: no sample rather than a failed scrape.
      }
    },
  });
  let activeSource: (() => number) | undefined;
  new Gauge({
    name: "tributary_runs_executing",
    help: "Runs executing in this process right now.",
    registers: [registry],
    collect() {
      this.set(activeSource ? activeSource() : 0);
    },
  });

  return {
    registry,
    runStarted(responseMode: ResponseMode) {
      started.inc({ response_mode: responseMode });
    },
    nodeFinished(event: NodeFinishedEvent) {
      nodeDuration.observe({ node_type: event.execution.nodeType, status: event.status }, event.elapsedMs / 1000);
    },
    runFinished(event: WorkflowFinishedEvent) {
      finished.inc({ status: event.status });
    },
    streamOpened() {
      streams.inc();
      let open = true;
      return () => {
        if (!open) return;
        open = false;
        streams.dec();
      };
    },
    setQueueDepthSource(source) {
      depthSource = source;
    },
    setActiveRunsSource(source) {
      activeSource = source;
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
