import { SessionRequest, type CookieAction, type LiveSession, type SessionData } from '@reprise/core';
import type { Context } from 'koa';
import { carriesCookie, clearCookie, readCookie, writeCookie, type PresentedCookie } from './cookie.js';
import { validateMaxAge } from './options.js';
import { sessionView, splitAssigned, type KoaSession } from './session-view.js';
import type { MiddlewareState } from './shared-state.js';

/**
 * The Koa side of one request: reads the session cookie, drives core's {@link SessionRequest}
 * (which session the request holds, lazy creation, what the cookie needs), and writes or clears
 * the cookie. Per-session cookie facts (lifetime, issued signature, bound IP) live in the shared state.
 */
export class RequestSession<TData extends SessionData> {
  readonly #ctx: Context;
  readonly #shared: MiddlewareState<TData>;
  readonly #presented: PresentedCookie | undefined;
  readonly #request: SessionRequest<TData>;
  #forceCookie = false;
  /** `ctx.session`, and the data object it was made over (a new one when the data object changes). */
  #view: KoaSession<TData> | undefined;
  #viewData: TData | undefined;

  constructor(ctx: Context, shared: MiddlewareState<TData>) {
    this.#ctx = ctx;
    this.#shared = shared;
    this.#presented = readCookie(ctx, shared.cookie, this.#ip(), shared.issuedSignature);
    const binding = shared.ipBinding
      ? { accept: (s: LiveSession<TData>) => this.#ipMatches(s), adopted: (s: LiveSession<TData>) => this.#bindIp(s) }
      : undefined;
    this.#request = new SessionRequest(shared.manager, this.#presented?.id, binding);
  }

  /** Finds the request's session from its cookie (live, restored, or none); a promise only when it must wait. */
  load(): Promise<void> | undefined {
    return this.#request.open();
  }

  /** `ctx.session`: the data, with koa-session's session properties (see `SessionProperties`). */
  get view(): KoaSession<TData> {
    const data = this.#request.data;
    if (this.#view === undefined || this.#viewData !== data) {
      this.#view = sessionView(this, data);
      this.#viewData = data;
    }
    return this.#view;
  }

  /**
   * `ctx.session = value`: `null` closes the session; an object replaces (or creates) the data. Its
   * `maxAge`, if any, is this session's cookie lifetime (as in koa-session), never a data key.
   */
  assign(value: TData | null): void {
    const { data, maxAge } = splitAssigned(value);
    if (maxAge !== undefined) validateMaxAge('ctx.session.maxAge', maxAge);
    this.#request.data = data;
    if (maxAge !== undefined) this.maxAge = maxAge;
  }

  /** The request's session, without creating one. */
  get current(): LiveSession<TData> | undefined {
    return this.#request.session;
  }

  /** `true` unless the request holds a session it did not create (one the visitor came back with). */
  get isNew(): boolean {
    return this.#request.session?.isNew ?? true;
  }

  /** `ctx.session.save()`: the session exists, and this response carries its cookie. */
  save(): void {
    void this.live;
    this.#forceCookie = true;
  }

  /** `ctx.session.regenerate()`: a new id for the request's session, or a new session (whose id is new). */
  regenerate(): void {
    const current = this.#request.session;
    if (current === undefined) void this.live;
    else current.regenerate();
  }

  /** `ctx.liveSession`. */
  get live(): LiveSession<TData> {
    return this.#request.live;
  }

  /** `ctx.sessionMaxAge`: this session's cookie lifetime in ms, or `'session'`. */
  get maxAge(): number | 'session' {
    return this.#shared.lifetimes.maxAgeOf(this.#request.session);
  }

  /** Sets this session's cookie lifetime ("remember me"): ms or `'session'`; creates the session if needed. */
  set maxAge(value: number | 'session') {
    this.setMaxAge(value, 'ctx.sessionMaxAge');
  }

  /** {@link maxAge}'s setter, with the name the error message gives a wrong value. */
  setMaxAge(value: unknown, name: string): void {
    validateMaxAge(name, value);
    this.#shared.lifetimes.setMaxAge(this.live, value);
    this.#forceCookie = true;
  }

  /**
   * After the downstream middleware: sets, clears or keeps the cookie. A promise only when something
   * is pending (a close started by the request, a lease claim): the common request awaits nothing.
   */
  commit(): Promise<void> | undefined {
    const action = this.#request.settle();
    if (!(action instanceof Promise)) {
      this.#apply(action);
      return undefined;
    }
    return action.then((settled) => this.#apply(settled));
  }

  #apply(action: CookieAction<TData>): void {
    if (action.kind === 'set') this.#issue(action.session);
    else if (action.kind === 'clear') clearCookie(this.#ctx, this.#shared.cookie);
  }

  /** Ends the request's hold once the response is sent (a created session whose cookie never went out is closed). */
  end(): void {
    if (this.#request.created === undefined || this.#ctx.res.closed) this.#finish();
    else this.#ctx.res.once('close', () => this.#finish());
  }

  #finish(): void {
    const created = this.#request.created;
    this.#request.end(created === undefined || carriesCookie(this.#ctx, this.#shared.cookie, created.id));
  }

  #issue(session: LiveSession<TData>): void {
    const changed = this.#presented?.id !== session.id || this.#presented.rotated || this.#forceCookie;
    const maxAge = this.#shared.lifetimes.issue(session, changed, Date.now());
    if (maxAge === undefined) return;
    const signature = writeCookie(this.#ctx, this.#shared.cookie, session.id, maxAge, this.#ip());
    this.#shared.lifetimes.setToken(session, signature);
  }

  /** The client IP when `ipBinding` is on (signed into the cookie), else `undefined`. */
  #ip(): string | undefined {
    return this.#shared.ipBinding ? this.#ctx.ip : undefined;
  }

  #ipMatches(session: LiveSession<TData>): boolean {
    const bound = this.#shared.boundIps.get(session);
    return bound === undefined || bound === this.#ctx.ip;
  }

  #bindIp(session: LiveSession<TData>): void {
    this.#shared.boundIps.set(session, this.#ctx.ip);
  }
}
