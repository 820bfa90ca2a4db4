import { UnsupportedError, type SessionData } from '@reprise/core';
import type { RequestSession } from './request-session.js';

/** A koa-session (and express-session) style callback: called once the operation is done, with its error if it failed. */
export type SessionCallback = (error?: Error) => void;

/**
 * What `ctx.session` offers besides the data: koa-session's session properties, each with the same
 * meaning, or a clear error naming the Reprise equivalent. These names are never data keys through
 * `ctx.session`: reading one answers the property, writing one (`maxAge` apart) throws an
 * {@link UnsupportedError}, and assigning an object that holds one (`maxAge` apart) throws too.
 */
export interface SessionProperties<TData extends SessionData> {
  /**
   * This session's cookie lifetime in ms, or `'session'` (a browser-session cookie): the same as
   * `ctx.sessionMaxAge`. Setting it ("remember me") creates the session, as koa-session saves it.
   */
  maxAge: number | 'session';
  /** `true` when the request has no session yet, or created it: `false` for a session the visitor came back with (live or restored). */
  readonly isNew: boolean;
  /** Whether the data has at least one key. */
  readonly populated: boolean;
  /** How many keys the data has. */
  readonly length: number;
  /** The session id (koa-session's external key is the store key its cookie carries), or `undefined` when the request has no session. */
  readonly externalKey: string | undefined;
  /**
   * Makes sure the session exists and that this response carries its cookie, as koa-session saves
   * a session "no matter whether it is populated". Nothing else is needed: the session is a live
   * context, so the next request sees every write at once, and its data reaches the store at the next
   * checkpoint (`checkpointInterval`) and at its close. Resolves at once; `callback` (passport's
   * habit) is called after, with the error if the session could not be had.
   * @throws SessionUnavailableError (without a callback) when the session cannot be had: 503.
   */
  readonly save: (callback?: SessionCallback) => Promise<void>;
  /**
   * Moves the session to a new id, keeping its data, as koa-session does (= `ctx.liveSession.regenerate()`;
   * use it at login). Creates the session when the request has none. `callback` as for {@link save}.
   */
  readonly regenerate: (callback?: SessionCallback) => Promise<void>;
  /** A plain copy of the data (what `JSON.stringify(ctx.session)` writes). */
  readonly toJSON: () => TData;
  /**
   * @deprecated koa-session's `autoCommit: false` companion. Reprise sets the session cookie when the
   * `session()` middleware finishes, always: calling it throws an `UnsupportedError`; remove the call.
   */
  readonly manuallyCommit: never;
  /** @deprecated koa-session's internal commit: calling it throws an `UnsupportedError`. Reprise sets the cookie when `session()` finishes. */
  readonly commit: never;
}

/**
 * The type of `ctx.session`: the data (see `SessionDataMap`) and koa-session's session properties
 * ({@link SessionProperties}), which take precedence over data keys of the same names.
 */
export type KoaSession<TData extends SessionData> = Omit<TData, keyof SessionProperties<TData>> & SessionProperties<TData>;

/** The names `ctx.session` answers itself (the keys of {@link SessionProperties}). */
export const SESSION_PROPERTY_NAMES: ReadonlySet<string> = new Set(
  Object.keys({
    maxAge: true,
    isNew: true,
    populated: true,
    length: true,
    externalKey: true,
    save: true,
    regenerate: true,
    toJSON: true,
    manuallyCommit: true,
    commit: true,
  } satisfies Record<keyof SessionProperties<SessionData>, true>),
);

/** Why each read-only name cannot be written, and what to use. */
const READ_ONLY_HINTS: Readonly<Record<string, string>> = Object.freeze({
  isNew: 'it says whether the request created the session (ctx.liveSession.isNew)',
  populated: 'it says whether the data has keys',
  length: 'it counts the data keys',
  externalKey: 'it is the session id (ctx.liveSession.id; set ctx.liveSession.persistKey to name its snapshot)',
  save: 'it is a method',
  regenerate: 'it is a method',
  toJSON: 'it is a method',
  manuallyCommit: "it is koa-session's",
  commit: "it is koa-session's",
});

function readOnly(name: string): UnsupportedError {
  return new UnsupportedError(
    `ctx.session.${name} cannot be set or deleted, and is never a data key: ${READ_ONLY_HINTS[name] ?? 'it is reserved'}`,
  );
}

function noCommit(name: string): () => never {
  return () => {
    throw new UnsupportedError(
      `ctx.session.${name}() is koa-session's: Reprise sets the session cookie when the session() middleware finishes, always (koa-session's autoCommit: true); remove the call`,
    );
  };
}

/**
 * Runs `work`. Without a callback its error is thrown at once, so an un-awaited call still fails
 * loudly; with one (koa-session's and passport's form), the callback is called after, with the error.
 */
function settle(name: string, work: () => void, callback: unknown): Promise<void> {
  if (callback === undefined) {
    work();
    return Promise.resolve();
  }
  if (typeof callback !== 'function') throw new TypeError(`ctx.session.${name}(callback): callback must be a function`);
  const done = callback as SessionCallback;
  let error: Error | undefined;
  try {
    work();
  } catch (thrown) {
    error = thrown as Error;
  }
  return Promise.resolve().then(() => (error === undefined ? done() : done(error)));
}

/**
 * The traps of one request's `ctx.session`: session property names are answered here; everything
 * else goes to the data (`target`: the live session's guarded data, or core's lazy object of a
 * request without a session, whose first write creates it).
 */
class SessionViewTraps<TData extends SessionData> implements ProxyHandler<TData> {
  readonly #request: RequestSession<TData>;
  #methods: Record<string, unknown> | undefined;

  constructor(request: RequestSession<TData>) {
    this.#request = request;
  }

  get(target: TData, property: string | symbol): unknown {
    if (typeof property !== 'string' || !SESSION_PROPERTY_NAMES.has(property)) return Reflect.get(target, property);
    switch (property) {
      case 'maxAge':
        return this.#request.maxAge;
      case 'isNew':
        return this.#request.isNew;
      case 'length':
        return Object.keys(target).length;
      case 'populated':
        return Object.keys(target).length > 0;
      case 'externalKey':
        return this.#request.current?.id;
      default:
        return this.#method(target, property);
    }
  }

  set(target: TData, property: string | symbol, value: unknown): boolean {
    if (typeof property !== 'string' || !SESSION_PROPERTY_NAMES.has(property)) return Reflect.set(target, property, value);
    if (property !== 'maxAge') throw readOnly(property);
    this.#request.setMaxAge(value, 'ctx.session.maxAge');
    return true;
  }

  defineProperty(target: TData, property: string | symbol, descriptor: PropertyDescriptor): boolean {
    if (typeof property === 'string' && SESSION_PROPERTY_NAMES.has(property)) throw readOnly(property);
    return Reflect.defineProperty(target, property, descriptor);
  }

  deleteProperty(target: TData, property: string | symbol): boolean {
    if (typeof property === 'string' && SESSION_PROPERTY_NAMES.has(property)) throw readOnly(property);
    return Reflect.deleteProperty(target, property);
  }

  has(target: TData, property: string | symbol): boolean {
    return (typeof property === 'string' && SESSION_PROPERTY_NAMES.has(property)) || Reflect.has(target, property);
  }

  #method(target: TData, name: string): unknown {
    this.#methods ??= {
      save: (callback?: unknown) => settle('save', () => this.#request.save(), callback),
      regenerate: (callback?: unknown) => settle('regenerate', () => this.#request.regenerate(), callback),
      toJSON: () => ({ ...target }),
      manuallyCommit: noCommit('manuallyCommit'),
      commit: noCommit('commit'),
    };
    return this.#methods[name];
  }
}

/** `ctx.session` of one request over `data` (see {@link SessionProperties}). */
export function sessionView<TData extends SessionData>(request: RequestSession<TData>, data: TData): KoaSession<TData> {
  return new Proxy(data, new SessionViewTraps(request)) as unknown as KoaSession<TData>;
}

/**
 * Splits an object assigned to `ctx.session` into its data and its `maxAge` (applied as the cookie
 * lifetime, as koa-session does); any other session property name in it is an {@link UnsupportedError}.
 * Anything but an object is returned as it is (core refuses it with a `TypeError`).
 */
export function splitAssigned<TData extends SessionData>(value: TData | null): { data: TData | null; maxAge?: unknown } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { data: value };
  const names = Object.keys(value).filter((name) => SESSION_PROPERTY_NAMES.has(name));
  if (names.length === 0) return { data: value };
  const data: Record<string, unknown> = { ...value };
  for (const name of names) {
    if (name !== 'maxAge') throw readOnly(name);
    delete data[name];
  }
  return { data: data as TData, maxAge: (value as { maxAge?: unknown }).maxAge };
}
