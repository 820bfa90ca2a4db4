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
  /** Per-session cookie lifetime ("remember me"), overriding `cookie.maxAge`. */
  readonly maxAges: WeakMap<LiveSession<RepriseData>, number | 'session'>;
  /** When the cookie last issued for each session expires (ms since the epoch; `Infinity` for browser-session cookies). */
  readonly cookieExpiries: WeakMap<LiveSession<RepriseData>, number>;
}

/** Fraction of the cookie's lifetime its expiry must have moved before the sliding cookie is re-issued. */
export const RENEW_FRACTION = 0.1;
