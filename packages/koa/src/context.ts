import { UnsupportedError, type LiveSession, type SessionData } from '@reprise/core';
import type Koa from 'koa';
import type { RequestSession } from './request-session.js';
import type { KoaSession } from './session-view.js';

/**
 * Your session data's shape. Augment it, and `ctx.session`, `ctx.liveSession`, `session()`'s
 * hooks and its `manager` are typed by it:
 * `declare module '@reprise/koa' { interface SessionDataMap { views?: number } }`.
 * Until it is augmented, the data is `Record<string, unknown>`: any key reads as `unknown`, so a
 * value must be checked (or the map augmented) before it is used as a number or a string.
 */
// biome-ignore lint/suspicious/noEmptyInterface: declared empty so that applications augment it.
export interface SessionDataMap {}

/** `{ [K in keyof T]: T[K] }`: an interface as an object type (assignable to `SessionData`). */
type Flatten<T> = { [K in keyof T]: T[K] };

/**
 * The session data type of this application: the augmented {@link SessionDataMap}, or
 * `Record<string, unknown>` while it is not augmented. The default data type of `session()`.
 */
export type KoaSessionData = keyof SessionDataMap extends never ? Record<string, unknown> : Flatten<SessionDataMap>;

declare module 'koa' {
  interface ExtendableContext {
    /**
     * The session data, koa-session style, with koa-session's session properties (`maxAge`, `isNew`,
     * `populated`, `length`, `save()`, `regenerate()`, `toJSON()`; see {@link KoaSession}). Reading
     * never creates a session; the first write does. Assigning an object replaces the data;
     * assigning `null` closes the session (reason `'closed'`) and clears its cookie.
     */
    get session(): KoaSession<KoaSessionData>;
    set session(value: KoaSessionData | null);
    /** The request's `LiveSession` (id, live, close(), regenerate(), restore(key), isNew, ...); created when the request has none. */
    readonly liveSession: LiveSession<KoaSessionData>;
    /** This session's cookie lifetime in ms, or `'session'` (a browser-session cookie); set it for "remember me". Setting creates the session. */
    sessionMaxAge: number | 'session';
  }
}

/** Where each request keeps its {@link RequestSession}. */
export const REQUEST_SESSION: unique symbol = Symbol('reprise.requestSession');

type WithRequestSession = { [REQUEST_SESSION]?: RequestSession<SessionData> };

const installed = new WeakSet<object>();

/**
 * Defines `ctx.session`, `ctx.liveSession` and `ctx.sessionMaxAge` on the app's context prototype,
 * once per app, and two names of other session middleware that fail loudly, naming what to use:
 * koa-session's `ctx.sessionOptions` and koa-generic-session's `ctx.regenerateSession()`.
 */
export function installAccessors(app: Koa): void {
  const proto = app.context as object;
  if (installed.has(proto)) return;
  installed.add(proto);
  Object.defineProperties(proto, {
    session: {
      configurable: true,
      get(this: WithRequestSession) {
        return this[REQUEST_SESSION]?.view;
      },
      set(this: WithRequestSession, value: SessionData | null) {
        requestSession(this).assign(value);
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
    sessionOptions: {
      configurable: true,
      get() {
        throw new UnsupportedError(
          "ctx.sessionOptions is koa-session's: with Reprise, set this session's cookie lifetime with ctx.sessionMaxAge (or ctx.session.maxAge); the cookie's other settings are session({ cookie })",
        );
      },
    },
    regenerateSession: {
      configurable: true,
      value() {
        throw new UnsupportedError(
          "ctx.regenerateSession() is koa-generic-session's: with Reprise, ctx.liveSession.regenerate() moves the session to a new id (keeping its data); ctx.session = null ends it",
        );
      },
    },
  });
}

function requestSession(ctx: WithRequestSession): RequestSession<SessionData> {
  const found = ctx[REQUEST_SESSION];
  if (found === undefined)
    throw new Error('ctx.session is used outside the Reprise session() middleware (add app.use(session()) before this middleware)');
  return found;
}
