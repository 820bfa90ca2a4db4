import { OptionError } from './errors.js';
import { MAX_TIMER_DELAY } from './expiry-timer.js';
import type { CoordinationOptions } from './coordination-options.js';
import type { SnapshotKey } from './snapshot-keys.js';
import type { CloseHook, RestoreHook, SessionAdapter, SessionData } from './types.js';

/**
 * Options of {@link SessionManager}. Durations are in milliseconds. The options of several instances
 * (`coordinator`, `instanceId`, `leaseMs`, `handoverTimeout`) are described on {@link CoordinationOptions}.
 */
export interface SessionManagerOptions<TData extends SessionData = SessionData> extends CoordinationOptions {
  /** Where snapshots go. Required by the core; `@reprise/koa` defaults to a `MemoryAdapter`. */
  adapter: SessionAdapter;
  /** Cap on live sessions (4D "Web max sessions"). Default 100. */
  maxSessions?: number | undefined;
  /** ms of inactivity after which a session expires (4D "Web inactive process timeout"). Any finite length; default 480 min. */
  idleTimeout?: number | undefined;
  /** ms since creation after which a session expires whatever its activity. Any finite length; default `undefined` (off). */
  absoluteTimeout?: number | undefined;
  /** ms a closed session's snapshot stays restorable (the store's TTL). At most `Number.MAX_SAFE_INTEGER`; default 7 days. */
  snapshotTtl?: number | undefined;
  /**
   * ms each closing or restore hook (and each disposal) may take before it is reported and skipped.
   * At most 2147483647 (2^31 - 1, about 24.8 days: Node's timers hold no more); default 10 s.
   */
  hookTimeout?: number | undefined;
  /** Bound on an encoded snapshot, in bytes of UTF-8. Larger ones are not written (`'persistFailed'`). Default 1 MiB. */
  maxSnapshotBytes?: number | undefined;
  /** Bound on snapshots waiting in the retry queue; past it the oldest is handed to `'persistFailed'`. Default 10,000. */
  maxPendingPersists?: number | undefined;
  /** ms `shutdown()` waits for requests in flight, and then for the snapshot writes. At most 2^31 - 1; default 10 s. */
  shutdownTimeout?: number | undefined;
  /** ms each adapter call may take before the core treats it as failed (`ERR_REPRISE_ADAPTER_TIMEOUT`). At most 2^31 - 1; default 5 s. */
  adapterTimeout?: number | undefined;
  /** Seconds a 503 for an unavailable session tells the client to wait (`Retry-After`). Positive integer; default 5. */
  retryAfter?: number | undefined;
  /**
   * ms between checkpoints: every live session changed since its last write is written (under its
   * session id, reason `'checkpoint'`, no hook) at most this long after the change, so a crash loses at
   * most this much. `0` turns checkpoints off. At most 2^31 - 1. Default 5 s, or `0` on an adapter that
   * declares itself `ephemeral` (`MemoryAdapter`: it dies with the process anyway).
   */
  checkpointInterval?: number | undefined;
  /** Closing hook or hooks, run in order at every close. */
  onClose?: CloseHook<TData> | readonly CloseHook<TData>[] | undefined;
  /** Restore hook or hooks, run in order after every restore. */
  onRestore?: RestoreHook<TData> | readonly RestoreHook<TData>[] | undefined;
  /** Clock: ms since the epoch. Default `Date.now`. */
  now?: (() => number) | undefined;
  /**
   * Encryption of snapshots at rest (AES-256-GCM): `[{ id, key }, ...]`, each `key` 32 random bytes
   * (a `Buffer`/`Uint8Array`, or base64 of them). The first key encrypts every record written
   * (snapshots, checkpoints, pointers); every key decrypts, by the key id each record carries, so a
   * key is rotated by putting the new one first and keeping the old one until `snapshotTtl` has passed.
   * Each record is bound to the key it is stored under: a record altered in the store, or moved to
   * another key, is refused and reported (`ERR_REPRISE_SNAPSHOT_AUTH`) and its visitor gets a fresh
   * session. Read once, at construction (rotate by restarting). Default `undefined`: plaintext, at no
   * cost. See `docs/encryption.md`.
   */
  snapshotKeys?: readonly SnapshotKey[] | undefined;
  /**
   * With `snapshotKeys`: whether a plaintext record found in the store is still read (to migrate a
   * store written without keys, for one `snapshotTtl`). Default `false`: refused and reported, since
   * anyone who can write to the store could write a plaintext record. Ignored without `snapshotKeys`.
   */
  acceptPlaintextSnapshots?: boolean | undefined;
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
  | 'shutdownTimeout'
  | 'adapterTimeout'
  | 'retryAfter'
  | 'checkpointInterval';

/** The normalized, validated run-time settings (units and defaults as in {@link SessionManagerOptions}). */
export interface Settings {
  maxSessions: number;
  idleTimeout: number;
  absoluteTimeout: number | undefined;
  snapshotTtl: number;
  hookTimeout: number;
  maxSnapshotBytes: number;
  maxPendingPersists: number;
  shutdownTimeout: number;
  /** ms; default 5,000. */
  adapterTimeout: number;
  /** Seconds; default 5. */
  retryAfter: number;
  /** ms; 0 = off; default 5,000 (0 on an ephemeral adapter). */
  checkpointInterval: number;
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
  adapterTimeout: 5_000,
  retryAfter: 5,
  checkpointInterval: 5_000,
});

/** Every name `new SessionManager(options)` accepts; any other is a typo and an {@link OptionError}. */
export const MANAGER_OPTION_NAMES: ReadonlySet<string> = new Set(
  Object.keys({
    adapter: true,
    maxSessions: true,
    idleTimeout: true,
    absoluteTimeout: true,
    snapshotTtl: true,
    hookTimeout: true,
    maxSnapshotBytes: true,
    maxPendingPersists: true,
    shutdownTimeout: true,
    adapterTimeout: true,
    retryAfter: true,
    checkpointInterval: true,
    onClose: true,
    onRestore: true,
    now: true,
    coordinator: true,
    instanceId: true,
    leaseMs: true,
    handoverTimeout: true,
    snapshotKeys: true,
    acceptPlaintextSnapshots: true,
  } satisfies Record<keyof SessionManagerOptions, true>),
);

/**
 * Throws an {@link OptionError} for the first own name of `options` not in `known`, suggesting the
 * closest known name (edit distance 2 at most): `unknown option "idleTimout" (did you mean "idleTimeout"?)`.
 * `prefix` is put before every name in the message (`'cookie.'` for a nested object).
 */
export function assertKnownOptions(options: object, known: ReadonlySet<string> = MANAGER_OPTION_NAMES, prefix = ''): void {
  for (const name of Object.keys(options)) {
    if (known.has(name)) continue;
    const near = closest(name, known);
    const hint = near === undefined ? '' : ` (did you mean ${JSON.stringify(prefix + near)}?)`;
    throw new OptionError(`unknown option ${JSON.stringify(prefix + name)}${hint}`);
  }
}

/** The first of `names` at the smallest edit distance from `name`, if that distance is 2 or less. */
function closest(name: string, names: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of names) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/** Levenshtein distance: insertions, deletions and substitutions of one UTF-16 unit each. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      row[j] = Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, substitution);
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}

type Check = (name: string, value: unknown) => void;

const positiveInteger: Check = (name, value) => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new OptionError(`${name} must be a positive integer, got ${describeOptionValue(value)}`);
  }
};

/** A positive, finite number of ms, at most `max` (`limit` says why, in the message). */
function positiveMsUpTo(max: number, limit: string): Check {
  return (name, value) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new OptionError(`${name} must be a positive, finite number of ms, got ${describeOptionValue(value)}`);
    }
    if (value > max) throw new OptionError(`${name} must be at most ${max} ms (${limit}), got ${describeOptionValue(value)}`);
  };
}

/** Served by the expiry timer, which clamps and re-arms: any finite length is honoured. */
const positiveMs = positiveMsUpTo(Infinity, 'no limit');
/** Waited on with one `setTimeout`, which turns 2^31 ms or more into 1 ms: refused. */
const timerMs = positiveMsUpTo(MAX_TIMER_DELAY, "about 24.8 days, the longest delay Node's timers hold");
/** Handed to the store as a TTL. */
const ttlMs = positiveMsUpTo(Number.MAX_SAFE_INTEGER, 'Number.MAX_SAFE_INTEGER');

/** `0` (off) or a delay one `setTimeout` can hold. */
const timerMsOrOff: Check = (name, value) => {
  if (value === 0) return;
  try {
    timerMs(name, value);
  } catch (error) {
    throw new OptionError(`${(error as Error).message} (or 0 for off)`);
  }
};

const optionalPositiveMs: Check = (name, value) => {
  if (value !== undefined) positiveMs(name, value);
};

const CHECKS: Readonly<Record<RuntimeOptionName, Check>> = Object.freeze({
  maxSessions: positiveInteger,
  idleTimeout: positiveMs,
  absoluteTimeout: optionalPositiveMs,
  snapshotTtl: ttlMs,
  hookTimeout: timerMs,
  maxSnapshotBytes: positiveInteger,
  maxPendingPersists: positiveInteger,
  shutdownTimeout: timerMs,
  adapterTimeout: timerMs,
  retryAfter: positiveInteger,
  checkpointInterval: timerMsOrOff,
});

/** Whether `name` is an option `setOption()` accepts. */
export function isRuntimeOption(name: string): name is RuntimeOptionName {
  return Object.hasOwn(CHECKS, name);
}

/** Throws an {@link OptionError} unless `value` is valid for `name`. */
export function validateOption(name: RuntimeOptionName, value: unknown): void {
  CHECKS[name](name, value);
}

/**
 * Normalizes the run-time settings of `options` from {@link DEFAULTS}, validating each. On an
 * `ephemeral` adapter checkpoints default to off.
 */
export function normalizeSettings(options: Partial<Record<RuntimeOptionName, unknown>>, adapter?: Pick<SessionAdapter, 'ephemeral'>): Settings {
  const settings: Settings = { ...DEFAULTS, ...(adapter?.ephemeral === true ? { checkpointInterval: 0 } : {}) };
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
