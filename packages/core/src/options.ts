import { OptionError } from './errors.js';
import type { CloseHook, RestoreHook, SessionAdapter, SessionData } from './types.js';

/** Options of {@link SessionManager}. Durations are in milliseconds. */
export interface SessionManagerOptions<TData extends SessionData = SessionData> {
  /** Where snapshots go. Required by the core; `@reprise/koa` defaults to a `MemoryAdapter`. */
  adapter: SessionAdapter;
  /** Cap on live sessions (4D "Web max sessions"). Default 100. */
  maxSessions?: number;
  /** ms of inactivity after which a session expires (4D "Web inactive process timeout"). Default 480 min. */
  idleTimeout?: number;
  /** ms since creation after which a session expires whatever its activity. Default `undefined` (off). */
  absoluteTimeout?: number | undefined;
  /** ms a closed session's snapshot stays restorable. Default 7 days. */
  snapshotTtl?: number;
  /** ms each closing or restore hook (and each disposal) may take before it is reported and skipped. Default 10 s. */
  hookTimeout?: number;
  /** Bound on an encoded snapshot, in bytes of UTF-8. Larger ones are not written (`'persistFailed'`). Default 1 MiB. */
  maxSnapshotBytes?: number;
  /** Bound on snapshots waiting in the retry queue; past it the oldest is handed to `'persistFailed'`. Default 10,000. */
  maxPendingPersists?: number;
  /** ms `shutdown()` waits for requests in flight, and then for the snapshot writes. Default 10 s. */
  shutdownTimeout?: number;
  /** Closing hook or hooks, run in order at every close. */
  onClose?: CloseHook<TData> | readonly CloseHook<TData>[];
  /** Restore hook or hooks, run in order after every restore. */
  onRestore?: RestoreHook<TData> | readonly RestoreHook<TData>[];
  /** Clock: ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** The options `setOption()` can change at run time. */
export type RuntimeOptionName =
  | 'maxSessions'
  | 'idleTimeout'
  | 'absoluteTimeout'
  | 'snapshotTtl'
  | 'hookTimeout'
  | 'maxSnapshotBytes'
  | 'maxPendingPersists'
  | 'shutdownTimeout';

/** The normalized, validated run-time settings. */
export interface Settings {
  maxSessions: number;
  idleTimeout: number;
  absoluteTimeout: number | undefined;
  snapshotTtl: number;
  hookTimeout: number;
  maxSnapshotBytes: number;
  maxPendingPersists: number;
  shutdownTimeout: number;
}

/** The defaults every option is normalized from. */
export const DEFAULTS: Readonly<Settings> = Object.freeze({
  maxSessions: 100,
  idleTimeout: 480 * 60_000,
  absoluteTimeout: undefined,
  snapshotTtl: 7 * 24 * 3_600_000,
  hookTimeout: 10_000,
  maxSnapshotBytes: 1024 * 1024,
  maxPendingPersists: 10_000,
  shutdownTimeout: 10_000,
});

type Check = (name: string, value: unknown) => void;

const positiveInteger: Check = (name, value) => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new OptionError(`${name} must be a positive integer, got ${describeOptionValue(value)}`);
  }
};

const positiveMs: Check = (name, value) => {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new OptionError(`${name} must be a positive, finite number of ms, got ${describeOptionValue(value)}`);
  }
};

const optionalPositiveMs: Check = (name, value) => {
  if (value !== undefined) positiveMs(name, value);
};

const CHECKS: Readonly<Record<RuntimeOptionName, Check>> = Object.freeze({
  maxSessions: positiveInteger,
  idleTimeout: positiveMs,
  absoluteTimeout: optionalPositiveMs,
  snapshotTtl: positiveMs,
  hookTimeout: positiveMs,
  maxSnapshotBytes: positiveInteger,
  maxPendingPersists: positiveInteger,
  shutdownTimeout: positiveMs,
});

/** Whether `name` is an option `setOption()` accepts. */
export function isRuntimeOption(name: string): name is RuntimeOptionName {
  return Object.hasOwn(CHECKS, name);
}

/** Throws an {@link OptionError} unless `value` is valid for `name`. */
export function validateOption(name: RuntimeOptionName, value: unknown): void {
  CHECKS[name](name, value);
}

/** Normalizes the run-time settings of `options` from {@link DEFAULTS}, validating each. */
export function normalizeSettings(options: Partial<Record<RuntimeOptionName, unknown>>): Settings {
  const settings: Settings = { ...DEFAULTS };
  for (const name of Object.keys(CHECKS) as RuntimeOptionName[]) {
    const value = options[name];
    if (value === undefined) continue;
    validateOption(name, value);
    (settings as unknown as Record<string, unknown>)[name] = value;
  }
  return settings;
}

/** Validates the adapter: an object with save, load, take and delete functions. */
export function validateAdapter(adapter: unknown): SessionAdapter {
  const candidate = adapter as Partial<SessionAdapter> | null | undefined;
  const missing = ['save', 'load', 'take', 'delete'].filter(
    (method) => typeof (candidate as Record<string, unknown> | null | undefined)?.[method] !== 'function',
  );
  if (typeof candidate !== 'object' || candidate === null || missing.length > 0) {
    throw new OptionError(
      `adapter must implement SessionAdapter (save, load, take, delete); missing: ${missing.join(', ') || 'an object'}`,
    );
  }
  return candidate as SessionAdapter;
}

/** Normalizes a hook option (one hook, an array, or nothing) into a fresh array, validating each. */
export function normalizeHooks<H extends (...args: never[]) => unknown>(name: string, value: H | readonly H[] | undefined): H[] {
  if (value === undefined) return [];
  const hooks = Array.isArray(value) ? [...(value as readonly H[])] : [value as H];
  hooks.forEach((hook, index) => {
    if (typeof hook !== 'function') {
      throw new OptionError(`${name}[${index}] must be a function, got ${describeOptionValue(hook)}`);
    }
  });
  return hooks;
}

/** Validates the clock option. */
export function normalizeClock(now: unknown): () => number {
  if (now === undefined) return () => Date.now();
  if (typeof now !== 'function') throw new OptionError(`now must be a function returning ms, got ${describeOptionValue(now)}`);
  return now as () => number;
}

/**
 * Describes an option's value for an error message: short strings quoted, long ones (over 80
 * characters) only by length, numbers and other primitives as written, objects by kind.
 */
export function describeOptionValue(value: unknown): string {
  if (typeof value === 'string') return value.length > 80 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}
