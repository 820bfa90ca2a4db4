import type { LiveSession, SessionManager } from '@reprise/core';
import type { Session } from 'fastify';
import type { SessionMethods } from './session-methods.js';

/**
 * The session data of your application. Augment it to type `request.session`, `request.liveSession.data`
 * and the hooks' `session.data`:
 * `declare module '@reprise/fastify' { interface SessionDataMap { user?: string; cart?: string[] } }`.
 * It extends Fastify's `Session` interface, so an augmentation written for `@fastify/session`
 * (`declare module 'fastify' { interface Session { user?: string } }`) works unchanged.
 * No index signature: a key that is not declared does not compile.
 */
export interface SessionDataMap extends Session {}

/**
 * {@link SessionDataMap} as a plain object type, the data type of this plugin's `SessionManager` and
 * `LiveSession`s (an interface has no implicit index signature, so it does not satisfy core's
 * `SessionData` by itself; this mapped copy of it does).
 */
export type RepriseData = { [K in keyof SessionDataMap]: SessionDataMap[K] };

/**
 * What `request.session` reads: the session data, plus `@fastify/session`'s methods (`destroy()`,
 * `regenerate()`, `sessionId`, `cookie`, ...), which are not data: never enumerated, never persisted.
 */
export type RequestSessionObject = RepriseData & SessionMethods;

declare module 'fastify' {
  /** `@fastify/session`'s data interface, kept so its augmentations carry over; see `SessionDataMap`. */
  interface Session {}

  interface FastifyRequest {
    /**
     * The session data, `@fastify/session` style. Reading never creates a session; the first write
     * does (a request that never writes sets no cookie). Assigning an object replaces the data;
     * assigning `null` closes the session (reason `'closed'`) and clears its cookie.
     */
    get session(): RequestSessionObject;
    set session(value: RepriseData | null);
    /** The request's `LiveSession` (id, live, close(), regenerate(), restore(key), isNew, ...); created when the request has none. */
    readonly liveSession: LiveSession<RepriseData>;
  }

  interface FastifyInstance {
    /** The `SessionManager` the `@reprise/fastify` plugin drives: stats, setOption, close by id, restore by key. */
    readonly sessionManager: SessionManager<RepriseData>;
  }
}
