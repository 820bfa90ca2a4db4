import { OptionError } from '@reprise/core';
import { MAX_PERSIST_KEY_LENGTH, describeOptionValue } from '@reprise/core/adapter-kit';
import type { AdapterTestOptions, TestFunctions } from './types.js';

/** Options with every default filled in; `atomic` stays `undefined` when the adapter decides. */
export interface ResolvedOptions {
  readonly ttlGranularity: number;
  readonly atomic: boolean | undefined;
  readonly concurrency: number;
  readonly largeValueBytes: number;
  readonly maxKeyLength: number;
  readonly timeoutMs: number;
  readonly closeSettleMs: number;
  readonly checkResources: boolean;
  readonly keyPrefix: string;
}

/**
 * The defaults of {@link AdapterTestOptions}, in their units: ms for times, UTF-8 bytes for
 * `largeValueBytes`, UTF-16 code units for `maxKeyLength`. `atomic` has none: it defaults to the
 * adapter's own `atomic` flag (and to `true` when the adapter has none).
 */
export const DEFAULT_OPTIONS: Readonly<Required<Omit<AdapterTestOptions, 'atomic'>>> = Object.freeze({
  ttlGranularity: 1,
  concurrency: 50,
  largeValueBytes: 1_048_576,
  maxKeyLength: MAX_PERSIST_KEY_LENGTH,
  timeoutMs: 10_000,
  closeSettleMs: 2_000,
  checkResources: true,
  keyPrefix: 'reprise-adapter-tests:',
});

const OPTION_NAMES: ReadonlySet<string> = new Set([...Object.keys(DEFAULT_OPTIONS), 'atomic']);

/** Longest `keyPrefix`, so that the long-key checks keep room for their own characters. */
const MAX_KEY_PREFIX_LENGTH = 64;

const show = describeOptionValue;

function optionError(message: string): OptionError {
  return new OptionError(`runAdapterTests: ${message}`);
}

function positiveNumber(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw optionError(`${name} must be a positive finite number, got ${show(value)}`);
  }
  return value;
}

function integerAtLeast(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw optionError(`${name} must be an integer of at least ${min}, got ${show(value)}`);
  }
  return value;
}

function boolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw optionError(`${name} must be a boolean, got ${show(value)}`);
  return value;
}

/**
 * Checks and completes the options of `runAdapterTests`.
 * @throws OptionError on an unknown option or a wrong value.
 */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === undefined) return Object.freeze({ ...DEFAULT_OPTIONS, atomic: undefined });
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw optionError(`options must be an object, got ${show(options)}`);
  }
  const given = options as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!OPTION_NAMES.has(name)) throw optionError(`unknown option ${JSON.stringify(name)}`);
  }
  const d = DEFAULT_OPTIONS;
  const keyPrefix = given.keyPrefix ?? d.keyPrefix;
  if (typeof keyPrefix !== 'string' || keyPrefix.length > MAX_KEY_PREFIX_LENGTH) {
    throw optionError(`keyPrefix must be a string of at most ${MAX_KEY_PREFIX_LENGTH} characters, got ${show(keyPrefix)}`);
  }
  return Object.freeze({
    ttlGranularity: positiveNumber('ttlGranularity', given.ttlGranularity ?? d.ttlGranularity),
    atomic: given.atomic === undefined ? undefined : boolean('atomic', given.atomic),
    concurrency: integerAtLeast('concurrency', given.concurrency ?? d.concurrency, 2),
    largeValueBytes: integerAtLeast('largeValueBytes', given.largeValueBytes ?? d.largeValueBytes, 0),
    maxKeyLength: integerAtLeast('maxKeyLength', given.maxKeyLength ?? d.maxKeyLength, 128),
    timeoutMs: positiveNumber('timeoutMs', given.timeoutMs ?? d.timeoutMs),
    closeSettleMs: positiveNumber('closeSettleMs', given.closeSettleMs ?? d.closeSettleMs),
    checkResources: boolean('checkResources', given.checkResources ?? d.checkResources),
    keyPrefix,
  });
}

/**
 * The test functions to use: the given ones, else mocha's globals (`globalThis.describe`, `it`,
 * `before`, `after`).
 * @throws TypeError when one of them is missing or not a function.
 */
export function resolveTestFunctions(given: unknown): TestFunctions {
  const source = (given ?? globalThis) as Record<string, unknown>;
  if (typeof source !== 'object' && typeof source !== 'function') {
    throw new TypeError(`runAdapterTests: the test functions must be an object, got ${show(given)}`);
  }
  for (const name of ['describe', 'it', 'before', 'after'] as const) {
    if (typeof source[name] !== 'function') {
      throw new TypeError(
        given === undefined
          ? `runAdapterTests: no global ${name}() (mocha's globals): pass { describe, it, before, after } as the third argument`
          : `runAdapterTests: the test functions lack ${name}(), got ${show(source[name])}`,
      );
    }
  }
  return source as unknown as TestFunctions;
}
