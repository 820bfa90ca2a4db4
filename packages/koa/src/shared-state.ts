import type { LiveSession, SessionData, SessionManager } from '@reprise/core';
import type { CookieSettings } from './options.js';

/** What one `session()` middleware keeps across requests. Per-session facts live in WeakMaps, so they go with the session. */
export interface MiddlewareState<TData extends SessionData> {
  readonly manager: SessionManager<TData>;
  readonly cookie: CookieSettings;
  readonly ipBinding: boolean;
  /** The IP that created (or restored) each session, when `ipBinding` is on. */
  readonly boundIps: WeakMap<LiveSession<TData>, string>;
  /** Per-session cookie lifetime ("remember me"), overriding `cookie.maxAge`. */
  readonly maxAges: WeakMap<LiveSession<TData>, number | 'session'>;
  /** When the cookie last issued for each session expires (ms since the epoch; `Infinity` for browser-session cookies). */
  readonly cookieExpiries: WeakMap<LiveSession<TData>, number>;
}

/** Fraction of the cookie's lifetime its expiry must have moved before the sliding cookie is re-issued. */
export const RENEW_FRACTION = 0.1;
