/**
 * Calls per minute per key, over a sliding 60-second window (a burst at the end of one minute
 * and the start of the next cannot double the rate). In-process: with several server processes
 * each enforces the limit on the calls it receives.
 */
const WINDOW_MS = 60_000;
/** Past this many tracked keys, idle ones are dropped on the next check. */
const PRUNE_ABOVE = 10_000;

export type RateDecision = { allowed: true; remaining: number } | { allowed: false; retryAfterSec: number };

export class RateLimiter {
  readonly #calls = new Map<string, number[]>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Counts one call of `key` against `perMinute` (null = unlimited). */
  take(key: string, perMinute: number | null): RateDecision {
    if (perMinute === null) return { allowed: true, remaining: Number.POSITIVE_INFINITY };
    const now = this.#now();
    if (this.#calls.size > PRUNE_ABOVE) this.#prune(now);
    const recent = (this.#calls.get(key) ?? []).filter((t) => t > now - WINDOW_MS);
    if (recent.length >= perMinute) {
      this.#calls.set(key, recent);
      const oldest = recent[0] ?? now;
      return { allowed: false, retryAfterSec: Math.max(1, Math.ceil((oldest + WINDOW_MS - now) / 1000)) };
    }
    recent.push(now);
    this.#calls.set(key, recent);
    return { allowed: true, remaining: perMinute - recent.length };
  }

  #prune(now: number): void {
    for (const [key, times] of this.#calls) if (!times.some((t) => t > now - WINDOW_MS)) this.#calls.delete(key);
  }
}
