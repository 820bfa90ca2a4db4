import type { VersionedValue } from '@reprise/core';

/** One call on a key of an ordered adapter, as the interleaving checks make them (no TTLs). */
export type VersionedOp =
  | { readonly kind: 'saveIfNewer'; readonly value: string; readonly version: number }
  | { readonly kind: 'takeVersioned' }
  | { readonly kind: 'fence'; readonly version: number }
  | { readonly kind: 'save'; readonly value: string }
  | { readonly kind: 'take' }
  | { readonly kind: 'load' }
  | { readonly kind: 'delete' };

/** What a call resolved with. */
export type OpResult = boolean | string | VersionedValue | undefined;

/** The state of one key in the sequential model: an optional value and the key's version. */
export interface KeyState {
  readonly value: string | undefined;
  readonly version: number;
}

/** A key never written: no value, version 0. */
export const EMPTY: KeyState = Object.freeze({ value: undefined, version: 0 });

/**
 * The rules of "Ordered writes" (see `SessionAdapter` in @reprise/core) as a sequential model of one
 * key without TTLs: applies `op` to `state`, returning the result the adapter must give and the
 * state afterwards.
 */
export function applyOp(state: KeyState, op: VersionedOp): { result: OpResult; next: KeyState } {
  switch (op.kind) {
    case 'saveIfNewer': {
      const stores = state.value === undefined ? state.version <= op.version : state.version < op.version;
      return stores ? { result: true, next: { value: op.value, version: op.version } } : { result: false, next: state };
    }
    case 'takeVersioned':
    case 'take': {
      if (state.value === undefined) return { result: undefined, next: state };
      const taken = { value: state.value, version: state.version };
      return { result: op.kind === 'take' ? taken.value : taken, next: { value: undefined, version: state.version } };
    }
    case 'fence': {
      if (state.value !== undefined && state.version > op.version) return { result: undefined, next: state };
      const result = state.value === undefined ? undefined : { value: state.value, version: state.version };
      return { result, next: { value: undefined, version: Math.max(state.version, op.version) } };
    }
    case 'save':
      return { result: undefined, next: { value: op.value, version: 0 } };
    case 'load':
      return { result: state.value, next: state };
    case 'delete':
      return { result: state.value !== undefined, next: EMPTY };
  }
}

/** Whether an adapter's result equals the model's (a versioned value compared by value and version). */
export function sameResult(actual: unknown, expected: OpResult): boolean {
  if (expected === null || typeof expected !== 'object') return actual === expected;
  if (actual === null || typeof actual !== 'object') return false;
  const { value, version } = actual as { value?: unknown; version?: unknown };
  return value === expected.value && version === expected.version;
}

/** A short text for a call, for failure messages: `saveIfNewer(v3@2)`, `fence(4)`. */
export function describeOp(op: VersionedOp): string {
  switch (op.kind) {
    case 'saveIfNewer':
      return `saveIfNewer(${op.value}@${op.version})`;
    case 'fence':
      return `fence(${op.version})`;
    case 'save':
      return `save(${op.value})`;
    default:
      return `${op.kind}()`;
  }
}

/** A result as text, for failure messages. */
export function describeResult(result: unknown): string {
  if (result !== null && typeof result === 'object') {
    const { value, version } = result as { value?: unknown; version?: unknown };
    return `{ ${String(value)}@${String(version)} }`;
  }
  return String(result);
}
