import { OptionError, type LiveSession, type SessionUnavailableError, type SessionData, type SessionManager } from '@reprise/core';
import type { IssuedSignature } from './cookie.js';
import type { Context, Middleware, Next } from 'koa';
import { REQUEST_SESSION, installAccessors } from './context.js';
import { managerFrom, normalizeCookie, type SessionOptions } from './options.js';
import { RequestSession } from './request-session.js';
import type { MiddlewareState } from './shared-state.js';

/** The middleware `session()` returns, with the manager it drives. */
export interface SessionMiddleware<TData extends SessionData = SessionData> extends Middleware {
  /** The `SessionManager` of this middleware: stats, setOption, close by id, shutdown. */
  readonly manager: SessionManager<TData>;
}

/**
 * Koa middleware of live sessions: `ctx.session` (data, koa-session style), `ctx.liveSession`,
 * `ctx.sessionMaxAge`. Cookies go through `ctx.cookies`, signed whenever `app.keys` is set.
 * A request that never writes creates no session and sets no cookie. Use one per app.
 * Call `middleware.manager.shutdown()` when the server stops, so every session's closing hooks run.
 */
export function session<TData extends SessionData = SessionData>(options: SessionOptions<TData> = {} as SessionOptions<TData>): SessionMiddleware<TData> {
  if (typeof options !== 'object' || options === null) throw new OptionError('session() options must be an object');
  if (options.ipBinding !== undefined && typeof options.ipBinding !== 'boolean') throw new OptionError('ipBinding must be a boolean');
  const manager = managerFrom(options);
  const signatures = new WeakMap<LiveSession<TData>, IssuedSignature>();
  const shared: MiddlewareState<TData> = {
    manager,
    cookie: normalizeCookie(options.cookie),
    ipBinding: options.ipBinding ?? false,
    boundIps: new WeakMap(),
    maxAges: new WeakMap(),
    cookieExpiries: new WeakMap(),
    signatures,
    issuedSignature: (id) => {
      const live = manager.get(id);
      return live === undefined ? undefined : signatures.get(live);
    },
  };
  const middleware = async function reprise(ctx: Context, next: Next): Promise<void> {
    installAccessors(ctx.app);
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
        await request.commit();
      } finally {
        request.end();
      }
    }
  };
  return Object.assign(middleware, { manager: shared.manager });
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
