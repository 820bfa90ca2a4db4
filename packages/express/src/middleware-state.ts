import type { CookieLifetimes } from '@reprise/core/adapter-kit';
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
  /** Each session's cookie lifetime ("remember me", default `cookie.maxAge`) and last issued expiry. */
  readonly lifetimes: CookieLifetimes<LiveSession<RepriseData>>;
}
