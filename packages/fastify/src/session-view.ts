import { OptionError } from '@reprise/core';
import type { CookieSettings } from './options.js';
import type { RequestSession } from './request-session.js';
import { METHOD_NAMES, UNSUPPORTED_METHODS, type SessionCallback, type SessionCookie, type SessionMethods } from './session-methods.js';
import type { RepriseData, RequestSessionObject } from './types.js';

/**
 * What `request.session` returns for one request: a proxy over the session data (the live session's,
 * or the lazy object whose first write creates it) that also answers `@fastify/session`'s method
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

  /** `request.session`: the same object while the data object stays the same. */
  get object(): RequestSessionObject {
    const data = this.#binding.data;
    if (data !== this.#target || this.#proxy === undefined) {
      this.#target = data;
      this.#proxy = new Proxy(data, this.#handler()) as RequestSessionObject;
    }
    return this.#proxy;
  }

  #handler(): ProxyHandler<RepriseData> {
    const reserved = (property: PropertyKey): boolean => METHOD_NAMES.has(property) || Object.hasOwn(UNSUPPORTED_METHODS, property);
    const refuse = (property: PropertyKey): never => {
      const name = String(property);
      throw new TypeError(
        `request.session.${name} is a session method, not a data key: use request.session.set(${JSON.stringify(name)}, value) to store a key of that name`,
      );
    };
    return {
      get: (target, property) => {
        if (METHOD_NAMES.has(property)) return this.#methodsOf()[property as keyof SessionMethods];
        if (typeof property === 'string' && Object.hasOwn(UNSUPPORTED_METHODS, property)) return unsupported(property);
        return Reflect.get(target, property);
      },
      set: (target, property, value) => (reserved(property) ? refuse(property) : Reflect.set(target, property, value)),
      defineProperty: (target, property, descriptor) =>
        reserved(property) ? refuse(property) : Reflect.defineProperty(target, property, descriptor),
    };
  }

  #methodsOf(): SessionMethods {
    this.#methods ??= sessionMethods(this.#binding, cookieView(this.#binding, this.#cookie));
    return this.#methods;
  }
}

function unsupported(name: string): () => never {
  return () => {
    throw new TypeError(UNSUPPORTED_METHODS[name]);
  };
}

/** The methods of one request's `request.session`, bound to it (so they can be passed around). */
function sessionMethods(binding: RequestSession, cookie: SessionCookie): SessionMethods {
  const methods = {
    get sessionId() {
      return binding.live.id;
    },
    get encryptedSessionId() {
      return binding.cookieValue;
    },
    cookie,
    get: <K extends keyof RepriseData>(key: K) => binding.data[key],
    set: <K extends keyof RepriseData>(key: K, value: RepriseData[K]) => {
      binding.data[key] = value;
    },
    touch: () => binding.current?.touch(),
    regenerate: (keep?: readonly string[] | SessionCallback, callback?: SessionCallback) => {
      const fields = typeof keep === 'function' ? [] : (keep ?? []);
      return settle(() => regenerate(binding, fields), typeof keep === 'function' ? keep : callback);
    },
    destroy: (callback?: SessionCallback) =>
      settle(() => {
        binding.data = null;
      }, callback),
    save: (callback?: SessionCallback) => settle(() => undefined, callback),
    reload: (callback?: SessionCallback) => settle(() => undefined, callback),
    options: (options: { maxAge?: number | null | undefined }) => {
      if (typeof options !== 'object' || options === null) throw new OptionError('request.session.options() takes an object: { maxAge }');
      for (const name of Object.keys(options)) {
        if (name !== 'maxAge') {
          throw new OptionError(
            `request.session.options(): only maxAge can change per session; ${JSON.stringify(name)} is the plugin's cookie.${name} option`,
          );
        }
      }
      if (options.maxAge !== undefined) cookie.maxAge = options.maxAge;
    },
  };
  return methods as SessionMethods;
}

/** `@fastify/session`'s regenerate: a new id, and only the `keep` keys of the data. */
function regenerate(binding: RequestSession, keep: readonly string[]): void {
  const session = binding.current;
  if (session === undefined) return;
  const data = session.data as Record<string, unknown>;
  const kept = Object.fromEntries(keep.filter((key) => Object.hasOwn(data, key)).map((key) => [key, data[key]]));
  session.regenerate();
  binding.data = kept as RepriseData;
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

/** `request.session.cookie`: `maxAge` reads and sets this session's lifetime; the rest is read-only. */
function cookieView(binding: RequestSession, settings: CookieSettings): SessionCookie {
  const readOnly = (name: string) => () => {
    throw new TypeError(
      `request.session.cookie.${name} is the plugin's cookie.${name} option and cannot change per session (only cookie.maxAge can)`,
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
        throw new TypeError('request.session.cookie.expires cannot be set: set request.session.cookie.maxAge (ms) instead');
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
