import { SessionRequest, type LiveSession } from '@reprise/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { carriesCookie, clearCookie, readCookie, writeCookie, type PresentedCookie } from './cookie.js';
import { validateMaxAge } from './options.js';
import type { PluginState } from './plugin-state.js';
import type { RepriseData } from './types.js';

/**
 * The Fastify side of one request: reads the session cookie, drives core's {@link SessionRequest}
 * (which session the request holds, lazy creation, what the cookie needs), sets or clears the cookie
 * in `onSend`, and ends the hold once the response is done.
 */
export class RequestSession {
  readonly #request: FastifyRequest;
  readonly #reply: FastifyReply;
  readonly #state: PluginState;
  readonly #presented: PresentedCookie | undefined;
  readonly #session: SessionRequest<RepriseData>;
  #forceCookie = false;
  #commit: Promise<void> | undefined;
  #committed = false;
  /** The `Set-Cookie` line this response set, and the session id it carries. */
  #sent: { readonly id: string; readonly line: string } | undefined;

  constructor(request: FastifyRequest, reply: FastifyReply, state: PluginState) {
    this.#request = request;
    this.#reply = reply;
    this.#state = state;
    this.#presented = readCookie(state.app, request, state.cookie, state.signer);
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
    validateMaxAge('request.session.cookie.maxAge', value);
    this.#state.lifetimes.setMaxAge(this.live, value);
    this.#forceCookie = true;
  }

  /** When the session's cookie expires (ms since the epoch), as last issued or as this response will issue it; `undefined` for a browser-session cookie. */
  get cookieExpiry(): number | undefined {
    return this.#state.lifetimes.expiryOf(this.#session.session, this.#forceCookie, Date.now());
  }

  /** The cookie value for the request's session (signed when a signer is set); creates the session. */
  get cookieValue(): string {
    const id = this.live.id;
    return this.#state.signer === undefined ? id : this.#state.signer.sign(id);
  }

  /** In `onSend`: waits for closes started here, then sets, clears or keeps the cookie. Runs once per request. */
  commit(): Promise<void> {
    this.#commit ??= this.#runCommit();
    return this.#commit;
  }

  async #runCommit(): Promise<void> {
    try {
      const action = await this.#session.finish();
      if (action.kind === 'set') this.#issue(action.session);
      else if (action.kind === 'clear') clearCookie(this.#state.app, this.#request, this.#reply, this.#state.cookie);
    } finally {
      this.#committed = true;
      this.#endAfterCommit();
    }
  }

  /**
   * In `onResponse` (the response finished): a request that never passed `onSend` (a hijacked reply,
   * an error handler that failed) will not commit, so its hold ends now.
   */
  responded(): void {
    if (!this.#committed && this.#commit === undefined) this.#end();
  }

  /**
   * A session created here is kept only if the response carried its cookie, which is known once the
   * response is closed; any other hold ends at once (as the Koa middleware's does). A client that went
   * away before `onSend` ran is seen here too: the response is closed already.
   */
  #endAfterCommit(): void {
    const raw = this.#reply.raw;
    if (this.#session.created === undefined || raw.closed || raw.destroyed) this.#end();
    else raw.once('close', () => this.#end());
  }

  #end(): void {
    const created = this.#session.created;
    const sent = this.#sent;
    const delivered = created === undefined || (sent !== undefined && sent.id === created.id && carriesCookie(this.#reply, sent.line));
    this.#session.end(delivered);
  }

  #issue(session: LiveSession<RepriseData>): void {
    const now = Date.now();
    const changed = this.#presented?.id !== session.id || this.#presented.rotated || this.#forceCookie;
    const maxAge = this.#state.lifetimes.issue(session, changed, now);
    if (maxAge === undefined) return;
    const line = writeCookie(this.#state.app, this.#request, this.#reply, this.#state.cookie, {
      id: session.id,
      maxAge,
      now,
      signer: this.#state.signer,
    });
    this.#sent = { id: session.id, line };
  }
}
