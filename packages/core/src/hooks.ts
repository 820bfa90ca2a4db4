import { disposerOf } from './dispose.js';
import { HookError } from './errors.js';
import { runGuarded } from './with-timeout.js';

/**
 * Runs `hooks` one after the other with `args`, each within `timeoutMs` ms. A hook that throws or
 * passes its time is reported through `report` and the next one runs. Resolves to the failure count.
 */
export async function runHooks<A extends unknown[]>(
  kind: 'closing' | 'restore',
  hooks: readonly ((...args: A) => unknown)[],
  args: A,
  sessionId: string,
  timeoutMs: number,
  report: (error: HookError) => void,
): Promise<number> {
  let failures = 0;
  for (const [index, hook] of hooks.entries()) {
    const outcome = await runGuarded(() => hook(...args), timeoutMs);
    if (outcome.ok) continue;
    failures += 1;
    const name = hook.name || `#${index}`;
    report(
      outcome.timedOut
        ? new HookError('ERR_REPRISE_HOOK_TIMEOUT', sessionId, `${kind} hook ${name} of session ${sessionId} passed ${timeoutMs} ms`)
        : new HookError('ERR_REPRISE_HOOK', sessionId, `${kind} hook ${name} of session ${sessionId} threw`, { cause: outcome.error }),
    );
  }
  return failures;
}

/**
 * Disposes the live resources of a closing session, last added first (like `AsyncDisposableStack`),
 * each within `timeoutMs` ms, then clears the map. Values with no disposal method are just released.
 * `undefined`: a session that never used its `live` map (created on first use), nothing to do.
 */
export async function disposeLive(
  live: Map<string, unknown> | undefined,
  sessionId: string,
  timeoutMs: number,
  report: (error: HookError) => void,
): Promise<void> {
  if (live === undefined || live.size === 0) return;
  const entries = [...live.entries()].reverse();
  live.clear();
  for (const [name, value] of entries) {
    const dispose = disposerOf(value);
    if (dispose === undefined) continue;
    const outcome = await runGuarded(dispose, timeoutMs);
    if (outcome.ok) continue;
    const what = outcome.timedOut ? `passed ${timeoutMs} ms` : 'threw';
    report(
      new HookError('ERR_REPRISE_DISPOSE', sessionId, `disposing live resource ${JSON.stringify(name)} of session ${sessionId} ${what}`, {
        cause: outcome.error,
      }),
    );
  }
}
