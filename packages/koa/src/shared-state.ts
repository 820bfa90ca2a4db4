import type { CookieLifetimes } from '@reprise/core/adapter-kit';
import type { LiveSession, SessionData, SessionManager } from '@reprise/core';
import type { IssuedSignature } from './cookie.js';
import type { CookieSettings } from './options.js';

/** What one `session()` middleware keeps across requests. Per-session facts are keyed weakly by the session, so they go with it. */
export interface MiddlewareState<TData extends SessionData> {
  readonly manager: SessionManager<TData>;
  readonly cookie: CookieSettings;
  readonly ipBinding: boolean;
  /** The IP that created (or restored) each session, when `ipBinding` is on. */
  readonly boundIps: WeakMap<LiveSession<TData>, string>;
  /**
   * Each session's cookie lifetime ("remember me", default `cookie.maxAge`), last issued expiry, and
   * (its token) the signature last issued for its cookie: a returning cookie that presents it needs no HMAC.
   */
  readonly lifetimes: CookieLifetimes<LiveSession<TData>, IssuedSignature>;
  /** The signature issued for the live session with this id, if any. */
  readonly issuedSignature: (id: string) => IssuedSignature | undefined;
}
