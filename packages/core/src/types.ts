/**
 * Why a session ended.
 * - `'evicted'`: the cap (`maxSessions`) was reached and this was the least recently active idle session.
 * - `'expired'`: its idle or absolute timeout passed (fired by the registry's timer, no request needed).
 * - `'closed'`: the application closed it (`manager.close(id)`, `ctx.session = null`, a logout).
 * - `'shutdown'`: the server is stopping (`manager.shutdown()`).
 */
export type CloseReason = 'evicted' | 'expired' | 'closed' | 'shutdown';

/** The close reasons a returning cookie may be restored from (every one but `'closed'`). */
export type InvoluntaryReason = Exclude<CloseReason, 'closed'>;

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
  readonly closedAt: number;
  readonly reason: CloseReason;
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
  /** Adapter key of its snapshot; defaults to `id`. Must not be shaped like a session id. */
  persistKey: string;
  /** Whether a close writes a snapshot; default `true`. */
  persist: boolean;
}

/**
 * The storage contract every persistence adapter implements. Adapters store opaque strings;
 * the core owns policy (what, when, encoding, retries).
 */
export interface SessionAdapter {
  /** A short name for reports (for example `'memory'`, `'redis'`). */
  readonly name: string;
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
}
