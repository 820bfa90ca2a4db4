import { channel } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import type { CloseReason } from './types.js';

/**
 * Name of the `node:diagnostics_channel` channel on which every `SessionManager` publishes a
 * {@link HookTiming} after the closing hooks of a close, or the restore hooks of a restore, ran.
 */
export const HOOK_CHANNEL = 'reprise:hooks';

/**
 * Name of the `node:diagnostics_channel` channel on which every `SessionManager` publishes a
 * {@link StoreTiming} after each call to its adapter (writes of snapshots and checkpoints, batches,
 * reads, takes, deletes), failed or not.
 */
export const STORE_CHANNEL = 'reprise:store';

/** What {@link HOOK_CHANNEL} carries: one message per close or restore that has hooks. */
export interface HookTiming {
  /** The `SessionManager` that ran the hooks (subscribers filter by it). */
  readonly manager: object;
  /** `'close'`: the closing hooks; `'restore'`: the restore hooks. */
  readonly kind: 'close' | 'restore';
  /** The close reason (`undefined` for a restore). */
  readonly reason: CloseReason | undefined;
  /** Hooks that ran. */
  readonly hooks: number;
  /** Of them, the ones that threw or passed `hookTimeout`. */
  readonly failures: number;
  /** ms from the first hook's start to the last one's end (`performance.now()` clock). */
  readonly durationMs: number;
}

/** What {@link STORE_CHANNEL} carries: one message per adapter call. */
export interface StoreTiming {
  /** The `SessionManager` whose store made the call. */
  readonly manager: object;
  /** The call: `'save'` (a snapshot, checkpoint or pointer, or a batch of them), `'load'`, `'take'`, `'delete'`, ... */
  readonly operation: string;
  /** Records the call carried: the batch's size for a batch write, else 1. */
  readonly records: number;
  /** Whether the call failed (rejected or passed `adapterTimeout`). */
  readonly failed: boolean;
  /** ms until it settled or was abandoned at `adapterTimeout` (`performance.now()` clock). */
  readonly durationMs: number;
}

const hooks = channel(HOOK_CHANNEL);
const store = channel(STORE_CHANNEL);

/**
 * Runs `run` (the hooks of one close or restore, resolving to their failures) and, when someone
 * subscribes to {@link HOOK_CHANNEL}, publishes its timing. Without subscribers it adds one check.
 */
export function timeHooks(
  manager: object,
  kind: HookTiming['kind'],
  reason: CloseReason | undefined,
  count: number,
  run: () => Promise<number>,
): Promise<number> {
  // Not async: without a subscriber the close awaits `run()` itself, with no promise added around it.
  if (!hooks.hasSubscribers || count === 0) return run();
  return timed({ manager, kind, reason, count }, run);
}

async function timed(
  what: { manager: object; kind: HookTiming['kind']; reason: CloseReason | undefined; count: number },
  run: () => Promise<number>,
): Promise<number> {
  const started = performance.now();
  const failures = await run();
  hooks.publish({
    manager: what.manager,
    kind: what.kind,
    reason: what.reason,
    hooks: what.count,
    failures,
    durationMs: performance.now() - started,
  } satisfies HookTiming);
  return failures;
}

/** The start of a timed adapter call, or `undefined` when nobody subscribes to {@link STORE_CHANNEL}. */
export function storeCallStart(): number | undefined {
  return store.hasSubscribers ? performance.now() : undefined;
}

/** Publishes the timing of an adapter call begun at `started` (see {@link storeCallStart}). */
export function storeCallEnd(
  manager: object | undefined,
  operation: string,
  records: number,
  failed: boolean,
  started: number | undefined,
): void {
  if (started === undefined || manager === undefined) return;
  store.publish({ manager, operation, records, failed, durationMs: performance.now() - started } satisfies StoreTiming);
}
