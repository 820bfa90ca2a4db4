import { ReservedNameProxy, sessionCookieView, settleSessionCall } from '@reprise/core/adapter-kit';
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
  readonly #proxy: ReservedNameProxy<RequestSessionObject>;
  #methods: SessionMethods | undefined;

  constructor(binding: RequestSession, cookie: CookieSettings) {
    this.#binding = binding;
    this.#cookie = cookie;
    this.#proxy = new ReservedNameProxy(() => binding.data, {
      has: (property) => METHOD_NAMES.has(property) || (typeof property === 'string' && Object.hasOwn(UNSUPPORTED_METHODS, property)),
      read: (property) =>
        METHOD_NAMES.has(property) ? this.#methodsOf()[property as keyof SessionMethods] : unsupported(String(property)),
      refuse: (property) => {
        const name = String(property);
        throw new TypeError(
          `request.session.${name} is a session method, not a data key: use request.session.set(${JSON.stringify(name)}, value) to store a key of that name`,
        );
      },
    });
  }

  /** `request.session`: the same object while the data object stays the same. */
  get object(): RequestSessionObject {
    return this.#proxy.object;
  }

  #methodsOf(): SessionMethods {
    this.#methods ??= sessionMethods(this.#binding, sessionCookieView(this.#binding, this.#cookie, 'request.session', 'plugin'));
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
      return settleSessionCall(() => regenerate(binding, fields), typeof keep === 'function' ? keep : callback);
    },
    destroy: (callback?: SessionCallback) =>
      settleSessionCall(() => {
        binding.data = null;
      }, callback),
    save: (callback?: SessionCallback) => settleSessionCall(() => undefined, callback),
    reload: (callback?: SessionCallback) => settleSessionCall(() => undefined, callback),
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
