import { EMPTY, applyOp, sameResult } from './versioned-model.js';
import type { KeyState, OpResult, VersionedOp } from './versioned-model.js';

/** One call as it happened: what was called, what it resolved with, and when (ms, one clock). */
export interface HistoryEvent {
  readonly op: VersionedOp;
  readonly result: OpResult;
  /** When the call was made. */
  readonly start: number;
  /** When it resolved. */
  readonly end: number;
  /** How the call was made, when not on its own (for example `batch 3` for an entry of a `saveManyIfNewer()`), for messages. */
  readonly via?: string;
}

/** Upper bound on the search's steps: a history this hard to explain is reported as such. */
const MAX_STEPS = 2_000_000;

/**
 * Finds an order of the calls in `history` that (1) respects real time: a call that resolved
 * before another was made comes before it, and (2) gives, applied one by one to the sequential
 * model from an empty key, exactly the results the calls had. Such an order exists if and only if
 * the history is linearizable: each call took effect atomically at some instant within its
 * duration (Wing & Gong's search, with memoization of explored states).
 *
 * @returns the indexes of `history` in that order, `undefined` when there is none, or `'too hard'`
 *   when the search passed its bound (then nothing is claimed).
 */
export function linearize(history: readonly HistoryEvent[]): number[] | undefined | 'too hard' {
  const explored = new Set<string>();
  const order: number[] = [];
  const done = new Array<boolean>(history.length).fill(false);
  let steps = 0;

  const search = (state: KeyState, remaining: number): boolean | 'too hard' => {
    if (remaining === 0) return true;
    if (++steps > MAX_STEPS) return 'too hard';
    const memo = `${done.map((d) => (d ? 1 : 0)).join('')}|${state.version}|${state.value ?? '\u0000none'}`;
    if (explored.has(memo)) return false;
    explored.add(memo);
    let firstEnd = Infinity;
    history.forEach((event, i) => {
      if (!done[i]) firstEnd = Math.min(firstEnd, event.end);
    });
    for (let i = 0; i < history.length; i++) {
      const event = history[i]!;
      // Only a call made before every pending call resolved can take effect first.
      if (done[i] || event.start > firstEnd) continue;
      const { result, next } = applyOp(state, event.op);
      if (!sameResult(event.result, result)) continue;
      done[i] = true;
      order.push(i);
      const found = search(next, remaining - 1);
      if (found !== false) return found;
      done[i] = false;
      order.pop();
    }
    return false;
  };

  const found = search(EMPTY, history.length);
  if (found === 'too hard') return 'too hard';
  return found ? order : undefined;
}

export type { OpResult };
