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

/** The manager-only state of a session (reached through {@link internalsOf}, not exported by the package). */
export interface SessionInternals {
  id: string;
  state: SessionState;
  lastActiveAt: number;
  expiresAt: number;
  /** Requests (or restores) in flight; a busy session is never evicted nor expired. */
  busy: number;
  /** True until the request that created the session ends. */
  isNew: boolean;
  /**
   * Several instances: a record under this id may be in the store that this session did not write
   * (its restore read the record and left it there), so closing it explicitly or regenerating its id
   * must erase it, as a checkpoint of its own.
   */
  storedUnderId?: boolean;
  /**
   * True once the visitor came back: a request held the session after the one that created it
   * ended, it was restored, or the application touched it. Sessions that never came back are the
   * cap's first victims (the probation segment).
   */
  returning: boolean;
  /** Why it closed, once a close has started. */
  closeReason: CloseReason | undefined;
  /** True once the closing hooks have run: the snapshot is taken, writes to data are ignored and reported. */
  sealed: boolean;
}

/** Longest accepted `persistKey`, in characters. */
export const MAX_PERSIST_KEY_LENGTH = 1024;

let internals: <T extends SessionData>(session: LiveSession<T>) => SessionInternals;

/**
 * One live session context: its data (persisted at close), its live resources (never persisted),
 * its times (ms since the epoch) and its state. Created by `SessionManager`, never directly.
 * Top-level writes to `data` once its closing hooks have run (the snapshot is taken then) are ignored
 * and reported (an `'error'` event).
 */
export class LiveSession<TData extends SessionData = SessionData> implements LiveSessionView<TData> {
  readonly live = new Map<string, unknown>();
  readonly createdAt: number;
  /** Whether a close writes a snapshot; default `true`. A closing hook may set it to `false`. */
  persist = true;
  readonly #owner: SessionOwner<TData>;
  readonly #s: SessionInternals;
  #data!: TData;
  #view!: TData;
  #persistKey: string | undefined;

  static {
    internals = (session) => session.#s;
  }

  /** @internal Use `SessionManager.create()`. */
  constructor(owner: SessionOwner<TData>, id: string, data: TData, createdAt: number, now: number) {
    this.#owner = owner;
    this.createdAt = createdAt;
    this.#s = {
      id,
      state: 'live',
      lastActiveAt: now,
      expiresAt: Infinity,
      busy: 0,
      isNew: true,
      returning: false,
      closeReason: undefined,
      sealed: false,
    };
    this.data = data;
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
    return this.#view;
  }

  set data(value: TData) {
    if (this.#s.sealed) {
      this.#owner.reportWriteAfterClose(this, 'data');
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new TypeError('session data must be a plain object');
    }
    this.#data = value;
    this.#view = this.#guard(value);
  }

  /** @internal The unguarded data object, for the codec. */
  get rawData(): TData {
    return this.#data;
  }

  /**
   * Adapter key of this session's snapshot; defaults to `id` (and follows it through `regenerate()`).
   * Set it, for example at login, to `'user:42'` to restore by identity. A key shaped like a session
   * id (other than this session's own) is refused, so a forged cookie can never name it.
   */
  get persistKey(): string {
    return this.#persistKey ?? this.#s.id;
  }

  set persistKey(key: string) {
    if (key === this.#s.id) {
      this.#persistKey = undefined;
      return;
    }
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_PERSIST_KEY_LENGTH) {
      throw new PersistKeyError(`persistKey must be a non-empty string of at most ${MAX_PERSIST_KEY_LENGTH} characters`);
    }
    if (isSessionId(key)) {
      throw new PersistKeyError('persistKey must not be shaped like a session id (24 base64url characters)');
    }
    this.#persistKey = key;
  }

  /** Whether `persistKey` was set to something other than the id. */
  get hasCustomPersistKey(): boolean {
    return this.#persistKey !== undefined;
  }

  /** Closes the session with reason `'closed'`; resolves `true` for the call that closed it. */
  close(): Promise<boolean> {
    return this.#owner.close(this.#s.id);
  }

  /** Moves the live context to a new id (use at login); the old id stops working at once. Returns the new id. */
  regenerate(): string {
    return this.#owner.regenerate(this);
  }

  /** Merges the snapshot stored under `key` into this session's data (snapshot keys win); resolves whether one was found. */
  restore(key: string): Promise<boolean> {
    return this.#owner.restoreInto(this, key);
  }

  /** Marks activity: most recent in the eviction order, expiry slid forward. */
  touch(): void {
    this.#owner.touch(this.#s.id);
  }

  #guard(target: TData): TData {
    const report = (property: PropertyKey): boolean => {
      if (!this.#s.sealed) return false;
      this.#owner.reportWriteAfterClose(this, property);
      return true;
    };
    return new Proxy(target, {
      set: (object, property, value) => report(property) || setOwn(object, property, value),
      deleteProperty: (object, property) => report(property) || Reflect.deleteProperty(object, property),
      defineProperty: (object, property, descriptor) => report(property) || Reflect.defineProperty(object, property, descriptor),
    });
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
export function internalsOf<T extends SessionData>(session: LiveSession<T>): SessionInternals {
  return internals(session);
}
