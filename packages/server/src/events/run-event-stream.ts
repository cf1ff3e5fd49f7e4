/**
 * A run's events in Redis: one Stream per run, entry id `<seq>-0` for the event with that seq
 * (the SSE `id:` the Dify adapter sends and `Last-Event-ID` brings back), field `e` holding the
 * engine event as JSON. Explicit ids make the stream and the store agree on numbering, make
 * resuming from any API process a plain XRANGE after `<seq>-0`, and make a second write of the
 * same seq fail instead of duplicating.
 */
import type { EngineEvent } from "@tributary/engine";
import type { Redis } from "ioredis";
import type { RedisKeys } from "../queue/redis.js";
import type { RunEventSink } from "../runs/active-run.js";
import type { RunServiceLogger } from "../runs/run-logger.js";
import type { SequencedEvent } from "../runs/types.js";

/** Entries kept while a run is going (approximate). Older ones are read from the store. */
export const STREAM_MAX_LEN = 10_000;

export function entryId(seq: number): string {
  return `${seq}-0`;
}

/** A stream entry as XRANGE/XREAD return it. */
export type StreamEntry = [id: string, fields: string[]];

export function decodeEntry(entry: StreamEntry): SequencedEvent | undefined {
  const [id, fields] = entry;
  const seq = Number.parseInt(id, 10);
  const at = fields.indexOf("e");
  const json = at >= 0 ? fields[at + 1] : undefined;
  if (!Number.isSafeInteger(seq) || json === undefined) return undefined;
  return { seq, event: JSON.parse(json) as EngineEvent };
}

export interface StreamSinkOptions {
  redis: Redis;
  keys: RedisKeys;
  runId: string;
  /** How long the stream stays after the final event (resumes within this time are served from Redis). */
  ttlSec: number;
  logger: RunServiceLogger;
}

/**
 * Publishes one run's events to its stream as the worker's engine emits them. Nothing waits on
 * Redis: commands go out in order on one connection, and a failed XADD is only logged, because
 * the store remains the record (subscribers fill gaps from it). After the final event — sent
 * only once it is committed — the stream expires and `finished` is announced.
 */
export class StreamSink implements RunEventSink {
  readonly #o: StreamSinkOptions;
  readonly #key: string;
  #warned = false;

  constructor(options: StreamSinkOptions) {
    this.#o = options;
    this.#key = options.keys.runEvents(options.runId);
  }

  publish(event: SequencedEvent, durable: boolean): void {
    const { redis, ttlSec, keys, runId } = this.#o;
    const add = redis.xadd(this.#key, "MAXLEN", "~", STREAM_MAX_LEN, entryId(event.seq), "e", JSON.stringify(event.event));
    add.catch((error: unknown) => this.#failed(error));
    if (durable && event.event.type === "workflow_finished") {
      redis
        .multi()
        .expire(this.#key, ttlSec)
        .del(keys.stopFlag(runId))
        .publish(keys.finishedChannel, runId)
        .exec()
        .catch((error: unknown) => this.#failed(error));
    }
  }

  confirm(): void {}

  close(): void {}

  #failed(error: unknown): void {
    // One line per run is enough: while Redis is away every event fails the same way.
    if (this.#warned) return;
    this.#warned = true;
    this.#o.logger.warn(
      { runId: this.#o.runId, err: error },
      "could not publish a run event to Redis; live subscribers fall back to the store",
    );
  }
}

/** Publishes events written outside an engine (a run ended by an API process or a recovering worker). */
export async function publishEnded(
  redis: Redis,
  keys: RedisKeys,
  runId: string,
  events: readonly SequencedEvent[],
  ttlSec: number,
): Promise<void> {
  const key = keys.runEvents(runId);
  const tx = redis.multi();
  for (const e of events) tx.xadd(key, "MAXLEN", "~", STREAM_MAX_LEN, entryId(e.seq), "e", JSON.stringify(e.event));
  if (events.some((e) => e.event.type === "workflow_finished")) {
    tx.expire(key, ttlSec).del(keys.stopFlag(runId)).publish(keys.finishedChannel, runId);
  }
  // MULTI runs every command even if one fails (e.g. an XADD below the stream's top); exec reports per command.
  await tx.exec();
}

/** The seq of the stream's newest entry (0 when none). */
export async function lastStreamSeq(redis: Redis, keys: RedisKeys, runId: string): Promise<number> {
  const top = (await redis.xrevrange(keys.runEvents(runId), "+", "-", "COUNT", 1)) as StreamEntry[];
  const id = top[0]?.[0];
  return id ? Number.parseInt(id, 10) : 0;
}
