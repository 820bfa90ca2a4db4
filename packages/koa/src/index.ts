import type * as core from '@reprise/core';
import type { KoaSessionData } from './context.js';

export { session } from './middleware.js';
export type { SessionMiddleware } from './middleware.js';
export type { SessionOptions, CookieOptions, KoaOptions, CookieSettings } from './options.js';
export type { KoaSessionOptions } from './koa-session-options.js';
export { COOKIE_DEFAULTS } from './options.js';
export type { SessionDataMap, KoaSessionData } from './context.js';
export type { KoaSession, SessionProperties, SessionCallback } from './session-view.js';
export type { CloseReason, SessionAdapter, ManagerStats, SessionData } from '@reprise/core';
export { SessionManager, UnsupportedError } from '@reprise/core';

/** A live session (see `@reprise/core`); its data type defaults to this application's ({@link KoaSessionData}). */
export type LiveSession<TData extends core.SessionData = KoaSessionData> = core.LiveSession<TData>;
/** What hooks see of a session, `closeReason` included; its data type defaults to this application's ({@link KoaSessionData}). */
export type LiveSessionView<TData extends core.SessionData = KoaSessionData> = core.LiveSessionView<TData>;
/** A closing hook (`onClose`); its data type defaults to this application's ({@link KoaSessionData}). */
export type CloseHook<TData extends core.SessionData = KoaSessionData> = core.CloseHook<TData>;
/** A restore hook (`onRestore`); its data type defaults to this application's ({@link KoaSessionData}). */
export type RestoreHook<TData extends core.SessionData = KoaSessionData> = core.RestoreHook<TData>;
/** A snapshot; its data type defaults to this application's ({@link KoaSessionData}). */
export type Snapshot<TData extends core.SessionData = KoaSessionData> = core.Snapshot<TData>;
