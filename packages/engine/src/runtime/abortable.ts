/**
 * Settles with `value`, or rejects with the signal's reason as soon as the signal aborts —
 * so work that ignores its signal (a stubborn node, a hung provider, a slow store) cannot
 * hold a stop or a deadline. An abandoned promise's later rejection is swallowed.
 */
export function abortable<T>(value: T | Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!(value instanceof Promise)) return Promise.resolve(value);
  if (!signal) return value;
  if (signal.aborted) {
    value.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      value.catch(() => {});
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    value.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
