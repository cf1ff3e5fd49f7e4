import { TooManyRunsError } from "./errors.js";

/**
 * Run slots per app and for the whole server, counted in memory. In embedded mode this
 * process executes every run, so the count is exact; taking a slot is synchronous, so two
 * concurrent starts cannot both take the last one (a store count would race).
 */
export class ConcurrencyGate {
  readonly #perApp = new Map<string, number>();
  #total = 0;
  readonly #maxTotal: number | undefined;

  constructor(maxTotal?: number) {
    this.#maxTotal = maxTotal;
  }

  /** Takes a slot or throws TooManyRunsError. Returns the release function (idempotent). */
  acquire(appId: string, appLimit: number | null): () => void {
    const current = this.#perApp.get(appId) ?? 0;
    if (appLimit !== null && appLimit !== undefined && current >= appLimit) throw new TooManyRunsError("app", appLimit);
    if (this.#maxTotal !== undefined && this.#total >= this.#maxTotal) throw new TooManyRunsError("server", this.#maxTotal);
    this.#perApp.set(appId, current + 1);
    this.#total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      const left = (this.#perApp.get(appId) ?? 1) - 1;
      if (left <= 0) this.#perApp.delete(appId);
      else this.#perApp.set(appId, left);
    };
  }
}
