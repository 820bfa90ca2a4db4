import { randomBytes } from 'node:crypto';
import type { SessionCoordinator } from './coordinator.js';
import { OptionError } from './errors.js';
import { MAX_TIMER_DELAY } from './expiry-timer.js';
import {
  TIMER_LIMIT_REASON,
  booleanField,
  customField,
  functionField,
  listField,
  msField,
  optionalField,
  optionsSchema,
  parseOptions,
  patternField,
  positiveIntegerField,
  positiveMsField,
  timerMsField,
  timerMsOrOffField,
  ttlMsField,
  unknownOptionMessage,
  type ParsedOptions,
} from './option-schema.js';
import type { SnapshotKey } from './snapshot-keys.js';
import type { CloseHook, RestoreHook, SessionAdapter, SessionData } from './types.js';

/** The options of several instances (all but `coordinator` need a `coordinator`); durations in ms. */
export interface CoordinationOptions {
  /** Leases and hand-overs between instances (`RedisCoordinator`, `PostgresCoordinator`, ...). Default: none (one process). */
  coordinator?: SessionCoordinator | undefined;
  /** This process's name among the instances: 1 to 64 letters, digits, `-` or `_`. Default: 12 random base64url characters. */
  instanceId?: string | undefined;
  /** ms a lease lives without renewal (renewed every third of it). Integer from 30 to 2^31 - 1; default 15,000. */
  leaseMs?: number | undefined;
  /** ms a request waits for another instance to hand a session over before it is unavailable (503). Integer up to 2^31 - 1; default 2,000. */
  handoverTimeout?: number | undefined;
}

/**
 * Options of {@link SessionManager}. Durations are in milliseconds. The options of several instances
 * (`coordinator`, `instanceId`, `leaseMs`, `handoverTimeout`) are described on {@link CoordinationOptions}.
 * A name not listed here is refused (`OptionError`, with the closest name as a hint).
 */
export interface SessionManagerOptions<TData extends SessionData = SessionData> extends CoordinationOptions {
  /** Where snapshots go. Required by the core; `@reprise/koa` defaults to a `MemoryAdapter`. */
  adapter: SessionAdapter;
  /** Cap on live sessions (4D "Web max sessions"). Positive integer; default 100. */
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
  /** Clock: ms since the epoch. Default `() => Date.now()`. */
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

/** The defaults every option is normalized from (units as in {@link SessionManagerOptions}). Frozen. */
export const DEFAULTS = Object.freeze({
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
  /** 0 on an `ephemeral` adapter. */
  checkpointInterval: 5_000,
  now: (): number => Date.now(),
  leaseMs: 15_000,
  handoverTimeout: 2_000,
});

/** The fields of the options `setOption()` can change at run time (validated the same way as in the constructor). */
const RUNTIME_FIELDS = Object.freeze({
  maxSessions: positiveIntegerField,
  idleTimeout: positiveMsField,
  absoluteTimeout: optionalField(positiveMsField),
  snapshotTtl: ttlMsField,
  hookTimeout: timerMsField,
  maxSnapshotBytes: positiveIntegerField,
  maxPendingPersists: positiveIntegerField,
  shutdownTimeout: timerMsField,
  adapterTimeout: timerMsField,
  retryAfter: positiveIntegerField,
  checkpointInterval: timerMsOrOffField,
});

/** The options `setOption()` can change at run time. */
export type RuntimeOptionName = keyof typeof RUNTIME_FIELDS;

/** `must implement <what> (…); missing: <the methods value lacks>`, or `true` when it has them all. */
function methodsField<T>(what: string, methods: readonly string[]) {
  const missing = (value: unknown): string[] =>
    methods.filter((method) => typeof (value as Record<string, unknown> | null | undefined)?.[method] !== 'function');
  const isObject = (value: unknown): boolean => typeof value === 'object' && value !== null;
  return customField<T>(
    (value) => isObject(value) && missing(value).length === 0,
    (value) => `must implement ${what}; missing: ${(isObject(value) ? missing(value) : methods).join(', ')}`,
  );
}

/** Every option of `new SessionManager(options)`: fields and defaults in one schema. */
export const MANAGER_OPTIONS_SCHEMA = optionsSchema<SessionManagerOptions>()(
  {
    adapter: methodsField<SessionAdapter>('SessionAdapter (save, load, take, delete)', ['save', 'load', 'take', 'delete']),
    ...RUNTIME_FIELDS,
    onClose: optionalField(listField(functionField<CloseHook>())),
    onRestore: optionalField(listField(functionField<RestoreHook>())),
    now: functionField<() => number>('a function returning ms'),
    coordinator: optionalField(
      methodsField<SessionCoordinator>('SessionCoordinator', ['join', 'claim', 'renew', 'release', 'owner', 'requestHandover', 'leave']),
    ),
    instanceId: optionalField(patternField(/^[A-Za-z0-9_-]{1,64}$/, '1 to 64 letters, digits, - or _')),
    leaseMs: msField({ integer: true, min: 30, max: MAX_TIMER_DELAY, limit: TIMER_LIMIT_REASON }),
    handoverTimeout: msField({ integer: true, max: MAX_TIMER_DELAY, limit: TIMER_LIMIT_REASON }),
    // The keys themselves are checked by normalizeSnapshotEncryption (lengths, ids, duplicates), never echoed.
    snapshotKeys: optionalField(customField<readonly SnapshotKey[]>((value) => Array.isArray(value), 'must be an array of { id, key }')),
    acceptPlaintextSnapshots: optionalField(booleanField),
  },
  DEFAULTS,
);

/** Every name `new SessionManager(options)` accepts; any other is a typo and an {@link OptionError}. */
export const MANAGER_OPTION_NAMES: ReadonlySet<string> = new Set(Object.keys(MANAGER_OPTIONS_SCHEMA.entries));

type ParsedManagerOptions = ParsedOptions<typeof MANAGER_OPTIONS_SCHEMA>;

/** The normalized, validated run-time settings (units and defaults as in {@link SessionManagerOptions}); `setOption` changes them. */
export type Settings = Pick<ParsedManagerOptions, RuntimeOptionName>;

/** The normalized options of several instances. */
export interface CoordinationSettings {
  readonly coordinator: SessionCoordinator;
  readonly instanceId: string;
  readonly leaseMs: number;
  readonly handoverTimeout: number;
}

/** What the manager reads of its options, normalized once. */
export interface ManagerOptions<TData extends SessionData> {
  readonly adapter: SessionAdapter;
  /** A fresh, mutable object: `setOption` changes it. */
  readonly settings: Settings;
  readonly now: () => number;
  readonly onClose: CloseHook<TData>[];
  readonly onRestore: RestoreHook<TData>[];
  /**
   * The options of several instances, `undefined` without a coordinator. Call with whether the
   * adapter is ordered: a coordinator needs conditional writes.
   */
  readonly coordination: (ordered: boolean) => CoordinationSettings | undefined;
}

/**
 * Validates and normalizes `new SessionManager(options)` from {@link DEFAULTS}.
 * @throws OptionError on an unknown name (with a hint), a wrong value, or coordination options without a coordinator.
 */
export function parseManagerOptions<TData extends SessionData>(given: SessionManagerOptions<TData>): ManagerOptions<TData> {
  const parsed = parseOptions(MANAGER_OPTIONS_SCHEMA, given, { name: 'SessionManager options' });
  const settings: Settings = Object.fromEntries(
    Object.keys(RUNTIME_FIELDS).map((name) => [name, parsed[name as RuntimeOptionName]]),
  ) as Settings;
  if (given.checkpointInterval === undefined && parsed.adapter.ephemeral === true) settings.checkpointInterval = 0;
  return {
    adapter: parsed.adapter,
    settings,
    now: parsed.now,
    onClose: (parsed.onClose ?? []) as CloseHook<TData>[],
    onRestore: (parsed.onRestore ?? []) as RestoreHook<TData>[],
    coordination: (ordered) => coordinationSettings(parsed, given, ordered),
  };
}

function coordinationSettings(
  parsed: ParsedManagerOptions,
  given: CoordinationOptions,
  ordered: boolean,
): CoordinationSettings | undefined {
  const { coordinator } = parsed;
  if (coordinator === undefined) {
    for (const name of ['instanceId', 'leaseMs', 'handoverTimeout'] as const) {
      if (given[name] !== undefined) throw new OptionError(`${name} needs a coordinator (several instances); without one, leave it out`);
    }
    return undefined;
  }
  if (!ordered)
    throw new OptionError(
      `a coordinator needs an adapter with conditional writes (saveIfNewer and takeVersioned); ${parsed.adapter.name} has none`,
    );
  const instanceId = parsed.instanceId ?? randomBytes(9).toString('base64url');
  return Object.freeze({ coordinator, instanceId, leaseMs: parsed.leaseMs, handoverTimeout: parsed.handoverTimeout });
}

/**
 * Validates a value for `setOption(name, value)` with the constructor's field.
 * @throws OptionError for a name `setOption` does not take (with a hint) or a wrong value.
 */
export function parseRuntimeOption<K extends RuntimeOptionName>(name: K, value: unknown): Settings[K] {
  if (!Object.hasOwn(RUNTIME_FIELDS, name))
    throw new OptionError(`setOption: ${unknownOptionMessage(String(name), Object.keys(RUNTIME_FIELDS))}`);
  return parseOptions(RUNTIME_FIELDS[name], value, { name }) as Settings[K];
}

const CLOSE_HOOKS = listField(functionField<CloseHook>());
const RESTORE_HOOKS = listField(functionField<RestoreHook>());

/** Validates hooks added after construction (`manager.onClose(hook)`): one hook or an array, as a fresh array. */
export function parseHooks<H>(name: 'onClose' | 'onRestore', value: H | readonly H[]): H[] {
  return parseOptions(name === 'onClose' ? CLOSE_HOOKS : RESTORE_HOOKS, value, { name }) as unknown as H[];
}
