import { OptionError } from '@reprise/core';
import { WarningThrottle, describeKey, describeOptionValue } from '@reprise/core/adapter-kit';

/** Options of {@link MemoryAdapter}. Every option is optional; `undefined` means the default. */
export interface MemoryAdapterOptions {
  /**
   * Bound on stored entries (a count, not bytes). An entry is a key with a value, or a key with only
   * a version left by `takeVersioned` (a *floor*): both take memory, so both count. When a write of a
   * new key would pass the bound, the oldest-written entry is dropped and reported through `onDrop`.
   * Positive integer; default 10,000.
   */
  maxEntries?: number | undefined;
  /** Clock in ms since the epoch; default `Date.now`. Inject one in tests. */
  now?: (() => number) | undefined;
  /**
   * Called with the key of each entry (value or floor) dropped to honour `maxEntries`, after the
   * write that caused the drop has stored its value. Default: `process.emitWarning` (aggregated per 10 s, session ids redacted) with code
   * `'REPRISE_MEMORY_DROPPED'` (a warning, never a throw). If it throws, that write rejects with its
   * error (the value stays stored).
   */
  onDrop?: ((key: string) => void) | undefined;
}

/** Code of the process warning the default `onDrop` emits. */
export const DROPPED_WARNING_CODE = 'REPRISE_MEMORY_DROPPED';

/** Marks the default `onDrop` in {@link DEFAULTS}; each adapter gets its own warner in its place. */
function warnDropped(_key: string): void {}

/**
 * The default `onDrop` of one adapter: a process warning with code `REPRISE_MEMORY_DROPPED`, never a
 * throw. A session id in the key is redacted (an id is a credential), and the warnings are aggregated
 * (the first of a 10 s window whole, then one count), so a flood prints two lines, not thousands.
 */
function droppedWarner(): (key: string) => void {
  const throttle = new WarningThrottle();
  return (key) => {
    const warning = new Error(`MemoryAdapter: maxEntries reached, dropped the oldest entry ${describeKey(key)}`);
    warning.name = 'Warning';
    throttle.warn(Object.assign(warning, { code: DROPPED_WARNING_CODE }));
  };
}

/** Normalized options, frozen once per adapter. */
export type ResolvedOptions = Readonly<{ [K in keyof MemoryAdapterOptions]-?: Exclude<MemoryAdapterOptions[K], undefined> }>;

const DEFAULTS: ResolvedOptions = Object.freeze({
  maxEntries: 10_000,
  now: Date.now,
  onDrop: warnDropped,
});

const OPTION_NAMES: ReadonlySet<string> = new Set(Object.keys(DEFAULTS));

/** Describes an option value for a message (never echoes a long string). */
export const show = describeOptionValue;

function optionError(message: string): OptionError {
  return new OptionError(`MemoryAdapter: ${message}`);
}

/**
 * Validates and completes the options of `new MemoryAdapter(options)`.
 * @throws OptionError (`ERR_REPRISE_OPTION`) on a wrong type or value, or an unknown option.
 */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === undefined) return Object.freeze({ ...DEFAULTS, onDrop: droppedWarner() });
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw optionError(`options must be an object, got ${show(options)}`);
  }
  const given = options as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!OPTION_NAMES.has(name)) throw optionError(`unknown option ${JSON.stringify(name)}`);
  }
  const { maxEntries = DEFAULTS.maxEntries, now = DEFAULTS.now, onDrop = DEFAULTS.onDrop } = given;
  if (typeof maxEntries !== 'number' || !Number.isSafeInteger(maxEntries) || maxEntries < 1) {
    throw optionError(`maxEntries must be a positive integer, got ${show(maxEntries)}`);
  }
  if (typeof now !== 'function') throw optionError(`now must be a function, got ${show(now)}`);
  if (typeof onDrop !== 'function') throw optionError(`onDrop must be a function, got ${show(onDrop)}`);
  const drop = onDrop === warnDropped ? droppedWarner() : (onDrop as (key: string) => void);
  return Object.freeze({ maxEntries, now: now as () => number, onDrop: drop });
}
