/**
 * Polls `check` (every `everyMs`) until it returns true; fails after `timeoutMs` with `what` and,
 * when given, `state()` (what the condition looked like last). No fixed sleeps in the tests: this.
 */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  { timeoutMs = 5_000, everyMs = 10, state }: { timeoutMs?: number; everyMs?: number; state?: () => unknown } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline) {
      const last = state === undefined ? '' : `; last state: ${JSON.stringify(state())}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}${last}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Resolves with `promise`, or rejects after `timeoutMs` naming `what` (a function: described when it times out). */
export async function within<T>(what: string | (() => string), timeoutMs: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
