import type { CookieLifetimes } from '@reprise/core/adapter-kit';
import type { LiveSession, SessionManager } from '@reprise/core';
import type { FastifyInstance } from 'fastify';
import type { CookieSigner } from './cookie.js';
import type { CookieSettings } from './options.js';
import type { RepriseData } from './types.js';

/** What one registration of the plugin keeps across requests. Per-session facts live in WeakMaps, so they go with the session. */
export interface PluginState {
  readonly app: FastifyInstance;
  readonly manager: SessionManager<RepriseData>;
  readonly cookie: CookieSettings;
  /** Signs the cookie; `undefined`: unsigned cookies. */
  readonly signer: CookieSigner | undefined;
  /** Whether the cookie's expiry slides with activity (`rolling`). */
  readonly rolling: boolean;
  /** Each session's cookie lifetime ("remember me", default `cookie.maxAge`) and last issued expiry. */
  readonly lifetimes: CookieLifetimes<LiveSession<RepriseData>>;
}
