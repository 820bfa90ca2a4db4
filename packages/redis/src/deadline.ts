/** What work running under a deadline sees: whether its deadline has passed (the caller was told it failed). */
export interface DeadlineSignal {
  readonly aborted: boolean;
}

/**
 * Runs `work` with a deadline: settles like it, or rejects with `onTimeout()` after `ms`. At the
 * deadline `work`'s signal is aborted, so work still waiting (for a connection) can give up
 * instead of acting after its caller was told it failed. The timer is cleared as soon as either
 * happens, so nothing outlives the call. `mapError` turns what `work` rejects with (or throws) into
 * the error the call rejects with (default: as it is).
 *
 * One promise and one timer per call, and a plain flag for the signal (an `AbortController` costs
 * more than the rest of a Redis call on the client: this runs once per adapter call).
 */
export function withDeadline<T>(
  work: (signal: DeadlineSignal) => Promise<T>,
  ms: number,
  onTimeout: () => Error,
  mapError: (error: unknown) => unknown = (error) => error,
): Promise<T> {
  const signal = { aborted: false };
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.aborted = true;
      reject(onTimeout());
    }, ms);
    let running: Promise<T>;
    try {
      running = work(signal);
    } catch (error) {
      running = Promise.reject(error);
    }
    running.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(mapError(error));
      },
    );
  });
}
