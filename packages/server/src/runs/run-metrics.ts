import type { ResponseMode } from "../store/types.js";
import type { RunObserver } from "./active-run.js";
import type { SequencedEvent } from "./types.js";

/** What run services report to /metrics (implemented with prom-client in `metrics/`). Must not throw. */
export interface RunServiceMetrics extends RunObserver {
  /** A run was admitted (row created). */
  runStarted(responseMode: ResponseMode): void;
  /** A subscriber started reading a run's events; call the returned function when it stops. */
  streamOpened(): () => void;
}

/** `events`, counted as an active stream from the first read until it ends or is abandoned. */
export async function* countedStream(
  metrics: RunServiceMetrics | undefined,
  events: AsyncIterable<SequencedEvent>,
): AsyncGenerator<SequencedEvent, void, undefined> {
  if (!metrics) {
    yield* events;
    return;
  }
  const closed = metrics.streamOpened();
  try {
    yield* events;
  } finally {
    closed();
  }
}
