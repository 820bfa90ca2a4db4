import type { SessionCallback, SessionCookie } from '@reprise/core/adapter-kit';
import type { RepriseData } from './types.js';

// A Node-style callback as `@fastify/session`'s methods take, and `session.cookie`: shared with
// @reprise/express through core's adapter kit.
export type { SessionCallback, SessionCookie };
/**
 * `@fastify/session`'s session methods, on `request.session`. They are not data: never enumerated,
 * serialized or persisted, and their names cannot be assigned through `request.session.x = ...`
 * (use `set(name, value)` for a data key of that name). `isModified()` and `isSaved()` throw: a live
 * session has no "saved" state to compare with.
 */
export interface SessionMethods {
  /** The session id; reading it creates the session (as `request.liveSession` does). */
  readonly sessionId: string;
  /** The cookie value of the session: the id, signed when a secret is set; reading it creates the session. */
  readonly encryptedSessionId: string;
  /** The session cookie; see {@link SessionCookie}. */
  readonly cookie: SessionCookie;
  /** Reads a data key. */
  get<K extends keyof RepriseData>(key: K): RepriseData[K] | undefined;
  /** Writes a data key (the first write creates the session). */
  set<K extends keyof RepriseData>(key: K, value: RepriseData[K]): void;
  /** Marks activity: the session moves to the front of the eviction order and its idle expiry slides. Does nothing without a session. */
  touch(): void;
  /**
   * `@fastify/session`'s regenerate: a new session id (the old one stops working at once, use it at
   * login) and data emptied but for the `keep` keys; no closing hook runs. Without a session it does
   * nothing (the next write creates one with a fresh id). To move the whole context (data and live
   * resources) to a new id, use `request.liveSession.regenerate()`.
   */
  regenerate(): Promise<void>;
  regenerate(keep: readonly (keyof RepriseData & string)[]): Promise<void>;
  regenerate(callback: SessionCallback): void;
  regenerate(keep: readonly (keyof RepriseData & string)[], callback: SessionCallback): void;
  /**
   * Closes the session (reason `'closed'`: the closing hooks run before the response is sent) and
   * clears its cookie, as `request.session = null` does. Rejects with a `SessionUnavailableError`
   * (503) when the session cannot be had.
   */
  destroy(): Promise<void>;
  destroy(callback: SessionCallback): void;
  /**
   * Resolves at once: the live session is the saved state. Its writes are seen by the next request
   * as soon as they are made, and reach the adapter at each checkpoint (`checkpointInterval`) and
   * when the session closes.
   */
  save(): Promise<void>;
  save(callback: SessionCallback): void;
  /** Resolves at once: the live session is always the newest state (no other copy can be newer). */
  reload(): Promise<void>;
  reload(callback: SessionCallback): void;
  /** Sets this session's cookie options for this response: only `maxAge` (ms, or `null` for a browser-session cookie). */
  options(options: { maxAge?: number | null | undefined }): void;
}

/** Every name the session methods occupy on `request.session` (not data keys). */
export const METHOD_NAMES: ReadonlySet<PropertyKey> = new Set(
  Object.keys({
    sessionId: true,
    encryptedSessionId: true,
    cookie: true,
    get: true,
    set: true,
    touch: true,
    regenerate: true,
    destroy: true,
    save: true,
    reload: true,
    options: true,
  } satisfies Record<keyof SessionMethods, true>),
);

/** `@fastify/session` methods that have no meaning for a live session: calling them throws, naming what to use. */
export const UNSUPPORTED_METHODS: Readonly<Record<string, string>> = Object.freeze({
  isModified:
    'request.session.isModified() is not supported: a Reprise session is live in memory, so there is no stored copy to compare with; the session is written when it closes, and at each checkpoint only if it changed',
  isSaved:
    'request.session.isSaved() is not supported: a Reprise session is live in memory and written when it closes (and at each checkpoint, checkpointInterval); save() resolves at once',
});
