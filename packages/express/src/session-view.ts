import type { CookieSettings } from './options.js';
import type { RequestSession } from './request-session.js';
import { METHOD_NAMES, type SessionCallback, type SessionCookie, type SessionMethods } from './session-methods.js';
import type { RepriseData, RequestSessionObject } from './types.js';

/**
 * What `req.session` returns for one request: a proxy over the session data (the live session's,
 * or the lazy object whose first write creates it) that also answers express-session's method
 * names. Everything else (reads, writes, `in`, `Object.keys`, JSON) goes to the data itself.
 */
export class SessionView {
  readonly #binding: RequestSession;
  readonly #cookie: CookieSettings;
  #methods: SessionMethods | undefined;
  #target: RepriseData | undefined;
  #proxy: RequestSessionObject | undefined;

  constructor(binding: RequestSession, cookie: CookieSettings) {
    this.#binding = binding;
    this.#cookie = cookie;
  }

  /** `req.session`: the same object while the data object stays the same. */
  get object(): RequestSessionObject {
    const data = this.#binding.data;
    if (data !== this.#target || this.#proxy === undefined) {
      this.#target = data;
      this.#proxy = new Proxy(data, this.#handler()) as RequestSessionObject;
    }
    return this.#proxy;
  }

  #handler(): ProxyHandler<RepriseData> {
    const refuse = (property: PropertyKey): never => {
      throw new TypeError(
        `req.session.${String(property)} is a session method or property (express-session's), not a data key: choose another key name`,
      );
    };
    return {
      get: (target, property) =>
        METHOD_NAMES.has(property) ? this.#methodsOf()[property as keyof SessionMethods] : Reflect.get(target, property),
      set: (target, property, value) => (METHOD_NAMES.has(property) ? refuse(property) : Reflect.set(target, property, value)),
      defineProperty: (target, property, descriptor) =>
        METHOD_NAMES.has(property) ? refuse(property) : Reflect.defineProperty(target, property, descriptor),
      deleteProperty: (target, property) => (METHOD_NAMES.has(property) ? refuse(property) : Reflect.deleteProperty(target, property)),
    };
  }

  #methodsOf(): SessionMethods {
    this.#methods ??= sessionMethods(this.#binding, cookieView(this.#binding, this.#cookie));
    return this.#methods;
  }
}

/** The methods of one request's `req.session`, bound to it (so they can be passed around). */
function sessionMethods(binding: RequestSession, cookie: SessionCookie): SessionMethods {
  const methods = {
    get id() {
      return binding.live.id;
    },
    cookie,
    touch: () => binding.current?.touch(),
    resetMaxAge: () => {
      if (binding.current !== undefined) cookie.maxAge = cookie.originalMaxAge;
    },
    regenerate: (callback?: SessionCallback) => settle(() => regenerate(binding), callback),
    destroy: (callback?: SessionCallback) =>
      settle(() => {
        binding.data = null;
      }, callback),
    save: (callback?: SessionCallback) => settle(() => undefined, callback),
    reload: (callback?: SessionCallback) => settle(() => undefined, callback),
  };
  return methods as SessionMethods;
}

/** express-session's regenerate: a new id, and empty data. */
function regenerate(binding: RequestSession): void {
  const session = binding.current;
  if (session === undefined) return;
  session.regenerate();
  binding.data = {} as RepriseData;
}

/** Runs `action`, then answers `callback` (on the next tick, with the error if any) or returns a promise. */
function settle(action: () => void, callback: SessionCallback | undefined): Promise<void> | undefined {
  let error: unknown;
  let failed = false;
  try {
    action();
  } catch (caught) {
    error = caught;
    failed = true;
  }
  if (callback === undefined) return failed ? Promise.reject(error) : Promise.resolve();
  process.nextTick(() => (failed ? callback(error) : callback()));
  return undefined;
}

/** `req.session.cookie`: `maxAge` reads and sets this session's lifetime; the rest is read-only. */
function cookieView(binding: RequestSession, settings: CookieSettings): SessionCookie {
  const readOnly = (name: string) => () => {
    throw new TypeError(
      `req.session.cookie.${name} is the middleware's cookie.${name} option and cannot change per session (only cookie.maxAge can)`,
    );
  };
  const view = {};
  Object.defineProperties(view, {
    maxAge: {
      enumerable: true,
      get: () => (binding.maxAge === 'session' ? null : binding.maxAge),
      set: (value: number | null) => {
        binding.maxAge = value === null ? 'session' : value;
      },
    },
    originalMaxAge: { enumerable: true, get: () => (settings.maxAge === 'session' ? null : settings.maxAge), set: readOnly('maxAge') },
    expires: {
      enumerable: true,
      get: () => {
        const expiry = binding.cookieExpiry;
        return expiry === undefined ? null : new Date(expiry);
      },
      set: () => {
        throw new TypeError('req.session.cookie.expires cannot be set: set req.session.cookie.maxAge (ms) instead');
      },
    },
    path: { enumerable: true, get: () => settings.path, set: readOnly('path') },
    domain: { enumerable: true, get: () => settings.domain, set: readOnly('domain') },
    httpOnly: { enumerable: true, get: () => settings.httpOnly, set: readOnly('httpOnly') },
    secure: { enumerable: true, get: () => settings.secure, set: readOnly('secure') },
    sameSite: { enumerable: true, get: () => settings.sameSite, set: readOnly('sameSite') },
  });
  return Object.freeze(view) as SessionCookie;
}
