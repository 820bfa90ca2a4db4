import { CookieLifetimes } from '@reprise/core/adapter-kit';
import type { SessionManager } from '@reprise/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { MiddlewareState } from './middleware-state.js';
import { normalizeOptions, type SessionOptions } from './options.js';
import { RequestSession } from './request-session.js';
import { hookResponse } from './response-hooks.js';
import { SessionView } from './session-view.js';
import type { RepriseData } from './types.js';

/** The middleware `session()` returns: an Express `RequestHandler` with the `SessionManager` it drives. */
export type SessionMiddleware = RequestHandler & {
  /** The `SessionManager` (stats, setOption, close by id, restore by key, shutdown). Shut it down when the server stops. */
  readonly manager: SessionManager<RepriseData>;
};

/** Where a request keeps its binding (so a second `session()` on the same request passes through). */
const BINDING: unique symbol = Symbol('reprise.requestSession');

type Bound = Request & { [BINDING]?: RequestSession };

/**
 * The Express middleware of Reprise: live sessions with closing hooks, persisted through an adapter
 * and restored under the same id. `app.use(session({ secret, adapter, maxSessions, idleTimeout, onClose, onRestore }))`,
 * or `session({ manager })` with a manager of yours. Defines `req.session` (the data, express-session
 * style, lazy: a request that never writes creates no session and sets no cookie), `req.liveSession`
 * and `req.sessionID`. The manager is `middleware.manager`: call `manager.shutdown()` when the server
 * stops (every session closes with `'shutdown'`, its hooks run).
 * @throws OptionError on an unknown or wrong option (with a hint naming the Reprise equivalent of an express-session option).
 */
export function session(options?: SessionOptions): SessionMiddleware {
  const settings = normalizeOptions(options);
  const state: MiddlewareState = {
    manager: settings.manager,
    cookie: settings.cookie,
    secrets: settings.secrets,
    rolling: settings.rolling,
    lifetimes: new CookieLifetimes(settings.cookie.maxAge, settings.rolling),
  };
  const middleware = (request: Request, response: Response, next: NextFunction): void => {
    if ((request as Bound)[BINDING] !== undefined) {
      next();
      return;
    }
    const binding = new RequestSession(request, response, state);
    (request as Bound)[BINDING] = binding;
    define(request, binding, state);
    hookResponse(response, binding);
    const loading = binding.load();
    if (loading === undefined) next();
    else loading.then(() => next(), next);
  };
  return Object.defineProperty(middleware, 'manager', { value: settings.manager, enumerable: true }) as SessionMiddleware;
}

function define(request: Request, binding: RequestSession, state: MiddlewareState): void {
  let view: SessionView | undefined;
  Object.defineProperties(request, {
    session: {
      configurable: true,
      get: () => {
        view ??= new SessionView(binding, state.cookie);
        return view.object;
      },
      set: (value: unknown) => {
        binding.data = value as RepriseData | null;
      },
    },
    liveSession: { configurable: true, get: () => binding.live },
    sessionID: { configurable: true, get: () => binding.current?.id },
    sessionStore: {
      configurable: true,
      get: () => {
        throw new TypeError(
          "req.sessionStore is express-session's: with Reprise, use the middleware's manager (session(...).manager: get(id), close(id), restore(key), stats()) or req.liveSession",
        );
      },
    },
  });
}
