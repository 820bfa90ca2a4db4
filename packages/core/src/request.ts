import { SessionClosedError, type SessionUnavailableError } from './errors.js';
import { setOwn, type LiveSession } from './live-session.js';
import type { SessionManager } from './session-manager.js';
import type { SessionData } from './types.js';

/** What the response must do with the session cookie ({@link SessionRequest.finish}). */
export type CookieAction<TData extends SessionData> =
  | { readonly kind: 'set'; readonly session: LiveSession<TData> }
  | { readonly kind: 'clear' }
  | { readonly kind: 'keep' };

/** What the response does with the cookie when the request ends without a session of its own to set. */
const KEEP: CookieAction<never> = Object.freeze({ kind: 'keep' });
const CLEAR: CookieAction<never> = Object.freeze({ kind: 'clear' });

/** Options of a {@link SessionRequest}. */
export interface SessionRequestOptions<TData extends SessionData> {
  /**
   * Whether the session a presented id leads to may serve this request (IP binding, for example);
   * a refused one is no session for this request, and its cookie is left alone. Default: always.
   */
  accept?: (session: LiveSession<TData>) => boolean;
  /** Called with each session this request creates or restores (to bind it to the client IP, for example). */
  adopted?: (session: LiveSession<TData>) => void;
}

const NO_OPTIONS: SessionRequestOptions<SessionData> = Object.freeze({});

/**
 * The session side of one request, framework-free: which session the request holds, lazy creation
 * on first write, what the response does with the cookie, and when the hold ends. A binding (Koa,
 * Express, Fastify) only reads the cookie, calls {@link open}, exposes {@link data} and {@link live},
 * calls {@link finish} after its downstream handlers and applies the cookie action, and calls
 * {@link end} once the response is sent.
 *
 * - A presented id of a live session holds it; of an involuntarily closed one restores it under the
 *   same id (the cookie does not change); of a session closing waits for the close.
 * - An unknown id is no session, and its cookie is kept (it is not a logout).
 * - When the session cannot be had (store unreadable, shutdown), a write throws a
 *   {@link SessionUnavailableError} (503 with `Retry-After`) and the cookie is kept.
 * - An explicit close (`data = null`) clears the cookie.
 */
export class SessionRequest<TData extends SessionData> {
  readonly #manager: SessionManager<TData>;
  readonly #presentedId: string | undefined;
  readonly #options: SessionRequestOptions<TData>;
  /** The session of this request, once found or created; `undefined` after an explicit close. */
  #session: LiveSession<TData> | undefined;
  /** The first session held busy by this request (released by {@link end}); almost always the only one. */
  #held: LiveSession<TData> | undefined;
  /** Sessions held after the first, if any. */
  #moreHeld: LiveSession<TData>[] | undefined;
  /** The session created here, whose cookie this response must deliver. */
  #created: LiveSession<TData> | undefined;
  /** Closes started by this request, if any. */
  #closes: Promise<boolean>[] | undefined;
  #lazy: TData | undefined;
  /** The object behind {@link #lazy}, until a session is created with it as its data. */
  #unadopted: TData | undefined;
  #unavailable: SessionUnavailableError | undefined;
  #clear = false;
  #finished = false;
  #ended = false;

  /** @param presentedId the session id the request's cookie carries (checked, signature included), if any. */
  constructor(
    manager: SessionManager<TData>,
    presentedId: string | undefined,
    options: SessionRequestOptions<TData> = NO_OPTIONS as SessionRequestOptions<TData>,
  ) {
    this.#manager = manager;
    this.#presentedId = presentedId;
    this.#options = options;
  }

  /**
   * Resolves the presented id (see the class comment). A live session is held at once (no promise:
   * the common path costs no microtask); anything else returns a promise that never rejects.
   */
  open(): Promise<void> | undefined {
    const id = this.#presentedId;
    if (id === undefined) return undefined;
    const live = this.#manager.get(id);
    if (live !== undefined) {
      // A live session this request may not use is not even touched.
      if (this.#options.accept?.(live) === false) return undefined;
      this.#manager.acquire(id);
      this.#hold(live);
      this.#session = live;
      return undefined;
    }
    return this.#resume(id);
  }

  async #resume(id: string): Promise<void> {
    const found = await this.#manager.resume(id);
    if (found.kind === 'live' || found.kind === 'restored') {
      this.#hold(found.session);
      if (this.#options.accept?.(found.session) === false) return;
      this.#session = found.session;
      if (found.kind === 'restored') this.#options.adopted?.(found.session);
    } else if (found.kind === 'closed') {
      this.#clear = true;
    } else if (found.kind === 'unavailable') {
      this.#unavailable = found.error;
    }
  }

  /** The session the request holds, without creating one. */
  get session(): LiveSession<TData> | undefined {
    return this.#session;
  }

  /** Why the request's session cannot be had, when it cannot. */
  get unavailable(): SessionUnavailableError | undefined {
    return this.#unavailable;
  }

  /** The session data, or a lazy object whose first write creates the session (`ctx.session`). */
  get data(): TData {
    return this.#session?.data ?? this.#lazyData();
  }

  /**
   * Replaces the data (creating the session if needed, unless `value` is empty), or closes the
   * session with `null` ('closed'). Anything else is a `TypeError`, `undefined` included.
   */
  set data(value: TData | null) {
    if (value === null) {
      this.close();
      return;
    }
    if (typeof value !== 'object' || Array.isArray(value)) throw new TypeError('the session can only be set to a plain object or null');
    if (this.#session !== undefined) this.#session.data = { ...value };
    else if (Object.keys(value).length > 0) this.#create({ ...value });
  }

  /** The request's session, created when it has none (reading it is a request for a session). */
  get live(): LiveSession<TData> {
    return this.#session ?? this.#create(this.#adoptLazy());
  }

  /**
   * Closes the request's session (reason `'closed'`); the response clears the cookie.
   * @throws SessionUnavailableError when the session cannot be had (nothing could be closed).
   */
  close(): void {
    // A logout is a write too: with the session unavailable, it is refused and the cookie kept.
    if (this.#session === undefined && this.#unavailable !== undefined) throw this.#unavailable;
    const session = this.#session;
    this.#session = undefined;
    this.#lazy = undefined;
    this.#unadopted = undefined;
    this.#clear = true;
    if (session === undefined) return;
    this.#closes ??= [];
    this.#closes.push(session.close());
  }

  /** After the downstream handlers: waits for closes started here, then says what to do with the cookie. */
  async finish(): Promise<CookieAction<TData>> {
    return this.settle();
  }

  /**
   * {@link finish} without a promise when nothing is pending (no close started here, no lease claim
   * in flight): the common request costs no microtask. A promise otherwise.
   */
  settle(): CookieAction<TData> | Promise<CookieAction<TData>> {
    this.#finished = true;
    if (this.#closes !== undefined) return this.#settleAfterCloses(this.#closes);
    const leased = this.#leased();
    return leased === undefined ? this.#action() : leased.then(() => this.#action());
  }

  async #settleAfterCloses(closes: Promise<boolean>[]): Promise<CookieAction<TData>> {
    await Promise.all(closes);
    const leased = this.#leased();
    if (leased !== undefined) await leased;
    return this.#action();
  }

  /** Several instances: a new session's cookie goes out once its lease is claimed (see SessionManager.leased). */
  #leased(): Promise<void> | undefined {
    const session = this.#session;
    return session !== undefined && session === this.#created ? this.#manager.leased(session.id) : undefined;
  }

  #action(): CookieAction<TData> {
    const session = this.#session;
    if (session !== undefined && session.state === 'live') return { kind: 'set', session };
    if (this.#clear || session?.closeReason === 'closed') return CLEAR;
    return KEEP;
  }

  /**
   * Ends the request's hold on its sessions, once the response is sent. `delivered`: whether the
   * response carried the cookie of the session created here; if not (an error response), that
   * session is closed at once, since nobody could ever come back to it. Idempotent.
   */
  end(delivered: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    const created = this.#created;
    if (created !== undefined && !delivered && created.state === 'live') void this.#manager.close(created.id, 'closed');
    const held = this.#held;
    this.#held = undefined;
    if (held !== undefined) this.#manager.release(held);
    const more = this.#moreHeld;
    this.#moreHeld = undefined;
    if (more !== undefined) for (const session of more) this.#manager.release(session);
  }

  /** The session created by this request, if any (its cookie must be delivered). */
  get created(): LiveSession<TData> | undefined {
    return this.#created;
  }

  #create(data: TData): LiveSession<TData> {
    if (this.#unavailable !== undefined) throw this.#unavailable;
    if (this.#finished) {
      throw new Error(
        'a session cannot be created after the session middleware has finished the request: mount it before the middleware that writes the session',
      );
    }
    const session = this.#manager.create(data);
    this.#manager.acquire(session.id);
    this.#hold(session);
    this.#session = session;
    this.#created = session;
    this.#options.adopted?.(session);
    return session;
  }

  /** Records a session this request holds busy (released by {@link end}). */
  #hold(session: LiveSession<TData>): void {
    if (this.#held === undefined) {
      this.#held = session;
      return;
    }
    this.#moreHeld ??= [];
    this.#moreHeld.push(session);
  }

  /** The data of a session created now: the lazy object's, so that a reference to it reads what is written after. */
  #adoptLazy(): TData {
    const data = this.#unadopted ?? ({} as TData);
    this.#unadopted = undefined;
    return data;
  }

  /**
   * An empty object standing for the session the request does not have yet: its first write creates
   * the live session with this very object as its data (as does reading {@link live}), so a reference
   * to it keeps reading the session's data; later writes go to the session's data. A
   * write once the request has finished is ignored and reported (an `'error'` event): nothing could
   * deliver the cookie of a session created then.
   */
  #lazyData(): TData {
    if (this.#lazy !== undefined) return this.#lazy;
    const target = {} as TData;
    this.#unadopted = target;
    const sessionFor = (): LiveSession<TData> | undefined => {
      if (this.#session !== undefined) return this.#session;
      if (this.#finished) return undefined;
      return this.#create(this.#unadopted === target ? this.#adoptLazy() : ({} as TData));
    };
    const late = (property: PropertyKey): boolean => {
      const message = `write to the session's ${String(property)} after the request finished was ignored: no session can be created then`;
      this.#manager.report(new SessionClosedError('', message));
      return true;
    };
    this.#lazy = new Proxy(target, {
      set: (_target, property, value) => {
        const session = sessionFor();
        return session === undefined ? late(property) : setOwn(session.data, property, value);
      },
      defineProperty: (_target, property, descriptor) => {
        const session = sessionFor();
        return session === undefined ? late(property) : Reflect.defineProperty(session.data, property, descriptor);
      },
    });
    return this.#lazy;
  }
}
