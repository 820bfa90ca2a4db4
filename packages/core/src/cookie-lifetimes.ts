/** Share of a cookie's lifetime after which a sliding cookie is re-issued (not on every response). */
export const RENEW_FRACTION = 0.1;

/**
 * The session cookie's lifetime per session, for a binding: each session's own `maxAge` ("remember
 * me", default the binding's `cookie.maxAge`) and the expiry its cookie was last issued with, and the
 * rule for when a response must (re)issue it. Keyed weakly by the session object: nothing to clean up.
 */
export class CookieLifetimes<TSession extends object> {
  readonly #default: number | 'session';
  readonly #rolling: boolean;
  readonly #maxAges = new WeakMap<TSession, number | 'session'>();
  readonly #issued = new WeakMap<TSession, number>();

  /**
   * @param defaultMaxAge the binding's `cookie.maxAge`: ms or `'session'`.
   * @param rolling whether the cookie's expiry slides with activity (default `true`).
   */
  constructor(defaultMaxAge: number | 'session', rolling = true) {
    this.#default = defaultMaxAge;
    this.#rolling = rolling;
  }

  /** The cookie lifetime of `session` (the default without a session or an own value). */
  maxAgeOf(session: TSession | undefined): number | 'session' {
    return (session && this.#maxAges.get(session)) ?? this.#default;
  }

  /** Gives `session` a lifetime of its own (the caller validates it and re-issues the cookie). */
  setMaxAge(session: TSession, maxAge: number | 'session'): void {
    this.#maxAges.set(session, maxAge);
  }

  /**
   * When `session`'s cookie expires, ms since the epoch: as last issued, or `now` + its lifetime when
   * it was never issued or `reissue` is set; `undefined` for a browser-session cookie.
   */
  expiryOf(session: TSession | undefined, reissue: boolean, now: number): number | undefined {
    const maxAge = this.maxAgeOf(session);
    if (maxAge === 'session') return undefined;
    const issued = session === undefined ? undefined : this.#issued.get(session);
    return issued !== undefined && !reissue ? issued : now + maxAge;
  }

  /**
   * Whether this response must (re)issue `session`'s cookie: it was never issued, `changed` (another
   * id, a rotated signature, a new lifetime), or, when rolling, its expiry would move by at least
   * {@link RENEW_FRACTION} of the lifetime. When it must, records the new expiry and returns the
   * lifetime to write; else `undefined`.
   */
  issue(session: TSession, changed: boolean, now: number): number | 'session' | undefined {
    const maxAge = this.maxAgeOf(session);
    const expiry = maxAge === 'session' ? Infinity : now + maxAge;
    const issued = this.#issued.get(session);
    const slid = this.#rolling && issued !== undefined && maxAge !== 'session' && expiry - issued >= maxAge * RENEW_FRACTION;
    if (!changed && !slid && issued !== undefined) return undefined;
    this.#issued.set(session, expiry);
    return maxAge;
  }
}
