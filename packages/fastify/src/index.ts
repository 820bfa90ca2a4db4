import { reprise } from './plugin.js';

export { reprise };
export default reprise;
export type { RepriseFastifyOptions, FastifyBindingOptions, SessionCookieOptions, CookieSettings } from './options.js';
export { COOKIE_DEFAULTS, MIN_SECRET_LENGTH } from './options.js';
export type { SessionDataMap, RepriseData, RequestSessionObject } from './types.js';
export type { SessionMethods, SessionCookie, SessionCallback } from './session-methods.js';
export type {
  LiveSession,
  LiveSessionView,
  CloseHook,
  RestoreHook,
  CloseReason,
  Snapshot,
  SessionAdapter,
  ManagerStats,
  SessionData,
} from '@reprise/core';
export { SessionManager, SessionUnavailableError, OptionError } from '@reprise/core';
