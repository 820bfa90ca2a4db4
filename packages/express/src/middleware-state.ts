import type { LiveSession, SessionManager } from '@reprise/core';
import type { CookieSettings } from './options.js';
import type { RepriseData } from './types.js';

/** What one `session()` middleware keeps across requests. Per-session facts live in WeakMaps, so they go with the session. */
export interface MiddlewareState {
  readonly manager: SessionManager<RepriseData>;
  readonly cookie: CookieSettings;
  /** The middleware's own secrets; `undefined`: cookie-parser's `req.secret` if any, else unsigned cookies. */
  readonly secrets: readonly string[] | undefined;
  /** Whether the cookie's expiry slides with activity (`rolling`). */
  readonly rolling: boolean;
  /** Per-session cookie lifetime ("remember me"), overriding `cookie.maxAge`. */
  readonly maxAges: WeakMap<LiveSession<RepriseData>, number | 'session'>;
  /** When the cookie last issued for each session expires (ms since the epoch; `Infinity` for browser-session cookies). */
  readonly cookieExpiries: WeakMap<LiveSession<RepriseData>, number>;
}

/** Fraction of the cookie's lifetime its expiry must have moved before the sliding cookie is re-issued. */
export const RENEW_FRACTION = 0.1;
