import type { LiveSession, SessionData } from '@reprise/core';
import type { Context } from 'koa';
import { carriesCookie, clearCookie, readCookie, writeCookie, type PresentedCookie } from './cookie.js';
import { validateMaxAge } from './options.js';
import { RENEW_FRACTION, type MiddlewareState } from './shared-state.js';

/**
 * The session side of one request: what its cookie named, the session it holds (busy until the
 * request ends), lazy creation on first write, and the cookie the response gets.
 */
export class RequestSession<TData extends SessionData> {
  readonly #ctx: Context;
  readonly #shared: MiddlewareState<TData>;
  #presented: PresentedCookie | undefined;
  /** The session of this request; `undefined` until one is found or created, and after `ctx.session = null`. */
  #session: LiveSession<TData> | undefined;
  /** Sessions this request holds busy (released when it ends). */
  readonly #held: LiveSession<TData>[] = [];
  /** Sessions created or restored here, whose new cookie must reach the client. */
  readonly #fresh = new Map<LiveSession<TData>, string | undefined>();
  readonly #closes: Promise<boolean>[] = [];
  #lazy: TData | undefined;
  /** The presented cookie must be cleared unless a session is written. */
  #clear = false;
  #forceCookie = false;
  /** Set when the response's cookie has been decided: no session can be created any more. */
  #finished = false;

  constructor(ctx: Context, shared: MiddlewareState<TData>) {
    this.#ctx = ctx;
    this.#shared = shared;
  }

  /**
   * Finds the request's session from its cookie: live (touched), restored, or none (cookie cleared,
   * unless the manager is shutting down).
   * With `ipBinding`, a cookie whose session (live, or restored and not yet confirmed) belongs to
   * another IP is no cookie.
   */
  async load(): Promise<void> {
    const presented = readCookie(this.#ctx, this.#shared.cookie, this.#ip(), this.#shared.issuedSignature);
    if (presented === undefined) return;
    const { manager } = this.#shared;
    const live = manager.get(presented.id);
    if (live !== undefined) {
      if (!this.#ipMatches(live)) return;
      this.#presented = presented;
      this.#hold(manager.acquire(presented.id)!);
      // The visitor came back with the new id: the closed id it was restored from stops leading here.
      manager.confirmResume(live);
      return;
    }
    let resumed: LiveSession<TData> | undefined;
    try {
      resumed = await manager.resume(presented.id);
    } catch {
      // The store could not be read (reported by the manager): no session now, and the cookie stays,
      // so the visitor is restored once the store is back, unless this request starts a new session.
      return;
    }
    if (resumed !== undefined && !this.#ipMatches(resumed)) return;
    this.#presented = presented;
    const session = resumed === undefined ? undefined : manager.acquire(resumed.id);
    if (session === undefined) {
      // A stopping manager restores nothing: the snapshot waits for the next process, so the cookie stays.
      this.#clear = !manager.shuttingDown;
      return;
    }
    this.#hold(session);
    this.#fresh.set(session, presented.id);
    this.#bindIp(session);
  }

  /** `ctx.session`: the data of the request's session, or a lazy object whose first write creates one. */
  get data(): TData {
    return this.#session?.data ?? this.#lazyData();
  }

  /** `ctx.session = value`: `null` closes the session ('closed'); an object replaces (or creates) the data. */
  set data(value: TData | null) {
    if (value === null || value === undefined) {
      this.#close();
      return;
    }
    if (typeof value !== 'object' || Array.isArray(value)) throw new TypeError('ctx.session must be set to a plain object or null');
    if (this.#session !== undefined) this.#session.data = { ...value };
    else if (Object.keys(value).length > 0) this.#create({ ...value });
  }

  /** `ctx.liveSession`: the request's session, created when it has none (reading it is a request for a session). */
  get live(): LiveSession<TData> {
    return this.#session ?? this.#create({} as TData);
  }

  /** `ctx.sessionMaxAge`: this session's cookie lifetime in ms, or `'session'`. */
  get maxAge(): number | 'session' {
    const session = this.#session;
    return (session && this.#shared.maxAges.get(session)) ?? this.#shared.cookie.maxAge;
  }

  /** Sets this session's cookie lifetime ("remember me"): ms or `'session'`; creates the session if needed. */
  set maxAge(value: number | 'session') {
    validateMaxAge('ctx.sessionMaxAge', value);
    this.#shared.maxAges.set(this.live, value);
    this.#forceCookie = true;
  }

  /** After the downstream middleware: waits for closes started here, then sets or clears the cookie. */
  async commit(): Promise<void> {
    this.#finished = true;
    if (this.#closes.length > 0) await Promise.all(this.#closes);
    const session = this.#session;
    if (session !== undefined && session.state === 'live') this.#issue(session);
    else if (session?.closeReason === 'closed' || (session === undefined && this.#clear)) clearCookie(this.#ctx, this.#shared.cookie);
  }

  /**
   * Ends the request's hold on its sessions. A session whose cookie this response had to deliver is
   * held until the response is sent: then, if the cookie never went out (an error response), a new
   * session is closed (it holds no cap slot) and a restored one stays reachable from its old cookie.
   */
  end(): void {
    if (this.#fresh.size === 0) {
      this.#releaseAll();
      return;
    }
    const settle = (): void => {
      for (const [session, resumedFrom] of this.#fresh) this.#settle(session, resumedFrom);
      this.#releaseAll();
    };
    if (this.#ctx.res.closed) settle();
    else this.#ctx.res.once('close', settle);
  }

  /**
   * A new session whose cookie never went out is closed (it would hold a cap slot for nobody). A
   * restored one stays reachable from its old cookie until a request arrives with the new id
   * (`confirmResume` in `load()`), whether this response reached the visitor or not: parallel
   * requests of a page load still carry the old cookie.
   */
  #settle(session: LiveSession<TData>, resumedFrom: string | undefined): void {
    if (resumedFrom !== undefined) return;
    const delivered = carriesCookie(this.#ctx, this.#shared.cookie, session.id);
    if (!delivered && session.state === 'live') void this.#shared.manager.close(session.id, 'closed');
  }

  #releaseAll(): void {
    for (const session of this.#held) this.#shared.manager.release(session);
    this.#held.length = 0;
  }

  #issue(session: LiveSession<TData>): void {
    const { cookie, cookieExpiries } = this.#shared;
    const maxAge = this.maxAge;
    const expiry = maxAge === 'session' ? Infinity : Date.now() + maxAge;
    const issued = cookieExpiries.get(session);
    const changed = this.#presented?.id !== session.id || this.#presented.rotated || this.#forceCookie;
    const slid = issued !== undefined && maxAge !== 'session' && expiry - issued >= maxAge * RENEW_FRACTION;
    if (!changed && !slid && issued !== undefined) return;
    const signature = writeCookie(this.#ctx, cookie, session.id, maxAge, this.#ip());
    cookieExpiries.set(session, expiry);
    if (signature === undefined) this.#shared.signatures.delete(session);
    else this.#shared.signatures.set(session, signature);
  }

  #create(data: TData): LiveSession<TData> {
    if (this.#finished) {
      // Its cookie could no longer be sent, and nothing would release it: it would be a leak.
      throw new Error('a session cannot be created after the session() middleware has finished the request: mount session() before the middleware that writes ctx.session');
    }
    const { manager } = this.#shared;
    const created = manager.create(data);
    const session = manager.acquire(created.id)!;
    this.#hold(session);
    this.#fresh.set(session, undefined);
    this.#bindIp(session);
    return session;
  }

  #hold(session: LiveSession<TData>): void {
    this.#session = session;
    this.#held.push(session);
  }

  #close(): void {
    const session = this.#session;
    this.#session = undefined;
    this.#lazy = undefined;
    this.#clear = true;
    if (session !== undefined) this.#closes.push(session.close());
  }

  /**
   * An empty object standing for the session the request does not have yet: its first write creates
   * the live session, with this very object as its data; later writes go to the session's data.
   */
  #lazyData(): TData {
    if (this.#lazy !== undefined) return this.#lazy;
    const target = {} as TData;
    let adopted = false;
    const sessionFor = (): LiveSession<TData> => {
      if (this.#session !== undefined) return this.#session;
      const data = adopted ? ({} as TData) : target;
      adopted = true;
      return this.#create(data);
    };
    this.#lazy = new Proxy(target, {
      set: (_target, property, value) => Reflect.set(sessionFor().data, property, value),
      defineProperty: (_target, property, descriptor) => Reflect.defineProperty(sessionFor().data, property, descriptor),
    });
    return this.#lazy;
  }

  /** The client IP when `ipBinding` is on (signed into the cookie), else `undefined`. */
  #ip(): string | undefined {
    return this.#shared.ipBinding ? this.#ctx.ip : undefined;
  }

  #ipMatches(session: LiveSession<TData>): boolean {
    if (!this.#shared.ipBinding) return true;
    const bound = this.#shared.boundIps.get(session);
    return bound === undefined || bound === this.#ctx.ip;
  }

  #bindIp(session: LiveSession<TData>): void {
    if (this.#shared.ipBinding) this.#shared.boundIps.set(session, this.#ctx.ip);
  }
}
