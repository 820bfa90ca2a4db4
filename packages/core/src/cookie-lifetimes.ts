/** Share of a cookie's lifetime after which a sliding cookie is re-issued (not on every response). */
export const RENEW_FRACTION = 0.1;

/** What is kept per session: its own lifetime, the expiry last issued, and the binding's own token. */
interface CookieRecord<TToken> {
  maxAge: number | 'session' | undefined;
  issued: number | undefined;
  token: TToken | undefined;
}

/**
 * The session cookie's lifetime per session, for a binding: each session's own `maxAge` ("remember
 * me", default the binding's `cookie.maxAge`) and the expiry its cookie was last issued with, and the
 * rule for when a response must (re)issue it. Keyed weakly by the session object: nothing to clean up.
 * A binding may keep one token of its own per session next to them (the signature its cookie was
 * issued with, for example): one weak entry per session for all of it.
 */
export class CookieLifetimes<TSession extends object, TToken = never> {
  readonly #default: number | 'session';
  readonly #rolling: boolean;
  readonly #records = new WeakMap<TSession, CookieRecord<TToken>>();

  /**
   * @param defaultMaxAge the binding's `cookie.maxAge`: ms or `'session'`.
   * @param rolling whether the cookie's expiry slides with activity (default `true`).
   */
  constructor(defaultMaxAge: number | 'session', rolling = true) {
    this.#default = defaultMaxAge;
    this.#rolling = rolling;
  }

  #record(session: TSession): CookieRecord<TToken> {
    let record = this.#records.get(session);
    if (record === undefined) {
      record = { maxAge: undefined, issued: undefined, token: undefined };
      this.#records.set(session, record);
    }
    return record;
  }

  /** The cookie lifetime of `session` (the default without a session or an own value). */
  maxAgeOf(session: TSession | undefined): number | 'session' {
    return (session && this.#records.get(session)?.maxAge) ?? this.#default;
  }

  /** Gives `session` a lifetime of its own (the caller validates it and re-issues the cookie). */
  setMaxAge(session: TSession, maxAge: number | 'session'): void {
    this.#record(session).maxAge = maxAge;
  }

  /**
   * When `session`'s cookie expires, ms since the epoch: as last issued, or `now` + its lifetime when
   * it was never issued or `reissue` is set; `undefined` for a browser-session cookie.
   */
  expiryOf(session: TSession | undefined, reissue: boolean, now: number): number | undefined {
    const maxAge = this.maxAgeOf(session);
    if (maxAge === 'session') return undefined;
    const issued = session === undefined ? undefined : this.#records.get(session)?.issued;
    return issued !== undefined && !reissue ? issued : now + maxAge;
  }

  /**
   * Whether this response must (re)issue `session`'s cookie: it was never issued, `changed` (another
   * id, a rotated signature, a new lifetime), or, when rolling, its expiry would move by at least
   * {@link RENEW_FRACTION} of the lifetime. When it must, records the new expiry and returns the
   * lifetime to write; else `undefined`.
   */
  issue(session: TSession, changed: boolean, now: number): number | 'session' | undefined {
    const found = this.#records.get(session);
    const maxAge = found?.maxAge ?? this.#default;
    const expiry = maxAge === 'session' ? Infinity : now + maxAge;
    const issued = found?.issued;
    const slid = this.#rolling && issued !== undefined && maxAge !== 'session' && expiry - issued >= maxAge * RENEW_FRACTION;
    if (!changed && !slid && issued !== undefined) return undefined;
    if (found === undefined) this.#records.set(session, { maxAge: undefined, issued: expiry, token: undefined });
    else found.issued = expiry;
    return maxAge;
  }

  /** The binding's token for `session` (see {@link setToken}), if any. */
  tokenOf(session: TSession): TToken | undefined {
    return this.#records.get(session)?.token;
  }

  /** Keeps the binding's token for `session` (`undefined` forgets it). */
  setToken(session: TSession, token: TToken | undefined): void {
    if (token === undefined) {
      const found = this.#records.get(session);
      if (found !== undefined) found.token = undefined;
      return;
    }
    this.#record(session).token = token;
  }
}
