/** The outcome of a guarded call: it finished, threw, or passed its time limit. */
export type Outcome = { ok: true } | { ok: false; timedOut: boolean; error: unknown };

/**
 * Runs `task` (sync or async) and settles within `timeoutMs` ms whatever it does: a throw or a
 * rejection is caught, and a task still running at the limit is abandoned (its result is ignored).
 * The guard's timer is unref'd and cleared as soon as the task settles.
 */
export async function runGuarded(task: () => unknown, timeoutMs: number): Promise<Outcome> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const result = task();
    if (!isThenable(result)) return { ok: true };
    const limit = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(resolve, timeoutMs, 'timeout');
      timer.unref?.();
    });
    const settled = await Promise.race([Promise.resolve(result).then(() => 'done' as const), limit]);
    return settled === 'done' ? { ok: true } : { ok: false, timedOut: true, error: undefined };
  } catch (error) {
    return { ok: false, timedOut: false, error };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}
