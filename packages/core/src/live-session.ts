import { PersistKeyError } from './errors.js';
import { isSessionId } from './session-id.js';
import type { CloseReason, LiveSessionView, SessionData, SessionState } from './types.js';

/** What a session asks of the manager that owns it. */
export interface SessionOwner<TData extends SessionData> {
  close(id: string): Promise<boolean>;
  regenerate(session: LiveSession<TData>): string;
  restoreInto(session: LiveSession<TData>, key: string): Promise<boolean>;
  touch(id: string): boolean;
  /** A write to a sealed session: ignored and reported, or thrown (a `SessionUnavailableError` after a shutdown close). */
  reportWriteAfterClose(session: LiveSession<TData>, property: PropertyKey): void;
}

const STATES: readonly SessionState[] = ['live', 'closing', 'closed'];
const REASONS: readonly (CloseReason | undefined)[] = [undefined, 'evicted', 'expired', 'closed', 'shutdown', 'handover'];

// The bits of `SessionInternals.#flags`: one small integer for every flag and small count of a session.
const STATE_MASK = 0b11;
const IS_NEW = 1 << 2;
const STORED_UNDER_ID = 1 << 3;
const RETURNING = 1 << 4;
const SEALED = 1 << 5;
const PERSIST = 1 << 6;
const SCHEDULED = 1 << 7;
const REASON_SHIFT = 8;
const REASON_MASK = 0b111 << REASON_SHIFT;
const BUSY_SHIFT = 11;
const BUSY_ONE = 1 << BUSY_SHIFT;

/**
 * What a session keeps only when used: its `live` map and a `persistKey` of its own, in a `WeakMap`
 * by session (most sessions use neither, and then hold nothing for them).
 */
interface Extras {
  live: Map<string, unknown> | undefined;
  persistKey: string | undefined;
}

const extras = new WeakMap<object, Extras>();

function extrasOf(s: object): Extras {
  let found = extras.get(s);
  if (found === undefined) {
    found = { live: undefined, persistKey: undefined };
    extras.set(s, found);
  }
  return found;
}

/**
 * The timeouts a session's deadline follows, as they were at its last activity (one shared object
 * per setting of them, so a session holds a reference, not a deadline of its own).
 */
export interface Timeouts {
  /** ms of inactivity after which it expires. */
  readonly idle: number;
  /** ms after its creation at which it expires, active or not; `undefined` for none. */
  readonly absolute: number | undefined;
}

/** The timeouts of a session not yet in a registry: it never expires. */
export const NO_TIMEOUTS: Timeouts = Object.freeze({ idle: Infinity, absolute: undefined });

/**
 * The manager-only state of a session (reached through {@link internalsOf}, not exported by the
 * package). One object per session that is also:
 * - the handler of the Proxy over its data (the traps are methods of this class, so a session holds
 *   no closure): top-level writes once sealed are refused and reported, `__proto__` stays an own key;
 * - its node in the registry's idle lists (`prev`/`next`, intrusive, so a list needs no entry of its own).
 * Flags and the busy count share one small integer (`#flags`), `lastActiveAt` is an offset from
 * `createdAt` and `expiresAt` is derived from the shared {@link Timeouts}, so a session costs about
 * 250 bytes beyond its data, id and registry entry included (`bench/structures.mjs`).
 */
export class SessionInternals<TData extends SessionData = SessionData> {
  id: string;
  /** The timeouts at its last activity: with it, its deadline ({@link expiresAt}). */
  timeouts: Timeouts = NO_TIMEOUTS;
  /** Neighbours in the idle list the registry keeps it in (`undefined` at either end or when in none). */
  prev: SessionInternals<TData> | undefined = undefined;
  next: SessionInternals<TData> | undefined = undefined;
  readonly createdAt: number;
  readonly session: LiveSession<TData>;
  readonly owner: SessionOwner<TData>;
  /** The data object, and the guard (Proxy) that applications get. */
  data!: TData;
  view!: TData;
  /**
   * `lastActiveAt - createdAt`: a small integer (held in the field itself) while the session is
   * younger than 2^31 ms (24.8 days), where a time since the epoch would take a boxed number.
   */
  #active = 0;
  #flags = IS_NEW | PERSIST;

  constructor(session: LiveSession<TData>, owner: SessionOwner<TData>, id: string, createdAt: number, now: number) {
    this.session = session;
    this.owner = owner;
    this.id = id;
    this.createdAt = createdAt;
    this.lastActiveAt = now;
  }

  /** ms since the epoch of its last activity. */
  get lastActiveAt(): number {
    return this.createdAt + this.#active;
  }

  set lastActiveAt(at: number) {
    const active = at - this.createdAt;
    // As an int32 when it is one, so that the field holds a small integer, not a boxed double.
    this.#active = (active | 0) === active ? active | 0 : active;
  }

  /**
   * ms since the epoch at which the session expires if it stays idle: its idle timeout after its
   * last activity, capped by its absolute timeout (both as they were then); `Infinity` while none applies.
   */
  get expiresAt(): number {
    const { idle, absolute } = this.timeouts;
    const idleAt = this.createdAt + this.#active + idle;
    return absolute === undefined ? idleAt : Math.min(idleAt, this.createdAt + absolute);
  }

  get state(): SessionState {
    return STATES[this.#flags & STATE_MASK]!;
  }

  set state(value: SessionState) {
    this.#flags = (this.#flags & ~STATE_MASK) | STATES.indexOf(value);
  }

  /** Why it closed, once a close has started. */
  get closeReason(): CloseReason | undefined {
    return REASONS[(this.#flags & REASON_MASK) >> REASON_SHIFT];
  }

  set closeReason(value: CloseReason | undefined) {
    this.#flags = (this.#flags & ~REASON_MASK) | (REASONS.indexOf(value) << REASON_SHIFT);
  }

  /** Requests (or restores) in flight; a busy session is never evicted nor expired. */
  get busy(): number {
    return this.#flags >> BUSY_SHIFT;
  }

  set busy(value: number) {
    this.#flags = (this.#flags & (BUSY_ONE - 1)) | (value << BUSY_SHIFT);
  }

  /** True until the request that created the session ends. */
  get isNew(): boolean {
    return (this.#flags & IS_NEW) !== 0;
  }

  set isNew(value: boolean) {
    this.#flags = withBit(this.#flags, IS_NEW, value);
  }

  /**
   * Several instances: a record under this id may be in the store that this session did not write
   * (its restore read the record and left it there), so closing it explicitly or regenerating its id
   * must erase it, as a checkpoint of its own.
   */
  get storedUnderId(): boolean {
    return (this.#flags & STORED_UNDER_ID) !== 0;
  }

  set storedUnderId(value: boolean) {
    this.#flags = withBit(this.#flags, STORED_UNDER_ID, value);
  }

  /**
   * True once the visitor came back: a request held the session after the one that created it
   * ended, it was restored, or the application touched it. Sessions that never came back are the
   * cap's first victims (the probation segment).
   */
  get returning(): boolean {
    return (this.#flags & RETURNING) !== 0;
  }

  set returning(value: boolean) {
    this.#flags = withBit(this.#flags, RETURNING, value);
  }

  /** True once the closing hooks have run: the snapshot is taken, writes to data are ignored and reported. */
  get sealed(): boolean {
    return (this.#flags & SEALED) !== 0;
  }

  set sealed(value: boolean) {
    this.#flags = withBit(this.#flags, SEALED, value);
  }

  /** `LiveSession.persist`. */
  get persist(): boolean {
    return (this.#flags & PERSIST) !== 0;
  }

  set persist(value: boolean) {
    this.#flags = withBit(this.#flags, PERSIST, value);
  }

  /** Whether the registry keeps it in its deadline heap (an idle deadline out of recency order). */
  get scheduled(): boolean {
    return (this.#flags & SCHEDULED) !== 0;
  }

  set scheduled(value: boolean) {
    this.#flags = withBit(this.#flags, SCHEDULED, value);
  }

  /** The `live` map, created on first use. */
  get live(): Map<string, unknown> {
    const found = extrasOf(this);
    found.live ??= new Map();
    return found.live;
  }

  /** The `live` map if it was ever used. */
  get liveIfUsed(): Map<string, unknown> | undefined {
    return extras.get(this)?.live;
  }

  /** A `persistKey` other than the id, if one was set. */
  get persistKey(): string | undefined {
    return extras.get(this)?.persistKey;
  }

  set persistKey(key: string | undefined) {
    if (key === undefined && !extras.has(this)) return;
    extrasOf(this).persistKey = key;
  }

  // The Proxy traps. No private method in this class: one would add a brand field to every instance.

  /** Proxy trap: a top-level write (`__proto__` as an own key), refused and reported once sealed. */
  set(target: TData, property: PropertyKey, value: unknown): boolean {
    return refused(this, property) || setOwn(target, property, value);
  }

  /** Proxy trap. */
  deleteProperty(target: TData, property: PropertyKey): boolean {
    return refused(this, property) || Reflect.deleteProperty(target, property);
  }

  /** Proxy trap. */
  defineProperty(target: TData, property: PropertyKey, descriptor: PropertyDescriptor): boolean {
    return refused(this, property) || Reflect.defineProperty(target, property, descriptor);
  }
}

/** Whether a write to the data of `s` must be refused (sealed): reported, then the trap answers `true` (ignored). */
function refused<TData extends SessionData>(s: SessionInternals<TData>, property: PropertyKey): boolean {
  if (!s.sealed) return false;
  s.owner.reportWriteAfterClose(s.session, property);
  return true;
}

function withBit(flags: number, bit: number, value: boolean): number {
  return value ? flags | bit : flags & ~bit;
}

/** Longest accepted `persistKey`, in characters. */
export const MAX_PERSIST_KEY_LENGTH = 1024;

let internals: <T extends SessionData>(session: LiveSession<T>) => SessionInternals<T>;

/**
 * One live session context: its data (persisted at close), its live resources (never persisted),
 * its times (ms since the epoch) and its state. Created by `SessionManager`, never directly.
 * Top-level writes to `data` once its closing hooks have run (the snapshot is taken then) are ignored
 * and reported (an `'error'` event).
 */
export class LiveSession<TData extends SessionData = SessionData> implements LiveSessionView<TData> {
  readonly #s: SessionInternals<TData>;

  static {
    internals = (session) => session.#s;
  }

  /** @internal Use `SessionManager.create()`. */
  constructor(owner: SessionOwner<TData>, id: string, data: TData, createdAt: number, now: number) {
    this.#s = new SessionInternals(this, owner, id, createdAt, now);
    this.data = data;
  }

  /** Live, never persisted resources (a `Map`, created on first use). */
  get live(): Map<string, unknown> {
    return this.#s.live;
  }

  /** @internal The `live` map if it was ever used (for disposal, which must not create it). */
  get liveIfUsed(): Map<string, unknown> | undefined {
    return this.#s.liveIfUsed;
  }

  get createdAt(): number {
    return this.#s.createdAt;
  }

  /** Whether a close writes a snapshot; default `true`. A closing hook may set it to `false`. */
  get persist(): boolean {
    return this.#s.persist;
  }

  set persist(value: boolean) {
    this.#s.persist = value;
  }

  get id(): string {
    return this.#s.id;
  }

  get state(): SessionState {
    return this.#s.state;
  }

  get lastActiveAt(): number {
    return this.#s.lastActiveAt;
  }

  /** Why the session closed (set when its close starts); `undefined` while live. */
  get closeReason(): CloseReason | undefined {
    return this.#s.closeReason;
  }

  /** ms since the epoch at which an idle session expires; `Infinity` while none applies. */
  get expiresAt(): number {
    return this.#s.expiresAt;
  }

  /** True while the request that created this session is in flight (false for restored sessions). */
  get isNew(): boolean {
    return this.#s.isNew;
  }

  /** Requests in flight on this session. */
  get busy(): boolean {
    return this.#s.busy > 0;
  }

  /** The session data. Assigning replaces it (a plain object is required). */
  get data(): TData {
    return this.#s.view;
  }

  set data(value: TData) {
    const s = this.#s;
    if (s.sealed) {
      s.owner.reportWriteAfterClose(this, 'data');
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new TypeError('session data must be a plain object');
    }
    s.data = value;
    // The internals object is the handler: its prototype holds the traps, so no closure per session.
    s.view = new Proxy(value, s as unknown as ProxyHandler<TData>);
  }

  /** @internal The unguarded data object, for the codec. */
  get rawData(): TData {
    return this.#s.data;
  }

  /**
   * Adapter key of this session's snapshot; defaults to `id` (and follows it through `regenerate()`).
   * Set it, for example at login, to `'user:42'` to restore by identity. A key shaped like a session
   * id (other than this session's own) is refused, so a forged cookie can never name it.
   */
  get persistKey(): string {
    return this.#s.persistKey ?? this.#s.id;
  }

  set persistKey(key: string) {
    const s = this.#s;
    if (key === s.id) {
      s.persistKey = undefined;
      return;
    }
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_PERSIST_KEY_LENGTH) {
      throw new PersistKeyError(`persistKey must be a non-empty string of at most ${MAX_PERSIST_KEY_LENGTH} characters`);
    }
    if (isSessionId(key)) {
      throw new PersistKeyError('persistKey must not be shaped like a session id (24 base64url characters)');
    }
    s.persistKey = key;
  }

  /** Whether `persistKey` was set to something other than the id. */
  get hasCustomPersistKey(): boolean {
    return this.#s.persistKey !== undefined;
  }

  /** Closes the session with reason `'closed'`; resolves `true` for the call that closed it. */
  close(): Promise<boolean> {
    return this.#s.owner.close(this.#s.id);
  }

  /** Moves the live context to a new id (use at login); the old id stops working at once. Returns the new id. */
  regenerate(): string {
    return this.#s.owner.regenerate(this);
  }

  /** Merges the snapshot stored under `key` into this session's data (snapshot keys win); resolves whether one was found. */
  restore(key: string): Promise<boolean> {
    return this.#s.owner.restoreInto(this, key);
  }

  /** Marks activity: most recent in the eviction order, expiry slid forward. */
  touch(): void {
    this.#s.owner.touch(this.#s.id);
  }
}

/**
 * `Reflect.set`, except that `__proto__` becomes an own data property (as `JSON.parse` makes it)
 * instead of calling the inherited setter: writing session data never changes its prototype
 * (`Object.assign(ctx.session, JSON.parse('{"__proto__": {...}}'))`). The codec drops it at close.
 */
export function setOwn(object: object, property: PropertyKey, value: unknown): boolean {
  if (property !== '__proto__') return Reflect.set(object, property, value);
  return Reflect.defineProperty(object, property, { value, writable: true, enumerable: true, configurable: true });
}

/** The manager-only state of `session`. Not exported by the package. */
export function internalsOf<T extends SessionData>(session: LiveSession<T>): SessionInternals<T> {
  return internals(session);
}
