export { session } from './middleware.js';
export type { SessionMiddleware } from './middleware.js';
export type { SessionOptions, CookieOptions, KoaOptions, CookieSettings } from './options.js';
export { COOKIE_DEFAULTS } from './options.js';
export type { SessionDataMap } from './context.js';
export type { LiveSession, LiveSessionView, CloseHook, RestoreHook, CloseReason, Snapshot, SessionAdapter, ManagerStats, SessionData } from '@reprise/core';
export { SessionManager } from '@reprise/core';
