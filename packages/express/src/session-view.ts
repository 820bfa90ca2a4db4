import { ReservedNameProxy, sessionCookieView, settleSessionCall } from '@reprise/core/adapter-kit';
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
  readonly #proxy: ReservedNameProxy<RequestSessionObject>;
  #methods: SessionMethods | undefined;

  constructor(binding: RequestSession, cookie: CookieSettings) {
    this.#binding = binding;
    this.#cookie = cookie;
    this.#proxy = new ReservedNameProxy(() => binding.data, {
      has: (property) => METHOD_NAMES.has(property),
      read: (property) => this.#methodsOf()[property as keyof SessionMethods],
      refuse: (property) => {
        throw new TypeError(
          `req.session.${String(property)} is a session method or property (express-session's), not a data key: choose another key name`,
        );
      },
    });
  }

  /** `req.session`: the same object while the data object stays the same. */
  get object(): RequestSessionObject {
    return this.#proxy.object;
  }

  #methodsOf(): SessionMethods {
    this.#methods ??= sessionMethods(this.#binding, sessionCookieView(this.#binding, this.#cookie, 'req.session', 'middleware'));
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
    regenerate: (callback?: SessionCallback) => settleSessionCall(() => regenerate(binding), callback),
    destroy: (callback?: SessionCallback) =>
      settleSessionCall(() => {
        binding.data = null;
      }, callback),
    save: (callback?: SessionCallback) => settleSessionCall(() => undefined, callback),
    reload: (callback?: SessionCallback) => settleSessionCall(() => undefined, callback),
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
