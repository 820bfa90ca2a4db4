/**
 * Why a session ended.
 * - `'evicted'`: the cap (`maxSessions`) was reached and this was the least recently active idle session.
 * - `'expired'`: its idle or absolute timeout passed (fired by the registry's timer, no request needed).
 * - `'closed'`: the application closed it (`manager.close(id)`, `ctx.session = null`, a logout).
 * - `'shutdown'`: the server is stopping (`manager.shutdown()`).
 * - `'handover'`: another instance asked for it (several instances, with a `coordinator`): it closes
 *   here, its snapshot is written, and the asking instance restores it under the same id.
 */
export type CloseReason = 'evicted' | 'expired' | 'closed' | 'shutdown' | 'handover';

/** The close reasons a returning cookie may be restored from (every one but `'closed'`). */
export type InvoluntaryReason = Exclude<CloseReason, 'closed'>;

/**
 * Why a snapshot was written: a close (its {@link CloseReason}), or `'checkpoint'`: a copy of a live
 * session written every `checkpointInterval` while it changes, so that a crash loses at most one
 * interval. A returning cookie restores from a checkpoint as from an involuntary close.
 */
export type SnapshotReason = CloseReason | 'checkpoint';

/** Lifecycle state of a {@link LiveSession}: `'live'` until a close starts, `'closing'` while hooks run, then `'closed'`. */
export type SessionState = 'live' | 'closing' | 'closed';

/** Session data: what gets persisted. Any object whose values the snapshot codec can represent. */
export type SessionData = Record<string, unknown>;

/**
 * What a close writes through the adapter (before encoding). Times are ms since the epoch.
 * `version` is the snapshot format version, so later releases can read older snapshots.
 */
export interface Snapshot<TData extends SessionData = SessionData> {
  readonly version: 1;
  /** The adapter key it is stored under (the session's `persistKey`). */
  readonly key: string;
  /** The id of the live session it was taken from. */
  readonly sessionId: string;
  readonly data: TData;
  readonly createdAt: number;
  /** When it was taken: the close, or the checkpoint (ms since the epoch). */
  readonly closedAt: number;
  readonly reason: SnapshotReason;
}

/**
 * A closing hook: runs once per close, before the context is released, with `data` and `live` intact.
 * It may change `session.data`, `session.persistKey` or `session.persist`. A hook that throws or passes
 * `hookTimeout` is reported (an `'error'` event) and the close goes on.
 */
export type CloseHook<TData extends SessionData = SessionData> = (
  session: LiveSessionView<TData>,
  reason: CloseReason,
) => void | Promise<void>;

/**
 * A restore hook: runs after a snapshot was restored into a live session, typically to rebuild
 * `session.live`. Errors and timeouts are reported like closing hooks'; the restored session stays.
 */
export type RestoreHook<TData extends SessionData = SessionData> = (
  session: LiveSessionView<TData>,
  snapshot: Snapshot<TData>,
) => void | Promise<void>;

/** What hooks and applications see of a live session (implemented by `LiveSession`). */
export interface LiveSessionView<TData extends SessionData = SessionData> {
  /** At least 128 random bits, base64url. Changes on `regenerate()`. */
  readonly id: string;
  /** The persisted part of the context. */
  data: TData;
  /** Live, never persisted resources; values with `close()`, `dispose()` or `Symbol.asyncDispose` are disposed after the closing hooks. */
  readonly live: Map<string, unknown>;
  /** ms since the epoch. A restored session keeps its snapshot's `createdAt`. */
  readonly createdAt: number;
  /** ms since the epoch of the last activity (creation, touch, end of a request). */
  readonly lastActiveAt: number;
  /** ms since the epoch at which the session expires if it stays idle (idle and absolute timeouts). */
  readonly expiresAt: number;
  readonly state: SessionState;
  /** Why the session is closing or closed (set when its close starts, so closing hooks see it); `undefined` while live. */
  readonly closeReason: CloseReason | undefined;
  /** Adapter key of its snapshot; defaults to `id`. Must not be shaped like a session id. */
  persistKey: string;
  /** Whether a close writes a snapshot; default `true`. */
  persist: boolean;
}

/** A value read with {@link SessionAdapter.takeVersioned}, and the version it was written with. */
export interface VersionedValue {
  readonly value: string;
  /** The version given to `saveIfNewer` (0 for a value written by plain `save`). */
  readonly version: number;
}

/** One write of {@link SessionAdapter.saveManyIfNewer}: the arguments of one `saveIfNewer` call. */
export interface VersionedWrite {
  readonly key: string;
  /** Any well-formed Unicode string. */
  readonly value: string;
  /** Non-negative safe integer. */
  readonly version: number;
  /** A positive number of ms the value stays readable; `undefined` = no expiry. */
  readonly ttlMs?: number | undefined;
}

/**
 * The fence of {@link SessionAdapter.takeVersioned}: the key's version becomes at least `version`, so
 * writes of older versions are refused from now on (a write of `version` itself still lands where the
 * key holds no value: the core fences at an odd version that no write of its own ever carries).
 */
export interface Fence {
  /** Non-negative safe integer. */
  readonly version: number;
  /** ms a floor created on a key without a value lives; `undefined`: until `delete`. */
  readonly ttlMs?: number | undefined;
}

/**
 * The storage contract every persistence adapter implements. Adapters store opaque strings;
 * the core owns policy (what, when, encoding, retries).
 *
 * **Ordered writes.** An adapter that implements both `saveIfNewer` and `takeVersioned` is *ordered*:
 * per key it keeps the value (if any) and a version (a non-negative safe integer; 0 for a key never
 * written with one). Rules, each atomic per key:
 * - `saveIfNewer(key, value, version)` stores `value` as `version` when the key holds a value of a
 *   lower version, or holds no value and its version is at most `version`; otherwise it changes
 *   nothing. It resolves whether it stored.
 * - `takeVersioned(key)` removes the value and resolves it with its version, leaving the key
 *   without a value at that version (a *floor*: an older write landing later is refused).
 *   `takeVersioned(key, { version, ttlMs })` is a *fence*: it takes the value only when its version
 *   is at most `version`, and raises the key's version to at least `version` whether or not it took
 *   one; a floor it creates on a key without a value lives `ttlMs` (undefined: until `delete`).
 * - `save` stores unconditionally (version 0), `take` is `takeVersioned` without the version,
 *   `delete` removes the value and the version, `load` reads the value.
 * - A floor lives as long as the value it replaced would have (its TTL); a key with no TTL keeps it
 *   until `delete`.
 * The core uses them so that a snapshot never overwrites a newer one of the same key, even when a
 * write that timed out on the client lands late, and so that a snapshot taken back for a restore that
 * could not use it is put back exactly. Without them (Keyv's stores) the core falls back to `save`
 * and `take`: a late write can then resurface an older snapshot.
 */
export interface SessionAdapter {
  /** A short name for reports (for example `'memory'`, `'redis'`). */
  readonly name: string;
  /**
   * `true` when what the adapter holds dies with the process (`MemoryAdapter`): checkpoints, which
   * exist to survive a crash, are then off unless `checkpointInterval` is set. Default `false`.
   */
  readonly ephemeral?: boolean;
  /**
   * Upsert of any well-formed Unicode string (NUL characters included).
   * @param ttlMs a positive number of ms the value stays readable; `undefined` = no expiry.
   */
  save(key: string, value: string, ttlMs?: number): Promise<void>;
  /** The value, or `undefined` when missing or expired. */
  load(key: string): Promise<string | undefined>;
  /**
   * Read and delete in one step; under concurrency exactly one caller gets the value
   * (when `atomic` is false the store cannot promise this).
   */
  take(key: string): Promise<string | undefined>;
  /** Whether `take()` is atomic across processes; default `true`. */
  readonly atomic?: boolean;
  /** `true` when something was deleted. */
  delete(key: string): Promise<boolean>;
  /** Release connections and timers. */
  close?(): Promise<void>;
  /**
   * Conditional (versioned) write; see "Ordered writes" above. `version` is a non-negative safe
   * integer; `ttlMs` as for `save`. Resolves `true` when the value was stored.
   */
  saveIfNewer?(key: string, value: string, version: number, ttlMs?: number): Promise<boolean>;
  /** Versioned take (a fence, with `fence`); see "Ordered writes" above. */
  takeVersioned?(key: string, fence?: Fence): Promise<VersionedValue | undefined>;
  /**
   * Optional batch of conditional writes, for ordered adapters: each entry is stored exactly as
   * `saveIfNewer(key, value, version, ttlMs)` would store it, but the whole batch costs one round trip
   * (a pipeline, a multi-row statement). Resolves one boolean per entry, in the order given: whether
   * it was stored. The entries are independent (not a transaction: each is atomic on its own key);
   * the core never puts one key twice in a batch, and sends at most 1,000 entries (an adapter may
   * split a batch further). Rejects as a whole, with an `AdapterError`, when the store could not be
   * asked or did not answer: any subset may then have been stored, and a retry is harmless (an entry
   * that landed is refused as not newer). An empty batch resolves `[]` without touching the store.
   * Without it the core writes a batch with `saveIfNewer`, a bounded number of calls at a time.
   */
  saveManyIfNewer?(writes: readonly VersionedWrite[]): Promise<boolean[]>;
}
