import { session } from './middleware.js';

export { session };
export default session;
export type { SessionMiddleware } from './middleware.js';
export type { SessionOptions, ExpressBindingOptions, SessionCookieOptions, CookieSettings } from './options.js';
export { COOKIE_DEFAULTS } from './options.js';
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
