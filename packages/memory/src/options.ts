import {
  WarningThrottle,
  describeKey,
  describeOptionValue,
  functionField,
  optionsSchema,
  parseOptions,
  positiveIntegerField,
  type ParsedOptions,
} from '@reprise/core/adapter-kit';

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

/** The defaults of {@link MemoryAdapterOptions}. Frozen. */
const DEFAULTS = Object.freeze({
  maxEntries: 10_000,
  now: Date.now,
  onDrop: warnDropped,
});

const MEMORY_ADAPTER_OPTIONS = optionsSchema<MemoryAdapterOptions>()(
  {
    maxEntries: positiveIntegerField,
    now: functionField<() => number>(),
    onDrop: functionField<(key: string) => void>(),
  },
  DEFAULTS,
);

/** Normalized options, frozen once per adapter. */
export type ResolvedOptions = Readonly<ParsedOptions<typeof MEMORY_ADAPTER_OPTIONS>>;

/** Describes an option value for a message (never echoes a long string). */
export const show = describeOptionValue;

/**
 * Validates and completes the options of `new MemoryAdapter(options)` (`undefined`: every default).
 * @throws OptionError (`ERR_REPRISE_OPTION`) on a wrong type or value, or an unknown option.
 */
export function resolveOptions(options: unknown): ResolvedOptions {
  const parsed = parseOptions(MEMORY_ADAPTER_OPTIONS, options === undefined ? {} : options, { what: 'MemoryAdapter' });
  return Object.freeze({ ...parsed, onDrop: parsed.onDrop === warnDropped ? droppedWarner() : parsed.onDrop });
}

/** Options of {@link MemoryCluster}. */
export interface MemoryClusterOptions {
  /** The cluster's clock, ms since the epoch; leases lapse by it. Default `Date.now`. */
  now?: (() => number) | undefined;
}

const MEMORY_CLUSTER_OPTIONS = optionsSchema<MemoryClusterOptions>()(
  { now: functionField<() => number>('a function returning ms since the epoch') },
  Object.freeze({ now: Date.now }),
);

/** Validates the options of `new MemoryCluster(options)`. */
export function resolveClusterOptions(options: unknown): Readonly<ParsedOptions<typeof MEMORY_CLUSTER_OPTIONS>> {
  return Object.freeze(parseOptions(MEMORY_CLUSTER_OPTIONS, options === undefined ? {} : options, { what: 'MemoryCluster' }));
}
