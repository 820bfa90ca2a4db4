/**
 * Runs `work` with a deadline: settles like it, or rejects with `onTimeout()` after `ms`. At the
 * deadline `work`'s signal is aborted, so work still waiting (for a connection) can give up
 * instead of acting after its caller was told it failed. The timer is cleared as soon as either
 * happens, so nothing outlives the call.
 */
export function withDeadline<T>(work: (signal: AbortSignal) => Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  const controller = new AbortController();
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      controller.abort();
      reject(onTimeout());
    }, ms);
    work(controller.signal).then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
