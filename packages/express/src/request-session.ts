import { AdapterError, RepriseError, SessionRequest, type CookieAction, type LiveSession } from '@reprise/core';
import type { Request, Response } from 'express';
import { carriesCookie, clearCookie, cookieValue, readCookie, secretsFor, writeCookie, type PresentedCookie } from './cookie.js';
import type { MiddlewareState } from './middleware-state.js';
import { validateMaxAge } from './options.js';
import type { RepriseData } from './types.js';

/**
 * The Express side of one request: reads the session cookie, drives core's {@link SessionRequest}
 * (which session the request holds, lazy creation, what the cookie needs), sets or clears the cookie
 * before the headers go out ({@link commit} or {@link commitNow}), and ends the hold once the response is done.
 */
export class RequestSession {
  readonly #request: Request;
  readonly #response: Response;
  readonly #state: MiddlewareState;
  readonly #secrets: readonly string[] | undefined;
  readonly #presented: PresentedCookie | undefined;
  readonly #session: SessionRequest<RepriseData>;
  #forceCookie = false;
  /** Set when this request closed its session through `req.session = null` or `destroy()`. */
  #closedHere = false;
  #commit: Promise<void> | undefined;
  #committed = false;
  /** The `Set-Cookie` line this response set, and the session id it carries. */
  #sent: { readonly id: string; readonly line: string } | undefined;

  constructor(request: Request, response: Response, state: MiddlewareState) {
    this.#request = request;
    this.#response = response;
    this.#state = state;
    this.#secrets = secretsFor(request, state.secrets);
    this.#presented = readCookie(request, state.cookie, this.#secrets);
    this.#session = new SessionRequest(state.manager, this.#presented?.id);
  }

  /** Finds the request's session from its cookie (live, restored, or none); a promise only when it must wait. */
  load(): Promise<void> | undefined {
    return this.#session.open();
  }

  /** The session data (a lazy object while the request has no session). */
  get data(): RepriseData {
    return this.#session.data;
  }

  /** `null` closes the session; an object replaces (or creates) the data. */
  set data(value: RepriseData | null) {
    this.#session.data = value;
    if (value === null) this.#closedHere = true;
  }

  /** The request's session, created when it has none. */
  get live(): LiveSession<RepriseData> {
    return this.#session.live;
  }

  /** The request's session, if it has one (never creates). */
  get current(): LiveSession<RepriseData> | undefined {
    return this.#session.session;
  }

  /** This session's cookie lifetime in ms, or `'session'`. */
  get maxAge(): number | 'session' {
    return this.#state.lifetimes.maxAgeOf(this.#session.session);
  }

  /** Sets this session's cookie lifetime ("remember me"): ms or `'session'`; creates the session if needed; the cookie is re-issued. */
  set maxAge(value: number | 'session') {
    validateMaxAge('req.session.cookie.maxAge', value);
    this.#state.lifetimes.setMaxAge(this.live, value);
    this.#forceCookie = true;
  }

  /** When the session's cookie expires (ms since the epoch), as last issued or as this response will issue it; `undefined` for a browser-session cookie. */
  get cookieExpiry(): number | undefined {
    return this.#state.lifetimes.expiryOf(this.#session.session, this.#forceCookie, Date.now());
  }

  /** The cookie value for the request's session (signed when secrets are set); creates the session. */
  get cookieValue(): string {
    return cookieValue(this.live.id, this.#secrets);
  }

  /** Whether the cookie has been dealt with (set, cleared or kept) already. */
  get committed(): boolean {
    return this.#committed;
  }

  /** Whether {@link commit} has started (the response's end is waiting for it). */
  get committing(): boolean {
    return this.#commit !== undefined;
  }

  /**
   * Before `res.end()` sends the headers: waits for closes started here (and, with several
   * instances, for a new session's lease), then sets, clears or keeps the cookie. Runs once; never rejects.
   */
  commit(): Promise<void> {
    this.#commit ??= this.#session.finish().then(
      (action) => this.#apply(action),
      (error: unknown) => {
        this.#committed = true;
        // The response goes out without the cookie; a session created here is then closed by end().
        const message = `the session cookie could not be decided: ${String((error as Error | undefined)?.message ?? error)}`;
        this.#state.manager.report(
          error instanceof RepriseError ? error : new AdapterError('ERR_REPRISE_ADAPTER', message, { cause: error }),
        );
      },
    );
    return this.#commit;
  }

  /**
   * When the headers go out before `res.end()` (a streamed response, `res.writeHead()`, `res.flushHeaders()`):
   * the cookie is decided now, without waiting (a close started here clears it; a new session's
   * lease, with several instances, is not waited for).
   */
  commitNow(): void {
    if (this.#committed) return;
    const finishing = this.#session.finish();
    finishing.catch(() => undefined);
    const session = this.#session.session;
    if (session !== undefined && session.state === 'live') this.#apply({ kind: 'set', session });
    else if (this.#closedHere || session?.closeReason === 'closed') this.#apply({ kind: 'clear' });
    else this.#apply({ kind: 'keep' });
  }

  #apply(action: CookieAction<RepriseData>): void {
    if (this.#committed) return;
    this.#committed = true;
    if (this.#response.headersSent) return;
    if (action.kind === 'set') this.#issue(action.session);
    else if (action.kind === 'clear') clearCookie(this.#request, this.#response, this.#state.cookie);
  }

  /**
   * Ends the request's hold, once the response is closed: a session created here is kept only if
   * the response carried its cookie. Idempotent.
   */
  end(): void {
    const created = this.#session.created;
    const sent = this.#sent;
    const delivered = created === undefined || (sent !== undefined && sent.id === created.id && carriesCookie(this.#response, sent.line));
    this.#session.end(delivered);
  }

  #issue(session: LiveSession<RepriseData>): void {
    const now = Date.now();
    const changed = this.#presented?.id !== session.id || this.#presented.rotated || this.#forceCookie;
    const maxAge = this.#state.lifetimes.issue(session, changed, now);
    if (maxAge === undefined) return;
    const line = writeCookie(this.#request, this.#response, this.#state.cookie, { id: session.id, maxAge, now, secrets: this.#secrets });
    this.#sent = { id: session.id, line };
  }
}
