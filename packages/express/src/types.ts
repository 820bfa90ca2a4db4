import type { LiveSession } from '@reprise/core';
import type { SessionMethods } from './session-methods.js';

/**
 * The session data of your application. Augment it to type `req.session`, `req.liveSession.data`
 * and the hooks' `session.data`:
 * `declare module '@reprise/express' { interface SessionDataMap { user?: string; cart?: string[] } }`.
 * No index signature: a key that is not declared does not compile.
 */
// biome-ignore lint/suspicious/noEmptyInterface: declared empty so that applications augment it.
export interface SessionDataMap {}

/**
 * {@link SessionDataMap} as a plain object type, the data type of this middleware's `SessionManager`
 * and `LiveSession`s (an interface has no implicit index signature, so it does not satisfy core's
 * `SessionData` by itself; this mapped copy of it does).
 */
export type RepriseData = { [K in keyof SessionDataMap]: SessionDataMap[K] };

/**
 * What `req.session` reads: the session data, plus express-session's methods and properties
 * (`destroy()`, `regenerate()`, `save()`, `id`, `cookie`, ...), which are not data: never
 * enumerated, never persisted.
 */
export type RequestSessionObject = RepriseData & SessionMethods;

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Express's own augmentation point
  namespace Express {
    interface Request {
      /**
       * The session data, express-session style. Reading never creates a session; the first write
       * does (a request that never writes sets no cookie). Assigning an object replaces the data;
       * assigning `null` closes the session (reason `'closed'`) and clears its cookie.
       */
      get session(): RequestSessionObject;
      set session(value: RepriseData | null);
      /** The request's `LiveSession` (id, close(), regenerate(), restore(key), isNew, ...); created when the request has none. */
      readonly liveSession: LiveSession<RepriseData>;
      /** express-session's `req.sessionID`: the id of the request's session, `undefined` while it has none (reading it never creates one). */
      readonly sessionID: string | undefined;
    }
  }
}
