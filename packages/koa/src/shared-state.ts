import type { LiveSession, SessionData, SessionManager } from '@reprise/core';
import type { IssuedSignature } from './cookie.js';
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
  /** The signature last issued for each session's cookie: a returning cookie that presents it needs no HMAC. */
  readonly signatures: WeakMap<LiveSession<TData>, IssuedSignature>;
  /** The signature issued for the live session with this id, if any. */
  readonly issuedSignature: (id: string) => IssuedSignature | undefined;
}

/** Fraction of the cookie's lifetime its expiry must have moved before the sliding cookie is re-issued. */
export const RENEW_FRACTION = 0.1;
