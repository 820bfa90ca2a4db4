import type { CookieSettings } from './cookie-options.js';

/** A callback of the connect/express-session style: called with the error, if any. */
export type SessionCallback = (error?: unknown) => void;

/**
 * `session.cookie` as express-session and `@fastify/session` users read it. `maxAge` reads and sets
 * this session's cookie lifetime; the rest mirrors the binding's cookie options and is read-only.
 */
export interface SessionCookie {
  /**
   * This session's cookie lifetime in ms, or `null` for a browser-session cookie. Default the
   * binding's `cookie.maxAge`. Setting it creates the session if needed and re-issues its cookie.
   */
  maxAge: number | null;
  /** The binding's `cookie.maxAge` in ms (`null`: browser-session cookies). */
  readonly originalMaxAge: number | null;
  /** When the cookie expires (as issued, or as this response will issue it); `null` for a browser-session cookie. Read-only: set `maxAge`. */
  readonly expires: Date | null;
  readonly path: string;
  readonly domain: string | undefined;
  readonly httpOnly: boolean;
  readonly secure: boolean | 'auto';
  readonly sameSite: 'lax' | 'strict' | 'none' | false;
}

/** What a {@link sessionCookieView} reads and writes of the request's session cookie. */
export interface CookieLifetime {
  /** This session's cookie lifetime: ms or `'session'` (setting it creates the session). */
  maxAge: number | 'session';
  /** When the cookie expires, ms since the epoch; `undefined` for a browser-session cookie. */
  readonly cookieExpiry: number | undefined;
}

/**
 * Builds `session.cookie` over `lifetime` and the binding's cookie `settings`. `where` names the
 * object in messages (`'req.session'`), `owner` the binding (`'middleware'`, `'plugin'`).
 */
export function sessionCookieView(lifetime: CookieLifetime, settings: CookieSettings, where: string, owner: string): SessionCookie {
  const readOnly = (name: string) => (): never => {
    throw new TypeError(
      `${where}.cookie.${name} is the ${owner}'s cookie.${name} option and cannot change per session (only cookie.maxAge can)`,
    );
  };
  const fixed = (name: keyof CookieSettings, value: unknown): PropertyDescriptor => ({
    enumerable: true,
    get: () => value,
    set: readOnly(name),
  });
  const view = {};
  Object.defineProperties(view, {
    maxAge: {
      enumerable: true,
      get: () => (lifetime.maxAge === 'session' ? null : lifetime.maxAge),
      set: (value: number | null) => {
        lifetime.maxAge = value === null ? 'session' : value;
      },
    },
    originalMaxAge: fixed('maxAge', settings.maxAge === 'session' ? null : settings.maxAge),
    expires: {
      enumerable: true,
      get: () => (lifetime.cookieExpiry === undefined ? null : new Date(lifetime.cookieExpiry)),
      set: () => {
        throw new TypeError(`${where}.cookie.expires cannot be set: set ${where}.cookie.maxAge (ms) instead`);
      },
    },
    path: fixed('path', settings.path),
    domain: fixed('domain', settings.domain),
    httpOnly: fixed('httpOnly', settings.httpOnly),
    secure: fixed('secure', settings.secure),
    sameSite: fixed('sameSite', settings.sameSite),
  });
  return Object.freeze(view) as SessionCookie;
}

/**
 * Runs `action`, then answers the connect-style `callback` (on the next tick, with the error if any)
 * or, without one, returns a promise of the same outcome: how express-session's and
 * `@fastify/session`'s methods answer.
 */
export function settleSessionCall(action: () => void, callback: SessionCallback | undefined): Promise<void> | undefined {
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
