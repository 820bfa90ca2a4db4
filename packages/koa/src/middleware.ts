import { CookieLifetimes } from '@reprise/core/adapter-kit';
import { OptionError, type LiveSession, type SessionUnavailableError, type SessionData, type SessionManager } from '@reprise/core';
import type { IssuedSignature } from './cookie.js';
import type Koa from 'koa';
import type { Context, Middleware, Next } from 'koa';
import { REQUEST_SESSION, installAccessors, type KoaSessionData } from './context.js';
import { parseSessionOptions, type SessionOptions } from './options.js';
import { RequestSession } from './request-session.js';
import type { MiddlewareState } from './shared-state.js';

/** The middleware `session()` returns, with the manager it drives. */
export interface SessionMiddleware<TData extends SessionData = KoaSessionData> extends Middleware {
  /** The `SessionManager` of this middleware: stats, setOption, close by id, shutdown. */
  readonly manager: SessionManager<TData>;
}

/**
 * Koa middleware of live sessions: `ctx.session` (data, koa-session style), `ctx.liveSession`,
 * `ctx.sessionMaxAge`. Cookies go through `ctx.cookies`, signed whenever `app.keys` is set.
 * A request that never writes creates no session and sets no cookie. Use one per app.
 * Call `middleware.manager.shutdown()` when the server stops, so every session's closing hooks run.
 *
 * The data type defaults to the augmented `SessionDataMap` ({@link KoaSessionData}), so hooks'
 * `session.data` is typed like `ctx.session`. koa-session's call forms `session(options, app)` and
 * `session(app, options)` work too (the app is not needed, and is only checked), as do its option
 * names where Reprise has the same meaning (see `KoaSessionOptions`).
 */
export function session<TData extends SessionData = KoaSessionData>(options?: SessionOptions<TData>, app?: Koa): SessionMiddleware<TData>;
export function session<TData extends SessionData = KoaSessionData>(app: Koa, options?: SessionOptions<TData>): SessionMiddleware<TData>;
export function session<TData extends SessionData = KoaSessionData>(
  first?: SessionOptions<TData> | Koa,
  second?: SessionOptions<TData> | Koa,
): SessionMiddleware<TData> {
  const { manager, cookie, ipBinding, requireKeys } = parseSessionOptions(optionsArgument<TData>(first, second));
  const lifetimes = new CookieLifetimes<LiveSession<TData>, IssuedSignature>(cookie.maxAge);
  const shared: MiddlewareState<TData> = {
    manager,
    cookie,
    ipBinding,
    boundIps: new WeakMap(),
    lifetimes,
    issuedSignature: (id) => {
      const live = manager.get(id);
      return live === undefined ? undefined : lifetimes.tokenOf(live);
    },
  };
  const middleware = async function reprise(ctx: Context, next: Next): Promise<void> {
    installAccessors(ctx.app);
    if (requireKeys && ctx.app.keys === undefined) {
      throw new OptionError(
        'session({ signed: true }) needs app.keys to sign the session cookie, as koa-session does: set app.keys (Reprise signs whenever it is set)',
      );
    }
    const request = new RequestSession<TData>(ctx, shared);
    (ctx as unknown as Record<symbol, unknown>)[REQUEST_SESSION] = request;
    const loading = request.load();
    if (loading !== undefined) await loading;
    try {
      await next();
    } catch (error) {
      if (!isUnavailable(error)) throw error;
      answerUnavailable(ctx, error);
    } finally {
      try {
        const committing = request.commit();
        if (committing !== undefined) await committing;
      } finally {
        request.end();
      }
    }
  };
  return Object.assign(middleware, { manager: shared.manager });
}

/** A Koa application, as koa-session's `session(options, app)` takes it. */
function isApp(value: unknown): value is Koa {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { use?: unknown }).use === 'function' &&
    typeof (value as { context?: unknown }).context === 'object'
  );
}

/** The options among `session()`'s arguments: `(options?, app?)` or `(app, options?)`. */
function optionsArgument<TData extends SessionData>(first: unknown, second: unknown): SessionOptions<TData> {
  const [options, app] = isApp(first) ? [second, first] : [first, second];
  if (app !== undefined && !isApp(app))
    throw new OptionError(`session(options, app): the second argument must be the Koa app (or nothing), got ${typeof app}`);
  if (options === undefined) return {} as SessionOptions<TData>;
  if (typeof options !== 'object' || options === null || isApp(options)) throw new OptionError('session() options must be an object');
  return options as SessionOptions<TData>;
}

function isUnavailable(error: unknown): error is SessionUnavailableError {
  return (error as { code?: unknown } | null)?.code === 'ERR_REPRISE_SESSION_UNAVAILABLE';
}

/**
 * The session could not be had (store unreadable, server stopping) and the request tried to write
 * it: 503 with `Retry-After`, and the visitor's cookie left as it is, so its context is found again.
 */
function answerUnavailable(ctx: Context, error: SessionUnavailableError): void {
  ctx.status = 503;
  ctx.set('Retry-After', String(error.retryAfter));
  ctx.body = error.message;
}
