import type { LiveSession, SessionData } from '@reprise/core';
import type Koa from 'koa';
import type { RequestSession } from './request-session.js';

/**
 * The shape of `ctx.session`. Augment it to type your session data:
 * `declare module '@reprise/koa' { interface SessionDataMap { views?: number } }`.
 */
export interface SessionDataMap {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [key: string]: any;
}

declare module 'koa' {
  interface ExtendableContext {
    /**
     * The session data, koa-session style. Reading never creates a session; the first write does.
     * Assigning an object replaces the data; assigning `null` closes the session (reason `'closed'`)
     * and clears its cookie.
     */
    get session(): SessionDataMap;
    set session(value: SessionDataMap | null);
    /** The request's `LiveSession` (id, live, close(), regenerate(), restore(key), isNew, ...); created when the request has none. */
    readonly liveSession: LiveSession<SessionDataMap>;
    /** This session's cookie lifetime in ms, or `'session'` (a browser-session cookie); set it for "remember me". Setting creates the session. */
    sessionMaxAge: number | 'session';
  }
}

/** Where each request keeps its {@link RequestSession}. */
export const REQUEST_SESSION: unique symbol = Symbol('reprise.requestSession');

type WithRequestSession = { [REQUEST_SESSION]?: RequestSession<SessionData> };

const installed = new WeakSet<object>();

/** Defines `ctx.session`, `ctx.liveSession` and `ctx.sessionMaxAge` on the app's context prototype, once per app. */
export function installAccessors(app: Koa): void {
  const proto = app.context as object;
  if (installed.has(proto)) return;
  installed.add(proto);
  Object.defineProperties(proto, {
    session: {
      configurable: true,
      get(this: WithRequestSession) {
        return this[REQUEST_SESSION]?.data;
      },
      set(this: WithRequestSession, value: SessionData | null) {
        requestSession(this).data = value;
      },
    },
    liveSession: {
      configurable: true,
      get(this: WithRequestSession) {
        return requestSession(this).live;
      },
    },
    sessionMaxAge: {
      configurable: true,
      get(this: WithRequestSession) {
        return requestSession(this).maxAge;
      },
      set(this: WithRequestSession, value: number | 'session') {
        requestSession(this).maxAge = value;
      },
    },
  });
}

function requestSession(ctx: WithRequestSession): RequestSession<SessionData> {
  const found = ctx[REQUEST_SESSION];
  if (found === undefined) throw new Error('ctx.session is used outside the Reprise session() middleware (add app.use(session()) before this middleware)');
  return found;
}
