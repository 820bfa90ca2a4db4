import type { SessionCallback, SessionCookie } from '@reprise/core/adapter-kit';

// express-session's callback and `session.cookie`: shared with @reprise/fastify through core's adapter kit.
export type { SessionCallback, SessionCookie };

/**
 * express-session's session methods and properties, on `req.session`. They are not data: never
 * enumerated, serialized or persisted, and their names cannot be assigned through `req.session.x = ...`.
 * Each method takes a callback (called on a later tick, with the error if any) or, without one, returns a promise.
 */
export interface SessionMethods {
  /** The session id; reading it creates the session (as `req.liveSession` does). */
  readonly id: string;
  /** The session cookie; see {@link SessionCookie}. */
  readonly cookie: SessionCookie;
  /** Marks activity: the session moves to the front of the eviction order and its idle expiry slides. Does nothing without a session. */
  touch(): void;
  /** Sets `cookie.maxAge` back to the middleware's `cookie.maxAge`. Does nothing without a session. */
  resetMaxAge(): void;
  /**
   * express-session's regenerate: a new session id (the old one stops working at once: use it at
   * login) and the data emptied; no closing hook runs. Without a session it does nothing (the next
   * write creates one with a fresh id). To move the whole context (data and live resources) to a
   * new id, use `req.liveSession.regenerate()`.
   */
  regenerate(): Promise<void>;
  regenerate(callback: SessionCallback): void;
  /**
   * Closes the session (reason `'closed'`: the closing hooks run before the response is sent) and
   * clears its cookie, as `req.session = null` does. Fails with a `SessionUnavailableError` (503)
   * when the session cannot be had.
   */
  destroy(): Promise<void>;
  destroy(callback: SessionCallback): void;
  /**
   * Succeeds at once: the live session is the saved state. Its writes are seen by the next request
   * as soon as they are made, and reach the adapter at each checkpoint (`checkpointInterval`) and
   * when the session closes.
   */
  save(): Promise<void>;
  save(callback: SessionCallback): void;
  /** Succeeds at once: the live session is always the newest state (no other copy can be newer). */
  reload(): Promise<void>;
  reload(callback: SessionCallback): void;
}

/** Every name the session methods occupy on `req.session` (not data keys). */
export const METHOD_NAMES: ReadonlySet<PropertyKey> = new Set(
  Object.keys({
    id: true,
    cookie: true,
    touch: true,
    resetMaxAge: true,
    regenerate: true,
    destroy: true,
    save: true,
    reload: true,
  } satisfies Record<keyof SessionMethods, true>),
);
